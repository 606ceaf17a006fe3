"""Classic wrong answers to the exercises of lesson 9."""
import numpy as np
import nn
import nn.functional as F

from lessons.solutions import ex09_gan as solution

from . import Mistake, variant


def d_loss_without_half(d_real, d_fake):
    return F.mse_loss(d_real, 1.0) + F.mse_loss(d_fake, 0.0)


def d_loss_as_number(d_real, d_fake):
    return 0.5 * (((d_real.data - 1) ** 2).mean() + (d_fake.data ** 2).mean())


def d_loss_cut_from_graph(d_real, d_fake):
    return nn.Tensor(solution.lsgan_discriminator_loss(d_real, d_fake).data)


def g_loss_wrong_target(d_fake):
    return F.mse_loss(d_fake, 0.0)


def reflect_pad_repeating_the_edge(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="symmetric")


MISTAKES = [
    Mistake('9.1', 'd_loss_without_half', variant(solution, lsgan_discriminator_loss=d_loss_without_half),
            "lsgan_discriminator_loss(d_real, d_fake) = 0.5 * (mean((d_real - 1)^2) + mean(d_fake^2)): "
     "yours"),
    Mistake('9.1', 'd_loss_as_number', variant(solution, lsgan_discriminator_loss=d_loss_as_number),
            "returned float64: return a Tensor"),
    Mistake('9.1', 'd_loss_cut_from_graph', variant(solution, lsgan_discriminator_loss=d_loss_cut_from_graph),
            "cut from the graph"),
    Mistake('9.1', 'g_loss_wrong_target', variant(solution, lsgan_generator_loss=g_loss_wrong_target),
            "lsgan_generator_loss(d_fake) = mean((d_fake - 1)^2): yours"),
    Mistake('9.2', 'reflect_pad_repeating_the_edge', variant(solution, reflect_pad=reflect_pad_repeating_the_edge),
            "reflect_pad(x of shape (2, 3, 5, 4), p=1) is wrong at"),
]

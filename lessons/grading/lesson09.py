"""Checks of lesson 9: the LSGAN losses (value and gradient) and reflection padding (against
a loop from the definition and against nn.functional.pad)."""
import numpy as np

import nn
import nn.functional as F

from .core import Wrong, check_array, check_gradients, check_number, later_part

MODULE = "ex09_gan"


def check_loss(what, loss, expected, fn, inputs, names):
    """A loss must be a one-element Tensor in the graph, with the right value and gradients."""
    if not isinstance(loss, nn.Tensor):
        raise Wrong(f"{what} returned {type(loss).__name__}: return a Tensor built from Tensor "
                    "operations, so that backward reaches the networks")
    if loss.data.size != 1:
        raise Wrong(f"{what} returned a Tensor of shape {tuple(loss.shape)}: a loss is one "
                    "number; take the mean")
    check_number(what, loss.data, expected, atol=1e-10)
    if not loss.requires_grad:
        raise Wrong(f"{what} is cut from the graph (it does not require grad): compute it from "
                    "the Tensors themselves, not from their .data")
    check_gradients(fn, inputs, names)


def check_lsgan_losses(module):
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((2, 1, 3, 3)) + 0.5, rng.standard_normal((2, 1, 3, 3))
    d_real, d_fake = nn.Tensor(real, requires_grad=True), nn.Tensor(fake, requires_grad=True)
    check_loss("lsgan_discriminator_loss(d_real, d_fake) = 0.5 * (mean((d_real - 1)^2) + "
               "mean(d_fake^2))", module.lsgan_discriminator_loss(d_real, d_fake),
               0.5 * (np.mean((real - 1) ** 2) + np.mean(fake ** 2)),
               module.lsgan_discriminator_loss, [d_real, d_fake], ("d_real", "d_fake"))
    loss = later_part("lsgan_discriminator_loss", "lsgan_generator_loss",
                      module.lsgan_generator_loss, d_fake)
    check_loss("lsgan_generator_loss(d_fake) = mean((d_fake - 1)^2)", loss,
               np.mean((fake - 1) ** 2), module.lsgan_generator_loss, [d_fake], ("d_fake",))


def _mirror(k, n):
    return -k if k < 0 else 2 * (n - 1) - k if k >= n else k


def _reflect_pad_loops(x, p):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * p, w + 2 * p))
    for i in range(h + 2 * p):
        for j in range(w + 2 * p):
            out[:, :, i, j] = x[:, :, _mirror(i - p, h), _mirror(j - p, w)]
    return out


def check_reflect_pad(module):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    for p in (1, 2, 3, 0):
        got = module.reflect_pad(x.copy(), p)
        what = f"reflect_pad(x of shape {x.shape}, p={p})"
        check_array(what, got, _reflect_pad_loops(x, p), atol=0, rtol=0)
        check_array(what + " against nn.functional.pad(x, (p, p, p, p), 'reflect')", got,
                    F.pad(nn.Tensor(x), (p, p, p, p), "reflect").data, atol=0, rtol=0)


CHECKS = {"9.1": check_lsgan_losses, "9.2": check_reflect_pad}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"9.1": 10, "9.2": 10}

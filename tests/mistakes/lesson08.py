"""Classic wrong answers to the exercises of lesson 8."""
import numpy as np

from lessons.solutions import ex08_optimizers as solution

from . import Mistake, variant


def sgd_with_dampening(param, grad, velocity, lr, momentum):
    velocity = momentum * velocity + (1 - momentum) * grad
    return param - lr * velocity, velocity


def sgd_without_momentum(param, grad, velocity, lr, momentum):
    return param - lr * grad, velocity


def adam_without_bias_correction(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), m, v


def adam_returns_old_moments(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return solution.adam_step(param, grad, m, v, t, lr, betas, eps)[0], m, v


MISTAKES = [
    Mistake('8.1', 'sgd_with_dampening', variant(solution, sgd_momentum_step=sgd_with_dampening),
            "the parameter after step 1"),
    Mistake('8.1', 'sgd_without_momentum', variant(solution, sgd_momentum_step=sgd_without_momentum),
            "the parameter after step 2"),
    Mistake('8.2', 'adam_without_bias_correction', variant(solution, adam_step=adam_without_bias_correction),
            "the parameter after step 1"),
    Mistake('8.2', 'adam_returns_old_moments', variant(solution, adam_step=adam_returns_old_moments),
            "m after step 1"),
]

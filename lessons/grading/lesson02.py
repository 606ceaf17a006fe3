"""Checks of lesson 2: undoing broadcasting, and a Function's backward (a / b)."""
import numpy as np

import nn

from .core import check_array, check_backward_shapes, check_gradients

MODULE = "ex02_tensors"

# (broadcast shape of grad, input shape): added axes, stretched axes, both, neither, a scalar
SHAPES = [((2, 3, 4), (3, 1)), ((2, 3), (2, 3)), ((2, 3, 4), (4,)), ((2, 3, 4), (2, 1, 1)),
          ((4, 1, 3), (1, 1, 3)), ((3, 2), ())]


def check_sum_to_shape(module):
    rng = np.random.default_rng(0)
    for big, shape in SHAPES:
        grad = rng.standard_normal(big)
        # What nn's own backward makes of it: the gradient of a leaf broadcast in an addition.
        leaf = nn.Tensor(np.zeros(shape), requires_grad=True)
        (leaf + nn.Tensor(np.zeros(big))).backward(grad)
        got = module.sum_to_shape(grad.copy(), shape)
        check_array(f"sum_to_shape(grad of shape {big}, shape={shape})", got, leaf.grad,
                    atol=1e-12)


def _away_from_zero(rng, shape):
    """Values in +-[0.5, 1.5]: a divisor far from 0, where a / b is smooth."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def check_div_backward(module):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), _away_from_zero(rng, (2, 3))
    check_backward_shapes(module.Div(), (a.copy(), b.copy()), ("a", "b"))
    cases = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3))]
    for shape_a, shape_b in cases:
        ta = nn.Tensor(rng.standard_normal(shape_a), requires_grad=True)
        tb = nn.Tensor(_away_from_zero(rng, shape_b), requires_grad=True)
        check_gradients(lambda x, y: module.Div()(x, y), [ta, tb],
                        ("a", "b"))


CHECKS = {"2.1": check_sum_to_shape, "2.2": check_div_backward}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"2.1": 2, "2.2": 2}

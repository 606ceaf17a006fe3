"""Checks of lesson 3: a numerical gradient by central differences, and leaky ReLU's backward."""
import numpy as np

import nn
import nn.functional as F

from .core import Wrong, check_array, check_backward_shapes, check_gradients

MODULE = "ex03_gradient_checking"


def _central_differences(f, x, g, eps):
    """The grader's own loop, for comparison at a coarse eps."""
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = ((f(plus) - f(minus)) * g).sum() / (2 * eps)
    return grad


def check_numerical_gradient(module):
    rng = np.random.default_rng(0)
    x, m, g = (rng.standard_normal(s) for s in ((3, 4), (4, 5), (3, 5)))

    def f(a):          # (3, 4) -> (3, 5): every output depends on a whole row of a
        return np.tanh(a @ m)

    before = x.copy()
    got = module.numerical_gradient(f, x, g, eps=1e-3)
    if not np.array_equal(x, before):
        raise Wrong("numerical_gradient changed x: put each element back to its original value "
                    "after perturbing it, or every later element is measured at the wrong point")
    check_array("numerical_gradient(f, x, g, eps=1e-3) for f(x) = tanh(x @ M), against central "
                "differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), weighted by g", got,
                _central_differences(f, x, g, 1e-3), atol=1e-9, rtol=1e-7)
    t = nn.Tensor(x.copy(), requires_grad=True)
    F.tanh(t @ nn.Tensor(m)).backward(g)
    check_array("numerical_gradient(f, x, g) with the default eps, against nn's backward",
                module.numerical_gradient(f, x, g), t.grad, atol=1e-7, rtol=1e-5)


def check_leaky_relu_backward(module):
    rng = np.random.default_rng(0)
    # |x| >= 0.1: central differences across the kink at 0 measure neither slope.
    x = rng.uniform(0.1, 2.0, (2, 3, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4))
    check_backward_shapes(module.LeakyReLU(0.2), (x.copy(),), ("x",))
    for slope in (0.2, 0.0):
        t = nn.Tensor(x.copy(), requires_grad=True)
        check_gradients(lambda a: module.LeakyReLU(slope)(a), [t], (f"x with slope {slope}",))


CHECKS = {"3.1": check_numerical_gradient, "3.2": check_leaky_relu_backward}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"3.1": 2, "3.2": 2}

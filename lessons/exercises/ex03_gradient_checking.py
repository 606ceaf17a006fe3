"""Exercises of lesson 3: checking gradients.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 3.1    (and 3.2)
"""
import numpy as np

import nn


def numerical_gradient(f, x, g, eps=1e-6):
    """Exercise 3.1: dL/dx for L = sum(f(x) * g), by central differences, element by element.

    f: a function from an array of x's shape to an array of g's shape (any shapes);
    x: float64 array, any shape; g: float64 array of f(x)'s shape -> array of x's shape with

        grad[i] = (L(x + eps * e_i) - L(x - eps * e_i)) / (2 * eps)

    where e_i is 1 at index i and 0 elsewhere. This is what ``backward(g)`` must compute.
    Hint: loop over ``np.ndindex(*x.shape)``, change x[i] in place, call f twice, and put x[i]
    back before the next element (the caller's x must come back unchanged).
    """
    raise NotImplementedError("Exercise 3.1")


class LeakyReLU(nn.Function):
    """y = x where x > 0, slope * x elsewhere. forward is given; backward is Exercise 3.2."""

    def __init__(self, slope=0.2):
        self.slope = slope

    def forward(self, x):
        xp = nn.get_array_module(x)
        self.positive = x > 0   # the only thing backward needs
        return xp.where(self.positive, x, self.slope * x)

    def backward(self, g):
        """Exercise 3.2: the gradient of leaky ReLU.

        g: dL/dy, of x's shape -> dL/dx, of x's shape:
            dL/dx = g where x > 0, slope * g elsewhere
        Hint: ``xp.where`` with ``self.positive``, where ``xp = nn.get_array_module(g)``.
        """
        raise NotImplementedError("Exercise 3.2")


def leaky_relu(x, slope=0.2):
    """Leaky ReLU of a Tensor through the Function above: Tensor -> Tensor of the same shape."""
    return LeakyReLU(slope)(x)

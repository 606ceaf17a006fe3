"""Exercises of lesson 3: checking gradients.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 3    (or one exercise: 3.1, 3.2, 3.3)
"""
import numpy as np

import nn


def worst_element(analytic, numeric, atol=1e-5, rtol=1e-3):
    """Exercise 3.1: the heart of a gradient check's report.

    analytic, numeric: float arrays of one shape (what backward returned, and the central
    difference). An element passes when |analytic - numeric| <= atol + rtol * |numeric|, the
    rule the lesson gives for nn.gradcheck. Return (bad, worst):

        bad:   how many elements fail (an int);
        worst: the index, a tuple with one int per axis, of the element that misses its
               allowance atol + rtol * |numeric| by the most; None when bad == 0.

    The worst element is not always the one with the largest |analytic - numeric|: a large
    numeric value is allowed a large error.
    Hint: the excess |analytic - numeric| - allowance is positive exactly where an element
    fails; np.argmax gives a flat position, which np.unravel_index turns into an index.
    """
    raise NotImplementedError("Exercise 3.1")


def numerical_jacobian(f, x, eps=1e-6):
    """Exercise 3.2: the whole Jacobian of f at x, by central differences.

    f: a function from an array of x's shape to an array of any shape; x: float64 array, any
    shape -> J, a float64 array of shape (f(x).size, x.size) with

        J[i, j] = d f(x).flat[i] / d x.flat[j]
                ~ (f(x + eps e_j).flat[i] - f(x - eps e_j).flat[i]) / (2 eps),

    e_j being 1 at flat position j of x and 0 elsewhere. Column j is the response of every
    output to one input; g.ravel() @ J is then what the lesson's numerical_gradient computes.
    x must come back unchanged.
    Hint: work on a flat view or copy of x, and reshape before each call of f.
    """
    raise NotImplementedError("Exercise 3.2")


def directional_check(fn, x, g, v, eps=1e-6):
    """Exercise 3.3: a gradient check along one direction, in two calls of fn.

    A full check costs two calls of fn per element. Along a single direction v it costs two:
    for L(y) = sum(fn(y) * g), the chain rule gives dL/dt of L(x + t v) at t = 0 as
    sum(dL/dx * v), and a central difference in t measures the same number.

    fn: a function from a Tensor of x's shape to a Tensor; x: a float64 Tensor with
    requires_grad=True, which may already hold a .grad from an earlier backward (that one must
    not count); g: float64 array of fn(x)'s shape; v: float64 array of x's shape
    -> (analytic, numeric), two floats:

        analytic = sum(dL/dx * v), with dL/dx from backward(g)
        numeric  = (L(x + eps v) - L(x - eps v)) / (2 eps)

    x.data must come back unchanged.
    Hint: numeric needs no graph: nn.no_grad(), and Tensors made from x.data + eps * v.
    """
    raise NotImplementedError("Exercise 3.3")

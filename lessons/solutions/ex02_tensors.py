"""Exercises of lesson 2: tensors, broadcasting and writing a Function.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 2.1    (and 2.2)
"""
import nn


def sum_to_shape(grad, shape):
    """Exercise 2.1: undo broadcasting.

    When an input of shape ``shape`` was broadcast to a larger shape in the forward pass, its
    gradient arrives in that larger shape and must be summed back: over the leading axes that
    broadcasting added, and over every axis where ``shape`` has 1 but ``grad`` does not.

    grad: array of the broadcast shape, e.g. (N, C, H, W); shape: a tuple, e.g. (C, 1, 1)
    -> array of shape ``shape``. Example: grad (2, 3, 4), shape (3, 1): sum over axis 0
    (added) and axis 2 (stretched from 1 to 4).
    Hint: ``grad.sum(axis=axes, keepdims=True)`` keeps the stretched axes as 1s; then drop
    the added leading axes with ``.reshape(shape)``.
    """
    extra = grad.ndim - len(shape)                      # leading axes broadcasting added
    stretched = tuple(extra + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[extra + i] != 1)
    return grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)


class Div(nn.Function):
    """y = a / b, elementwise, with broadcasting. forward is given; backward is Exercise 2.2."""

    def forward(self, a, b):
        self.a, self.b = a, b   # what backward will need
        return a / b

    def backward(self, g):
        """Exercise 2.2: the gradients of y = a / b.

        g: dL/dy, of y's shape -> (dL/da, dL/db), a tuple with one gradient per input of
        forward, each of y's shape (Tensor.backward sums them to a's and b's shapes with the
        rule of exercise 2.1).
            dL/da = g / b          dL/db = -g * a / b^2
        Hint: use ``self.a`` and ``self.b`` saved by forward.
        """
        return g / self.b, -g * self.a / (self.b * self.b)


def div(a, b):
    """a / b on Tensors through the Div Function above: div(Tensor, Tensor) -> Tensor."""
    return Div()(a, b)

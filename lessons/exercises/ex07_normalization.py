"""Exercises of lesson 7: instance normalization, forward and backward.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 7.1    (and 7.2)
"""
import nn


def instance_norm(x, eps=1e-5):
    """Exercise 7.1: instance normalization, on arrays (no scale and shift).

    x: (N, C, H, W) -> (N, C, H, W), the same dtype. For every sample n and channel c,
    over the H*W pixels of that plane:

        mean = sum(x) / (H*W)        var = sum((x - mean)^2) / (H*W)    (biased: not H*W - 1)
        y = (x - mean) / sqrt(var + eps)

    Hint: ``x.mean(axis=(2, 3), keepdims=True)`` keeps the (N, C, 1, 1) shape that broadcasts
    back over the plane; use ``xp = nn.get_array_module(x)`` for sqrt.
    """
    raise NotImplementedError("Exercise 7.1")


class InstanceNorm(nn.Function):
    """Instance normalization as a Function. forward is given; backward is Exercise 7.2."""

    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x):
        xp = nn.get_array_module(x)
        centered = x - x.mean(axis=(2, 3), keepdims=True)
        var = (centered * centered).mean(axis=(2, 3), keepdims=True)
        self.inv_std = 1.0 / xp.sqrt(var + self.eps)   # (N, C, 1, 1)
        self.xhat = centered * self.inv_std            # (N, C, H, W), the output
        return self.xhat

    def backward(self, g):
        """Exercise 7.2: the gradient of instance normalization.

        g: dL/dy, (N, C, H, W) -> dL/dx, (N, C, H, W). Every x of a plane moves the plane's
        mean and variance, and so every output of that plane; the chain rule through both
        gives, with means taken over H and W (keepdims) and s = sqrt(var + eps):

            dL/dx = (g - mean(g) - xhat * mean(g * xhat)) / s

        Hint: ``self.xhat`` and ``self.inv_std`` (= 1 / s) are saved by forward. Derive the
        formula once on paper: y = (x - m) / s with m and s functions of all of the plane.
        """
        raise NotImplementedError("Exercise 7.2")

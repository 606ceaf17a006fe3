"""Checks of lesson 5: im2col as a view, conv2d's weight gradient, col2im.

Forward results are compared with loops written from the definitions; the weight gradient
with nn's own conv2d backward.
"""
import numpy as np

import nn
import nn.functional as F

from .core import Wrong, check_array

MODULE = "ex05_convolution"


def _im2col_loops(x, kh, kw, stride):
    n, c, h, w = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            for p in range(oh):
                for q in range(ow):
                    cols[:, :, i, j, p, q] = x[:, :, p * stride + i, q * stride + j]
    return cols


def _col2im_loops(cols, h, w, stride):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            for p in range(oh):
                for q in range(ow):
                    out[:, :, p * stride + i, q * stride + j] += cols[:, :, i, j, p, q]
    return out


def check_im2col(module):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    for kh, kw, stride in [(3, 3, 1), (3, 2, 2), (2, 2, 3)]:
        cols = module.im2col(x, kh, kw, stride)
        check_array(f"im2col(x of shape {x.shape}, kh={kh}, kw={kw}, stride={stride})", cols,
                    _im2col_loops(x, kh, kw, stride), atol=0, rtol=0)
        if not np.shares_memory(cols, x):
            raise Wrong("im2col returned the right numbers but copied them: it must be a view "
                        "of x (xp.lib.stride_tricks.as_strided), or every convolution copies "
                        "its input KH*KW times")


def check_conv2d_weight_grad(module):
    rng = np.random.default_rng(0)
    configs = [  # (x shape, C_out, kh, kw, stride, padding)
        ((2, 3, 6, 5), 4, 3, 3, 1, 1),
        ((1, 2, 8, 7), 3, 3, 2, 2, 0),   # stride 2 leaves the last row and column unused
        ((2, 2, 5, 6), 3, 4, 3, 2, 1),
    ]
    for shape, c_out, kh, kw, stride, padding in configs:
        x = rng.standard_normal(shape)
        weight = nn.Tensor(rng.standard_normal((c_out, shape[1], kh, kw)), requires_grad=True)
        y = F.conv2d(nn.Tensor(x), weight, stride=stride, padding=padding)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        got = module.conv2d_weight_grad(x.copy(), g.copy(), kh, kw, stride=stride,
                                        padding=padding)
        check_array(f"conv2d_weight_grad(x of shape {shape}, g of shape {g.shape}, kh={kh}, "
                    f"kw={kw}, stride={stride}, padding={padding}), compared with nn's conv2d "
                    "backward", got, weight.grad, atol=1e-9, rtol=1e-7)


def check_col2im(module):
    rng = np.random.default_rng(0)
    cases = [  # (N, C, KH, KW), h, w, stride
        ((2, 3, 3, 3), 7, 6, 1),    # overlapping windows: pixels receive sums
        ((1, 2, 3, 3), 8, 7, 2),    # the last row and column belong to no window
        ((2, 1, 2, 3), 6, 9, 3),
    ]
    for (n, c, kh, kw), h, w, stride in cases:
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
        cols = rng.standard_normal((n, c, kh, kw, oh, ow))
        got = module.col2im(cols.copy(), h, w, stride)
        check_array(f"col2im(cols of shape {cols.shape}, h={h}, w={w}, stride={stride})", got,
                    _col2im_loops(cols, h, w, stride), atol=1e-12)


CHECKS = {"5.1": check_im2col, "5.2": check_conv2d_weight_grad, "5.3": check_col2im}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"5.1": 2, "5.2": 2, "5.3": 2}

"""Checks of lesson 6: transposed convolution forward, and the output-size formulas.

Both are compared with nn: its conv_transpose2d, and the shapes its convolutions produce.
"""
import numbers

import numpy as np

import nn
import nn.functional as F

from .core import Wrong, check_array, later_part

MODULE = "ex06_transposed_convolution"


def check_conv_transpose2d(module):
    rng = np.random.default_rng(0)
    configs = [  # (x shape, C_out, kh, kw, stride, padding)
        ((2, 3, 4, 3), 2, 3, 3, 2, 1),   # the generator's upsampling layer, without output_padding
        ((1, 2, 3, 4), 3, 2, 3, 1, 0),
        ((2, 1, 3, 3), 2, 4, 4, 3, 2),
    ]
    for shape, c_out, kh, kw, stride, padding in configs:
        x = rng.standard_normal(shape)
        weight = rng.standard_normal((shape[1], c_out, kh, kw))
        expected = F.conv_transpose2d(nn.Tensor(x), nn.Tensor(weight), stride=stride,
                                      padding=padding).data
        got = module.conv_transpose2d(x.copy(), weight.copy(), stride=stride, padding=padding)
        check_array(f"conv_transpose2d(x of shape {shape}, weight of shape {weight.shape}, "
                    f"stride={stride}, padding={padding})", got, expected, atol=1e-10)


def _check_size(what, got, expected):
    if isinstance(got, float) or not isinstance(got, numbers.Integral):
        raise Wrong(f"{what} returned {got!r}, a {type(got).__name__}: sizes are whole numbers "
                    "(use // for the floor division)")
    if got != expected:
        raise Wrong(f"{what} returned {got}, but nn's layer gives {expected}")


def check_output_sizes(module):
    for size, k, s, p in [(7, 3, 1, 1), (8, 3, 2, 1), (7, 3, 2, 0), (256, 7, 1, 3), (64, 4, 2, 1),
                          (5, 5, 1, 0), (9, 4, 3, 2)]:
        y = F.conv2d(nn.Tensor(np.zeros((1, 1, size, size))), nn.Tensor(np.zeros((1, 1, k, k))),
                     stride=s, padding=p)
        _check_size(f"conv_output_size(size={size}, kernel={k}, stride={s}, padding={p})",
                    module.conv_output_size(size, k, s, p), y.shape[2])
    for size, k, s, p, op in [(4, 3, 2, 1, 1), (4, 3, 2, 1, 0), (5, 4, 2, 1, 0), (3, 3, 1, 0, 0),
                              (7, 3, 3, 2, 2), (32, 3, 2, 1, 1)]:
        y = F.conv_transpose2d(nn.Tensor(np.zeros((1, 1, size, size))),
                               nn.Tensor(np.zeros((1, 1, k, k))), stride=s, padding=p,
                               output_padding=op)
        what = (f"conv_transpose_output_size(size={size}, kernel={k}, stride={s}, padding={p}, "
                f"output_padding={op})")
        got = later_part("conv_output_size", "conv_transpose_output_size",
                         module.conv_transpose_output_size, size, k, s, p, op)
        _check_size(what, got, y.shape[2])


CHECKS = {"6.1": check_conv_transpose2d, "6.2": check_output_sizes}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"6.1": 2, "6.2": 2}

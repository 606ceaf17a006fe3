"""Exercises of lesson 6: transposed convolution and the size formulas.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 6.1    (and 6.2)
"""
import nn


def conv_transpose2d(x, weight, stride=1, padding=0):
    """Exercise 6.1: the forward pass of a transposed convolution, on arrays.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H - 1)*stride - 2*padding + KH (and OW likewise). Every input pixel spreads a copy
    of the kernel, scaled by its value, onto the full output of (H - 1)*stride + KH rows:

        full[n, o, p*stride + i, q*stride + j] += sum over c of x[n, c, p, q] * weight[c, o, i, j]

    and then ``padding`` rows and columns are cropped from every side of ``full``.
    Hint: one ``xp.tensordot`` of x and weight over C_in gives, for every input pixel, its
    (C_out, KH, KW) patch; then loop over the kernel offsets (i, j) and add strided slices,
    as col2im does (exercise 5.3).
    """
    raise NotImplementedError("Exercise 6.1")


def conv_output_size(size, kernel, stride=1, padding=0):
    """Exercise 6.2, part 1: the output length of a convolution along one axis.

    size, kernel, stride, padding: ints -> int, floor((size + 2*padding - kernel) / stride) + 1.
    Example: a 7x7 kernel with padding 3 keeps a 256-pixel side: (256 + 6 - 7) // 1 + 1 = 256.
    Hint: the last window must fit entirely; count the window starts 0, stride, 2*stride, ...
    """
    raise NotImplementedError("Exercise 6.2")


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0):
    """Exercise 6.2, part 2: the output length of a transposed convolution along one axis.

    size, kernel, stride, padding, output_padding: ints -> int,
    (size - 1)*stride - 2*padding + kernel + output_padding.
    It inverts conv_output_size: a stride-2 conv maps 64 and 63 both to 32 (kernel 3,
    padding 1); output_padding = 1 picks 64 on the way back.
    Hint: the last input pixel starts its kernel at (size - 1)*stride in the full output.
    """
    raise NotImplementedError("Exercise 6.2")

"""Exercises of lesson 5: convolution by im2col, and its backward pass.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.
Write them with ``xp = nn.get_array_module(x)`` instead of ``np`` and they run on a GPU too.

Grade with: python -m lessons.grade 5.1    (and 5.2, 5.3)
"""
import nn


def im2col(x, kh, kw, stride):
    """Exercise 5.1: every KH x KW window of an (already padded) image, as a strided view.

    x: (N, C, H, W) -> a view (N, C, KH, KW, OH, OW) with OH = (H - KH) // stride + 1,
    OW = (W - KW) // stride + 1 and

        cols[n, c, i, j, p, q] = x[n, c, p*stride + i, q*stride + j]

    Nothing may be copied: the result must share x's memory.
    Hint: ``xp.lib.stride_tricks.as_strided(x, shape=..., strides=...)``. ``x.strides`` gives
    the bytes per step along each of x's axes; a step of i moves one row, a step of p moves
    ``stride`` rows.
    """
    raise NotImplementedError("Exercise 5.1")


def conv2d_weight_grad(x, g, kh, kw, stride=1, padding=0):
    """Exercise 5.2: the gradient of conv2d with respect to its weight.

    x: (N, C_in, H, W), the layer's input; g: (N, C_out, OH, OW), dL/dy for
    y = conv2d(x, weight, stride=stride, padding=padding) -> (C_out, C_in, KH, KW) with

        dL/dweight[o, c, i, j] = sum over n, p, q of
                                   g[n, o, p, q] * xpad[n, c, p*stride + i, q*stride + j]

    where xpad is x with ``padding`` zeros on every side.
    Hint: pad x, take ``im2col`` (exercise 5.1) of it: (N, C_in, KH, KW, OH, OW); then it is
    one ``xp.tensordot`` of g and the columns over the axes n, p, q.
    """
    raise NotImplementedError("Exercise 5.2")


def col2im(cols, h, w, stride):
    """Exercise 5.3: the adjoint of im2col, the heart of conv2d's input gradient.

    cols: (N, C, KH, KW, OH, OW); h, w: the image size -> (N, C, H, W) with every entry added
    onto the pixel im2col read it from (pixels in several windows receive the sum):

        out[n, c, p*stride + i, q*stride + j] += cols[n, c, i, j, p, q]

    Pixels no window touched stay 0.
    Hint: no loop over pixels and no scatter: loop over the KH x KW kernel offsets (i, j) and
    add ``cols[:, :, i, j]`` into the strided slice ``out[:, :, i:i + stride*OH:stride, ...]``.
    """
    raise NotImplementedError("Exercise 5.3")

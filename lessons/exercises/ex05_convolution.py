"""Exercises of lesson 5: dilated convolution, the step after im2col and col2im.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.
Write them with ``xp = nn.get_array_module(x)`` instead of ``np`` and they run on a GPU too.

A dilated convolution (dilation D) spreads its kernel's taps D pixels apart, so a 3x3 kernel
with D = 2 sees a 5x5 area with the same nine weights:

    y[n, o, p, q] = b[o] + sum over c, i, j of w[o, c, i, j] * xpad[n, c, p*S + i*D, q*S + j*D]

With D = 1 it is the convolution of the lesson. CycleGAN does not use it; segmentation and
audio networks (DeepLab, WaveNet) do, to see far without more weights or lost resolution.

Grade with: python -m lessons.grade 5.1    (and 5.2, 5.3)
"""
import nn


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Exercise 5.1: the output length of a dilated convolution along one axis.

    size, kernel, stride, padding, dilation: ints -> int, the number of window positions.
    A kernel of K taps D pixels apart covers D*(K - 1) + 1 pixels; the windows start at
    0, S, 2S, ... of the padded length size + 2P, and the last one must fit entirely.
    Example: size 7, kernel 3, dilation 2 (a 5-pixel span), stride 1, no padding: 3 windows.
    Hint: with D = 1 it must give the lesson's floor((H + 2P - KH) / S) + 1; count, on paper,
    the gaps between the taps of a dilated kernel.
    """
    raise NotImplementedError("Exercise 5.1")


def im2col_dilated(x, kh, kw, stride=1, dilation=1):
    """Exercise 5.2: every dilated KH x KW window of an (already padded) image, as a view.

    x: (N, C, H, W) -> a view (N, C, KH, KW, OH, OW), OH and OW from exercise 5.1 with no
    padding, and

        cols[n, c, i, j, p, q] = x[n, c, p*stride + i*dilation, q*stride + j*dilation]

    Nothing may be copied: the result must share x's memory, and it must not reach past x's
    last element (``as_strided`` does not check; the grader does).
    Hint: the lesson's im2col, with the question it answered asked again: how many bytes does
    one step of i move now, and one step of p?
    """
    raise NotImplementedError("Exercise 5.2")


def col2im_dilated(cols, h, w, stride=1, dilation=1):
    """Exercise 5.3: the adjoint of im2col_dilated, the input gradient of a dilated convolution.

    cols: (N, C, KH, KW, OH, OW), the gradient of every window entry; h, w: the image size ->
    (N, C, H, W) with every entry added onto the pixel exercise 5.2 read it from:

        out[n, c, p*stride + i*dilation, q*stride + j*dilation] += cols[n, c, i, j, p, q]

    Pixels in several windows receive the sum; pixels no window touched stay 0.
    Hint: one strided slice per kernel offset (i, j), as in the lesson's col2im; where does the
    slice of offset i start now, and how far apart are its rows?
    """
    raise NotImplementedError("Exercise 5.3")

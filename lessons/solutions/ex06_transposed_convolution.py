"""Exercises of lesson 6: the transposed convolution as a convolution, its backward, and the
upsampling that avoids checkerboards.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.
You may call ``nn.functional.conv2d`` (on Tensors: ``F.conv2d(nn.Tensor(a), nn.Tensor(w),
stride=..., padding=...).data``) wherever a docstring asks for a convolution.

Grade with: python -m lessons.grade 6.1    (and 6.2, 6.3)
"""
import nn
import nn.functional as F


def conv_transpose2d_by_conv(x, weight, stride=1, padding=0, output_padding=0):
    """Exercise 6.1: a transposed convolution computed as an ordinary, stride-1 convolution.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW), padding <= KH - 1 and KW - 1,
    output_padding < stride -> (N, C_out, OH, OW), OH = (H - 1)*stride - 2*padding + KH +
    output_padding: the same numbers as F.conv_transpose2d(x, weight, stride=stride,
    padding=padding, output_padding=output_padding). Three steps:

        1. spread x out: stride - 1 zeros between neighbouring pixels, (H - 1)*stride + 1 rows;
        2. a frame of KH - 1 - padding zeros on every side (and output_padding more rows and
           columns at the bottom and right);
        3. a stride-1 convolution with the kernel flipped in both axes and its two channel
           axes exchanged: k[o, c, i, j] = weight[c, o, KH - 1 - i, KW - 1 - j].

    This is also conv2d's input gradient for a stride-2 convolution, written by hand: for
    y = conv2d(x, w, stride=2, padding=P), dL/dx = conv_transpose2d_by_conv(g, w, 2, P, OP)
    with the convolution's own w (C_out, C_in, KH, KW) and OP the rows it dropped.
    Hint: check step 3 on paper in one dimension: input pixel p reaches output t through
    weight index t - p*stride when spreading; which kernel index reads it when gathering?
    """
    xp = nn.get_array_module(x)
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    spread = xp.zeros((n, c_in, (h - 1) * stride + 1, (w - 1) * stride + 1), dtype=x.dtype)
    spread[:, :, ::stride, ::stride] = x
    top, left = kh - 1 - padding, kw - 1 - padding
    framed = xp.pad(spread, ((0, 0), (0, 0), (top, top + output_padding),
                             (left, left + output_padding)))
    kernel = xp.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return F.conv2d(nn.Tensor(framed), nn.Tensor(kernel)).data


class ConvTranspose2d(nn.Function):
    """A transposed convolution (no bias) as a Function. forward is given; backward is
    Exercise 6.2."""

    def __init__(self, stride=1, padding=0):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight):
        self.x, self.weight = x, weight
        return F.conv_transpose2d(nn.Tensor(x), nn.Tensor(weight), None, self.stride,
                                  self.padding).data

    def backward(self, g):
        """Exercise 6.2: the gradients of a transposed convolution.

        g: dL/dy, (N, C_out, OH, OW) -> (dL/dx of shape (N, C_in, H, W), dL/dweight of shape
        (C_in, C_out, KH, KW)). The lesson showed that conv2d's input gradient is a transposed
        convolution; the other way round:

            dL/dx = conv2d(g, weight, stride, padding)       (weight read as (C_out', C_in'))
            dL/dweight[c, o, i, j] = sum over n, p, q of
                                     x[n, c, p, q] * gpad[n, o, p*stride + i, q*stride + j]

        where gpad is g with ``padding`` zeros on every side (the rows forward cropped).
        Hint: ``self.x``, ``self.weight``, ``self.stride`` and ``self.padding`` are saved.
        For dL/dweight, one strided slice of gpad per kernel offset (i, j), of x's size H x W,
        contracted with x over n, p, q (``xp.tensordot``).
        """
        xp = nn.get_array_module(g)
        s, p = self.stride, self.padding
        h, w = self.x.shape[2:]
        dx = F.conv2d(nn.Tensor(g), nn.Tensor(self.weight), stride=s, padding=p).data
        gpad = xp.pad(g, ((0, 0), (0, 0), (p, p), (p, p)))
        dweight = xp.zeros_like(self.weight)
        for i in range(self.weight.shape[2]):
            for j in range(self.weight.shape[3]):
                window = gpad[:, :, i:i + s * h:s, j:j + s * w:s]        # (N, C_out, H, W)
                dweight[:, :, i, j] = xp.tensordot(self.x, window, axes=([0, 2, 3], [0, 2, 3]))
        return dx, dweight


class Upsample(nn.Function):
    """Nearest-neighbour upsampling by an integer factor: y[n, c, p, q] = x[n, c, p // f, q // f].
    Followed by an ordinary convolution, it upsamples without a transposed convolution's
    uneven overlaps (the lesson's checkerboards). forward is given; backward is Exercise 6.3."""

    def __init__(self, factor=2):
        self.factor = factor

    def forward(self, x):
        return x.repeat(self.factor, axis=2).repeat(self.factor, axis=3)

    def backward(self, g):
        """Exercise 6.3: the gradient of nearest-neighbour upsampling.

        g: dL/dy, (N, C, f*H, f*W) -> dL/dx, (N, C, H, W). Forward copied every input pixel
        to an f x f block of the output; a value used several times receives the sum of the
        gradients of its uses (lesson 1).
        Hint: no loop. Which output positions belong to the block of pixel (p, q)? A reshape
        can give the position inside the block axes of its own; check on a 2 x 4 example
        whose entries you can add in your head.
        """
        n, c, oh, ow = g.shape
        f = self.factor
        return g.reshape(n, c, oh // f, f, ow // f, f).sum(axis=(3, 5))

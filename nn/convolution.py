"""Convolution and transposed convolution on raw arrays: the kernels behind ``F.conv2d``.

Convolution is a matrix multiply in disguise. ``im2col`` lays every receptive field of the
(padded) input side by side as a column, without copying, by a strided view; multiplying the
weights, reshaped to (C_out, C_in*KH*KW), by those columns gives every output at once.

The two operations are each other's adjoint, so each backward pass is the other's forward:

    grad of conv2d wrt its input           = conv_transpose2d of the output gradient
    grad of conv_transpose2d wrt its input = conv2d of the output gradient

and both weight gradients are one contraction of an ``im2col`` view with the other tensor
(``conv2d_weight_grad``). ``col2im`` adds columns back into an image; it loops over the
KH*KW kernel offsets and adds one strided slice each (no scatter), which is fast on NumPy and
runs unchanged on CuPy.
"""
from .backend import get_array_module

__all__ = ["pair", "output_size", "pad_zeros", "im2col", "col2im", "conv2d_array",
           "conv_transpose2d_array", "conv2d_weight_grad"]


def pair(v):
    """An int or a pair of ints as a pair: 3 -> (3, 3)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def output_size(size, kernel, stride, padding):
    """Output length of a convolution: floor((size + 2*padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def pad_zeros(x, ph, pw):
    """x (N, C, H, W) -> (N, C, H + 2*ph, W + 2*pw), zeros around."""
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def im2col(x, kh, kw, stride):
    """A strided view (N, C, KH, KW, OH, OW) of x (N, C, H, W): cols[n, c, i, j, y, z] is
    x[n, c, y*SH + i, z*SW + j], the pixel under kernel offset (i, j) for output (y, z).

    No data is copied: the view reuses x's memory with six strides.
    """
    xp = get_array_module(x)
    sh, sw = stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    s0, s1, s2, s3 = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, kh, kw, oh, ow), strides=(s0, s1, s2, s3, s2 * sh, s3 * sw))


def col2im(cols, h, w, stride):
    """The adjoint of im2col: cols (N, C, KH, KW, OH, OW) -> image (N, C, H, W).

    Every column entry is added to the pixel it was taken from; pixels covered by several
    receptive fields receive the sum. One strided slice is added per kernel offset.
    """
    xp = get_array_module(cols)
    n, c, kh, kw, oh, ow = cols.shape
    sh, sw = stride
    out = xp.zeros((n, c, h, w), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += cols[:, :, i, j]
    return out


def conv2d_array(x, weight, stride, padding):
    """y[n, o] = sum over c, i, j of weight[o, c, i, j] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW) -> (N, C_out, OH, OW)
    with OH = floor((H + 2*PH - KH) / SH) + 1, and likewise OW.
    """
    c_out, c_in, kh, kw = weight.shape
    n = x.shape[0]
    cols = im2col(pad_zeros(x, *padding), kh, kw, stride)
    oh, ow = cols.shape[-2:]
    cols = cols.reshape(n, c_in * kh * kw, oh * ow)      # the one copy of the input
    y = weight.reshape(c_out, c_in * kh * kw) @ cols     # (N, C_out, OH*OW)
    return y.reshape(n, c_out, oh, ow)


def conv_transpose2d_array(x, weight, stride, padding, output_padding=(0, 0)):
    """The adjoint of conv2d: every input pixel spreads weight[c] over a KH x KW patch.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H - 1)*SH - 2*PH + KH + OPH. The full, uncropped result has (H - 1)*SH + KH rows;
    padding crops PH from each side and output_padding adds OPH rows at the bottom.
    """
    c_in, c_out, kh, kw = weight.shape
    n, _, h, w = x.shape
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    cols = weight.reshape(c_in, c_out * kh * kw).T @ x.reshape(n, c_in, h * w)
    cols = cols.reshape(n, c_out, kh, kw, h, w)
    full = col2im(cols, (h - 1) * sh + kh + oph, (w - 1) * sw + kw + opw, (sh, sw))
    oh = (h - 1) * sh - 2 * ph + kh + oph
    ow = (w - 1) * sw - 2 * pw + kw + opw
    return full[:, :, ph:ph + oh, pw:pw + ow]


def conv2d_weight_grad(x, grad_out, kernel_size, stride, padding):
    """dL/dweight of conv2d: gw[o, c, i, j] = sum over n, y, z of
    grad_out[n, o, y, z] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), grad_out: (N, C_out, OH, OW) -> (C_out, C_in, KH, KW).
    With the roles of the two tensors exchanged it is also the weight gradient of
    conv_transpose2d (see ``ConvTranspose2d.backward``).
    """
    kh, kw = kernel_size
    n, c_out, oh, ow = grad_out.shape
    c_in = x.shape[1]
    cols = im2col(pad_zeros(x, *padding), kh, kw, stride)[..., :oh, :ow]
    cols = cols.reshape(n, c_in * kh * kw, oh * ow)
    gw = grad_out.reshape(n, c_out, oh * ow) @ cols.swapaxes(1, 2)  # (N, C_out, C_in*KH*KW)
    return gw.sum(axis=0).reshape(c_out, c_in, kh, kw)

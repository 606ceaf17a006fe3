"""Convolution and transposed convolution on raw arrays: the kernels behind ``F.conv2d``.

The plain definitions, as the lessons on convolution build them:

    conv2d            im2col (every receptive field as a column, a strided view), then one
                      matmul: (C_out, C_in*KH*KW) @ (C_in*KH*KW, N*OH*OW);
    conv_transpose2d  its adjoint, and so conv2d's input gradient: multiply by the weight
                      transposed, then col2im (add every column back onto the pixels it came
                      from), then crop the padding;
    weight gradient   one more matmul with the same im2col columns.

The two operations are each other's adjoint, so each backward pass is the other's forward:

    grad of conv2d wrt its input           = conv_transpose2d of the output gradient
    grad of conv_transpose2d wrt its input = conv2d of the output gradient

Faster roads to the same sums (row bands, scatter, long rows, ...) are in nn/fast/.
"""
from .backend import get_array_module

__all__ = ["pair", "output_size", "transposed_output_size", "pad_zeros", "im2col",
           "im2col_matrix", "channels_first", "channels_outer", "col2im", "conv2d_plain",
           "conv_transpose2d_plain", "conv2d_weight_grad_plain"]


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


# --- the plain definitions -------------------------------------------------------------------

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


def im2col_matrix(x, kh, kw, stride, padding, oh=None, ow=None):
    """The im2col view copied into the matrix one matmul wants: x (N, C, H, W), zero-padded
    by ``padding`` -> (C*KH*KW, N*OH*OW).

    Row (c, i, j), column (n, y, z) holds xpad[n, c, y*SH + i, z*SW + j]. Putting the batch
    in the columns makes a whole batch one large matmul instead of N small ones; this copy
    is the only copy of the input. ``oh``, ``ow`` drop trailing outputs (a weight gradient
    uses only as many as the output gradient has).
    """
    xp = get_array_module(x)
    view = im2col(pad_zeros(x, *padding), kh, kw, stride)[..., :oh, :ow]
    n, c, _, _, oh, ow = view.shape
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    cols[...] = view.transpose(1, 2, 3, 0, 4, 5)
    return cols.reshape(c * kh * kw, n * oh * ow)


def channels_first(y, n, oh, ow):
    """(C, N*OH*OW) -> (N, C, OH, OW); free for one image, one copy of the output otherwise."""
    y = y.reshape(y.shape[0], n, oh, ow)
    if n == 1:
        return y.reshape(1, y.shape[0], oh, ow)
    xp = get_array_module(y)
    return xp.ascontiguousarray(y.transpose(1, 0, 2, 3))


def channels_outer(x):
    """(N, C, H, W) -> (C, N*H*W), the matrix whose rows are channels (a copy unless N = 1)."""
    n, c, h, w = x.shape
    if n == 1:
        return x.reshape(c, h * w)
    return x.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def conv2d_plain(x, weight, stride, padding):
    """y[n, o, y, z] = sum over c, i, j of weight[o, c, i, j] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW) -> (N, C_out, OH, OW)
    with OH = floor((H + 2*PH - KH) / SH) + 1, and likewise OW.
    im2col, then one matmul (C_out, C_in*KH*KW) @ (C_in*KH*KW, N*OH*OW).
    """
    c_out, c_in, kh, kw = weight.shape
    n, _, h, w = x.shape
    oh, ow = output_size(h, kh, stride[0], padding[0]), output_size(w, kw, stride[1], padding[1])
    cols = im2col_matrix(x, kh, kw, stride, padding)
    y = weight.reshape(c_out, c_in * kh * kw) @ cols
    return channels_first(y, n, oh, ow)


def col2im(cols, h, w, stride):
    """The adjoint of im2col: cols (N, C, KH, KW, OH, OW) -> image (N, C, H, W).

    Every column entry is added to the pixel it was taken from; pixels covered by several
    receptive fields receive the sum. One strided slice is added per kernel offset (no
    scatter), which is fast on NumPy and runs unchanged on CuPy.
    """
    xp = get_array_module(cols)
    n, c, kh, kw, oh, ow = cols.shape
    sh, sw = stride
    out = xp.zeros((n, c, h, w), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += cols[:, :, i, j]
    return out


def transposed_output_size(size, kernel, stride, padding, output_padding=0):
    """Output length of a transposed convolution: (size - 1)*stride - 2*padding + kernel + OP."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def conv_transpose2d_plain(x, weight, stride, padding, output_padding=(0, 0)):
    """The adjoint of conv2d: every input pixel spreads weight[c] over a KH x KW patch.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H - 1)*SH - 2*PH + KH + OPH. Multiply by the weight transposed, one matmul per
    image (C_out*KH*KW, C_in) @ (C_in, H*W), which gives the columns of the output
    (N, C_out, KH, KW, H, W); col2im adds them into the full, uncropped output of
    (H - 1)*SH + KH + OPH rows (output_padding adds OPH at the bottom), and padding crops PH
    from each side.
    """
    xp = get_array_module(x)
    c_in, c_out, kh, kw = weight.shape
    n, _, h, w = x.shape
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    oh = transposed_output_size(h, kh, sh, ph, oph)
    ow = transposed_output_size(w, kw, sw, pw, opw)
    cols = weight.reshape(c_in, c_out * kh * kw).T @ x.reshape(n, c_in, h * w)
    full = col2im(cols.reshape(n, c_out, kh, kw, h, w), oh + 2 * ph, ow + 2 * pw, stride)
    return xp.ascontiguousarray(full[:, :, ph:ph + oh, pw:pw + ow])


def conv2d_weight_grad_plain(x, grad_out, kernel_size, stride, padding):
    """dL/dweight of conv2d: gw[o, c, i, j] = sum over n, y, z of
    grad_out[n, o, y, z] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), grad_out: (N, C_out, OH, OW) -> (C_out, C_in, KH, KW).
    One matmul with the im2col columns, (C_out, N*OH*OW) @ (N*OH*OW, C_in*KH*KW), which sums
    over the batch as it goes. With the roles of the two tensors exchanged it is also the
    weight gradient of conv_transpose2d (see ``ConvTranspose2d.backward``).
    """
    kh, kw = kernel_size
    n, c_out, oh, ow = grad_out.shape
    cols = im2col_matrix(x, kh, kw, stride, padding, oh, ow)     # (C_in*KH*KW, N*OH*OW)
    gw = channels_outer(grad_out) @ cols.T                        # (C_out, C_in*KH*KW)
    return gw.reshape(c_out, x.shape[1], kh, kw)

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

``im2col`` and ``col2im`` above are the plain versions the lessons build. The kernels below
use the same ideas in the layouts a matmul wants (the batch in the matmul's columns, blocks
that are contiguous), and for stride 1 pick between gathering (im2col, then multiply) and
scattering (multiply, then shift and add) by which builds the smaller array in between:
with few output channels, as in the generator's last layer, that is 18 times smaller.
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


def _columns(x, kh, kw, stride, padding, oh=None, ow=None):
    """The im2col matrix in the layout one matmul wants: x (N, C, H, W) -> (C*KH*KW, N*OH*OW).

    Row (c, i, j), column (n, y, z) holds xpad[n, c, y*SH + i, z*SW + j]. Putting the batch
    in the columns makes a whole batch one large matmul instead of N small ones; copying
    the strided view into this order is the only copy of the input. ``oh``, ``ow`` drop
    trailing outputs (a weight gradient uses only as many as the output gradient has).
    """
    xp = get_array_module(x)
    view = im2col(pad_zeros(x, *padding), kh, kw, stride)[..., :oh, :ow]
    n, c, _, _, oh, ow = view.shape
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    cols[...] = view.transpose(1, 2, 3, 0, 4, 5)
    return cols.reshape(c * kh * kw, n * oh * ow)


def _channels_first(y, n, oh, ow):
    """(C, N*OH*OW) -> (N, C, OH, OW); free for one image, one copy of the output otherwise."""
    y = y.reshape(y.shape[0], n, oh, ow)
    if n == 1:
        return y.reshape(1, y.shape[0], oh, ow)
    xp = get_array_module(y)
    return xp.ascontiguousarray(y.transpose(1, 0, 2, 3))


def _channels_outer(x):
    """(N, C, H, W) -> (C, N*H*W), the matrix whose rows are channels (a copy unless N = 1)."""
    n, c, h, w = x.shape
    if n == 1:
        return x.reshape(c, h * w)
    return x.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def conv2d_array(x, weight, stride, padding, saved=None):
    """y[n, o] = sum over c, i, j of weight[o, c, i, j] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW) -> (N, C_out, OH, OW)
    with OH = floor((H + 2*PH - KH) / SH) + 1, and likewise OW.

    Two roads to the same sums, taken by the size of what they build on the way:
    gather (im2col, then one matmul (C_out, C_in*KH*KW) @ (C_in*KH*KW, N*OH*OW)) builds
    C_in*KH*KW*N*OH*OW numbers; for stride 1, scatter (``_conv2d_scatter``) builds
    C_out*KH*KW*N*HP*WP. Scatter wins with few output channels: the generator's last layer
    (64 -> 3 channels, 7x7, 64x64) builds 0.7 M numbers instead of 12.8 M.

    ``saved``, a dict, receives saved["columns"] when the gather road built them: the weight
    gradient multiplies the same columns (``conv2d_weight_grad(..., columns=)``), and keeping
    them from forward saves building them a second time.
    """
    c_out, c_in, kh, kw = weight.shape
    n, _, h, w = x.shape
    (ph, pw) = padding
    oh, ow = output_size(h, kh, stride[0], ph), output_size(w, kw, stride[1], pw)
    if tuple(stride) == (1, 1) and c_out * (h + 2 * ph) * (w + 2 * pw) < c_in * oh * ow:
        return _conv2d_scatter(x, weight, padding)
    cols = _columns(x, kh, kw, stride, padding)
    if saved is not None:
        saved["columns"] = cols
    y = weight.reshape(c_out, c_in * kh * kw) @ cols
    return _channels_first(y, n, oh, ow)


def _conv2d_scatter(x, weight, padding):
    """Stride-1 conv2d as multiply, then shift and add: for every pixel of the padded image,
    Z[o, i, j, n] = weight[o, :, i, j] @ xpad[n] (one matmul), then
    y[n, o, y, z] = sum over i, j of Z[o, i, j, n, y + i, z + j] (one slice per offset).
    """
    xp = get_array_module(x)
    c_out, c_in, kh, kw = weight.shape
    xpad = pad_zeros(x, *padding)
    n, _, hp, wp = xpad.shape
    oh, ow = hp - kh + 1, wp - kw + 1
    w_rows = weight.transpose(0, 2, 3, 1).reshape(c_out * kh * kw, c_in)  # small: few outputs
    z = (w_rows @ _channels_outer(xpad)).reshape(c_out, kh, kw, n, hp, wp)
    y = xp.zeros((n, c_out, oh, ow), dtype=z.dtype)
    for i in range(kh):
        for j in range(kw):
            y += z[:, i, j, :, i:i + oh, j:j + ow].transpose(1, 0, 2, 3)
    return y


def _overlap(i, s, p, size_in, size_out):
    """For kernel offset i along one axis of a transposed convolution: input index y lands
    on output index y*s + i - p. Returns (first y, count, first output index) of the inputs
    that land inside [0, size_out); count <= 0 when none does."""
    first = max(0, -((i - p) // s))          # ceil((p - i) / s), at least 0
    last = min(size_in - 1, (size_out - 1 - i + p) // s)
    return first, last - first + 1, first * s + i - p


def conv_transpose2d_array(x, weight, stride, padding, output_padding=(0, 0)):
    """The adjoint of conv2d: every input pixel spreads weight[c] over a KH x KW patch.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H - 1)*SH - 2*PH + KH + OPH. The full, uncropped result has (H - 1)*SH + KH rows;
    padding crops PH from each side and output_padding adds OPH rows at the bottom.

    One matmul per image makes the columns, (C_out*KH*KW, C_in) @ (C_in, H*W), with the
    weight read transposed in place (copying it into another order costs as much as the
    matmul). Each kernel offset's block cols[:, :, i, j] then holds whole contiguous (H, W)
    planes in the output's (N, C_out) order, and is added, as one strided slice, straight
    into the cropped output: the parts that padding crops are never added, nor copied.
    (Putting the batch in the matmul's columns instead would make every add read a
    transposed block, which costs more than the larger matmul saves.)
    """
    xp = get_array_module(x)
    c_in, c_out, kh, kw = weight.shape
    n, _, h, w = x.shape
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    oh = (h - 1) * sh - 2 * ph + kh + oph
    ow = (w - 1) * sw - 2 * pw + kw + opw
    if ((sh, sw) == (1, 1) and ph < kh and pw < kw and c_in * oh * ow < c_out * h * w):
        # With stride 1 a transposed convolution is a convolution by the kernel flipped in
        # space, its channel axes exchanged, padded by K - 1 - P. That road gathers
        # C_in*KH*KW*OH*OW numbers instead of scattering C_out*KH*KW*H*W: far fewer when the
        # input has few channels (the gradient flowing into a 64 -> 3 layer).
        flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        return conv2d_array(x, flipped, (1, 1), (kh - 1 - ph, kw - 1 - pw))
    if (sh, sw) == (1, 1):
        return _conv_transpose2d_rows(x, weight, padding)
    w_rows = weight.reshape(c_in, c_out * kh * kw).T
    cols = (w_rows @ x.reshape(n, c_in, h * w)).reshape(n, c_out, kh, kw, h, w)
    out = xp.zeros((n, c_out, oh, ow), dtype=cols.dtype)
    for i in range(kh):
        y0, ny, o0 = _overlap(i, sh, ph, h, oh)
        if ny <= 0:
            continue
        for j in range(kw):
            z0, nz, q0 = _overlap(j, sw, pw, w, ow)
            if nz <= 0:
                continue
            block = cols[:, :, i, j, y0:y0 + ny, z0:z0 + nz]
            out[:, :, o0:o0 + sh * (ny - 1) + 1:sh, q0:q0 + sw * (nz - 1) + 1:sw] += block
    return out


def _conv_transpose2d_rows(x, weight, padding):
    """Stride-1 conv_transpose2d whose col2im adds long contiguous rows, not short ones.

    Widen every input row with zeros to the full output's width WF = W + KW - 1. Then an
    input pixel at flat position q = y*WF + z lands, for kernel offset (i, j), at flat
    position q + i*WF + j of the full output: one shift for the whole image, so each offset
    adds one contiguous run of H*WF numbers per channel (the zero columns land on the pixels
    a run wraps onto). On a 16x16 image that is 16 times fewer, 16 times longer inner loops
    than adding (H, W) blocks, for 1/8 more multiplications in the matmul.
    """
    xp = get_array_module(x)
    c_in, c_out, kh, kw = weight.shape
    n, _, h, w = x.shape
    ph, pw = padding
    hf, wf = h + kh - 1, w + kw - 1                       # the full, uncropped output
    wide = xp.zeros((n, c_in, h, wf), dtype=x.dtype)
    wide[..., :w] = x
    cols = weight.reshape(c_in, c_out * kh * kw).T @ wide.reshape(n, c_in, h * wf)
    cols = cols.reshape(n, c_out, kh, kw, h * wf)
    full = xp.zeros((n, c_out, (hf + 1) * wf), dtype=cols.dtype)  # + a row for the overhang
    for i in range(kh):
        for j in range(kw):
            shift = i * wf + j
            full[:, :, shift:shift + h * wf] += cols[:, :, i, j]
    full = full.reshape(n, c_out, hf + 1, wf)
    return xp.ascontiguousarray(full[:, :, ph:hf - ph, pw:wf - pw])


def conv2d_weight_grad(x, grad_out, kernel_size, stride, padding, columns=None):
    """dL/dweight of conv2d: gw[o, c, i, j] = sum over n, y, z of
    grad_out[n, o, y, z] * xpad[n, c, y*SH + i, z*SW + j].

    x: (N, C_in, H, W), grad_out: (N, C_out, OH, OW) -> (C_out, C_in, KH, KW).
    One matmul, (C_out, N*OH*OW) @ (N*OH*OW, C_in*KH*KW), sums over the batch as it goes.
    With stride 1 and few output channels ``_weight_grad_shifted`` builds a far smaller
    matrix from the gradient instead (C_out*KH*KW*N*(HP+1)*WP numbers against im2col's
    C_in*KH*KW*N*OH*OW): 9 times faster for the generator's last layer, 64 -> 3 channels.
    With the roles of the two tensors exchanged it is also the weight gradient of
    conv_transpose2d (see ``ConvTranspose2d.backward``). ``columns``: forward's im2col
    matrix of x (``conv2d_array(..., saved=)``), used instead of building it again; x may
    then be None.
    """
    kh, kw = kernel_size
    n, c_out, oh, ow = grad_out.shape
    if columns is not None:
        gw = _channels_outer(grad_out) @ columns.T
        return gw.reshape(c_out, columns.shape[0] // (kh * kw), kh, kw)
    c_in = x.shape[1]
    h, w = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if tuple(stride) == (1, 1) and c_out * (h + 1) * w < c_in * oh * ow:
        return _weight_grad_shifted(x, grad_out, kernel_size, padding)
    cols = _columns(x, kh, kw, stride, padding, oh, ow)        # (C_in*KH*KW, N*OH*OW)
    gw = _channels_outer(grad_out) @ cols.T                     # (C_out, C_in*KH*KW)
    return gw.reshape(c_out, c_in, kh, kw)


def _weight_grad_shifted(x, grad_out, kernel_size, padding):
    """The stride-1 weight gradient with few output channels: shift the small tensor (the
    gradient, C_out channels) once per kernel offset, never the large one, then one matmul.

    Lay each padded channel of x out as one long row: image after image, each HP + 1 rows
    of WP pixels (the spare zero row keeps every window inside its own image), and grad_out
    the same way, zeros wherever it has no pixel. Output (y, z) at kernel offset (i, j) reads
    pixel (y + i, z + j), which in the long row sits s = i*WP + j after (y, z) itself: the
    same shift for every pixel of every image. So
        gw[o, c, i, j] = sum_r gshift[o, i, j, r] * xcat[c, r],  gshift[o, i, j, r] = gcat[o, r - s],
    one matmul (C_out*KH*KW, L) @ (L, C_in). The zeros of gcat cancel the pixels a shifted
    row takes from past a row's end.
    """
    xp = get_array_module(x)
    kh, kw = kernel_size
    n, c_out, oh, ow = grad_out.shape
    _, c_in, h, w = x.shape
    ph, pw = padding
    hp, wp = h + 2 * ph, w + 2 * pw
    block = (hp + 1) * wp                                   # one image in the long row
    xcat = xp.zeros((c_in, n, hp + 1, wp), dtype=x.dtype)
    xcat[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    xcat = xcat.reshape(c_in, n * block)
    gcat = xp.zeros((c_out, n, hp + 1, wp), dtype=grad_out.dtype)
    gcat[:, :, :oh, :ow] = grad_out.transpose(1, 0, 2, 3)
    length = (n - 1) * block + oh * wp                      # the last image's zero tail dropped
    gcat = gcat.reshape(c_out, n * block)[:, :length]
    total = length + (kh - 1) * wp + kw - 1                 # <= n * block
    gshift = xp.zeros((c_out, kh, kw, total), dtype=grad_out.dtype)
    for i in range(kh):
        for j in range(kw):
            gshift[:, i, j, i * wp + j:i * wp + j + length] = gcat
    gw = gshift.reshape(c_out * kh * kw, total) @ xcat[:, :total].T     # (C_out*KH*KW, C_in)
    return gw.reshape(c_out, kh, kw, c_in).transpose(0, 3, 1, 2).copy()

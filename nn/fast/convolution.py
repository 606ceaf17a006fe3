"""Faster roads to the sums that ``nn/convolution.py`` defines plainly.

``conv2d_array``, ``conv_transpose2d_array`` and ``conv2d_weight_grad`` (at the end) are what
the fast layer's convolution Functions run: each takes the plain definition unless one of
the roads below applies. Each road computes exactly what a plain definition computes
(conv2d, conv_transpose2d or the weight gradient), only in another order, and each is tested
equal to it in float64 (tests/test_convolution_roads.py). A road is named for its trick; beside it stands the test
that chooses it (``..._pays``), which compares the sizes of what the two roads build on the
way: on NumPy the time of a convolution follows the bytes it writes and reads as much as
its multiplications.

    conv2d_by_scatter                 stride 1, few output channels: multiply, then shift
    conv_transpose2d_by_flipped_kernel stride 1, few input channels: a convolution instead
    conv_transpose2d_in_long_rows     stride 1: col2im adds whole images as long rows
    conv_transpose2d_into_crop        stride > 1: col2im adds straight into the cropped output
    weight_grad_by_shifted_gradient   stride 1, few output channels: shift the gradient
    weight_grad_from_saved_columns    forward's im2col columns multiplied again
    conv2d_in_bands, conv_transpose2d_in_bands
                                      no weight gradient to follow: memory bounded by the
                                      output, not by im2col (a 4000x3000 photo)
"""
from ..backend import get_array_module
from .. import convolution as plain

__all__ = ["scatter_pays", "conv2d_by_scatter", "flipped_kernel_pays",
           "conv_transpose2d_by_flipped_kernel", "conv_transpose2d_in_long_rows",
           "conv_transpose2d_into_crop", "shifted_gradient_pays",
           "weight_grad_by_shifted_gradient", "weight_grad_from_saved_columns", "BAND_NUMBERS",
           "bands_pay_conv2d", "conv2d_in_bands", "bands_pay_transposed",
           "conv_transpose2d_in_bands", "conv2d_saving_columns", "conv2d_array",
           "conv2d_whole", "conv_transpose2d_array", "conv_transpose2d_whole",
           "conv2d_weight_grad"]


# --- conv2d by scatter -------------------------------------------------------------------------

def scatter_pays(x_shape, w_shape, stride, padding):
    """Stride 1 and fewer numbers to scatter than to gather: C_out*KH*KW*N*HP*WP against
    im2col's C_in*KH*KW*N*OH*OW. The generator's last layer (64 -> 3 channels, 7x7, 64x64)
    builds 0.7 M numbers instead of 12.8 M."""
    (_, c_in, h, w), (c_out, _, kh, kw) = x_shape, w_shape
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    return tuple(stride) == (1, 1) and c_out * hp * wp < c_in * (hp - kh + 1) * (wp - kw + 1)


def conv2d_by_scatter(x, weight, padding):
    """Stride-1 conv2d as multiply, then shift and add: for every pixel of the padded image,
    Z[o, i, j, n] = weight[o, :, i, j] @ xpad[n] (one matmul), then
    y[n, o, y, z] = sum over i, j of Z[o, i, j, n, y + i, z + j] (one slice per offset).
    """
    xp = get_array_module(x)
    c_out, c_in, kh, kw = weight.shape
    xpad = plain.pad_zeros(x, *padding)
    n, _, hp, wp = xpad.shape
    oh, ow = hp - kh + 1, wp - kw + 1
    w_rows = weight.transpose(0, 2, 3, 1).reshape(c_out * kh * kw, c_in)  # small: few outputs
    z = (w_rows @ plain.channels_outer(xpad)).reshape(c_out, kh, kw, n, hp, wp)
    y = xp.zeros((n, c_out, oh, ow), dtype=z.dtype)
    for i in range(kh):
        for j in range(kw):
            y += z[:, i, j, :, i:i + oh, j:j + ow].transpose(1, 0, 2, 3)
    return y


# --- conv_transpose2d: three roads --------------------------------------------------------------

def flipped_kernel_pays(x_shape, w_shape, stride, padding):
    """Stride 1, padding below the kernel size, and fewer numbers to gather than to scatter:
    C_in*KH*KW*OH*OW against C_out*KH*KW*H*W, far fewer when the input has few channels
    (the gradient flowing into a 64 -> 3 layer)."""
    (_, c_in, h, w), (_, c_out, kh, kw) = x_shape, w_shape
    (ph, pw) = padding
    oh, ow = h - 1 - 2 * ph + kh, w - 1 - 2 * pw + kw
    return (tuple(stride) == (1, 1) and ph < kh and pw < kw and c_in * oh * ow < c_out * h * w)


def conv_transpose2d_by_flipped_kernel(x, weight, padding, conv2d):
    """With stride 1 a transposed convolution is a convolution by the kernel flipped in
    space, its channel axes exchanged, padded by K - 1 - P; ``conv2d`` runs it."""
    kh, kw = weight.shape[2:]
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return conv2d(x, flipped, (1, 1), (kh - 1 - padding[0], kw - 1 - padding[1]))


def conv_transpose2d_in_long_rows(x, weight, padding):
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


def _overlap(i, s, p, size_in, size_out):
    """For kernel offset i along one axis of a transposed convolution: input index y lands
    on output index y*s + i - p. Returns (first y, count, first output index) of the inputs
    that land inside [0, size_out); count <= 0 when none does."""
    first = max(0, -((i - p) // s))          # ceil((p - i) / s), at least 0
    last = min(size_in - 1, (size_out - 1 - i + p) // s)
    return first, last - first + 1, first * s + i - p


def conv_transpose2d_into_crop(x, weight, stride, padding, output_padding=(0, 0)):
    """conv_transpose2d whose col2im adds each kernel offset straight into the cropped
    output: the parts that padding crops are never added, nor copied out afterwards.

    The columns are made per image, (C_out*KH*KW, C_in) @ (C_in, H*W), with the weight read
    transposed in place (copying it into another order costs as much as the matmul): each
    offset's block cols[:, :, i, j] then holds whole contiguous (H, W) planes in the
    output's (N, C_out) order. (Putting the batch in the matmul's columns instead would make
    every add read a transposed block, which costs more than the larger matmul saves.)
    """
    xp = get_array_module(x)
    c_in, c_out, kh, kw = weight.shape
    n, _, h, w = x.shape
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    oh = plain.transposed_output_size(h, kh, sh, ph, oph)
    ow = plain.transposed_output_size(w, kw, sw, pw, opw)
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


# --- weight gradient: two roads -----------------------------------------------------------------

def shifted_gradient_pays(x_shape, g_shape, stride, padding):
    """Stride 1 and a smaller shifted gradient than im2col: C_out*KH*KW*N*(HP+1)*WP numbers
    against C_in*KH*KW*N*OH*OW. 9 times faster for the generator's last layer, 64 -> 3."""
    (_, c_in, h, w), (_, c_out, oh, ow) = x_shape, g_shape
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    return tuple(stride) == (1, 1) and c_out * (hp + 1) * wp < c_in * oh * ow


def weight_grad_by_shifted_gradient(x, grad_out, kernel_size, padding):
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


def weight_grad_from_saved_columns(columns, grad_out, kernel_size):
    """The plain weight gradient's matmul on the im2col matrix that forward built anyway
    (``conv2d_saving_columns``): building it a second time costs a tenth of the layer.
    columns: (C_in*KH*KW, N*OH*OW), grad_out: (N, C_out, OH, OW) -> (C_out, C_in, KH, KW)."""
    kh, kw = kernel_size
    c_out = grad_out.shape[1]
    gw = plain.channels_outer(grad_out) @ columns.T
    return gw.reshape(c_out, columns.shape[0] // (kh * kw), kh, kw)


# --- bands: memory bounded by the output ---------------------------------------------------------

BAND_NUMBERS = 2 ** 24
"""The most numbers a convolution builds on the way (im2col columns, scattered products)
before it is cut into bands: 64 MiB in float32. Without bands the first layer of a
generator on a 4000x3000 photo builds 7 GB of columns. The official generator on a 256x256
image builds at most 10 M numbers in any layer, so it runs in one piece, as in training."""


def _conv2d_numbers(x_shape, w_shape, stride, padding):
    """How many numbers conv2d builds on the way: im2col's columns, or scatter's products."""
    (n, c_in, h, w), (c_out, _, kh, kw) = x_shape, w_shape
    oh = plain.output_size(h, kh, stride[0], padding[0])
    ow = plain.output_size(w, kw, stride[1], padding[1])
    gather = c_in * kh * kw * n * oh * ow
    if scatter_pays(x_shape, w_shape, stride, padding):
        return min(gather, c_out * kh * kw * n * (h + 2 * padding[0]) * (w + 2 * padding[1]))
    return gather


def bands_pay_conv2d(x_shape, w_shape, stride, padding):
    """More than BAND_NUMBERS built on the way, and more than one output row to share them."""
    oh = plain.output_size(x_shape[2], w_shape[2], stride[0], padding[0])
    return oh > 1 and _conv2d_numbers(x_shape, w_shape, stride, padding) > BAND_NUMBERS


def _rows_per_band(numbers, total_rows):
    """How many of ``total_rows`` rows keep a band's intermediate (``numbers`` for all of
    them) under BAND_NUMBERS: at least one."""
    return max(1, int(BAND_NUMBERS // (numbers / total_rows)))


def conv2d_in_bands(x, weight, stride, padding, conv2d, rows=None):
    """conv2d computed ``rows`` output rows at a time by ``conv2d`` (x, weight, stride,
    padding) -> y, each band from the zero-padded slab of input rows under it, so nothing
    of the size of im2col (nor a padded copy of x) is ever built. ``rows`` defaults to as
    many as keep a band's intermediate under BAND_NUMBERS.

    Output rows [y0, y1) read padded rows [y0*SH, (y1 - 1)*SH + KH), which are input rows
    shifted up by PH; rows outside the image are the padding's zeros.
    """
    xp = get_array_module(x)
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    (sh, sw), (ph, pw) = stride, padding
    oh = plain.output_size(h, kh, sh, ph)
    rows = rows or _rows_per_band(_conv2d_numbers(x.shape, weight.shape, stride, padding), oh)
    out = None
    for y0 in range(0, oh, rows):
        y1 = min(oh, y0 + rows)
        top, bottom = y0 * sh - ph, (y1 - 1) * sh + kh - ph   # input rows, may stick out
        slab = xp.zeros((n, c_in, bottom - top, w + 2 * pw), dtype=x.dtype)
        first, last = max(top, 0), min(bottom, h)
        slab[:, :, first - top:last - top, pw:pw + w] = x[:, :, first:last]
        band = conv2d(slab, weight, stride, (0, 0))
        if out is None:
            out = xp.empty((n, band.shape[1], oh, band.shape[3]), dtype=band.dtype)
        out[:, :, y0:y1] = band
    return out


def _transposed_numbers(x_shape, w_shape, stride, padding=(0, 0)):
    """How many numbers conv_transpose2d builds on the way: the columns it spreads (per
    image, C_out*KH*KW*H*W, a little more in long rows), or the flipped kernel's im2col."""
    (n, c_in, h, w), (_, c_out, kh, kw) = x_shape, w_shape
    spread = c_out * kh * kw * n * h * (w + kw - 1)
    if flipped_kernel_pays(x_shape, w_shape, stride, padding):
        return min(spread, c_in * kh * kw * n * (h + kh - 1) * (w + kw - 1))
    return spread


def bands_pay_transposed(x_shape, w_shape, stride, padding=(0, 0)):
    """More than BAND_NUMBERS built on the way, and more than one input row to share them."""
    return x_shape[2] > 1 and _transposed_numbers(x_shape, w_shape, stride, padding) > BAND_NUMBERS


def conv_transpose2d_in_bands(x, weight, stride, padding, output_padding, conv_transpose2d,
                              rows=None):
    """conv_transpose2d computed ``rows`` input rows at a time by ``conv_transpose2d`` (x,
    weight, stride, padding, output_padding) -> y, each band's output added into its place.

    Input rows [r0, r1) spread onto rows [r0*SH, (r1 - 1)*SH + KH) of the full, uncropped
    output, which are rows shifted up by PH in the cropped one; neighbouring bands overlap
    by KH - SH rows, where both add. Memory: the output and one band's columns.
    """
    xp = get_array_module(x)
    n, _, h, w = x.shape
    kh = weight.shape[2]
    (sh, _), (ph, pw), (oph, opw) = stride, padding, output_padding
    oh = plain.transposed_output_size(h, kh, sh, ph, oph)
    rows = rows or _rows_per_band(_transposed_numbers(x.shape, weight.shape, stride, padding), h)
    out = None
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        band = conv_transpose2d(x[:, :, r0:r1], weight, stride, (0, pw), (0, opw))
        if out is None:
            out = xp.zeros((n, band.shape[1], oh, band.shape[3]), dtype=band.dtype)
        start = r0 * sh - ph                     # where the band's first row lands
        first, last = max(start, 0), min(start + band.shape[2], oh)
        if last > first:
            out[:, :, first:last] += band[:, :, first - start:last - start]
    return out


# --- what the fast convolution Functions run: the plain road unless a faster one applies ------

def conv2d_saving_columns(x, weight, stride, padding, saved):
    """``plain.conv2d_plain``, keeping its im2col matrix in saved["columns"] for the weight
    gradient (``weight_grad_from_saved_columns``)."""
    c_out, c_in, kh, kw = weight.shape
    n, _, h, w = x.shape
    oh = plain.output_size(h, kh, stride[0], padding[0])
    ow = plain.output_size(w, kw, stride[1], padding[1])
    cols = saved["columns"] = plain.im2col_matrix(x, kh, kw, stride, padding)
    y = weight.reshape(c_out, c_in * kh * kw) @ cols
    return plain.channels_first(y, n, oh, ow)


def conv2d_array(x, weight, stride, padding, saved=None):
    """conv2d (see ``plain.conv2d_plain``): x (N, C_in, H, W), weight (C_out, C_in, KH, KW)
    -> (N, C_out, OH, OW).

    ``saved``, a dict, is given when a weight gradient will follow: it receives
    saved["columns"] when the plain road built them. Without it (no graph, or a frozen
    weight) a large convolution runs in bands of output rows, so that its memory is bounded
    by the output, not by im2col.
    """
    if saved is None and bands_pay_conv2d(x.shape, weight.shape, stride, padding):
        return conv2d_in_bands(x, weight, stride, padding, conv2d_whole)
    return conv2d_whole(x, weight, stride, padding, saved)


def conv2d_whole(x, weight, stride, padding, saved=None):
    """conv2d in one piece: by scatter when that builds the smaller array, else plain."""
    if scatter_pays(x.shape, weight.shape, stride, padding):
        return conv2d_by_scatter(x, weight, padding)
    if saved is not None:
        return conv2d_saving_columns(x, weight, stride, padding, saved)
    return plain.conv2d_plain(x, weight, stride, padding)


def conv_transpose2d_array(x, weight, stride, padding, output_padding=(0, 0)):
    """conv_transpose2d (see ``plain.conv_transpose2d_plain``): x (N, C_in, H, W),
    weight (C_in, C_out, KH, KW) -> (N, C_out, OH, OW). A large one runs in bands of input
    rows, each band's output added into its place."""
    if bands_pay_transposed(x.shape, weight.shape, stride, padding):
        return conv_transpose2d_in_bands(x, weight, stride, padding, output_padding,
                                         conv_transpose2d_whole)
    return conv_transpose2d_whole(x, weight, stride, padding, output_padding)


def conv_transpose2d_whole(x, weight, stride, padding, output_padding=(0, 0)):
    """conv_transpose2d in one piece. Stride 1: as a convolution by the flipped kernel when
    that gathers fewer numbers than spreading scatters, else spread in long rows. A larger
    stride: add each kernel offset straight into the cropped output."""
    if flipped_kernel_pays(x.shape, weight.shape, stride, padding):
        return conv_transpose2d_by_flipped_kernel(x, weight, padding, conv2d_array)
    if tuple(stride) == (1, 1):
        return conv_transpose2d_in_long_rows(x, weight, padding)
    return conv_transpose2d_into_crop(x, weight, stride, padding, output_padding)


def conv2d_weight_grad(x, grad_out, kernel_size, stride, padding, columns=None):
    """The weight gradient (see ``plain.conv2d_weight_grad_plain``): x (N, C_in, H, W),
    grad_out (N, C_out, OH, OW) -> (C_out, C_in, KH, KW).

    ``columns``: forward's im2col matrix of x (``conv2d_array(..., saved=)``), multiplied
    again instead of built again; x may then be None.
    """
    if columns is not None:
        return weight_grad_from_saved_columns(columns, grad_out, kernel_size)
    if shifted_gradient_pays(x.shape, grad_out.shape, stride, padding):
        return weight_grad_by_shifted_gradient(x, grad_out, kernel_size, padding)
    return plain.conv2d_weight_grad_plain(x, grad_out, kernel_size, stride, padding)

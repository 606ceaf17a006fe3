"""Roads for device arrays (CuPy), chosen by kernel launches.

On a GPU a step on small images costs about one kernel launch per array operation, whatever
the array's size; the host's roads, chosen by the bytes they move, add one strided slice per
kernel offset (col2im) and update Adam tensor by tensor. These take fewer launches:

    conv_transpose2d_gathered  a transposed convolution as a convolution of the input spread
                               apart by the stride: one im2col copy and one matmul, no col2im
    DeviceConv2d, DeviceConvTranspose2d   the fast Functions on those roads
    DevicePad                  reflection padding as two matmuls by 0/1 matrices (exact: one
                               1 per row), and its gradient as two more
    DeviceInstanceNormalize    the plain formula in 7 launches forward and 7 backward
    adam_update_flat           Adam on one flat buffer per optimizer, parameters and moments
                               as views into it: 12 operations per step, not per tensor
"""
import weakref

from ..backend import get_array_module
from .. import convolution as plain
from ..functional import InstanceNormalize, Pad
from .convolution import (bands_pay_conv2d, bands_pay_transposed, conv2d_in_bands,
                          conv2d_saving_columns, conv_transpose2d_array,
                          conv_transpose2d_in_bands, weight_grad_from_saved_columns)
from .layers import FastConv2d, FastConvTranspose2d
from .optim import adam_update_in_place, folded_step

__all__ = ["conv2d_gathered", "conv_transpose2d_gathered", "weight_grad_gathered",
           "DeviceConv2d", "DeviceConvTranspose2d", "DevicePad", "DeviceInstanceNormalize",
           "adam_update_flat"]


# --- convolution without col2im -------------------------------------------------------------

def conv2d_gathered(x, weight, stride, padding, saved=None):
    """conv2d by im2col and one matmul (``plain.conv2d_plain``), keeping the columns in
    ``saved`` for the weight gradient; without a graph, a large one in bands of rows."""
    if saved is None and bands_pay_conv2d(x.shape, weight.shape, stride, padding):
        return conv2d_in_bands(x, weight, stride, padding, plain.conv2d_plain)
    if saved is not None:
        return conv2d_saving_columns(x, weight, stride, padding, saved)
    return plain.conv2d_plain(x, weight, stride, padding)


def conv_transpose2d_gathered(x, weight, stride, padding, output_padding=(0, 0)):
    """conv_transpose2d as a convolution: x spread apart by the stride (S - 1 zeros between
    pixels), padded by K - 1 - P (and output_padding more at the bottom and right), then
    convolved with stride 1 by the kernel flipped in space, its channel axes exchanged:

        y[n, o, a, b] = sum_{c,i,j} w[c, o, K-1-i, K-1-j] * xs[n, c, a + i, b + j]

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW) -> (N, C_out, OH, OW). A padding of K
    or more (which crops more than the kernel adds) takes the host's road.
    """
    kh, kw = weight.shape[2:]
    if padding[0] > kh - 1 or padding[1] > kw - 1:
        return conv_transpose2d_array(x, weight, stride, padding, output_padding)
    if bands_pay_transposed(x.shape, weight.shape, stride, padding):
        return conv_transpose2d_in_bands(x, weight, stride, padding, output_padding,
                                         _conv_transpose2d_spread)
    return _conv_transpose2d_spread(x, weight, stride, padding, output_padding)


def _conv_transpose2d_spread(x, weight, stride, padding, output_padding):
    """``conv_transpose2d_gathered`` in one piece (K - 1 - P >= 0 on both axes)."""
    xp = get_array_module(x)
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    top, left = kh - 1 - ph, kw - 1 - pw
    spread = xp.zeros((n, c_in, (h - 1) * sh + 1 + 2 * top + oph,
                       (w - 1) * sw + 1 + 2 * left + opw), dtype=x.dtype)
    spread[:, :, top:top + (h - 1) * sh + 1:sh, left:left + (w - 1) * sw + 1:sw] = x
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return plain.conv2d_plain(spread, flipped, (1, 1), (0, 0))


def weight_grad_gathered(x, grad_out, kernel_size, stride, padding, columns=None):
    """The weight gradient from forward's saved columns, else by im2col and one matmul."""
    if columns is not None:
        return weight_grad_from_saved_columns(columns, grad_out, kernel_size)
    return plain.conv2d_weight_grad_plain(x, grad_out, kernel_size, stride, padding)


class DeviceConv2d(FastConv2d):
    conv2d = staticmethod(conv2d_gathered)
    conv_transpose2d = staticmethod(conv_transpose2d_gathered)
    weight_grad = staticmethod(weight_grad_gathered)


class DeviceConvTranspose2d(FastConvTranspose2d):
    conv2d = staticmethod(conv2d_gathered)
    conv_transpose2d = staticmethod(conv_transpose2d_gathered)
    weight_grad = staticmethod(weight_grad_gathered)


# --- reflection padding by matmul -----------------------------------------------------------

_REFLECTIONS = {}   # (module, dtype, size, before, after) -> (size + before + after, size)


def reflection_matrix(xp, dtype, size, before, after):
    """R (size + before + after, size) with R[k, m] = 1 where padded index k mirrors m (no
    repeat of the edge): R @ v is v reflect-padded. Built once on the device (no copy from
    the host) and kept."""
    key = (xp.__name__, str(dtype), size, before, after)
    if key not in _REFLECTIONS:
        source = xp.abs(xp.arange(-before, size + after))       # mirror at 0 ...
        source = xp.minimum(source, 2 * (size - 1) - source)     # ... and at size - 1
        _REFLECTIONS[key] = (source[:, None] == xp.arange(size)[None, :]).astype(dtype)
    return _REFLECTIONS[key]


class DevicePad(Pad):
    """Reflection padding in two launches: y = R_h @ x @ R_w^T; backward R_h^T @ g @ R_w."""

    def forward(self, x):
        if self.mode != "reflect":
            return super().forward(x)
        xp = get_array_module(x)
        left, right, top, bottom = self.pads
        self.rows = reflection_matrix(xp, x.dtype, x.shape[2], top, bottom)
        self.cols = reflection_matrix(xp, x.dtype, x.shape[3], left, right)
        return self.rows @ (x @ self.cols.T)

    def backward(self, g):
        if self.mode != "reflect":
            return super().backward(g)
        return self.rows.T @ (g @ self.cols)


# --- instance norm in fewer launches --------------------------------------------------------

class DeviceInstanceNormalize(InstanceNormalize):
    def forward(self, x):
        centred = x - x.mean(axis=(2, 3), keepdims=True)
        var = (centred * centred).mean(axis=(2, 3), keepdims=True)
        self.inv_std = (var + self.eps) ** -0.5
        self.xhat = centred * self.inv_std
        return self.xhat

    def backward(self, g):
        xhat = self.xhat
        gx = g - xhat * (g * xhat).mean(axis=(2, 3), keepdims=True)
        gx -= g.mean(axis=(2, 3), keepdims=True)
        gx *= self.inv_std
        return gx


# --- Adam on one flat buffer ----------------------------------------------------------------

_FLAT = weakref.WeakKeyDictionary()   # optimizer -> (the views it was given, flat buffers)


def adam_update_flat(opt):
    """``Adam.update(opt)`` in 12 operations on three flat buffers (parameters, m, v) of
    which every parameter's data and moments are views, after one concatenation of the
    gradients. A parameter without a gradient, or with another dtype or device than the
    first, sends the whole update to ``adam_update_in_place``."""
    params = opt.params
    grads = [p.grad for p in params]
    dtype = params[0].data.dtype
    if any(g is None for g in grads) or any(p.data.dtype != dtype for p in params):
        return adam_update_in_place(opt)
    xp = get_array_module(params[0].data)
    flat_p, flat_m, flat_v = _flat_buffers(opt, xp)
    g = xp.concatenate([g.reshape(-1) for g in grads])
    b1, b2 = opt.betas
    alpha, eps = folded_step(opt)
    flat_m *= b1
    flat_m += g * (1 - b1)
    flat_v *= b2
    g *= g
    g *= 1 - b2
    flat_v += g
    step = xp.sqrt(flat_v)
    step += eps
    xp.divide(flat_m, step, out=step)
    step *= alpha
    flat_p -= step


def _flat_buffers(opt, xp):
    """(parameters, m, v) as flat arrays whose views the optimizer's arrays are; made again
    when any of those arrays was replaced (Module.to, load_state_dict)."""
    arrays = [p.data for p in opt.params] + list(opt.m) + list(opt.v)
    made = _FLAT.get(opt)
    if made is not None and all(a is b for a, b in zip(made[0], arrays)):
        return made[1]
    count = len(opt.params)
    groups = arrays[:count], arrays[count:2 * count], arrays[2 * count:]
    buffers = [xp.concatenate([a.reshape(-1) for a in group]) for group in groups]
    views = []
    for buffer, group in zip(buffers, groups):
        start = 0
        for a in group:
            views.append(buffer[start:start + a.size].reshape(a.shape))
            start += a.size
    for p, view in zip(opt.params, views[:count]):
        p.data = view
    opt.m[:], opt.v[:] = views[count:2 * count], views[2 * count:]
    _FLAT[opt] = (views, buffers)
    return buffers

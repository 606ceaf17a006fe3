"""Checks of lesson 6: the transposed convolution as a convolution, its backward, and the
backward of nearest-neighbour upsampling.

The references are nn's F.conv_transpose2d and its autograd backward (which the test suite
checks against loops and finite differences), and a loop over the upsampling blocks. A wrong
answer is first compared with what the classic mistakes compute from the same inputs; the
gradients are then checked by nn.gradcheck too.
"""
import numpy as np

import nn
import nn.functional as F

from .core import check_array, check_backward_tuple, check_gradients
from .ladder import (Ladder, autograd_ladder, device_rung, float32_rung, put, rung, shown,
                     with_ladders)

MODULE = "ex06_transposed_convolution"
POINTS = {"6.1": 3, "6.2": 3, "6.3": 2}


def _transposed(x, weight, stride, padding, output_padding=0):
    return F.conv_transpose2d(nn.Tensor(x), nn.Tensor(weight), stride=stride, padding=padding,
                              output_padding=output_padding).data


def _conv(x, kernel, stride=1, padding=0):
    return F.conv2d(nn.Tensor(x), nn.Tensor(np.ascontiguousarray(kernel)), stride=stride,
                    padding=padding).data


def _by_conv(x, weight, stride, top, bottom, left, right, flip=(True, True), swap=True,
             spread=True):
    """Exercise 6.1's three steps with each one optionally done wrong."""
    n, c, h, w = x.shape
    if spread:
        up = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1))
        up[:, :, ::stride, ::stride] = x
    else:
        up = x
    framed = np.pad(up, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kernel = weight[:, :, ::-1 if flip[0] else 1, ::-1 if flip[1] else 1]
    kernel = kernel.transpose(1, 0, 2, 3) if swap else kernel
    if kernel.shape[1] != c or min(framed.shape[2] - kernel.shape[2],
                                   framed.shape[3] - kernel.shape[3]) < 0:
        return np.full((1,), np.nan)   # that answer crashes: it matches nothing
    return _conv(framed, kernel)


def check_conv_transpose2d_by_conv(module):
    rng = np.random.default_rng(0)
    configs = [  # x shape, weight shape (C_in, C_out, KH, KW), stride, padding, output_padding
        ((2, 3, 4, 5), (3, 3, 3, 2), 2, 1, 1),   # C_in = C_out: unswapped channels still run
        ((1, 2, 3, 4), (2, 3, 2, 3), 1, 0, 0),
        ((2, 1, 3, 3), (1, 2, 4, 4), 3, 2, 2),
    ]
    for shape, wshape, s, p, op in configs:
        x, weight = rng.standard_normal(shape), rng.standard_normal(wshape)
        kh, kw = wshape[2:]
        what = (f"conv_transpose2d_by_conv(x of shape {shape}, weight of shape {wshape}, "
                f"stride={s}, padding={p}, output_padding={op})")
        got = module.conv_transpose2d_by_conv(x.copy(), weight.copy(), s, p, op)
        expected = _transposed(x, weight, s, p, op)
        frame = (kh - 1 - p, kh - 1 - p + op, kw - 1 - p, kw - 1 - p + op)
        mistakes = [
            (_by_conv(x, weight, s, *frame, flip=(False, False)),
             f"{what}: the kernel is not flipped. Spreading sends x[p] through weight[t - p*S] "
             "to output t; gathering at t reads it through kernel index K - 1 - (t - p*S)"),
            (_by_conv(x, weight, s, *frame, flip=(True, False)),
             f"{what}: the kernel is flipped along its rows only: flip both axes, "
             "weight[:, :, ::-1, ::-1]"),
            (_by_conv(x, weight, s, *frame, flip=(False, True)),
             f"{what}: the kernel is flipped along its columns only: flip both axes, "
             "weight[:, :, ::-1, ::-1]"),
            (_by_conv(x, weight, s, *frame, swap=False),
             f"{what}: the weight's channel axes are not exchanged: a transposed convolution's "
             "weight is (C_in, C_out, KH, KW), conv2d wants (C_out, C_in, KH, KW): "
             "transpose(1, 0, 2, 3)"),
            (_by_conv(x, weight, s, kh - 1, kh - 1 + op, kw - 1, kw - 1 + op),
             f"{what}: the frame ignores the padding: it is KH - 1 - padding zeros wide, so "
             "that the output loses `padding` rows on each side"),
            (_by_conv(x, weight, s, p, p + op, p, p + op),
             f"{what}: the frame is `padding` zeros wide; it is KH - 1 - padding, so that "
             "every kernel position that touches an input pixel is counted"),
            (_by_conv(x, weight, s, frame[0] + op, frame[1] - op, frame[2] + op, frame[3] - op),
             f"{what}: output_padding went to the top and left: its extra rows and columns "
             "belong at the bottom and right"),
        ]
        if s > 1:
            mistakes.append((_by_conv(x, weight, s, *frame, spread=False),
                             f"{what}: the stride is forgotten: spread x out first, with "
                             "stride - 1 zeros between neighbouring pixels"))
        check_array(what, got, expected, atol=1e-10, mistakes=mistakes)
    # The same function is conv2d's input gradient: for a stride-2 convolution, against
    # nn's autograd (the 9 rows of x keep every row; output_padding would give back one).
    x = nn.Tensor(rng.standard_normal((2, 3, 9, 7)), requires_grad=True)
    w = rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(x, nn.Tensor(w), stride=2, padding=1)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    check_array(f"conv_transpose2d_by_conv(g of shape {g.shape}, w of shape {w.shape}, "
                "stride=2, padding=1) as the input gradient of conv2d(x, w, stride=2, "
                "padding=1)", module.conv_transpose2d_by_conv(g.copy(), w.copy(), 2, 1, 0),
                x.grad, atol=1e-10)


def check_conv_transpose2d_backward(module):
    rng = np.random.default_rng(1)
    configs = [  # x shape, weight shape (C_in, C_out, KH, KW), stride, padding
        ((2, 3, 3, 4), (3, 2, 3, 3), 2, 1),   # the generator's upsampling layer's stride
        ((1, 2, 4, 3), (2, 3, 4, 2), 3, 0),
        ((2, 2, 3, 3), (2, 2, 2, 3), 1, 1),
    ]
    for shape, wshape, s, p in configs:
        x, weight = rng.standard_normal(shape), rng.standard_normal(wshape)
        xt, wt = nn.Tensor(x, requires_grad=True), nn.Tensor(weight, requires_grad=True)
        y = F.conv_transpose2d(xt, wt, stride=s, padding=p)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        function = module.ConvTranspose2d(s, p)
        function.forward(x.copy(), weight.copy())
        dx, dweight = check_backward_tuple(function.backward(g.copy()), ("x", "weight"))
        what = f"(x of shape {shape}, weight of shape {wshape}, stride={s}, padding={p})"
        mistakes = [
            (_conv(g, weight[:, :, ::-1, ::-1], s, p), f"dL/dx {what}: the kernel is flipped, "
             "but the gradient of a transposed convolution is the plain convolution with the "
             "same weight: the flip belongs to the other direction (exercise 6.1)"),
            (_transposed(g, weight.transpose(1, 0, 2, 3), s, p),
             f"dL/dx {what} is another transposed convolution; the adjoint of a transposed "
             "convolution is a convolution: conv2d(g, weight, stride, padding)"),
        ]
        if s > 1:
            mistakes.append((_conv(g, weight, 1, p), f"dL/dx {what}: the stride is forgotten: "
                             "the convolution that undoes a stride-S spreading steps S pixels"))
        if p > 0:
            mistakes.append((_conv(g, weight, s, 0), f"dL/dx {what}: the padding is "
                             "forgotten: forward cropped `padding` rows; the convolution pads "
                             "them back"))
        check_array(f"dL/dx {what}", dx, xt.grad, atol=1e-10, mistakes=mistakes)
        mistakes = [
            (wt.grad[:, :, ::-1, ::-1], f"dL/dweight {what} is flipped: offset (i, j) of the "
             "weight meets x[p, q] at gpad[p*stride + i, q*stride + j], nothing is reversed"),
            (_weight_grad(x, g, wshape, 1, p), f"dL/dweight {what}: the stride is forgotten: "
             "offset (i, j) meets x[p, q] at gpad[p*stride + i, q*stride + j], so the slice of "
             "gpad steps `stride` pixels"),
        ]
        if wshape[0] != wshape[1]:
            mistakes.append((wt.grad.transpose(1, 0, 2, 3), (
                f"dL/dweight {what} has shape {tuple(getattr(dweight, 'shape', ()))}, the "
                "transposed weight's: a transposed convolution's weight is (C_in, C_out, KH, "
                "KW), x's channels first")))
        check_array(f"dL/dweight {what}", dweight, wt.grad, atol=1e-10, mistakes=mistakes)
    x = nn.Tensor(rng.standard_normal((1, 2, 3, 2)), requires_grad=True)
    weight = nn.Tensor(rng.standard_normal((2, 3, 3, 2)), requires_grad=True)
    check_gradients(lambda a, b: module.ConvTranspose2d(2, 1)(a, b), [x, weight],
                    ("x (stride 2, padding 1)", "weight (stride 2, padding 1)"))


def _weight_grad(x, g, wshape, stride, padding):
    """dL/dweight by its definition, over an explicitly padded g; NaN where a slice of g does
    not reach (what a wrong answer would crash on)."""
    n, c, h, w = x.shape
    gpad = np.pad(g, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros(wshape)
    for i in range(wshape[2]):
        for j in range(wshape[3]):
            window = gpad[:, :, i:i + stride * h:stride, j:j + stride * w:stride]
            if window.shape[2:] != (h, w):
                return np.full(wshape, np.nan)
            out[:, :, i, j] = np.tensordot(x, window, axes=([0, 2, 3], [0, 2, 3]))
    return out


def _block_sums(g, f):
    n, c, oh, ow = g.shape
    out = np.zeros((n, c, oh // f, ow // f))
    for p in range(oh // f):
        for q in range(ow // f):
            out[:, :, p, q] = g[:, :, p * f:(p + 1) * f, q * f:(q + 1) * f].sum(axis=(2, 3))
    return out


def check_upsample_backward(module):
    rng = np.random.default_rng(2)
    for shape, f in [((2, 3, 3, 4), 2), ((1, 2, 2, 3), 3)]:
        x = rng.standard_normal(shape)
        g = rng.standard_normal((shape[0], shape[1], shape[2] * f, shape[3] * f))
        function = module.Upsample(f)
        function.forward(x.copy())
        got = function.backward(g.copy())
        what = f"Upsample({f}).backward(g of shape {g.shape})"
        n, c, oh, ow = g.shape
        mistakes = [
            (g.reshape(n, c, f, oh // f, f, ow // f).sum(axis=(2, 4)),
             f"{what} sums over the wrong axes: reshape(N, C, f, H, f, W) groups pixels H rows "
             "apart, not the f x f block of one input pixel; reshape to (N, C, H, f, W, f) and "
             "sum axes 3 and 5"),
            (_block_sums(g, f) / f ** 2, f"{what} is the mean of each block: the input pixel "
             "was copied f*f times, and a value used several times gets the sum of the "
             "gradients"),
            (g[:, :, ::f, ::f], f"{what} keeps one gradient per block: the input pixel was "
             "copied to all f*f pixels of its block, and each copy sends its gradient back"),
            (g.reshape(n, c, oh // f, f, ow // f, f).sum(axis=3),
             f"{what} has shape {tuple(getattr(got, 'shape', ()))}: only the rows of each "
             "block are summed (axis 3); its columns (axis 5) too"),
        ]
        check_array(what, got, _block_sums(g, f), atol=1e-12, mistakes=mistakes)
        t = nn.Tensor(x, requires_grad=True)
        check_gradients(lambda a: module.Upsample(f)(a), [t], (f"x (factor {f})",))


# --- the ladders ------------------------------------------------------------------------------

def _conv_case(n=1, c_in=1, c_out=1, h=3, w=3, kh=1, kw=1, stride=1, padding=0,
               output_padding=0, **more):
    return dict(shapes=((n, c_in, h, w), (c_in, c_out, kh, kw)), stride=stride,
                padding=padding, output_padding=output_padding, **more)


LAST_CONV = _conv_case(n=2, c_in=2, c_out=3, h=3, w=4, kh=3, kw=2, stride=2, padding=1,
                       output_padding=1)
CONV_RUNGS = [
    rung("for one 3x3 image of one channel and a 1x1 kernel", **_conv_case()),
    rung("with a 3x3 kernel, 2 input and 3 output channels", "the kernel is flipped in both "
         "axes, and weight (C_in, C_out, KH, KW) has its two channel axes exchanged for the "
         "convolution; each kernel keeps its rows as rows", **_conv_case(c_in=2, c_out=3, kh=3,
                                                                        kw=3)),
    rung("with stride 2", "stride - 1 zeros go between neighbouring pixels",
         **_conv_case(c_in=2, c_out=3, kh=3, kw=3, stride=2)),
    rung("with padding 1", "padding crops the output: the frame is KH - 1 - padding zeros",
         **_conv_case(c_in=2, c_out=3, kh=3, kw=3, stride=2, padding=1)),
    rung("with output_padding 1", "output_padding adds rows and columns at the bottom and the "
         "right only", **_conv_case(c_in=2, c_out=3, kh=3, kw=3, stride=2, padding=1,
                                    output_padding=1)),
    rung("for a non-square image and kernel (3x4, 3x2)", "rows and columns have their own "
         "sizes: KH for the rows, KW for the columns", **_conv_case(
             c_in=2, c_out=3, h=3, w=4, kh=3, kw=2, stride=2, padding=1, output_padding=1)),
    rung("for two images", "every image of the batch goes through the same steps", **LAST_CONV),
    float32_rung(**LAST_CONV), device_rung(**LAST_CONV)]


def _by_conv_inputs(case):
    rng = np.random.default_rng(8)
    return [rng.standard_normal(shape) for shape in case["shapes"]]


BY_CONV_LADDER = Ladder(
    "conv_transpose2d_by_conv", CONV_RUNGS,
    got=lambda module, case: module.conv_transpose2d_by_conv(
        *[put(a, case) for a in _by_conv_inputs(case)], case["stride"], case["padding"],
        case["output_padding"]),
    expected=lambda case: F.conv_transpose2d(
        *[nn.Tensor(a) for a in _by_conv_inputs(case)], stride=case["stride"],
        padding=case["padding"], output_padding=case["output_padding"]).data,
    show=lambda case: "x = {}, weight = {}, stride={}, padding={}, output_padding={}".format(
        *[shown(a) for a in _by_conv_inputs(case)], case["stride"], case["padding"],
        case["output_padding"]), atol=1e-10)

TRANSPOSED_LADDER = autograd_ladder(
    "ConvTranspose2d.backward", [
        CONV_RUNGS[0],
        rung("with a 3x3 kernel, 2 input and 3 output channels, stride 2 and padding 1",
             "dL/dx is a convolution with the same weight, stride and padding; dL/dweight "
             "pairs each input pixel with the window of g it reached, g padded as forward "
             "cropped it", **_conv_case(c_in=2, c_out=3, kh=3, kw=3, stride=2, padding=1))]
    + [r for r in CONV_RUNGS if r.label.startswith(("for a non-square", "for two", "in float32",
                                                    "on the CuPy"))],
    make=lambda module, case: module.ConvTranspose2d(case["stride"], case["padding"]),
    reference=lambda case, x, weight: F.conv_transpose2d(x, weight, stride=case["stride"],
                                                         padding=case["padding"]),
    names=("x", "weight"))


def _upsample_reference(case, x):
    n, c, h, w = x.shape
    f = case["factor"]
    ones = nn.Tensor(np.ones((1, 1, 1, f, 1, f)))
    return (x.reshape(n, c, h, 1, w, 1) * ones).reshape(n, c, h * f, w * f)


LAST_UP = dict(shapes=((2, 3, 2, 3),), factor=3)
UPSAMPLE_LADDER = autograd_ladder(
    "Upsample.backward", [
        rung("for one 2x2 image of one channel, factor 2", shapes=((1, 1, 2, 2),), factor=2),
        rung("for a non-square image, 2x3", "the block rows and the block columns have "
             "their own counts, H and W", shapes=((1, 1, 2, 3),), factor=2),
        rung("for two images of three channels", "every image and channel keeps its own "
             "blocks", shapes=((2, 3, 2, 3),), factor=2),
        rung("with factor 3", "each block is f x f, with f = self.factor", **LAST_UP),
        float32_rung(**LAST_UP), device_rung(**LAST_UP)],
    make=lambda module, case: module.Upsample(case["factor"]), reference=_upsample_reference,
    names=("x",))

CHECKS = with_ladders(
    {"6.1": check_conv_transpose2d_by_conv, "6.2": check_conv_transpose2d_backward,
     "6.3": check_upsample_backward},
    {"6.1": BY_CONV_LADDER, "6.2": TRANSPOSED_LADDER, "6.3": UPSAMPLE_LADDER})

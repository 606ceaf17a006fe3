"""Classic wrong answers to the exercises of lesson 6 (the transposed convolution as a
convolution, its backward, nearest-neighbour upsampling)."""
import numpy as np

import nn
import nn.functional as F
from lessons.solutions import ex06_transposed_convolution as solution

from . import Mistake, variant


# --- 6.1 conv_transpose2d_by_conv: the solution's steps with one of them done wrong -------

def _by_conv(x, weight, stride, padding, output_padding, flip=(-1, -1), swap=True,
             spread=True, frame=None, padding_at_top=False):
    n, c, h, w = x.shape
    kh, kw = weight.shape[2:]
    if spread:
        up = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1))
        up[:, :, ::stride, ::stride] = x
    else:
        up = x
    top, left = (kh - 1 - padding, kw - 1 - padding) if frame is None else frame
    extra = (output_padding, 0) if padding_at_top else (0, output_padding)
    up = np.pad(up, ((0, 0), (0, 0), (top + extra[0], top + extra[1]),
                     (left + extra[0], left + extra[1])))
    kernel = weight[:, :, ::flip[0], ::flip[1]]
    kernel = kernel.transpose(1, 0, 2, 3) if swap else kernel
    return F.conv2d(nn.Tensor(up), nn.Tensor(np.ascontiguousarray(kernel))).data


def by_conv_not_flipped(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, flip=(1, 1))


def by_conv_flipped_rows_only(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, flip=(-1, 1))


def by_conv_channels_not_swapped(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, swap=False)


def by_conv_stride_forgotten(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, spread=False)


def by_conv_frame_ignores_padding(x, weight, stride=1, padding=0, output_padding=0):
    full = (weight.shape[2] - 1, weight.shape[3] - 1)
    return _by_conv(x, weight, stride, padding, output_padding, frame=full)


def by_conv_frame_is_the_padding(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, frame=(padding, padding))


def by_conv_output_padding_at_top(x, weight, stride=1, padding=0, output_padding=0):
    return _by_conv(x, weight, stride, padding, output_padding, padding_at_top=True)


# --- 6.2 ConvTranspose2d.backward ------------------------------------------------------------

def _conv(g, weight, stride, padding):
    return F.conv2d(nn.Tensor(g), nn.Tensor(np.ascontiguousarray(weight)), stride=stride,
                    padding=padding).data


class DxKernelFlipped(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return _conv(g, self.weight[:, :, ::-1, ::-1], self.stride, self.padding), dweight


class DxStrideForgotten(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return _conv(g, self.weight, 1, self.padding), dweight


class DxPaddingForgotten(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return _conv(g, self.weight, self.stride, 0), dweight


class DxAnotherTransposedConv(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return F.conv_transpose2d(nn.Tensor(g), nn.Tensor(self.weight.transpose(1, 0, 2, 3)),
                                  stride=self.stride, padding=self.padding).data, dweight


class WeightGradTransposed(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return dx, dweight.transpose(1, 0, 2, 3)


class WeightGradFlipped(solution.ConvTranspose2d):
    def backward(self, g):
        dx, dweight = super().backward(g)
        return dx, dweight[:, :, ::-1, ::-1]


class WeightGradStrideForgotten(solution.ConvTranspose2d):
    def backward(self, g):
        dx, _ = super().backward(g)
        p, (h, w) = self.padding, self.x.shape[2:]
        gpad = np.pad(g, ((0, 0), (0, 0), (p, p), (p, p)))
        dweight = np.zeros_like(self.weight)
        for i in range(self.weight.shape[2]):
            for j in range(self.weight.shape[3]):
                dweight[:, :, i, j] = np.tensordot(self.x, gpad[:, :, i:i + h, j:j + w],
                                                   axes=([0, 2, 3], [0, 2, 3]))
        return dx, dweight


# --- 6.3 Upsample.backward -------------------------------------------------------------------

def _blocks(g, f):
    n, c, oh, ow = g.shape
    return g.reshape(n, c, oh // f, f, ow // f, f)


class UpsampleWrongAxes(solution.Upsample):
    def backward(self, g):
        n, c, oh, ow = g.shape
        f = self.factor
        return g.reshape(n, c, f, oh // f, f, ow // f).sum(axis=(2, 4))


class UpsampleMean(solution.Upsample):
    def backward(self, g):
        return _blocks(g, self.factor).mean(axis=(3, 5))


class UpsampleOnePixelPerBlock(solution.Upsample):
    def backward(self, g):
        return g[:, :, ::self.factor, ::self.factor]


class UpsampleRowsOnly(solution.Upsample):
    def backward(self, g):
        return _blocks(g, self.factor).sum(axis=3)


def _f(exercise, function, says):
    return Mistake(exercise, function.__name__,
                   variant(solution, conv_transpose2d_by_conv=function), says)


def _c(exercise, cls, name, says):
    return Mistake(exercise, cls.__name__, variant(solution, **{name: cls}), says)


_FIRST = "(x of shape (2, 3, 3, 4), weight of shape (3, 2, 3, 3), stride=2, padding=1)"

MISTAKES = [
    _f("6.1", by_conv_not_flipped, "the kernel is not flipped"),
    _f("6.1", by_conv_flipped_rows_only, "flipped along its rows only"),
    _f("6.1", by_conv_channels_not_swapped, "channel axes are not exchanged"),
    _f("6.1", by_conv_stride_forgotten, "the stride is forgotten"),
    _f("6.1", by_conv_frame_ignores_padding, "the frame ignores the padding"),
    _f("6.1", by_conv_frame_is_the_padding, "the frame is `padding` zeros wide"),
    _f("6.1", by_conv_output_padding_at_top, "output_padding went to the top and left"),
    _c("6.2", DxKernelFlipped, "ConvTranspose2d", "the kernel is flipped, but"),
    _c("6.2", DxStrideForgotten, "ConvTranspose2d", f"dL/dx {_FIRST}: the stride is forgotten"),
    _c("6.2", DxPaddingForgotten, "ConvTranspose2d", "the padding is forgotten"),
    _c("6.2", DxAnotherTransposedConv, "ConvTranspose2d", "is another transposed convolution"),
    _c("6.2", WeightGradTransposed, "ConvTranspose2d", "the transposed weight's"),
    _c("6.2", WeightGradFlipped, "ConvTranspose2d", f"dL/dweight {_FIRST} is flipped"),
    _c("6.2", WeightGradStrideForgotten, "ConvTranspose2d",
       f"dL/dweight {_FIRST}: the stride is forgotten"),
    _c("6.3", UpsampleWrongAxes, "Upsample", "sums over the wrong axes"),
    _c("6.3", UpsampleMean, "Upsample", "is the mean of each block"),
    _c("6.3", UpsampleOnePixelPerBlock, "Upsample", "keeps one gradient per block"),
    _c("6.3", UpsampleRowsOnly, "Upsample", "only the rows of each block are summed"),
]

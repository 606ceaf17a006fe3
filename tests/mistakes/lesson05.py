"""Classic wrong answers to the exercises of lesson 5 (dilated convolution)."""
import numpy as np

from lessons.solutions import ex05_convolution as solution

from . import Mistake, variant


# --- 5.1 conv_output_size ------------------------------------------------------------------

def size_without_dilation(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel) // stride + 1


def size_span_d_times_k(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * kernel) // stride + 1


def size_padding_once(size, kernel, stride=1, padding=0, dilation=1):
    return (size + padding - dilation * (kernel - 1) - 1) // stride + 1


def size_one_short(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride


def size_true_division(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1


# --- 5.2 im2col_dilated --------------------------------------------------------------------

def _view(x, kh, kw, oh, ow, strides):
    return np.lib.stride_tricks.as_strided(x, shape=x.shape[:2] + (kh, kw, oh, ow),
                                           strides=x.strides[:2] + strides)


def _sizes(x, kh, kw, stride, dilation):
    h, w = x.shape[2:]
    return ((h - dilation * (kh - 1) - 1) // stride + 1,
            (w - dilation * (kw - 1) - 1) // stride + 1)


def im2col_stride_and_dilation_swapped(x, kh, kw, stride=1, dilation=1):
    row, col = x.strides[2:]
    return _view(x, kh, kw, *_sizes(x, kh, kw, stride, dilation),
                 (row * stride, col * stride, row * dilation, col * dilation))


def im2col_stride_forgotten(x, kh, kw, stride=1, dilation=1):
    row, col = x.strides[2:]
    return _view(x, kh, kw, *_sizes(x, kh, kw, stride, dilation),
                 (row * dilation, col * dilation, row, col))


def im2col_dilation_forgotten(x, kh, kw, stride=1, dilation=1):
    row, col = x.strides[2:]
    return _view(x, kh, kw, *_sizes(x, kh, kw, stride, dilation),
                 (row, col, row * stride, col * stride))


def im2col_rows_and_columns_exchanged(x, kh, kw, stride=1, dilation=1):
    row, col = x.strides[2:]
    return _view(x, kh, kw, *_sizes(x, kh, kw, stride, dilation),
                 (col * dilation, row * dilation, col * stride, row * stride))


def im2col_dilation_on_the_windows_too(x, kh, kw, stride=1, dilation=1):
    row, col = x.strides[2:]
    return _view(x, kh, kw, *_sizes(x, kh, kw, stride, dilation),
                 (row * dilation, col * dilation, row * stride * dilation,
                  col * stride * dilation))


def im2col_size_without_dilation(x, kh, kw, stride=1, dilation=1):
    h, w = x.shape[2:]
    row, col = x.strides[2:]
    return _view(x, kh, kw, (h - kh) // stride + 1, (w - kw) // stride + 1,
                 (row * dilation, col * dilation, row * stride, col * stride))


def im2col_copied(x, kh, kw, stride=1, dilation=1):
    return solution.im2col_dilated(x, kh, kw, stride, dilation).copy()


# --- 5.3 col2im_dilated --------------------------------------------------------------------

def _col2im(cols, h, w, start, step, assign=False):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            target = (slice(None), slice(None), slice(i * start, i * start + step * oh, step),
                      slice(j * start, j * start + step * ow, step))
            if assign:
                out[target] = cols[:, :, i, j]
            else:
                out[target] += cols[:, :, i, j]
    return out


def col2im_assigns(cols, h, w, stride=1, dilation=1):
    return _col2im(cols, h, w, dilation, stride, assign=True)


def col2im_dilation_forgotten(cols, h, w, stride=1, dilation=1):
    return _col2im(cols, h, w, 1, stride)


def col2im_stride_forgotten(cols, h, w, stride=1, dilation=1):
    return _col2im(cols, h, w, dilation, 1)


def col2im_crashes(cols, h, w, stride=1, dilation=1):
    return cols[:, :, 0, 0].reshape(h, w)


def _m(exercise, function, says):
    name = function.__name__
    target = {"5.1": "conv_output_size", "5.2": "im2col_dilated", "5.3": "col2im_dilated"}
    return Mistake(exercise, name, variant(solution, **{target[exercise]: function}), says)


MISTAKES = [
    _m("5.1", size_without_dilation, "the dilation is ignored"),
    _m("5.1", size_span_d_times_k, "span as D*K"),
    _m("5.1", size_padding_once, "the padding is counted once"),
    _m("5.1", size_one_short, "one window is missing"),
    _m("5.1", size_true_division, "a float: sizes are whole numbers"),
    _m("5.2", im2col_stride_and_dilation_swapped, "the stride and the dilation are swapped"),
    _m("5.2", im2col_stride_forgotten, "the stride is forgotten"),
    _m("5.2", im2col_dilation_forgotten, "the dilation is forgotten in the strides"),
    _m("5.2", im2col_rows_and_columns_exchanged, "the row and column strides are exchanged"),
    _m("5.2", im2col_dilation_on_the_windows_too, "reaches past the end of x"),
    _m("5.2", im2col_size_without_dilation, "OH and OW ignore the dilation"),
    _m("5.2", im2col_copied, "copied them"),
    _m("5.3", col2im_assigns, "you wrote `=` where `+=` belongs"),
    _m("5.3", col2im_dilation_forgotten, "the dilation is forgotten"),
    _m("5.3", col2im_stride_forgotten, "the stride is forgotten"),
    _m("5.3", col2im_crashes, "raised ValueError"),
]

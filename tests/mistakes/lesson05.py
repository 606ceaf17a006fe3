"""Classic wrong answers to the exercises of lesson 5."""
import numpy as np

from lessons.solutions import ex05_convolution as solution

from . import Mistake, variant


def im2col_copied(x, kh, kw, stride):
    return solution.im2col(x, kh, kw, stride).copy()


def im2col_one_window_short(x, kh, kw, stride):
    return solution.im2col(x, kh, kw, stride)[..., :-1, :]


def weight_grad_transposed(x, g, kh, kw, stride=1, padding=0):
    return solution.conv2d_weight_grad(x, g, kh, kw, stride, padding).transpose(1, 0, 2, 3)


def weight_grad_first_image_only(x, g, kh, kw, stride=1, padding=0):
    return solution.conv2d_weight_grad(x[:1], g[:1], kh, kw, stride, padding)


def weight_grad_on_unfinished_im2col(x, g, kh, kw, stride=1, padding=0):
    raise NotImplementedError("Exercise 5.1")   # what a student's 4.2 meets when 4.1 is a stub


def col2im_assigns(cols, h, w, stride):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] = cols[:, :, i, j]
    return out


def col2im_crashes(cols, h, w, stride):
    return cols[:, :, 0, 0].reshape(h, w)


MISTAKES = [
    Mistake('5.1', 'im2col_copied', variant(solution, im2col=im2col_copied),
            "copied them"),
    Mistake('5.1', 'im2col_one_window_short', variant(solution, im2col=im2col_one_window_short),
            "has shape (2, 3, 3, 3, 4, 4), expected (2, 3, 3, 3, 5, 4)"),
    Mistake('5.2', 'weight_grad_transposed', variant(solution, conv2d_weight_grad=weight_grad_transposed),
            "has shape (3, 4, 3, 3), expected (4, 3, 3, 3)"),
    Mistake('5.2', 'weight_grad_first_image_only', variant(solution, conv2d_weight_grad=weight_grad_first_image_only),
            "compared with nn's conv2d backward is wrong at"),
    Mistake('5.2', 'weight_grad_on_unfinished_im2col', variant(solution, conv2d_weight_grad=weight_grad_on_unfinished_im2col),
            "stopped at NotImplementedError('Exercise 5.1')"),
    Mistake('5.3', 'col2im_assigns', variant(solution, col2im=col2im_assigns),
            "col2im(cols of shape (2, 3, 3, 3, 5, 4), h=7, w=6, stride=1) is wrong at"),
    Mistake('5.3', 'col2im_crashes', variant(solution, col2im=col2im_crashes),
            "raised ValueError"),
]

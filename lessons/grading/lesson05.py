"""Checks of lesson 5: dilated convolution's output size, im2col and col2im.

Every result is compared with a loop written from the definition (window starts counted one
by one; every window entry read or added back one by one). Before a general "wrong at k of n
elements", each check compares a wrong answer with what the classic mistakes compute from the
same inputs, and names the mistake it matches.
"""
import numbers

import numpy as np

from .core import Unexplained, Wrong, check_array
from .ladder import Ladder, device_rung, put, rung, with_ladders

MODULE = "ex05_convolution"
POINTS = {"5.1": 2, "5.2": 3, "5.3": 2}


# --- references written from the definitions -------------------------------------------------

def _count_windows(size, kernel, stride, padding, dilation):
    """The number of window starts 0, S, 2S, ... whose last tap lies inside the padded axis."""
    starts = 0
    while starts * stride + dilation * (kernel - 1) < size + 2 * padding:
        starts += 1
    return starts


def _im2col_loops(x, kh, kw, stride, dilation):
    n, c, h, w = x.shape
    oh = _count_windows(h, kh, stride, 0, dilation)
    ow = _count_windows(w, kw, stride, 0, dilation)
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            for p in range(oh):
                for q in range(ow):
                    cols[:, :, i, j, p, q] = x[:, :, p * stride + i * dilation,
                                               q * stride + j * dilation]
    return cols


def _col2im_loops(cols, h, w, stride, dilation, assign=False):
    """The definition; with ``assign``, the `=` a student may write for `+=` (same order)."""
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            for p in range(oh):
                for q in range(ow):
                    r, s = p * stride + i * dilation, q * stride + j * dilation
                    if assign:
                        out[:, :, r, s] = cols[:, :, i, j, p, q]
                    else:
                        out[:, :, r, s] += cols[:, :, i, j, p, q]
    return out


# --- 5.1 -----------------------------------------------------------------------------------

_SIZE_CASES = [  # size, kernel, stride, padding, dilation: each mistake below misses some
    (7, 3, 1, 0, 2), (10, 3, 2, 1, 2), (9, 2, 1, 0, 3), (256, 7, 1, 3, 1), (64, 3, 2, 1, 1),
    (12, 3, 3, 2, 4), (8, 4, 2, 0, 1),
]

_SIZE_MISTAKES = [  # (the formula a student may write, what it means)
    (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
     "the dilation is ignored: a kernel of K taps D pixels apart covers D*(K - 1) + 1 pixels, "
     "not K"),
    (lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1,
     "you took the dilated kernel's span as D*K: K taps have K - 1 gaps of D pixels, so they "
     "cover D*(K - 1) + 1"),
    (lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
     "the padding is counted once: P zeros are added on each side, 2P in all"),
    (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
     "one window is missing: the starts 0, S, 2S, ... include 0, so add 1 to the number of "
     "strides that fit"),
]


def check_conv_output_size(module):
    answers = []
    for case in _SIZE_CASES:
        got = module.conv_output_size(*case)
        what = "conv_output_size(size={}, kernel={}, stride={}, padding={}, dilation={})".format(
            *case)
        if isinstance(got, float) or not isinstance(got, numbers.Integral):
            raise Wrong(f"{what} returned {got!r}, a {type(got).__name__}: sizes are whole "
                        "numbers (use // for the floor division)")
        answers.append(int(got))
    expected = [_count_windows(*case) for case in _SIZE_CASES]
    if answers == expected:
        return
    k = next(k for k, (a, e) in enumerate(zip(answers, expected)) if a != e)
    example = ("conv_output_size(size={}, kernel={}, stride={}, padding={}, dilation={}) "
               f"returned {answers[k]}, but {expected[k]} windows fit").format(*_SIZE_CASES[k])
    for formula, words in _SIZE_MISTAKES:
        if answers == [formula(*case) for case in _SIZE_CASES]:
            raise Wrong(f"{example}: {words}")
    raise Unexplained(example)


# --- 5.2 -----------------------------------------------------------------------------------

def _reaches_outside(view, base):
    """True if the view's elements span bytes outside base's buffer (found from its shape and
    strides alone: nothing is read)."""
    if not isinstance(view, np.ndarray) or not np.may_share_memory(view, base):
        return False
    low, high = np.lib.array_utils.byte_bounds(view)
    base_low, base_high = np.lib.array_utils.byte_bounds(base)
    return low < base_low or high > base_high


def check_im2col_dilated(module):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    for kh, kw, stride, dilation in [(3, 3, 1, 2), (3, 2, 2, 3), (2, 3, 3, 2), (3, 3, 2, 1)]:
        what = f"im2col_dilated(x of shape {x.shape}, kh={kh}, kw={kw}, stride={stride}, " \
               f"dilation={dilation})"
        cols = module.im2col_dilated(x, kh, kw, stride, dilation)
        expected = _im2col_loops(x, kh, kw, stride, dilation)
        if cols is None or not hasattr(cols, "shape"):
            check_array(what, cols, expected)
        n, c, h, w = x.shape
        if tuple(cols.shape) != expected.shape:
            plain = (n, c, kh, kw, (h - kh) // stride + 1, (w - kw) // stride + 1)
            if tuple(cols.shape) == plain:
                raise Wrong(f"{what} has shape {tuple(cols.shape)}, expected {expected.shape}: "
                            "OH and OW ignore the dilation. A dilated window covers "
                            "D*(KH - 1) + 1 rows (exercise 5.1)")
            check_array(what, cols, expected)
        if isinstance(cols, np.ndarray) and np.may_share_memory(cols, x):
            _name_the_wrong_strides(what, cols, x, stride, dilation)
        if _reaches_outside(cols, x):
            raise Wrong(f"{what} reaches past the end of x: its strides are too large for its "
                        f"shape ({cols.strides} for {tuple(cols.shape)}), so it would read "
                        "memory that is not x's")
        check_array(what, cols, expected, atol=0, rtol=0)
        if not np.shares_memory(cols, x):
            raise Wrong(f"{what} has the right numbers but copied them: it must be a view of x "
                        "(xp.lib.stride_tricks.as_strided), or every convolution copies its "
                        "input KH*KW times")


def _name_the_wrong_strides(what, cols, x, stride, dilation):
    s_n, s_c, row, col = x.strides
    right = (s_n, s_c, row * dilation, col * dilation, row * stride, col * stride)
    if cols.strides == right:
        return
    mistakes = [
        ((s_n, s_c, row * stride, col * stride, row * dilation, col * dilation),
         "the stride and the dilation are swapped: the dilation spaces the taps of one window "
         "(the steps of i and j), the stride spaces the windows (the steps of p and q)"),
        ((s_n, s_c, row * dilation, col * dilation, row, col),
         "the stride is forgotten: one step of p moves the window `stride` rows down, "
         "stride * x.strides[2] bytes"),
        ((s_n, s_c, row, col, row * stride, col * stride),
         "the dilation is forgotten in the strides: one step of i moves to the next tap, "
         "`dilation` rows down, dilation * x.strides[2] bytes"),
        ((s_n, s_c, col * dilation, row * dilation, col * stride, row * stride),
         "the row and column strides are exchanged: i and p step along rows, x.strides[2]; "
         "j and q along columns, x.strides[3]"),
    ]
    for strides, words in mistakes:
        if cols.strides == strides:
            raise Wrong(f"{what} has strides {cols.strides}, expected {right}: {words}")


# --- 5.3 -----------------------------------------------------------------------------------

def check_col2im_dilated(module):
    rng = np.random.default_rng(1)
    cases = [  # (N, C, KH, KW), h, w, stride, dilation
        ((2, 3, 3, 3), 9, 8, 1, 2),    # overlapping windows: pixels receive sums
        ((1, 2, 3, 2), 11, 10, 2, 3),  # taps that skip pixels, last rows in no window
        ((2, 1, 2, 3), 8, 9, 3, 2),
        ((1, 2, 3, 3), 7, 8, 2, 1),    # no dilation: the lesson's col2im
    ]
    for (n, c, kh, kw), h, w, stride, dilation in cases:
        oh = _count_windows(h, kh, stride, 0, dilation)
        ow = _count_windows(w, kw, stride, 0, dilation)
        cols = rng.standard_normal((n, c, kh, kw, oh, ow))
        what = (f"col2im_dilated(cols of shape {cols.shape}, h={h}, w={w}, stride={stride}, "
                f"dilation={dilation})")
        got = module.col2im_dilated(cols.copy(), h, w, stride, dilation)
        expected = _col2im_loops(cols, h, w, stride, dilation)
        mistakes = [(_col2im_loops(cols, h, w, stride, dilation, assign=True),
                     f"{what}: where windows overlap, only the last entry survived: you wrote "
                     "`=` where `+=` belongs. A pixel read by several windows gets the sum of "
                     "their gradients")]
        if dilation != 1:
            mistakes.append((_loose_slices(cols, h, w, row_start=1, row_step=stride),
                             f"{what}: the dilation is forgotten: the slice of offset i "
                             "starts at i*dilation, not at i"))
        if stride != 1:
            mistakes.append((_loose_slices(cols, h, w, row_start=dilation, row_step=1),
                             f"{what}: the stride is forgotten: the rows of one offset's slice "
                             "are `stride` apart (step `stride`), one per window"))
        check_array(what, got, expected, atol=1e-12, mistakes=mistakes)


def _loose_slices(cols, h, w, row_start, row_step):
    """col2im with offset (i, j) starting at i*row_start and windows row_step apart, as a wrong
    answer computes it; slices that do not fit the image are skipped (they would crash)."""
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            r, s = i * row_start, j * row_start
            if r + row_step * (oh - 1) >= h or s + row_step * (ow - 1) >= w:
                return np.full((n, c, h, w), np.nan)   # that answer crashes: matches nothing
            out[:, :, r:r + row_step * oh:row_step, s:s + row_step * ow:row_step] += \
                cols[:, :, i, j]
    return out


# --- the ladders: the smallest case that breaks a wrong answer --------------------------------

def _size_case(size, kernel, stride=1, padding=0, dilation=1):
    return dict(size=size, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


SIZE_LADDER = Ladder(
    "conv_output_size", [
        rung("for a 1-tap kernel (size 5)", **_size_case(5, 1)),
        rung("for a 3-tap kernel", "the last window must fit entirely: a kernel of K taps has "
             "fewer starts than the size", **_size_case(5, 3)),
        rung("with stride 2", "windows start S pixels apart, so only every S-th start counts",
             **_size_case(8, 3, stride=2)),
        rung("with padding 1", "padding adds P pixels on each side of the axis",
             **_size_case(8, 3, stride=2, padding=1)),
        rung("with dilation 2", "the taps of a dilated kernel are D pixels apart, so it spans "
             "more pixels than it has taps", **_size_case(8, 3, stride=2, padding=1, dilation=2)),
    ],
    got=lambda module, case: module.conv_output_size(*case.values()),
    expected=lambda case: _count_windows(**case),
    show=lambda case: ", ".join(f"{k}={v}" for k, v in case.items()), atol=0, rtol=0)


def _image(n, c, h, w):
    """1, 2, 3, ... in (n, c, h, w): each pixel's value says where it came from."""
    return np.arange(1.0, n * c * h * w + 1).reshape(n, c, h, w)


def _window_case(n=1, c=1, h=4, w=4, kh=1, kw=1, stride=1, dilation=1, **more):
    return dict(n=n, c=c, h=h, w=w, kh=kh, kw=kw, stride=stride, dilation=dilation, **more)


def _window_rungs(what_is_summed):
    return [
        rung("for one 4x4 image of one channel and a 1x1 kernel", **_window_case()),
        rung("with a 3x3 kernel", "the kernel offsets (i, j) step along the rows and the "
             "columns of each window", **_window_case(h=5, w=5, kh=3, kw=3)),
        rung("with stride 2", "the windows start `stride` pixels apart (the steps of p and q)",
             **_window_case(h=7, w=7, kh=3, kw=3, stride=2)),
        rung("with dilation 2", "the taps of one window are `dilation` pixels apart (the steps "
             "of i and j)", **_window_case(h=9, w=9, kh=3, kw=3, stride=2, dilation=2)),
        rung("for a non-square image and kernel", "rows and columns have sizes, strides and "
             "steps of their own", **_window_case(h=9, w=6, kh=3, kw=2, stride=2, dilation=2)),
        rung("for two images", f"each image of the batch has its own {what_is_summed}",
             **_window_case(n=2, h=9, w=6, kh=3, kw=2, stride=2, dilation=2)),
        rung("with three channels", f"each channel has its own {what_is_summed}",
             **_window_case(n=2, c=3, h=9, w=6, kh=3, kw=2, stride=2, dilation=2)),
        device_rung(**_window_case(n=2, c=3, h=9, w=6, kh=3, kw=2, stride=2, dilation=2)),
    ]


def _im2col_got(module, case):
    x = put(_image(case["n"], case["c"], case["h"], case["w"]), case)
    return module.im2col_dilated(x, case["kh"], case["kw"], case["stride"], case["dilation"])


IM2COL_LADDER = Ladder(
    "im2col_dilated", _window_rungs("windows"), got=_im2col_got,
    expected=lambda case: _im2col_loops(_image(case["n"], case["c"], case["h"], case["w"]),
                                        case["kh"], case["kw"], case["stride"],
                                        case["dilation"]),
    show=lambda case: f"x = 1, 2, 3, ... in shape {(case['n'], case['c'], case['h'], case['w'])}"
                      f", kh={case['kh']}, kw={case['kw']}, stride={case['stride']}, "
                      f"dilation={case['dilation']}", atol=0, rtol=0)


def _cols(case):
    n, c, h, w = case["n"], case["c"], case["h"], case["w"]
    kh, kw, s, d = case["kh"], case["kw"], case["stride"], case["dilation"]
    oh, ow = _count_windows(h, kh, s, 0, d), _count_windows(w, kw, s, 0, d)
    return np.arange(1.0, n * c * kh * kw * oh * ow + 1).reshape(n, c, kh, kw, oh, ow)


COL2IM_LADDER = Ladder(
    "col2im_dilated", _window_rungs("image to add into"),
    got=lambda module, case: module.col2im_dilated(put(_cols(case), case), case["h"], case["w"],
                                                   case["stride"], case["dilation"]),
    expected=lambda case: _col2im_loops(_cols(case), case["h"], case["w"], case["stride"],
                                        case["dilation"]),
    show=lambda case: f"cols = 1, 2, 3, ... in shape {_cols(case).shape}, h={case['h']}, "
                      f"w={case['w']}, stride={case['stride']}, dilation={case['dilation']}",
    atol=1e-12)

CHECKS = with_ladders({"5.1": check_conv_output_size, "5.2": check_im2col_dilated,
                       "5.3": check_col2im_dilated},
                      {"5.1": SIZE_LADDER, "5.2": IM2COL_LADDER, "5.3": COL2IM_LADDER})

"""Every faster road of nn/fast/convolution.py equals the plain definition it replaces.

In float64, on random shapes, strides and paddings, on every backend: the plain definitions
are checked against naive loops first, then each road against them to rounding (1e-12
relative to the largest output), both on random cases and on cases its ``..._pays`` test
chooses it for. A road that drops a row, a channel or a shift is off by O(1), not by 1e-12.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
from nn import convolution as plain
from nn.fast import convolution as roads
from test_nn_forward import naive_conv2d, naive_conv_transpose2d

CASES = 12


def assert_same(got, want, what):
    got, want = nn.to_host(got), nn.to_host(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max()) / scale
    assert err < 1e-12, f"{what}: differs from the plain road by {err:.2e} (relative)"


def random_conv(rng, stride_one=False, few_outputs=False, few_inputs=False):
    """(x (N, C_in, H, W), weight (C_out, C_in, KH, KW), stride, padding), all float64."""
    kh, kw = (int(k) for k in rng.integers(1, 6, 2))
    stride = (1, 1) if stride_one else tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = (int(rng.integers(0, kh)), int(rng.integers(0, kw)))
    h = int(rng.integers(max(1, kh - 2 * padding[0]), 14))
    w = int(rng.integers(max(1, kw - 2 * padding[1]), 14))
    c_in = int(rng.integers(6, 10)) if few_outputs else int(rng.integers(1, 3 if few_inputs else 6))
    c_out = int(rng.integers(1, 3)) if few_outputs else int(rng.integers(1, 6 if not few_inputs else 10))
    n = int(rng.integers(1, 4))
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    return x, weight, stride, padding


def random_transposed(rng, stride_one=False, few_inputs=False):
    """(x (N, C_in, H, W), weight (C_in, C_out, KH, KW), stride, padding, output_padding)."""
    kh, kw = (int(k) for k in rng.integers(1, 6, 2))
    stride = (1, 1) if stride_one else tuple(int(s) for s in rng.integers(1, 4, 2))
    n, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 10)), int(rng.integers(1, 10))
    padding, output_padding = [], []
    for size, k, s in ((h, kh, stride[0]), (w, kw, stride[1])):
        op = int(rng.integers(0, s))
        full = (size - 1) * s + k + op
        padding.append(int(rng.integers(0, min(k, (full - 1) // 2) + 1)))
        output_padding.append(op)
    c_in = int(rng.integers(1, 3)) if few_inputs else int(rng.integers(1, 6))
    c_out = int(rng.integers(6, 10)) if few_inputs else int(rng.integers(1, 6))
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_in, c_out, kh, kw))
    return x, weight, stride, tuple(padding), tuple(output_padding)


# --- the plain definitions against the naive loops -----------------------------------------------

def test_plain_conv2d_and_its_weight_grad_follow_the_definition(to_xp):
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, w, stride, padding = random_conv(rng)
        xd, wd = to_xp(x), to_xp(w)
        want = naive_conv2d(x, w, np.zeros(w.shape[0]), stride, padding)
        assert_same(plain.conv2d_plain(xd, wd, stride, padding), want, "conv2d_plain")
        # <conv(x), g> is linear in the weight: its gradient is the weight gradient.
        g = rng.standard_normal(want.shape)
        gw = nn.to_host(plain.conv2d_weight_grad_plain(xd, to_xp(g), w.shape[2:], stride, padding))
        for idx in [tuple(rng.integers(0, s) for s in w.shape) for _ in range(3)]:
            unit = np.zeros_like(w)
            unit[idx] = 1.0
            direct = np.sum(naive_conv2d(x, unit, np.zeros(w.shape[0]), stride, padding) * g)
            assert abs(gw[idx] - direct) < 1e-10


def test_plain_conv_transpose2d_follows_the_definition(to_xp):
    rng = np.random.default_rng(1)
    for _ in range(4):
        x, w, stride, padding, output_padding = random_transposed(rng)
        want = naive_conv_transpose2d(x, w, np.zeros(w.shape[1]), stride, padding, output_padding)
        got = plain.conv_transpose2d_plain(to_xp(x), to_xp(w), stride, padding, output_padding)
        assert_same(got, want, f"conv_transpose2d_plain {stride} {padding} {output_padding}")


# --- conv2d ----------------------------------------------------------------------------------

@pytest.mark.parametrize("few_outputs", [False, True])
def test_conv2d_by_scatter(to_xp, few_outputs):
    rng = np.random.default_rng(2)
    chosen = 0
    for _ in range(CASES):
        x, w, _, padding = random_conv(rng, stride_one=True, few_outputs=few_outputs)
        chosen += roads.scatter_pays(x.shape, w.shape, (1, 1), padding)
        xd, wd = to_xp(x), to_xp(w)
        assert_same(roads.conv2d_by_scatter(xd, wd, padding),
                    plain.conv2d_plain(xd, wd, (1, 1), padding), f"scatter {x.shape} {w.shape}")
    if few_outputs:
        assert chosen >= CASES // 2, "the cases meant to choose scatter do not"


def test_the_generators_last_layer_chooses_scatter():
    assert roads.scatter_pays((1, 64, 64, 64), (3, 64, 7, 7), (1, 1), (3, 3))
    assert not roads.scatter_pays((1, 64, 64, 64), (64, 64, 3, 3), (1, 1), (1, 1))


def band_cases(rng, transposed):
    """Random convolutions (or transposed ones) and a band height for each: (x, weight, the
    layer's other arguments, rows)."""
    for case in range(CASES):
        kind = dict(stride_one=case % 3 == 0)
        if transposed:
            x, w, *rest = random_transposed(rng, few_inputs=case % 4 == 1, **kind)
            rows = int(rng.integers(1, x.shape[2] + 1))        # input rows per band
        else:
            x, w, *rest = random_conv(rng, few_outputs=case % 4 == 1, **kind)
            rows = int(rng.integers(1, plain.output_size(x.shape[2], w.shape[2], rest[0][0],
                                                         rest[1][0]) + 1))
        yield x, w, tuple(rest), rows


@pytest.mark.parametrize("inner", ["plain", "whole"])
@pytest.mark.parametrize("transposed", [False, True])
def test_in_bands(to_xp, inner, transposed):
    """Bands of any height give the plain road's result, whichever road computes a band."""
    if transposed:
        road, reference = roads.conv_transpose2d_in_bands, plain.conv_transpose2d_plain
        inner_road = roads.conv_transpose2d_whole if inner == "whole" else reference
    else:
        road, reference = roads.conv2d_in_bands, plain.conv2d_plain
        inner_road = roads.conv2d_whole if inner == "whole" else reference
    for x, w, rest, rows in band_cases(np.random.default_rng(7 if transposed else 3), transposed):
        xd, wd = to_xp(x), to_xp(w)
        assert_same(road(xd, wd, *rest, inner_road, rows=rows), reference(xd, wd, *rest),
                    f"bands of {rows} rows, {x.shape} {w.shape} {rest}")


# --- conv_transpose2d --------------------------------------------------------------------------

@pytest.mark.parametrize("few_inputs", [False, True])
def test_conv_transpose2d_by_flipped_kernel(to_xp, few_inputs):
    rng = np.random.default_rng(4)
    chosen = 0
    for _ in range(CASES):
        x, w, _, padding, _ = random_transposed(rng, stride_one=True, few_inputs=few_inputs)
        padding = (min(padding[0], w.shape[2] - 1), min(padding[1], w.shape[3] - 1))
        chosen += roads.flipped_kernel_pays(x.shape, w.shape, (1, 1), padding)
        xd, wd = to_xp(x), to_xp(w)
        assert_same(roads.conv_transpose2d_by_flipped_kernel(xd, wd, padding, plain.conv2d_plain),
                    plain.conv_transpose2d_plain(xd, wd, (1, 1), padding),
                    f"flipped kernel {x.shape} {w.shape} {padding}")
    if few_inputs:
        assert chosen >= CASES // 2, "the cases meant to choose the flipped kernel do not"


def test_conv_transpose2d_in_long_rows(to_xp):
    rng = np.random.default_rng(5)
    for _ in range(CASES):
        x, w, _, padding, _ = random_transposed(rng, stride_one=True)
        xd, wd = to_xp(x), to_xp(w)
        assert_same(roads.conv_transpose2d_in_long_rows(xd, wd, padding),
                    plain.conv_transpose2d_plain(xd, wd, (1, 1), padding),
                    f"long rows {x.shape} {w.shape} {padding}")


def test_conv_transpose2d_into_crop(to_xp):
    rng = np.random.default_rng(6)
    for _ in range(CASES):
        x, w, stride, padding, output_padding = random_transposed(rng)
        xd, wd = to_xp(x), to_xp(w)
        assert_same(roads.conv_transpose2d_into_crop(xd, wd, stride, padding, output_padding),
                    plain.conv_transpose2d_plain(xd, wd, stride, padding, output_padding),
                    f"into crop {x.shape} {w.shape} {stride} {padding} {output_padding}")


# --- weight gradient ----------------------------------------------------------------------------

@pytest.mark.parametrize("few_outputs", [False, True])
def test_weight_grad_by_shifted_gradient(to_xp, few_outputs):
    rng = np.random.default_rng(8)
    chosen = 0
    for _ in range(CASES):
        x, w, _, padding = random_conv(rng, stride_one=True, few_outputs=few_outputs)
        oh, ow = (plain.output_size(s, k, 1, p) for s, k, p in zip(x.shape[2:], w.shape[2:], padding))
        g = rng.standard_normal((x.shape[0], w.shape[0], oh, ow))
        chosen += roads.shifted_gradient_pays(x.shape, g.shape, (1, 1), padding)
        xd, gd = to_xp(x), to_xp(g)
        assert_same(roads.weight_grad_by_shifted_gradient(xd, gd, w.shape[2:], padding),
                    plain.conv2d_weight_grad_plain(xd, gd, w.shape[2:], (1, 1), padding),
                    f"shifted gradient {x.shape} {w.shape} {padding}")
    if few_outputs:
        assert chosen >= CASES // 2, "the cases meant to choose the shifted gradient do not"


def test_weight_grad_from_saved_columns(to_xp):
    rng = np.random.default_rng(9)
    for _ in range(CASES):
        x, w, stride, padding = random_conv(rng)
        xd, wd = to_xp(x), to_xp(w)
        saved = {}
        y = roads.conv2d_saving_columns(xd, wd, stride, padding, saved)
        assert_same(y, plain.conv2d_plain(xd, wd, stride, padding), "conv2d saving columns")
        gd = to_xp(rng.standard_normal(y.shape))
        assert_same(roads.weight_grad_from_saved_columns(saved["columns"], gd, w.shape[2:]),
                    plain.conv2d_weight_grad_plain(xd, gd, w.shape[2:], stride, padding),
                    f"saved columns {x.shape} {w.shape} {stride} {padding}")


# --- the roads F takes -----------------------------------------------------------------------

@pytest.mark.parametrize("band_numbers", [None, 50])
def test_what_F_runs_equals_the_plain_road(to_xp, band_numbers, monkeypatch):
    """conv2d_array, conv_transpose2d_array and conv2d_weight_grad, whichever road they
    take, give the plain results; with a tiny band budget every case goes through bands."""
    if band_numbers is not None:
        monkeypatch.setattr(roads, "BAND_NUMBERS", band_numbers)
    rng = np.random.default_rng(10)
    banded = 0
    for case in range(2 * CASES):
        x, w, stride, padding = random_conv(rng, stride_one=case % 2 == 0, few_outputs=case % 3 == 0)
        xd, wd = to_xp(x), to_xp(w)
        banded += roads.bands_pay_conv2d(x.shape, w.shape, stride, padding)
        want = plain.conv2d_plain(xd, wd, stride, padding)
        assert_same(roads.conv2d_array(xd, wd, stride, padding), want, "conv2d_array")
        gd = to_xp(rng.standard_normal(want.shape))
        assert_same(roads.conv2d_weight_grad(xd, gd, w.shape[2:], stride, padding),
                    plain.conv2d_weight_grad_plain(xd, gd, w.shape[2:], stride, padding),
                    "conv2d_weight_grad")
        xt, wt, stride, padding, output_padding = random_transposed(
            rng, stride_one=case % 2 == 0, few_inputs=case % 3 == 0)
        xd, wd = to_xp(xt), to_xp(wt)
        banded += roads.bands_pay_transposed(xt.shape, wt.shape, stride, padding)
        assert_same(roads.conv_transpose2d_array(xd, wd, stride, padding, output_padding),
                    plain.conv_transpose2d_plain(xd, wd, stride, padding, output_padding),
                    "conv_transpose2d_array")
    if band_numbers is not None:
        assert banded >= CASES, "a tiny band budget should send most cases through bands"


def test_a_large_image_without_a_graph_runs_in_bands(monkeypatch):
    """Under no_grad F.conv2d builds no im2col of the whole image, and gives the same
    result as with a graph (where forward keeps the columns for the weight gradient)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 3, 40, 30))
    w = nn.Parameter(rng.standard_normal((8, 3, 7, 7)))
    with_graph = F.conv2d(nn.Tensor(x), w, padding=3).data
    monkeypatch.setattr(roads, "BAND_NUMBERS", 3 * 49 * 30 * 4)   # four output rows a band
    calls = []
    real = roads.conv2d_in_bands
    monkeypatch.setattr(roads, "conv2d_in_bands", lambda *a, **k: calls.append(1) or real(*a, **k))
    with nn.no_grad():
        without = F.conv2d(nn.Tensor(x), w, padding=3).data
    assert calls, "no_grad conv2d did not take the banded road"
    assert_same(without, with_graph, "no_grad conv2d in bands")

"""Forward passes against naive loops written straight from the definitions, on every backend.

A gradient check only shows that backward agrees with forward; these show forward is right.
"""
import numpy as np
import pytest

import nn
import nn.functional as F


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


def naive_conv2d(x, w, b, stride, padding):
    """y[n, o, r, q] = b[o] + sum_{c,i,j} w[o, c, i, j] * x[n, c, r*SH + i - PH, q*SW + j - PW],
    with x read as 0 outside the image."""
    (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c_out, oh, ow))
    for b_ in range(n):
        for o in range(c_out):
            for r in range(oh):
                for q in range(ow):
                    total = b[o]
                    for c in range(c_in):
                        for i in range(kh):
                            for j in range(kw):
                                row, col = r * sh + i - ph, q * sw + j - pw
                                if 0 <= row < h and 0 <= col < wd:
                                    total += w[o, c, i, j] * x[b_, c, row, col]
                    y[b_, o, r, q] = total
    return y


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding):
    """Every input pixel x[n, c, r, q] adds x * w[c, o, i, j] to output pixel
    (r*SH + i - PH, q*SW + j - PW); outputs outside (OH, OW) are dropped;
    OH = (H - 1)*SH - 2*PH + KH + OPH."""
    (sh, sw), (ph, pw), (oph, opw) = as_pair(stride), as_pair(padding), as_pair(output_padding)
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    oh, ow = (h - 1) * sh - 2 * ph + kh + oph, (wd - 1) * sw - 2 * pw + kw + opw
    y = np.zeros((n, c_out, oh, ow)) + b.reshape(1, -1, 1, 1)
    for b_ in range(n):
        for c in range(c_in):
            for r in range(h):
                for q in range(wd):
                    for o in range(c_out):
                        for i in range(kh):
                            for j in range(kw):
                                row, col = r * sh + i - ph, q * sw + j - pw
                                if 0 <= row < oh and 0 <= col < ow:
                                    y[b_, o, row, col] += x[b_, c, r, q] * w[c, o, i, j]
    return y


def naive_instance_norm(x, weight, bias, eps):
    """Per sample and channel: (x - mean) / sqrt(biased variance + eps) * weight + bias."""
    n, c, h, w = x.shape
    y = np.empty_like(x)
    for b_ in range(n):
        for ch in range(c):
            plane = x[b_, ch]
            mean = sum(plane[i, j] for i in range(h) for j in range(w)) / (h * w)
            var = sum((plane[i, j] - mean) ** 2 for i in range(h) for j in range(w)) / (h * w)
            y[b_, ch] = (plane - mean) / np.sqrt(var + eps) * weight[ch] + bias[ch]
    return y


def mirror(index, size):
    """Reflect an index about the first and last pixel, without repeating the edge."""
    if index < 0:
        return -index
    if index >= size:
        return 2 * (size - 1) - index
    return index


def naive_pad(x, pads, mode):
    left, right, top, bottom = pads
    n, c, h, w = x.shape
    y = np.zeros((n, c, h + top + bottom, w + left + right))
    for r in range(y.shape[2]):
        for q in range(y.shape[3]):
            row, col = r - top, q - left
            if mode == "reflect":
                y[:, :, r, q] = x[:, :, mirror(row, h), mirror(col, w)]
            elif 0 <= row < h and 0 <= col < w:
                y[:, :, r, q] = x[:, :, row, col]
    return y


@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 5, 6), (3, 2), (1, 1)),
                                                   ((1, 2, 7, 6), (3, 3), (2, 2)),
                                                   ((1, 1, 6, 5), (2, 1), (2, 3))], ids=str)
def test_im2col_and_col2im_are_adjoint_views(shape, kernel, stride, xp, to_xp):
    """cols[n, c, i, j, y, z] = x[n, c, y*SH + i, z*SW + j]; col2im adds them back:
    <im2col(x), cols> == <x, col2im(cols)>."""
    from nn.convolution import col2im, im2col
    (kh, kw), (sh, sw) = kernel, stride
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    cols = nn.to_host(im2col(to_xp(x), kh, kw, stride))
    n, c, h, w = shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    assert cols.shape == (n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for z in range(ow):
                    np.testing.assert_array_equal(cols[:, :, i, j, y, z],
                                                  x[:, :, y * sh + i, z * sw + j])
    c_rand = rng.standard_normal(cols.shape)
    back = nn.to_host(col2im(to_xp(c_rand), h, w, stride))
    assert back.shape == x.shape
    assert abs((cols * c_rand).sum() - (x * back).sum()) <= 1e-10 * np.abs(cols * c_rand).sum()


# N, C_in, H, W, C_out, KH, KW, stride, padding
CONV_CASES = [
    (2, 3, 5, 7, 4, 3, 3, 1, 0),
    (1, 2, 6, 5, 3, 3, 2, 2, 1),
    (2, 3, 7, 6, 2, 7, 7, 1, 3),          # few output channels: the stride-1 scatter road
    (1, 4, 9, 8, 1, 4, 4, 2, 1),          # PatchGAN's 4x4 stride 2
    (1, 1, 4, 4, 5, 1, 1, 1, 0),
    (1, 2, 6, 7, 3, 3, 3, (2, 1), (1, 0)),
]

# N, C_in, H, W, C_out, KH, KW, stride, padding, output_padding
CONV_T_CASES = [
    (2, 3, 4, 5, 2, 3, 3, 2, 1, 1),       # the generator's upsampling
    (1, 2, 3, 3, 3, 3, 2, 1, 0, 0),
    (1, 1, 4, 4, 5, 3, 3, 1, 1, 0),       # few input channels: the flipped-kernel road
    (2, 2, 3, 2, 3, 4, 4, 2, 1, 0),
    (1, 3, 2, 3, 2, 3, 3, 3, 0, 2),
    (1, 2, 4, 4, 1, 3, 3, 1, 2, 0),       # padding that crops more than it adds
    (1, 2, 3, 4, 2, 2, 3, (2, 1), (0, 1), (1, 0)),
]


def test_naive_references_agree_with_hand_computed_values():
    # A 1x1 image, 2x2 kernel, stride 1: the transposed convolution stamps the kernel.
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    stamp = naive_conv_transpose2d(np.array([[[[2.0]]]]), w, np.zeros(1), 1, 0, 0)
    np.testing.assert_array_equal(stamp[0, 0], [[2, 4], [6, 8]])
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = naive_conv2d(x, w, np.array([0.5]), 1, 0)
    np.testing.assert_array_equal(y[0, 0], [[0 + 2 + 9 + 16 + 0.5, 1 + 4 + 12 + 20 + 0.5],
                                            [3 + 8 + 18 + 28 + 0.5, 4 + 10 + 21 + 32 + 0.5]])
    np.testing.assert_array_equal(naive_pad(np.arange(4.0).reshape(1, 1, 1, 4), (2, 2, 0, 0),
                                            "reflect")[0, 0, 0], [2, 1, 0, 1, 2, 3, 2, 1])


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_the_definition(case, xp, to_xp):
    n, c_in, h, w, c_out, kh, kw, stride, padding = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    bias = rng.standard_normal(c_out)
    y = F.conv2d(nn.Tensor(to_xp(x)), nn.Tensor(to_xp(weight)), nn.Tensor(to_xp(bias)),
                 stride, padding)
    np.testing.assert_allclose(nn.to_host(y.data), naive_conv2d(x, weight, bias, stride, padding),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CONV_T_CASES, ids=str)
def test_conv_transpose2d_matches_the_scatter_definition(case, xp, to_xp):
    n, c_in, h, w, c_out, kh, kw, stride, padding, out_pad = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_in, c_out, kh, kw))
    bias = rng.standard_normal(c_out)
    y = F.conv_transpose2d(nn.Tensor(to_xp(x)), nn.Tensor(to_xp(weight)), nn.Tensor(to_xp(bias)),
                           stride, padding, out_pad)
    expected = naive_conv_transpose2d(x, weight, bias, stride, padding, out_pad)
    np.testing.assert_allclose(nn.to_host(y.data), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(case, xp, to_xp):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>, output_padding restoring x's size."""
    n, c_in, h, w, c_out, kh, kw, stride, padding = case
    (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c_in, h, w))
    weight = nn.Tensor(to_xp(rng.standard_normal((c_out, c_in, kh, kw))))
    cx = F.conv2d(nn.Tensor(to_xp(x)), weight, stride=stride, padding=padding)
    oh, ow = cx.shape[2:]
    out_pad = (h - ((oh - 1) * sh - 2 * ph + kh), w - ((ow - 1) * sw - 2 * pw + kw))
    y = rng.standard_normal(cx.shape)
    ty = F.conv_transpose2d(nn.Tensor(to_xp(y)), weight, stride=stride, padding=padding,
                            output_padding=out_pad)
    assert ty.shape == x.shape
    left = float((nn.to_host(cx.data) * y).sum())
    right = float((x * nn.to_host(ty.data)).sum())
    assert abs(left - right) <= 1e-10 * max(1.0, abs(left))


@pytest.mark.parametrize("shape, affine", [((2, 3, 4, 5), True), ((1, 2, 7, 3), False),
                                           ((3, 1, 1, 6), True)])
def test_instance_norm_matches_the_definition(shape, affine, xp, to_xp):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape) * 3 + 1
    c = shape[1]
    weight, bias = (rng.standard_normal(c), rng.standard_normal(c)) if affine else (np.ones(c),
                                                                                      np.zeros(c))
    args = (nn.Tensor(to_xp(weight)), nn.Tensor(to_xp(bias))) if affine else (None, None)
    y = F.instance_norm(nn.Tensor(to_xp(x)), *args, eps=1e-3)
    np.testing.assert_allclose(nn.to_host(y.data), naive_instance_norm(x, weight, bias, 1e-3),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (3, 3, 3, 3), (2, 0, 1, 3), (0, 3, 2, 0)], ids=str)
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_pad_matches_mirrored_indices(pads, mode, xp, to_xp):
    x = np.random.default_rng(5).standard_normal((2, 2, 4, 5))
    y = F.pad(nn.Tensor(to_xp(x)), pads, mode)
    np.testing.assert_array_equal(nn.to_host(y.data), naive_pad(x, pads, mode))


def test_activations_and_losses_match_their_formulas(xp, to_xp):
    x = np.array([[-30.0, -2.0, -0.5, 0.25, 1.5, 40.0]])
    t = nn.Tensor(to_xp(x))
    expected = {
        "relu": np.where(x > 0, x, 0.0),
        "leaky_relu": np.where(x > 0, x, 0.2 * x),
        "tanh": np.tanh(x),
        "sigmoid": 1 / (1 + np.exp(-x)),
    }
    got = {"relu": F.relu(t), "leaky_relu": F.leaky_relu(t, 0.2), "tanh": F.tanh(t),
           "sigmoid": F.sigmoid(t)}
    for name, value in got.items():
        np.testing.assert_allclose(nn.to_host(value.data), expected[name], rtol=1e-12,
                                   atol=1e-300, err_msg=name)
    np.testing.assert_allclose(nn.to_host(F.leaky_relu(t).data), np.where(x > 0, x, 0.01 * x))
    target = np.array([[1.0, 2.0, 0.0, -1.0, 0.5, 39.0]])
    mse = F.mse_loss(t, nn.Tensor(to_xp(target)))
    l1 = F.l1_loss(t, nn.Tensor(to_xp(target)))
    assert mse.shape == () and l1.shape == ()
    np.testing.assert_allclose(float(mse.data), np.mean((x - target) ** 2), rtol=1e-12)
    np.testing.assert_allclose(float(l1.data), np.mean(np.abs(x - target)), rtol=1e-12)
    np.testing.assert_allclose(float(F.mse_loss(t, 1.0).data), np.mean((x - 1) ** 2), rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda x, w, wt: F.conv2d(x, w, stride=2, padding=1),
    lambda x, w, wt: F.conv_transpose2d(x, wt, stride=2, padding=1, output_padding=1),
    lambda x, w, wt: F.instance_norm(x),
    lambda x, w, wt: F.pad(x, (2, 2, 2, 2), "reflect"),
    lambda x, w, wt: F.sigmoid(F.tanh(F.leaky_relu(x, 0.2))),
    lambda x, w, wt: F.mse_loss(x, 0.5) + F.l1_loss(x, 0.5),
    lambda x, w, wt: (x * 2.0 + 1.0) / 3.0 - x ** 2 + x.abs().mean(axis=(2, 3), keepdims=True),
], ids=["conv2d", "conv_transpose2d", "instance_norm", "pad", "activations", "losses",
        "arithmetic"])
def test_float32_stays_float32(make, xp, to_xp):
    rng = np.random.default_rng(6)
    x = nn.Tensor(to_xp(rng.standard_normal((1, 2, 6, 6)), np.float32), requires_grad=True)
    w = nn.Tensor(to_xp(rng.standard_normal((3, 2, 3, 3)), np.float32), requires_grad=True)
    wt = nn.Tensor(to_xp(rng.standard_normal((2, 3, 3, 3)), np.float32), requires_grad=True)
    y = make(x, w, wt)
    assert y.dtype == np.float32
    y.backward(to_xp(rng.standard_normal(y.shape), np.float32))
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(nn.Tensor(np.ones((1, 2, 5, 5))), nn.Tensor(np.ones((3, 4, 3, 3)))),
     "2 channels but the weight expects 4"),
    (lambda: F.conv2d(nn.Tensor(np.ones((2, 5, 5))), nn.Tensor(np.ones((3, 2, 3, 3)))),
     r"\(N, C, H, W\)"),
    (lambda: F.conv2d(nn.Tensor(np.ones((1, 1, 2, 2))), nn.Tensor(np.ones((1, 1, 3, 3)))),
     "smaller than the kernel"),
    (lambda: F.conv_transpose2d(nn.Tensor(np.ones((1, 1, 2, 2))), nn.Tensor(np.ones((1, 1, 3, 3))),
                                stride=2, output_padding=2), "output_padding < stride"),
    (lambda: F.pad(nn.Tensor(np.ones((1, 1, 3, 3))), (3, 0, 0, 0), "reflect"), "smaller than"),
    (lambda: F.pad(nn.Tensor(np.ones((1, 1, 3, 3))), (1, 1, 1), "reflect"), "four"),
    (lambda: F.pad(nn.Tensor(np.ones((1, 1, 3, 3))), (1, 1, 1, 1), "wrap"), "'constant' or"),
])
def test_bad_shapes_and_options_are_refused_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def naive_linear(x, w, b):
    """y[n, o] = b[o] + sum_i x[n, i] * w[o, i]."""
    n, n_in = x.shape
    n_out = w.shape[0]
    y = np.zeros((n, n_out))
    for r in range(n):
        for o in range(n_out):
            y[r, o] = b[o] + sum(x[r, i] * w[o, i] for i in range(n_in))
    return y


def naive_cross_entropy(logits, target):
    """-log(exp(x[n, t]) / sum_c exp(x[n, c])) per row, with Python floats."""
    import math
    return np.array([-math.log(math.exp(row[t]) / sum(math.exp(v) for v in row))
                     for row, t in zip(logits.tolist(), target.tolist())])


def test_linear_matches_the_definition(xp, to_xp):
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    y = F.linear(nn.Tensor(to_xp(x)), nn.Tensor(to_xp(w)), nn.Tensor(to_xp(b)))
    np.testing.assert_allclose(nn.to_host(y.data), naive_linear(x, w, b), rtol=1e-12, atol=1e-14)
    no_bias = F.linear(nn.Tensor(to_xp(x)), nn.Tensor(to_xp(w)))
    np.testing.assert_allclose(nn.to_host(no_bias.data), naive_linear(x, w, np.zeros(5)),
                               rtol=1e-12, atol=1e-14)
    layer = nn.Linear(3, 5).to(xp, dtype=np.float64)
    np.testing.assert_allclose(nn.to_host(layer(nn.Tensor(to_xp(x))).data),
                               naive_linear(x, nn.to_host(layer.weight.data),
                                            nn.to_host(layer.bias.data)), rtol=1e-12, atol=1e-14)


def test_cross_entropy_matches_the_definition(xp, to_xp):
    rng = np.random.default_rng(9)
    logits, target = rng.standard_normal((6, 4)) * 2, np.array([0, 3, 1, 1, 2, 3])
    expected = naive_cross_entropy(logits, target)
    x = nn.Tensor(to_xp(logits))
    for reduction, value in [("none", expected), ("sum", expected.sum()),
                             ("mean", expected.mean())]:
        got = F.cross_entropy(x, to_xp(target), reduction=reduction)
        np.testing.assert_allclose(nn.to_host(got.data), value, rtol=1e-12, err_msg=reduction)
    # Equal logits: every class has probability 1/C, the loss is log C.
    even = F.cross_entropy(nn.Tensor(to_xp(np.zeros((2, 4)))), to_xp(np.array([1, 2])))
    np.testing.assert_allclose(float(even.data), np.log(4), rtol=1e-14)
    # A host target for device logits is moved to their device; large logits do not overflow.
    huge = F.cross_entropy(nn.Tensor(to_xp(logits + 1000.0)), target, reduction="none")
    np.testing.assert_allclose(nn.to_host(huge.data), expected, rtol=1e-9)
    assert nn.get_array_module(huge.data) is xp


def test_linear_and_cross_entropy_keep_float32():
    rng = np.random.default_rng(10)
    x = nn.Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    layer = nn.Linear(4, 2)
    loss = F.cross_entropy(layer(x), np.array([0, 1, 1]))
    assert layer(x).dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and layer.weight.grad.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: F.linear(nn.Tensor(np.ones((2, 3))), nn.Tensor(np.ones((4, 5)))),
     r"3 features .* expects 5"),
    (lambda: F.linear(nn.Tensor(np.ones((2, 3))), nn.Tensor(np.ones(3))), r"\(out_features, in_"),
    (lambda: F.linear(nn.Tensor(np.ones((2, 3))), nn.Tensor(np.ones((4, 3))),
                      nn.Tensor(np.ones(3))), r"bias has shape \(3,\), expected \(4,\)"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones((2, 3))), np.array([0, 3])), r"in \[0, 3\)"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones((2, 3))), np.array([-1, 0])), "holds -1"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones((2, 3))), np.array([0.0, 1.0])), "integer"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones((2, 3))), np.array([0, 1, 2])),
     r"target has shape \(3,\), expected \(2,\)"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones(3)), np.array([0])), r"\(N, C\)"),
    (lambda: F.cross_entropy(nn.Tensor(np.ones((1, 3))), np.array([0]), "max"), "reduction"),
])
def test_linear_and_cross_entropy_refuse_bad_input_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()

"""Gradient checks of every op, every function of nn.functional and every module, on every
backend: float64, central differences, a random upstream gradient, inputs kept off kinks."""
import numpy as np
import pytest

import nn
import nn.functional as F


@pytest.fixture
def leaf(to_xp):
    """leaf(shape, low=None, seed=0): a float64 Tensor requiring grad on the backend under test.
    With ``low``, every |value| is in [low, low + 1], away from the kinks at 0."""
    def make(shape, low=None, seed=0, requires_grad=True):
        rng = np.random.default_rng(seed)
        if low is None:
            data = rng.standard_normal(shape)
        else:
            data = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, low + 1, size=shape)
        return nn.Tensor(to_xp(data), requires_grad=requires_grad)
    return make


def check(fn, *inputs):
    assert nn.gradcheck(fn, inputs)


# --- Tensor arithmetic, with broadcasting summed back -----------------------------------------

@pytest.mark.parametrize("op, shape_a, shape_b", [
    (lambda a, b: a + b, (2, 3), (3,)),
    (lambda a, b: a + b, (2, 1, 4), (3, 1)),
    (lambda a, b: a - b, (1, 3), (2, 1)),
    (lambda a, b: a * b, (2, 3, 4), (3, 1)),
    (lambda a, b: a * b, (), (2, 3)),
    (lambda a, b: a / b, (2, 3), (2, 1)),
    (lambda a, b: b / a, (4,), (3, 4)),
    (lambda a, b: a * a + a * b - b, (3, 2), (3, 2)),   # a tensor used several times
], ids=["add_row", "add_3d", "sub_outer", "mul_middle", "mul_scalar_tensor", "div_column",
        "rdiv_row", "reuse"])
def test_binary_arithmetic_with_broadcasting(op, shape_a, shape_b, leaf):
    check(op, leaf(shape_a, low=0.5, seed=1), leaf(shape_b, low=0.5, seed=2))


@pytest.mark.parametrize("op", [
    lambda a: 2.0 - a, lambda a: 3.0 / a, lambda a: a * 1.5 + 0.5, lambda a: -a,
    lambda a: a ** 3, lambda a: a.abs() ** 2.5, lambda a: a ** -1,
    lambda a: a.exp(), lambda a: a.abs().log(), lambda a: a.abs(),
    lambda a: a - 0.7, lambda a: a / 4.0, lambda a: a + 2, lambda a: a * np.float32(3.0),
], ids=["rsub_scalar", "rdiv_scalar", "affine", "neg", "cube", "fractional_power",
        "reciprocal", "exp", "log", "abs", "sub_scalar", "div_scalar", "add_int",
        "mul_numpy_scalar"])
def test_unary_ops(op, leaf):
    check(op, leaf((2, 3), low=0.3, seed=3))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
    ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((3,), (2, 3, 4)),
], ids=str)
def test_matmul_including_vectors_and_batches(shape_a, shape_b, leaf):
    check(lambda a, b: a @ b, leaf(shape_a, seed=4), leaf(shape_b, seed=5))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (1, False),
                                            ((0, 2), True), (-1, False), ((2, 0), False)])
def test_sum_and_mean_over_axes(reduce, axis, keepdims, leaf):
    check(lambda a: getattr(a, reduce)(axis=axis, keepdims=keepdims), leaf((2, 3, 4), seed=6))


@pytest.mark.parametrize("op", [
    lambda a: a.reshape(4, 6), lambda a: a.reshape((3, -1)), lambda a: a.transpose(2, 0, 1),
    lambda a: a.transpose(), lambda a: a.T, lambda a: a[1], lambda a: a[:, 1:3, ::2],
    lambda a: a[..., ::-1], lambda a: a[None, :, -1], lambda a: a[1, 2, 3],
    lambda a: a[:, 0] * a[:, 2],
], ids=["reshape", "reshape_infer", "transpose_axes", "transpose_reverse", "T", "int_index",
        "slices", "reversed", "newaxis", "element", "two_overlapping_reads"])
def test_shape_ops_and_indexing(op, leaf):
    check(op, leaf((2, 3, 4), seed=7))


# --- nn.functional ------------------------------------------------------------------------

# N, C_in, H, W, C_out, KH, KW, stride, padding, bias
CONV_CASES = [
    (2, 3, 5, 4, 2, 3, 3, 1, 0, True),
    (1, 2, 5, 6, 3, 3, 2, 2, 1, False),
    (2, 3, 6, 5, 2, 3, 3, 1, 3, True),           # padding 3 of a 3x3 kernel; fewer outputs
    (1, 2, 7, 6, 3, 4, 4, 2, 1, True),           # even kernel, stride 2, odd sizes
    (1, 3, 5, 5, 1, 5, 3, 1, 2, True),           # one output channel: the scatter road
    (1, 2, 6, 7, 2, 3, 3, (2, 1), (1, 0), True),
]

# N, C_in, H, W, C_out, KH, KW, stride, padding, output_padding, bias
CONV_T_CASES = [
    (2, 3, 3, 4, 2, 3, 3, 2, 1, 1, True),        # the generator's upsampling
    (1, 2, 3, 3, 3, 3, 2, 1, 0, 0, False),
    (1, 1, 4, 3, 3, 3, 3, 1, 1, 0, True),        # few input channels: the flipped-kernel road
    (2, 2, 3, 2, 3, 4, 4, 2, 1, 0, True),
    (1, 2, 2, 3, 2, 3, 3, 3, 0, 2, False),
    (1, 2, 4, 5, 1, 3, 3, 1, 2, 0, True),        # padding 2 crops most of the output
    (1, 2, 3, 2, 2, 2, 3, (2, 1), (0, 1), (1, 0), True),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d(case, leaf):
    n, c_in, h, w, c_out, kh, kw, stride, padding, bias = case
    inputs = [leaf((n, c_in, h, w), seed=8), leaf((c_out, c_in, kh, kw), seed=9)]
    if bias:
        inputs.append(leaf((c_out,), seed=10))
    check(lambda x, wt, *b: F.conv2d(x, wt, *b, stride=stride, padding=padding), *inputs)


@pytest.mark.parametrize("case", CONV_T_CASES, ids=str)
def test_conv_transpose2d(case, leaf):
    n, c_in, h, w, c_out, kh, kw, stride, padding, out_pad, bias = case
    inputs = [leaf((n, c_in, h, w), seed=11), leaf((c_in, c_out, kh, kw), seed=12)]
    if bias:
        inputs.append(leaf((c_out,), seed=13))
    check(lambda x, wt, *b: F.conv_transpose2d(x, wt, *b, stride=stride, padding=padding,
                                               output_padding=out_pad), *inputs)


@pytest.mark.parametrize("conv", ["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("frozen", ["input", "weight"])
def test_convolutions_with_one_operand_frozen(conv, frozen, leaf):
    """Backward skips the gradient nobody asked for; the other must still be right."""
    x = leaf((2, 2, 5, 4), seed=14, requires_grad=frozen != "input")
    w = leaf((2, 2, 3, 3), seed=15, requires_grad=frozen != "weight")
    fn = getattr(F, conv)
    check(lambda x, w: fn(x, w, stride=2, padding=1), x, w)
    out = fn(x, w, stride=2, padding=1)
    out.backward(out.data * 0 + 1)
    assert (x.grad is None) == (frozen == "input") and (w.grad is None) == (frozen == "weight")


@pytest.mark.parametrize("shape, affine", [((2, 3, 4, 3), True), ((1, 2, 5, 5), False),
                                           ((2, 1, 1, 5), True)])
def test_instance_norm(shape, affine, leaf):
    c = shape[1]
    params = [leaf((c,), seed=16), leaf((c,), seed=17)] if affine else []
    check(lambda x, *p: F.instance_norm(x, *p), leaf(shape, seed=18), *params)


@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (3, 3, 3, 3), (2, 0, 1, 3), (0, 3, 2, 1)], ids=str)
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_pad(pads, mode, leaf):
    check(lambda x: F.pad(x, pads, mode), leaf((2, 2, 4, 5), seed=19))


@pytest.mark.parametrize("fn", [
    F.relu, F.leaky_relu, lambda x: F.leaky_relu(x, 0.2), F.tanh, F.sigmoid,
    lambda x: F.mse_loss(x, 0.3), lambda x: F.l1_loss(x, 0.05),
], ids=["relu", "leaky_relu_default", "leaky_relu_0.2", "tanh", "sigmoid", "mse_number",
        "l1_number"])
def test_activations_and_losses(fn, leaf):
    check(fn, leaf((2, 3, 2, 2), low=0.1, seed=20))  # |x| >= 0.1: off the kinks at 0 (and 0.05)


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss])
def test_losses_against_a_tensor_target(loss, leaf):
    # input = target + a difference of at least 0.1 in size: |input - target| is off its kink.
    diff = leaf((2, 3), low=0.1, seed=22, requires_grad=False)
    check(lambda x, t: loss(x + diff, t), leaf((2, 3), seed=21), leaf((2, 3), seed=21))


# --- modules --------------------------------------------------------------------------------

def module_cases():
    return {
        "Conv2d": lambda: nn.Conv2d(2, 3, (3, 2), stride=2, padding=1),
        "Conv2d_no_bias": lambda: nn.Conv2d(2, 1, 3, padding=3, bias=False),
        "ConvTranspose2d": lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                      output_padding=1),
        "InstanceNorm2d_affine": lambda: nn.InstanceNorm2d(2, affine=True),
        "Sequential": lambda: nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(2, 3, 3), nn.InstanceNorm2d(3, affine=True),
            nn.LeakyReLU(0.2), nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                  output_padding=1), nn.Tanh()),
    }


@pytest.mark.parametrize("name", list(module_cases()))
def test_modules_with_parameters(name, xp, leaf):
    module = module_cases()[name]().to(xp, dtype=np.float64)
    x = leaf((2, 2, 5, 4), seed=23)
    for p in module.parameters():  # perturb the init, so that e.g. affine weight != 1
        p.data += 0.1 * xp.asarray(np.random.default_rng(24).standard_normal(p.shape))
    assert nn.gradcheck(module, [x])  # the input and every parameter


@pytest.mark.parametrize("module", [nn.ReflectionPad2d((2, 1, 0, 3)), nn.ReflectionPad2d(1),
                                    nn.InstanceNorm2d(2), nn.ReLU(), nn.LeakyReLU(),
                                    nn.LeakyReLU(0.3), nn.Tanh()], ids=repr)
def test_modules_without_parameters(module, leaf):
    assert module.parameters() == []
    check(module, leaf((2, 2, 4, 5), low=0.1, seed=25))


# --- fully connected layers and the classification loss ---------------------------------------

@pytest.mark.parametrize("x_shape, out_features, bias", [
    ((4, 3), 2, True), ((5, 1), 3, False), ((2, 3, 4), 5, True), ((3,), 2, True),
], ids=["batch", "one_feature_no_bias", "extra_batch_axis", "one_sample"])
def test_linear(x_shape, out_features, bias, leaf):
    inputs = [leaf(x_shape, seed=26), leaf((out_features, x_shape[-1]), seed=27)]
    if bias:
        inputs.append(leaf((out_features,), seed=28))
    check(lambda x, w, *b: F.linear(x, w, *b), *inputs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(reduction, leaf, to_xp):
    target = to_xp(np.array([2, 0, 3, 2, 1]))
    logits = leaf((5, 4), seed=29)
    logits.data *= 3            # confident rows as well as doubtful ones
    check(lambda x: F.cross_entropy(x, target, reduction), logits)


def test_cross_entropy_with_huge_logits(leaf, to_xp):
    """Logits in the thousands: exp would overflow without the row maximum subtracted."""
    logits = leaf((3, 3), seed=30)
    logits.data += 1000.0
    check(lambda x: F.cross_entropy(x, to_xp(np.array([0, 2, 1]))), logits)


def test_linear_module_and_an_mlp(xp, leaf):
    rng = np.random.default_rng(31)
    mlp = nn.Sequential(nn.Linear(3, 5, rng=rng), nn.Tanh(), nn.Linear(5, 4, rng=rng),
                        nn.Tanh(), nn.Linear(4, 2, bias=False, rng=rng))
    for net in (nn.Linear(3, 2, rng=rng), mlp):
        net.to(xp, dtype=np.float64)
        assert nn.gradcheck(net, [leaf((6, 3), seed=32)])  # the input and every parameter

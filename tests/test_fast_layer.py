"""The fast layer (nn/fast/) against the plain road: every entry of its tables gives the
plain definition's results, in float64, on every backend; three whole training steps agree;
and with the layer off a step runs only the core files.

The roads compute the same sums in another order (a batch of two generator calls instead of
two calls, einsums instead of means, Adam through a scratch array), so they agree to
rounding: a tolerance of 1e-12 relative, where a dropped term is off by O(1).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import nn
import nn.fast
import nn.functional as F
from cyclegan import CycleGAN
from nn import cat
from nn.fast import convolution as convolution_roads
from test_convolution_roads import assert_same

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ("G_A", "G_B", "D_A", "D_B")


def both_roads(run):
    """(run() with the fast layer on, run() with it off)."""
    assert nn.fast.enabled()
    fast = run()
    with nn.fast.disabled():
        plain = run()
    assert nn.fast.enabled()
    return fast, plain


# --- each entry of the tables ------------------------------------------------------------------

def forward_and_gradients(op, arrays, to_xp, frozen=()):
    """op(*Tensors) and the gradients of sum(op * g) for a random g; inputs in ``frozen``
    do not require grad (their gradient is None)."""
    tensors = [nn.Tensor(to_xp(a), requires_grad=i not in frozen) for i, a in enumerate(arrays)]
    y = op(*tensors)
    g = np.random.default_rng(99).standard_normal(y.shape)
    (y * nn.Tensor(to_xp(g))).sum().backward()
    return [y.data] + [t.grad for t in tensors if t.grad is not None]


def conv_cases():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    for c_out, k, stride, padding in [(4, 3, 1, 1), (2, 7, 1, 3), (5, 4, 2, 1), (1, 4, 1, 1)]:
        w, b = rng.standard_normal((c_out, 3, k, k)), rng.standard_normal(c_out)
        yield (lambda x, w, b, s=stride, p=padding: F.conv2d(x, w, b, s, p)), [x, w, b]


def transposed_cases():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 6))
    for c_out, k, stride, padding, output_padding in [(3, 3, 2, 1, 1), (2, 3, 1, 1, 0),
                                                       (6, 4, 1, 2, 0), (3, 5, 3, 2, 2),
                                                       (2, 2, 3, 2, 1)]:   # padding >= kernel
        w, b = rng.standard_normal((4, c_out, k, k)), rng.standard_normal(c_out)
        yield (lambda x, w, b, s=stride, p=padding, o=output_padding:
               F.conv_transpose2d(x, w, b, s, p, o)), [x, w, b]


def elementwise_cases():
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4))
    yield F.instance_norm, [x]
    yield (lambda x: F.pad(x, (2, 1, 3, 0), "reflect")), [x]
    yield (lambda x: F.pad(x, (1, 2, 0, 1))), [x]
    yield F.relu, [x]
    yield (lambda x: F.leaky_relu(x, 0.2)), [x]


@pytest.mark.parametrize("cases", [conv_cases, transposed_cases, elementwise_cases])
def test_each_layer_road_equals_the_plain_layer(cases, to_xp, monkeypatch):
    for k, (op, arrays) in enumerate(cases()):
        for frozen in [(), (1,), (0,)][:len(arrays)]:   # every gradient, a frozen weight, a frozen input
            fast, plain = both_roads(lambda: forward_and_gradients(op, arrays, to_xp, frozen))
            assert len(fast) == len(plain)
            for i, (a, b) in enumerate(zip(fast, plain)):
                assert_same(a, b, f"{cases.__name__} {k}, frozen {frozen}, output {i}")
        for band_numbers in (convolution_roads.BAND_NUMBERS, 50):   # 50: every layer in bands
            monkeypatch.setattr(convolution_roads, "BAND_NUMBERS", band_numbers)
            with nn.no_grad():                      # no graph: the bands and maxima
                fast, plain = both_roads(lambda: op(*(nn.Tensor(to_xp(a)) for a in arrays)).data)
            assert_same(fast, plain, f"{cases.__name__} {k} without a graph, {band_numbers}")


def test_adam_road_equals_the_formula(to_xp):
    rng = np.random.default_rng(4)
    shapes = [(3, 2, 3, 3), (3,), (5, 4)]

    def run():
        params = [nn.Parameter(to_xp(rng.standard_normal(s))) for s in shapes]
        opt = nn.optim.Adam(params, lr=0.1, betas=(0.5, 0.999))
        for step in range(5):
            for i, p in enumerate(params):      # the second parameter skips a step
                p.grad = None if (i, step) == (1, 2) else to_xp(rng.standard_normal(p.shape))
            opt.step()
            if step == 3:                       # the moments replaced by loaded copies
                opt.load_state_dict({k: v.copy() if hasattr(v, "copy") else v
                                     for k, v in opt.state_dict().items()})
        return [p.data for p in params] + opt.m + opt.v

    state = rng.bit_generator.state
    fast = run()
    rng.bit_generator.state = state
    with nn.fast.disabled():
        plain = run()
    for i, (a, b) in enumerate(zip(fast, plain)):
        assert_same(a, b, f"Adam array {i}")


def test_call_each_road_equals_calls_one_by_one(xp, to_xp):
    rng = np.random.default_rng(5)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.InstanceNorm2d(4), nn.ReLU())
    other = nn.Conv2d(3, 2, 1, rng=rng)
    net.to(xp, "float64")
    other.to(xp, "float64")
    a, b, c = (rng.standard_normal(s) for s in [(1, 3, 6, 6), (2, 3, 6, 6), (1, 3, 4, 4)])

    def run():
        x, y, z = (nn.Tensor(to_xp(v), requires_grad=True) for v in (a, b, c))
        outs = nn.call_each([(net, x), (other, x), (net, y), (net, z)])
        loss = sum(((o * o).sum() * (k + 1) for k, o in enumerate(outs)), nn.Tensor(to_xp(0.0)))
        net.zero_grad()
        loss.backward()
        return [o.data for o in outs] + [x.grad, y.grad, z.grad] + [
            p.grad for p in net.parameters()]

    fast, plain = both_roads(run)
    for i, (u, v) in enumerate(zip(fast, plain)):
        assert_same(u, v, f"call_each output or gradient {i}")


def test_every_table_entry_has_a_test_above():
    tested = {F.Conv2dFunction, F.ConvTranspose2dFunction, F.InstanceNormalize,
              F.LeakyReLUFunction, F.Pad, nn.optim.Adam.update, nn.call_each}
    assert set(nn.fast.NUMPY) <= tested and set(nn.fast.CUPY) <= tested


def test_the_switch():
    assert nn.fast.enabled()
    try:
        assert nn.fast.enabled(False) is False
        assert nn.backend.faster(F.Conv2dFunction, np) is F.Conv2dFunction
    finally:
        nn.fast.enabled(True)
    assert nn.backend.faster(F.Conv2dFunction, np) is nn.fast.NUMPY[F.Conv2dFunction]
    with pytest.raises(KeyError):
        with nn.fast.disabled():
            raise KeyError
    assert nn.fast.enabled()


# --- whole training steps ------------------------------------------------------------------------

def tiny(seed):
    # pool_size 1: from the second step on the pools swap images at random, so the test also
    # covers fakes that are not the newest ones.
    return CycleGAN(ngf=2, ndf=2, n_blocks=1, n_layers_D=2, pool_size=1, seed=seed,
                    dtype=np.float64)


def biases_before_instance_norm(model):
    """Names of the conv biases an InstanceNorm2d follows. The norm subtracts each channel's
    mean, bias included, so their gradient is zero in exact arithmetic and rounding noise
    (~1e-17) in practice; Adam divides that noise by its own size and moves the bias by +-lr
    either way, so their updates are compared through their gradients instead."""
    names = set()
    for net in NETS:
        for prefix, module in getattr(model, net).named_modules():
            if not isinstance(module, nn.Sequential):
                continue
            children = list(module._modules.items())
            for (name, child), (_, after) in zip(children, children[1:]):
                if (isinstance(child, (nn.Conv2d, nn.ConvTranspose2d))
                        and isinstance(after, nn.InstanceNorm2d)):
                    names.add(f"{net}.{prefix}.{name}.bias")
    return names


def parameters(model):
    return {f"{net}.{name}": p for net in NETS
            for name, p in getattr(model, net).named_parameters()}


def test_three_training_steps_of_the_fast_layer_equal_the_plain_ones():
    fast, plain = tiny(seed=3), tiny(seed=3)
    skip = biases_before_instance_norm(fast)
    # Per generator: the 7x7 conv, two downsamplings, two convs per block, two upsamplings;
    # per discriminator the two middle convs.
    assert len(skip) == 2 * (1 + 2 + 2 * 1 + 2) + 2 * 2
    rng = np.random.default_rng(4)
    for step in range(3):
        real_A, real_B = (rng.uniform(-1, 1, (2, 3, 16, 16)) for _ in range(2))
        got = fast.train_step(real_A, real_B)
        with nn.fast.disabled():
            want = plain.train_step(real_A, real_B)
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), (step, key)
        ours, theirs = parameters(fast), parameters(plain)
        for name, p in theirs.items():
            q = ours[name]
            scale = max(1.0, np.abs(p.grad).max())
            np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=1e-12 * scale,
                                       err_msg=f"gradient of {name}, step {step}")
            if name not in skip:
                np.testing.assert_allclose(q.data, p.data, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{name} after step {step}")
    for key, value in plain.state_dict().items():
        if any(key.startswith(f"{opt}.{kind}") for opt in ("optimizer_G", "optimizer_D")
               for kind in ("m.", "v.")):
            np.testing.assert_allclose(fast.state_dict()[key], value, rtol=1e-12, atol=1e-12,
                                       err_msg=key)


@pytest.mark.parametrize("fast", [True, False])
def test_the_generator_loss_is_the_official_one(fast):
    """L_G term by term from the official code's six calls, one image set per call."""
    model = tiny(seed=6)
    rng = np.random.default_rng(7)
    a, b = (nn.Tensor(rng.uniform(-1, 1, (2, 3, 16, 16))) for _ in range(2))
    G_A, G_B, D_A, D_B = (getattr(model, name) for name in NETS)
    fake_B, fake_A = G_A(a), G_B(b)
    want = {"G_A": F.mse_loss(D_A(fake_B), 1.0), "G_B": F.mse_loss(D_B(fake_A), 1.0),
            "cycle_A": F.l1_loss(G_B(fake_B), a) * 10.0,
            "cycle_B": F.l1_loss(G_A(fake_A), b) * 10.0,
            "idt_A": F.l1_loss(G_A(b), b) * 5.0, "idt_B": F.l1_loss(G_B(a), a) * 5.0}
    nn.fast.enabled(fast)
    try:
        loss_G, losses, got_A, got_B = model.generator_loss(a, b)
    finally:
        nn.fast.enabled(True)
    assert set(losses) == set(want)
    for key, value in want.items():
        assert float(losses[key].data) == pytest.approx(float(value.data), rel=1e-12), key
    assert float(loss_G.data) == pytest.approx(sum(float(v.data) for v in want.values()),
                                               rel=1e-12)
    assert_same(got_A.data, fake_A.data, "fake_A")
    assert_same(got_B.data, fake_B.data, "fake_B")


def files_run_by(call):
    """The files of the project whose Python functions run during call()."""
    files = set()

    def note(frame, event, arg):
        if event == "call":
            files.add(os.path.relpath(frame.f_code.co_filename, ROOT))
    sys.setprofile(note)
    try:
        call()
    finally:
        sys.setprofile(None)
    return {f for f in files if not f.startswith(("..", "<")) and "site-packages" not in f}


def test_with_the_fast_layer_off_a_step_runs_only_the_core_files():
    model = CycleGAN(ngf=2, ndf=2, n_blocks=1, pool_size=1, seed=0)
    batch = np.zeros((1, 3, 32, 32), np.float32)
    model.train_step(batch, batch)
    code = ("import nn, os, sys; print(' '.join(os.path.relpath(m.__file__) for name, m in "
            "sys.modules.items() if name.split('.')[0] == 'nn'))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    core = {"cyclegan.py"} | {f for f in loaded if not f.startswith(os.path.join("nn", "fast"))}
    with nn.fast.disabled():
        plain = files_run_by(lambda: model.train_step(batch, batch))
    fast = files_run_by(lambda: model.train_step(batch, batch))
    plain.discard(os.path.join("tests", "test_fast_layer.py"))     # the lambda above
    assert {"cyclegan.py", os.path.join("nn", "convolution.py")} <= plain <= core, plain - core
    assert {os.path.join("nn", "fast", f) for f in ("layers.py", "convolution.py", "optim.py",
                                                    "batching.py")} <= fast


def test_cat_forward_and_gradient():
    rng = np.random.default_rng(7)
    a = nn.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    b = nn.Tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    np.testing.assert_array_equal(cat([a, b], axis=1).data,
                                  np.concatenate([a.data, b.data], axis=1))
    assert nn.gradcheck(lambda a, b: cat([a, b], axis=1), [a, b], seed=8)
    assert nn.gradcheck(lambda a, b: cat([b, a, b], axis=-2), [a, b], seed=9)

"""Modules: parameter names and order, state_dict loading and its errors, dtype and device
moves, train/eval, initialisation."""
from collections import OrderedDict

import numpy as np
import pytest

from nn import fake_cupy
import nn


class Block(nn.Module):
    """A module with a parameter of its own, a child, and a shared parameter."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, np.float32))
        self.body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(),
                                  nn.InstanceNorm2d(2, affine=True))
        self.again = self.scale  # registered twice, listed once

    def forward(self, x):
        return self.body(x) * self.scale.reshape(1, 2, 1, 1)


def model():
    return nn.Sequential(nn.Conv2d(3, 2, 3, rng=np.random.default_rng(0)), nn.LeakyReLU(0.2),
                         Block(), nn.ConvTranspose2d(2, 3, 3, stride=2, bias=False))


KEYS = ["0.weight", "0.bias", "2.scale", "2.body.0.weight", "2.body.0.bias",
        "2.body.2.weight", "2.body.2.bias", "3.weight"]


def test_named_parameters_and_state_dict_keys_in_registration_order():
    m = model()
    assert [name for name, _ in m.named_parameters()] == KEYS
    assert list(m.state_dict()) == KEYS
    assert [p.shape for p in m.parameters()] == [(2, 3, 3, 3), (2,), (2,), (2, 2, 3, 3), (2,),
                                                 (2,), (2,), (2, 3, 3, 3)]
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert [name for name, _ in m.named_modules()][:4] == ["", "0", "1", "2"]
    assert len(m) == 4 and isinstance(m[1], nn.LeakyReLU)


def test_pytorch_initialisation_bounds_and_seeding():
    conv = nn.Conv2d(3, 8, (3, 5), rng=np.random.default_rng(1))
    bound = 1 / np.sqrt(3 * 3 * 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound  # uniform over the whole range
    again = nn.Conv2d(3, 8, (3, 5), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(conv.weight.data, again.weight.data)
    t = nn.ConvTranspose2d(4, 2, 3)
    bound = 1 / np.sqrt(2 * 3 * 3)  # fan_in from weight.shape[1:] = (out_channels, KH, KW)
    assert 0.8 * bound < np.abs(t.weight.data).max() <= bound
    norm = nn.InstanceNorm2d(3, affine=True)
    assert norm.weight.data.tolist() == [1, 1, 1] and norm.bias.data.tolist() == [0, 0, 0]
    assert nn.InstanceNorm2d(3).parameters() == []


def test_init_normal_keeps_dtype_and_device_and_repeats():
    p = nn.Parameter(np.zeros((300,), np.float32))
    nn.init.normal_(p, 0.0, 0.02, rng=np.random.default_rng(2))
    assert p.dtype == np.float32 and abs(float(p.data.std()) - 0.02) < 0.003
    on_device = nn.Parameter(fake_cupy.zeros((300,), dtype=np.float32))
    nn.init.normal_(on_device, 0.0, 0.02, rng=np.random.default_rng(2))
    assert isinstance(on_device.data, fake_cupy.DeviceArray) and on_device.dtype == np.float32
    np.testing.assert_array_equal(on_device.data.get(), p.data)  # same seed, same weights
    with pytest.raises(ValueError, match="rng="):
        nn.init.normal_(p, 0.0, 0.02)


def test_load_state_dict_copies_values_into_the_parameters(xp):
    source, target = model(), model().to(xp)
    for p in source.parameters():
        p.data += 1.0
    data_before = [p.data for p in target.parameters()]
    target.load_state_dict(source.state_dict())
    for (name, p), before in zip(target.named_parameters(), data_before):
        assert p.data is before and nn.get_array_module(p.data) is xp  # copied in place
        np.testing.assert_array_equal(nn.to_host(p.data), source.state_dict()[name], err_msg=name)


def test_load_state_dict_casts_to_the_parameters_dtype():
    m = nn.Conv2d(1, 1, 1)
    m.load_state_dict({"weight": np.full((1, 1, 1, 1), 2.0), "bias": np.zeros(1)})
    assert m.weight.dtype == np.float32 and m.weight.data.item() == 2.0


@pytest.mark.parametrize("edit, error, message", [
    (lambda s: s.pop("2.body.0.weight"), KeyError, "missing key '2.body.0.weight'"),
    (lambda s: s.update({"2.body.1.weight": np.ones(2)}), KeyError,
     "unexpected key '2.body.1.weight'"),
    (lambda s: s.update({"0.bias": np.ones(5)}), ValueError,
     r"'0.bias' has shape \(5,\) in the state but \(2,\) in the model"),
], ids=["missing", "unexpected", "mis_shaped"])
def test_load_state_dict_names_the_first_bad_key(edit, error, message):
    m = model()
    state = OrderedDict((k, v.copy()) for k, v in m.state_dict().items())
    edit(state)
    state["3.weight"] = np.ones((9,))  # a later problem: the first one must be reported
    before = [p.data.copy() for p in m.parameters()]
    with pytest.raises(error, match=message):
        m.load_state_dict(state)
    for p, old in zip(m.parameters(), before):  # nothing was half-loaded
        np.testing.assert_array_equal(p.data, old)


def test_to_dtype_casts_every_parameter_and_keeps_training_working():
    m = model().to(dtype=np.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    y = m(nn.Tensor(np.ones((1, 3, 6, 6))))
    assert y.dtype == np.float64
    y.sum().backward()
    assert all(p.grad is not None and p.grad.dtype == np.float64 for p in m.parameters())
    m.to(dtype=np.float32)
    assert all(p.dtype == np.float32 and p.grad is None for p in m.parameters())


def test_to_a_device_moves_every_parameter_and_back():
    m = model()
    host = {k: v.copy() for k, v in m.state_dict().items()}
    m.to(fake_cupy)
    assert all(isinstance(p.data, fake_cupy.DeviceArray) for p in m.parameters())
    assert all(isinstance(v, fake_cupy.DeviceArray) for v in m.state_dict().values())
    m.to("cpu", dtype=np.float64)
    for name, value in m.state_dict().items():
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
        np.testing.assert_array_equal(value, host[name])
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        m.to("tpu")


def test_train_and_eval_reach_every_submodule():
    m = model()
    assert all(sub.training for _, sub in m.named_modules())
    assert m.eval() is m
    assert not any(sub.training for _, sub in m.named_modules())
    m.train()
    assert all(sub.training for _, sub in m.named_modules())


def test_zero_grad_and_reassignment():
    m = model()
    m(nn.Tensor(np.ones((1, 3, 5, 5), np.float32))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    block = Block()
    block.scale = nn.Parameter(np.zeros(2, np.float32))  # replaces, keeps the slot's order
    block.body = None                                     # no longer a child
    assert [n for n, _ in block.named_parameters()] == ["scale", "again"]


def test_module_errors_and_repr():
    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(1))

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\)"):
        Forgetful()
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(1)
    text = repr(model())
    assert "(0): Conv2d(3, 2, kernel_size=(3, 3)" in text and "(2): Block(" in text
    assert "output_padding=(0, 0)" in text


def test_linear_layout_initialisation_and_repr():
    layer = nn.Linear(20, 3, rng=np.random.default_rng(3))
    assert layer.weight.shape == (3, 20) and layer.bias.shape == (3,)   # PyTorch's (out, in)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    bound = 1 / np.sqrt(20)                                             # U(-1/sqrt(in), ...)
    assert 0.8 * bound < np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound and layer.weight.dtype == np.float32
    again = nn.Linear(20, 3, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)
    assert nn.Linear(2, 4, bias=False).bias is None
    assert [n for n, _ in nn.Linear(2, 4, bias=False).named_parameters()] == ["weight"]
    assert repr(layer) == "Linear(in_features=20, out_features=3, bias=True)"
    y = layer(nn.Tensor(np.ones((5, 20), np.float32)))
    assert y.shape == (5, 3)

"""Devices: nn follows the data onto the CuPy stand-in, CuPy is loaded with clear errors, and
``import nn`` stays cheap. (The stand-in itself is held to CuPy in tests/test_fake_cupy.py,
and what a step costs on it in tests/test_device_costs.py.)"""
import subprocess
import sys
import types

import numpy as np
import pytest

import fake_cupy
import nn
import nn.functional as F
from nn.backend import get_array_module, load_cupy, to_device, to_host


# --- nn follows the data --------------------------------------------------------------------

def test_get_array_module_and_transfers(xp, to_xp):
    d = to_xp([1.0, 2.0])
    assert get_array_module(d) is xp and get_array_module(None, d) is xp
    assert get_array_module(np.ones(2), 3.0) is np
    host = to_host(d)
    assert isinstance(host, np.ndarray) and host.tolist() == [1.0, 2.0]
    assert to_device(d, xp) is d
    assert get_array_module(to_device(host, xp)) is xp


def test_tensor_and_module_move_to_a_device():
    t = nn.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    moved = t.to(fake_cupy, dtype=np.float64)
    assert get_array_module(moved.data) is fake_cupy and moved.dtype == np.float64
    assert moved.requires_grad and get_array_module(t.data) is np
    assert isinstance(moved.numpy(), np.ndarray)

    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.InstanceNorm2d(3, affine=True), nn.ReLU(),
                          nn.ConvTranspose2d(3, 2, 3))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    assert model.to(fake_cupy) is model
    for name, p in model.named_parameters():
        assert get_array_module(p.data) is fake_cupy, name
        np.testing.assert_array_equal(p.data.get(), before[name])
    y = model(nn.Tensor(fake_cupy.asarray(np.ones((1, 2, 5, 5), np.float32))))
    assert get_array_module(y.data) is fake_cupy and y.dtype == np.float32
    model.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())


def test_a_host_input_to_a_device_model_is_refused():
    model = nn.Conv2d(1, 1, 3).to(fake_cupy)
    with pytest.raises(TypeError, match="NumPy array"):
        model(nn.Tensor(np.ones((1, 1, 4, 4), np.float32)))


# --- loading CuPy ---------------------------------------------------------------------------

def test_load_cupy_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(RuntimeError, match="pip install cupy"):
        load_cupy()
    with pytest.raises(RuntimeError, match="CuPy"):
        nn.Tensor(np.ones(2)).to("cuda")


def _cupy_whose_device_count(answer):
    def count():
        if isinstance(answer, Exception):
            raise answer
        return answer
    runtime = types.SimpleNamespace(getDeviceCount=count)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))


@pytest.mark.parametrize("answer, message", [
    (RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected"), "no CUDA device"),
    (0, "no CUDA device")])
def test_load_cupy_without_a_device_says_so(monkeypatch, answer, message):
    monkeypatch.setitem(sys.modules, "cupy", _cupy_whose_device_count(answer))
    with pytest.raises(RuntimeError, match=message):
        load_cupy()


def test_load_cupy_returns_cupy_when_a_device_answers(monkeypatch):
    fake = _cupy_whose_device_count(1)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert load_cupy() is fake


def test_import_nn_loads_no_plotting_imaging_or_cupy():
    code = ("import sys, nn, nn.functional, nn.optim\n"
            "heavy = [m for m in ('matplotlib', 'PIL', 'cupy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(nn.__file__).parent.parent))
    assert result.returncode == 0, result.stderr


def test_forward_and_backward_never_fall_back_to_the_host():
    # Every op of a small network, forward and backward, on the stand-in: a NumPy array mixed
    # in raises TypeError, an implicit conversion too, and any copy between host and device
    # or wait for the device (float(), .get()) is counted.
    rng = np.random.default_rng(0)
    x = nn.Tensor(fake_cupy.asarray(rng.standard_normal((2, 2, 6, 5)).astype(np.float32)),
                  requires_grad=True)
    w = nn.Tensor(fake_cupy.asarray(rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
                  requires_grad=True)
    with fake_cupy.counting() as cost:
        y = F.pad(x, (1, 1, 2, 1), "reflect")
        y = F.instance_norm(F.conv2d(y, w, stride=2, padding=1))
        y = F.sigmoid(F.tanh(F.leaky_relu(F.relu(y) - 0.1, 0.2)))
        loss = F.l1_loss(y, 0.5) + F.mse_loss(y, y.detach() * 0.5) + (
            y.exp().log().abs() @ y.transpose(0, 1, 3, 2)).mean()
        loss.backward()
    assert (cost.to_device, cost.to_host, cost.synchronizations) == (0, 0, 0), cost
    for t in (x, w):
        assert get_array_module(t.grad) is fake_cupy and t.grad.dtype == np.float32

"""Devices: nn follows the data onto the CuPy stand-in, CuPy is loaded with clear errors, and
``import nn`` stays cheap. (The stand-in itself is held to CuPy in tests/test_fake_cupy.py;
what nn's operations and a training step cost on it, transfers to the host included, in
tests/test_device_costs.py.)"""
import subprocess
import sys
import types

import numpy as np
import pytest

from nn import fake_cupy
import nn
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


def test_import_nn_loads_no_plotting_imaging_cupy_or_its_stand_in():
    code = ("import sys, nn, nn.functional, nn.optim\n"
            "heavy = [m for m in ('matplotlib', 'PIL', 'cupy', 'nn.fake_cupy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(nn.__file__).parent.parent))
    assert result.returncode == 0, result.stderr

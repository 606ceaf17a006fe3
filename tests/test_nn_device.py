"""Devices: the CuPy stand-in is as strict as CuPy, nn follows the data onto it, CuPy is
loaded with clear errors, and ``import nn`` stays cheap."""
import subprocess
import sys
import types

import numpy as np
import pytest

import fake_cupy
import nn
import nn.functional as F
from nn.backend import get_array_module, load_cupy, to_device, to_host


# --- the stand-in refuses what CuPy refuses ---------------------------------------------------

def device(a):
    return fake_cupy.asarray(np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("convert", [
    np.asarray, np.array, lambda d: np.exp(d), lambda d: np.sum(d), lambda d: np.stack([d, d]),
    lambda d: np.ones(3)[...].__setitem__(Ellipsis, d)],
    ids=["asarray", "array", "ufunc", "array_function", "stack", "assign_into_numpy"])
def test_no_implicit_conversion_to_numpy(convert):
    with pytest.raises(TypeError):
        convert(device([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("mix", [
    lambda d, h: d + h, lambda d, h: h + d, lambda d, h: d * h, lambda d, h: h - d,
    lambda d, h: d @ h, lambda d, h: h @ d, lambda d, h: d < h,
    lambda d, h: fake_cupy.maximum(d, h), lambda d, h: fake_cupy.where(d > 0, d, h),
    lambda d, h: d.__setitem__(slice(None), h), lambda d, h: d[np.array([0, 1])],
    lambda d, h: fake_cupy.stack([d, h])],
    ids=["add", "radd", "mul", "rsub", "matmul", "rmatmul", "compare", "maximum", "where",
         "setitem", "numpy_index", "stack"])
def test_mixing_device_and_numpy_arrays_is_refused(mix):
    with pytest.raises(TypeError, match="NumPy array"):
        mix(device([1.0, 2.0, 3.0]), np.ones(3))


def test_numpy_in_place_update_from_a_device_array_is_refused():
    host = np.ones(3)
    with pytest.raises(TypeError):
        host += device([1.0, 2.0, 3.0])


def test_transfers_copy_and_results_stay_on_the_device():
    host = np.arange(6.0).reshape(2, 3)
    d = fake_cupy.asarray(host)
    host[0, 0] = 100.0                       # asarray copied: the device does not see this
    assert float(d[0, 0]) == 0.0
    back = d.get()
    back[0, 1] = 100.0                       # get copied: the device does not see this either
    assert float(d[0, 1]) == 1.0
    assert isinstance(back, np.ndarray) and fake_cupy.asarray(d) is d
    for result in (d.sum(), d[1, 2], d.max(axis=0), d.T, d.reshape(3, 2), d.astype(np.float32),
                   d.swapaxes(0, 1), d.copy(), d.mean(), fake_cupy.exp(d), d * 2, 1 - d, -d,
                   fake_cupy.lib.stride_tricks.as_strided(d, (2, 2), d.strides)):
        assert isinstance(result, fake_cupy.DeviceArray)
        assert result.__array_namespace__() is fake_cupy
    assert d.sum().shape == () and float(d.sum()) == 15.0 and int(d[1, 1]) == 4
    assert d[1, 2].item() == 5.0 and f"{d[0, 2]:.1f}" == "2.0"
    with pytest.raises(TypeError, match="one-element"):
        float(d)


def test_in_place_updates_write_through_views():
    d = fake_cupy.zeros((2, 4))
    d[:, 1:3] += 1.0
    view = d[1]
    view *= 3.0
    d[0, 3] = 7.0
    np.testing.assert_array_equal(d.get(), [[0, 1, 1, 7], [0, 3, 3, 0]])
    fake_cupy.add.at(d, (0, 0), 5.0)
    assert float(d[0, 0]) == 5.0


def test_random_generator_has_cupys_methods_only():
    rng = fake_cupy.random.default_rng(0)
    for name in ("normal", "permutation", "choice", "shuffle"):
        assert not hasattr(rng, name), name
    draws = [rng.standard_normal((2, 3), dtype=np.float32), rng.random(4),
             rng.integers(0, 5, size=3), rng.uniform(-1, 1, size=(2,))]
    assert all(isinstance(a, fake_cupy.DeviceArray) for a in draws)
    assert draws[0].dtype == np.float32 and draws[2].dtype == np.int64
    # Same seed, same stream; but not NumPy's stream (CuPy's differs too).
    again = fake_cupy.random.default_rng(0).standard_normal((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(again.get(), draws[0].get())
    assert not np.allclose(np.random.default_rng(0).standard_normal((2, 3)), draws[0].get())


def _lookup(root, dotted):
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def test_the_stand_in_exposes_exactly_its_list():
    public = {name for name in dir(fake_cupy) if not name.startswith("_")}
    assert public - {"DeviceArray", "EXPOSED"} == {name.split(".")[0] for name in fake_cupy.EXPOSED}
    for name in fake_cupy.EXPOSED:
        _lookup(fake_cupy, name)  # AttributeError if the list names something absent


def test_every_exposed_name_exists_in_cupy():
    cupy = pytest.importorskip("cupy")  # imports without a GPU
    missing = [name for name in fake_cupy.EXPOSED if not _has(cupy, name)]
    assert not missing, f"fake_cupy exposes names that CuPy {cupy.__version__} lacks: {missing}"


def _has(root, dotted):
    try:
        _lookup(root, dotted)
        return True
    except AttributeError:
        return False


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
    # Every op of a small network, forward and backward, on the stand-in: any NumPy call on
    # device data, or any NumPy array mixed in, raises TypeError here.
    rng = np.random.default_rng(0)
    x = nn.Tensor(fake_cupy.asarray(rng.standard_normal((2, 2, 6, 5)).astype(np.float32)),
                  requires_grad=True)
    w = nn.Tensor(fake_cupy.asarray(rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
                  requires_grad=True)
    y = F.pad(x, (1, 1, 2, 1), "reflect")
    y = F.instance_norm(F.conv2d(y, w, stride=2, padding=1))
    y = F.sigmoid(F.tanh(F.leaky_relu(F.relu(y) - 0.1, 0.2)))
    loss = F.l1_loss(y, 0.5) + F.mse_loss(y, y.detach() * 0.5) + (y.exp().log().abs() @
                                                                  y.transpose(0, 1, 3, 2)).mean()
    loss.backward()
    for t in (x, w):
        assert get_array_module(t.grad) is fake_cupy and t.grad.dtype == np.float32

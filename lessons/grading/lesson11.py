"""Checks of lesson 11: device-agnostic code, run on NumPy and on the tests' CuPy stand-in.

tests/fake_cupy.py wraps NumPy arrays in a device array that refuses, as CuPy does, to be
mixed with NumPy arrays or converted to one implicitly. When it is absent (an exercise folder
copied out of the repository), the device part is replaced by a look at the source for NumPy.
"""
import ast
import importlib.util
import inspect
import os
import re
import sys
import textwrap

import numpy as np

import nn

from .core import Wrong, check_array, _where

MODULE = "ex11_devices"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def device_module():
    """The CuPy stand-in tests/fake_cupy.py as a module, or None when it is not there."""
    if "fake_cupy" in sys.modules:
        return sys.modules["fake_cupy"]
    path = os.path.join(ROOT, "tests", "fake_cupy.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("fake_cupy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_cupy"] = module
    spec.loader.exec_module(module)
    return module


def _on_device(what, fn, *args):
    """fn(*args) with device arrays; a refusal to mix arrays becomes a Wrong that says so."""
    try:
        return fn(*args)
    except TypeError as e:
        raise Wrong(f"{what} on a device array (the CuPy stand-in) raised TypeError: {e}"
                    f"{_where(e)}. Create helper arrays with xp = nn.get_array_module(x), never "
                    "with np") from None


def _names_numpy(fn):
    """The first 'np.something' in fn's code (its docstring and comments left out), or None."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        del body[0]
    match = re.search(r"\b(np|numpy)\.\w+", ast.unparse(tree))
    return match.group(0) if match else None


MEAN, STD = [0.5, -0.2, 0.1], [0.5, 2.0, 0.25]


def check_normalize(module):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    expected = (x - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))
    check_array("normalize(x, mean, std) for a float64 x", module.normalize(x.copy(), MEAN, STD),
                expected, atol=1e-12)
    y = module.normalize(x.astype(np.float32), MEAN, STD)
    if getattr(y, "dtype", None) != np.float32:
        raise Wrong(f"normalize of a float32 x returned {getattr(y, 'dtype', type(y))}: keep "
                    "x's dtype (xp.asarray(mean, dtype=x.dtype); a float64 array of mean "
                    "upcasts the whole batch)")
    check_array("normalize(x, mean, std) for a float32 x", y, expected, atol=1e-5, rtol=1e-5)
    device = device_module()
    if device is None:
        name = _names_numpy(module.normalize)
        if name:
            raise Wrong(f"normalize names NumPy ({name}), which a GPU array refuses to be "
                        "mixed with; use xp = nn.get_array_module(x)")
        return
    y = _on_device("normalize", module.normalize, device.asarray(x.astype(np.float32)), MEAN, STD)
    if nn.get_array_module(y) is not device:
        raise Wrong(f"normalize of a device array returned {type(y).__name__}, not a device "
                    "array: the result must stay on x's device")
    if y.dtype != np.float32:
        raise Wrong(f"normalize of a float32 device array returned {y.dtype}: keep x's dtype")
    check_array("normalize(x, mean, std) on the device", y, expected, atol=1e-5, rtol=1e-5)


def _grid_loops(batch, ncols):
    n, c, h, w = batch.shape
    rows = -(-n // ncols)
    grid = np.zeros((rows * h, ncols * w, c))
    for k in range(n):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    value = np.clip((batch[k, ch, y, x] + 1) * 127.5, 0, 255)
                    grid[(k // ncols) * h + y, (k % ncols) * w + x, ch] = np.round(value)
    return grid


def _check_grid(what, grid, expected):
    if not isinstance(grid, np.ndarray):
        raise Wrong(f"{what} returned {type(grid).__name__}, not a NumPy array: move the grid "
                    "to the host with nn.to_host(...) before returning it")
    if grid.dtype != np.uint8:
        raise Wrong(f"{what} returned dtype {grid.dtype}: an image is uint8 (0 to 255)")
    check_array(what, grid.astype(np.float64), expected, atol=0, rtol=0)


def check_image_grid(module):
    rng = np.random.default_rng(0)
    # Pixel values away from the .5 rounding ties, plus a few just outside [-1, 1] (clip).
    levels = rng.integers(0, 255, (5, 3, 4, 6)) + rng.choice([0.2, 0.7], (5, 3, 4, 6))
    batch = (levels / 127.5 - 1).astype(np.float32)
    batch[0, 0, 0, :2] = [1.01, -1.01]
    for n, ncols in [(5, 2), (4, 4), (3, 1)]:
        expected = _grid_loops(batch[:n].astype(np.float64), ncols)
        _check_grid(f"image_grid(batch of shape {batch[:n].shape}, ncols={ncols})",
                    module.image_grid(batch[:n].copy(), ncols), expected)
    device = device_module()
    if device is not None:
        grid = _on_device("image_grid", module.image_grid, device.asarray(batch), 2)
        _check_grid("image_grid of a device batch", grid, _grid_loops(batch.astype(np.float64), 2))


CHECKS = {"11.1": check_normalize, "11.2": check_image_grid}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"11.1": 2, "11.2": 2}

"""Fixtures shared by the whole suite: the array backend every device-aware test runs on, and
one finished tiny training run.

``xp`` is the array module a test runs on: NumPy, the strict CuPy stand-in of
nn/fake_cupy.py (no GPU needed), and real CuPy when it imports and a CUDA device answers.
A test written once against ``xp`` therefore runs on every backend; it is never copied per
device. ``to_xp(host_array)`` moves a NumPy array to the backend under test.

``finished_run`` is trained once for the whole suite (here, not in a test module, where each
module importing it would train its own); ``run_copy`` is a copy of it to change.
"""
import functools
import shutil

import numpy as np
import pytest

from nn import fake_cupy
from cli import TINY


@functools.lru_cache(maxsize=None)
def cuda_cupy():
    """The cupy module if it imports and a CUDA device answers, else None."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # CUDARuntimeError, or a missing driver library
        return None


@pytest.fixture(params=["numpy", "fake_cupy", "cupy"])
def xp(request):
    """The array module under test: numpy, fake_cupy, or cupy (skipped without a GPU)."""
    if request.param == "numpy":
        return np
    if request.param == "fake_cupy":
        return fake_cupy
    cupy = cuda_cupy()
    if cupy is None:
        pytest.skip("cupy is not installed or no CUDA device answers")
    return cupy


@pytest.fixture
def to_xp(xp):
    """to_xp(a): a copy of the host array (or list, or number) ``a`` on the backend ``xp``."""
    def move(a, dtype=None):
        host = np.asarray(a, dtype=dtype)
        return host if xp is np else xp.asarray(host)
    return move


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The output folder of a finished TINY run (two epochs) of the built-in dataset; copy it
    (``run_copy``) before changing it."""
    import train
    out = tmp_path_factory.mktemp("finished") / "run"
    assert train.main(TINY + ["--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A copy of ``finished_run`` at tmp_path / "run", to change."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy

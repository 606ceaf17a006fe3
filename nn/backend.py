"""Where arrays live: NumPy on the CPU, CuPy (or any array module like it) on a GPU.

Every op asks its inputs which array module they belong to, ``xp = get_array_module(x)``,
and then calls ``xp.matmul``, ``xp.empty`` and so on. The device therefore follows the data:
nothing here is global, and no op names NumPy. This file is the only place in ``nn`` that
imports NumPy by name, as the module of host arrays and Python scalars.
"""
import numpy

__all__ = ["get_array_module", "to_host", "to_device", "resolve_device", "load_cupy"]


def get_array_module(*arrays):
    """The array module (``numpy``, ``cupy``, ...) of the first non-NumPy array, else NumPy.

    Arrays announce their module through the array-API method ``__array_namespace__``;
    CuPy before version 14 lacks it, so its arrays are recognised by their type's module.
    """
    for a in arrays:
        if isinstance(a, numpy.ndarray) or a is None:
            continue
        if type(a).__module__.startswith("cupy"):
            import cupy
            return cupy
        namespace = getattr(a, "__array_namespace__", None)
        if namespace is not None and not isinstance(a, numpy.generic):
            return namespace()
    return numpy


def to_host(a):
    """A NumPy copy of ``a`` (a NumPy array is returned as it is).

    Device arrays refuse ``numpy.asarray``, so the copy is asked for explicitly with ``.get()``,
    CuPy's method for a device-to-host transfer.
    """
    if isinstance(a, (numpy.ndarray, numpy.generic)):
        return a
    return a.get()


def to_device(a, xp):
    """``a`` as an array of module ``xp``, copying between host and device when they differ."""
    if get_array_module(a) is xp:
        return a
    return xp.asarray(to_host(a))


def load_cupy():
    """Import CuPy and check that a CUDA device answers; raise RuntimeError saying what is missing."""
    try:
        import cupy
    except ImportError as e:
        raise RuntimeError(
            "--gpu needs CuPy, which is not installed. Install the build for your CUDA version, "
            "for example: pip install cupy-cuda12x  (or: pip install -e '.[gpu]')") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError, or a missing driver library
        raise RuntimeError(f"CuPy is installed but no CUDA device can be used: {e}") from e
    if count == 0:
        raise RuntimeError("CuPy is installed but this machine has no CUDA device.")
    return cupy


def resolve_device(device):
    """An array module from a device name ("cpu", "cuda", "gpu") or an array module itself."""
    if device in ("cpu", None):
        return numpy
    if device in ("cuda", "gpu"):
        return load_cupy()
    if hasattr(device, "asarray"):
        return device
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or an array module")

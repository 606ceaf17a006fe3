"""Where arrays live: NumPy on the CPU, CuPy (or any array module like it) on a GPU.

Every op asks its inputs which array module they belong to, ``xp = get_array_module(x)``,
and then calls ``xp.matmul``, ``xp.empty`` and so on. The device therefore follows the data:
nothing here is global, and no op names NumPy. This file is the only place in ``nn`` that
imports NumPy by name, as the module of host arrays and Python scalars.

It is also where an op learns whether a faster road to its result is to be taken:
``faster(plain, xp)`` returns ``plain`` (a Function class or a function) or the road that the
fast layer, ``nn/fast/``, registered for it on arrays of module ``xp``. With the fast layer
off (``nn.fast.enabled(False)``) every op runs its plain definition.
"""
import sys

import numpy

__all__ = ["get_array_module", "to_host", "to_device", "resolve_device", "load_cupy", "faster"]

FAST_ROADS = {"on": True, "numpy": {}, "device": {}}
"""Filled by nn/fast: for host (NumPy) and for device (CuPy) arrays, {plain: faster road}."""


def faster(plain, xp):
    """The fast layer's road to ``plain``'s result on arrays of ``xp``, or ``plain`` itself."""
    if not FAST_ROADS["on"]:
        return plain
    return FAST_ROADS["numpy" if xp is numpy else "device"].get(plain, plain)


def get_array_module(*arrays):
    """The array module (``numpy``, ``cupy``, ...) of the first non-NumPy array, else NumPy.

    A CuPy array is a ``cupy.ndarray``: its type is the ``ndarray`` of the module that
    defines it, and that module is the array module (``_defining_module``). CuPy 14's arrays
    have no ``__array_namespace__``; other array-API libraries' arrays are found through it.
    """
    for a in arrays:
        if a is None or isinstance(a, (numpy.ndarray, numpy.generic)):
            continue
        module = _defining_module(type(a))
        if module is not None:
            return module
        namespace = getattr(a, "__array_namespace__", None)
        if namespace is not None:
            return namespace()
    return numpy


def _defining_module(array_type):
    """The imported module whose ``ndarray`` is ``array_type``, or None.

    ``cupy.ndarray.__module__`` is "cupy"; a type defined deeper (``pkg.sub.ndarray``) is
    looked up from its own module outwards, so the innermost module exposing it wins.
    """
    name = array_type.__module__ or ""
    while name:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ndarray", None) is array_type:
            return module
        name = name.rpartition(".")[0]
    return None


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
            "--gpu needs CuPy, which is not installed. Install the build for your CUDA version: "
            "pip install cupy-cuda12x (CUDA 12) or pip install cupy-cuda13x (CUDA 13)") from e
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

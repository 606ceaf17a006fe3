"""The CuPy stand-in the grader runs device code on, found in one place.

nn/fake_cupy.py wraps NumPy arrays in a device array that refuses, as CuPy does, to be mixed
with NumPy arrays or converted to one implicitly. Every check that grades an exercise on a
device gets it from ``device_module()``.
"""


def device_module():
    """The CuPy stand-in, nn.fake_cupy (imported on demand: ``import nn`` does not load it)."""
    from nn import fake_cupy
    return fake_cupy

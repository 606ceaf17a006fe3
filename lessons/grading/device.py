"""The CuPy stand-in the grader runs device code on, found in one place.

tests/fake_cupy.py wraps NumPy arrays in a device array that refuses, as CuPy does, to be mixed
with NumPy arrays or converted to one implicitly. Every check that grades an exercise on a
device gets it from ``device_module()``; when it is absent (an exercise folder copied out of
the repository), the checks grade on NumPy alone.
"""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAND_IN = os.path.join(ROOT, "tests", "fake_cupy.py")


def device_module():
    """The CuPy stand-in as a module, or None when it is not there."""
    if "fake_cupy" in sys.modules:
        return sys.modules["fake_cupy"]
    if not os.path.exists(STAND_IN):
        return None
    spec = importlib.util.spec_from_file_location("fake_cupy", STAND_IN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_cupy"] = module
    spec.loader.exec_module(module)
    return module

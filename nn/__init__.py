"""nn: a small autograd engine and layer library on NumPy (or CuPy) arrays.

Names and layouts follow PyTorch: images are (N, C, H, W), ``import nn.functional as F``,
``nn.Conv2d``, ``state_dict``. Importing nn loads NumPy only (no plotting, imaging or CuPy),
and of nn what the lessons teach; the file formats (``nn.save``, ``nn.load_pth``, ...) load
when first used. The fast layer (nn/fast/) is on from the start: ``nn.fast.enabled(False)``.
"""
import importlib

from .tensor import Tensor, Parameter, Function, no_grad, is_grad_enabled, cat
from . import functional
from . import init
from . import optim
from .modules import (Module, Sequential, Linear, Conv2d, ConvTranspose2d, InstanceNorm2d,
                      ReflectionPad2d, ReLU, LeakyReLU, Tanh, call_each)
from .gradcheck import gradcheck, GradcheckError
from .backend import get_array_module, to_host
from . import fast

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled", "cat", "functional",
           "init", "optim", "Module", "Sequential", "Linear", "Conv2d", "ConvTranspose2d",
           "InstanceNorm2d", "ReflectionPad2d", "ReLU", "LeakyReLU", "Tanh", "call_each",
           "gradcheck", "GradcheckError", "save", "load", "load_pth", "save_pth", "PthError",
           "get_array_module", "to_host", "fast"]

_LOADED_WHEN_USED = {"save": "serialization", "load": "serialization", "load_pth": "pth",
                     "save_pth": "pth", "PthError": "pth"}


def __getattr__(name):
    """nn.save, nn.load_pth, ... and the submodules not imported above, loaded on first use."""
    if name in _LOADED_WHEN_USED:
        return getattr(importlib.import_module(f".{_LOADED_WHEN_USED[name]}", __name__), name)
    if name in ("serialization", "pth", "state", "memory"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

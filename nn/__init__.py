"""nn: a small autograd engine and layer library on NumPy (or CuPy) arrays.

Names and layouts follow PyTorch: images are (N, C, H, W), ``import nn.functional as F``,
``nn.Conv2d``, ``state_dict``. Importing nn loads NumPy only (no plotting, imaging or CuPy).
"""
from .tensor import Tensor, Parameter, Function, no_grad, is_grad_enabled
from . import ops
from . import functional
from . import init
from . import optim
from .modules import (Module, Sequential, Linear, Conv2d, ConvTranspose2d, InstanceNorm2d,
                      ReflectionPad2d, ReLU, LeakyReLU, Tanh)
from .gradcheck import gradcheck, GradcheckError
from .serialization import save, load
from .pth import load_pth, save_pth, PthError
from .backend import get_array_module, to_host

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled", "functional",
           "init", "optim", "Module", "Sequential", "Linear", "Conv2d", "ConvTranspose2d",
           "InstanceNorm2d", "ReflectionPad2d", "ReLU", "LeakyReLU", "Tanh", "gradcheck",
           "GradcheckError", "save", "load", "load_pth", "save_pth", "PthError",
           "get_array_module", "to_host"]

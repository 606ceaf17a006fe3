"""Modules: layers that own parameters, with PyTorch's names, so state_dicts match.

A Module's attributes that are Parameters or Modules are registered in assignment order;
``named_parameters`` walks them and gives dotted names such as ``model.1.weight``.
"""
from collections import OrderedDict

from . import functional as F
from .backend import faster, get_array_module, resolve_device, to_device
from .convolution import pair
from .tensor import Parameter
from .backend import numpy as _host  # parameters are created on the host, then moved

__all__ = ["Module", "call_each", "Sequential", "Linear", "Conv2d", "ConvTranspose2d",
           "InstanceNorm2d", "ReflectionPad2d", "ReLU", "LeakyReLU", "Tanh"]


class Module:
    """Base class of every layer and network.

    Subclasses set Parameters and sub-Modules as attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               "before assigning attributes")
        # A replaced parameter or child keeps its place (as in PyTorch): state_dict keys stay
        # in the same order when a layer is swapped.
        if not isinstance(value, Parameter):
            self._parameters.pop(name, None)
        if not isinstance(value, Module):
            self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    # --- the parameter tree ------------------------------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self):
        """(dotted name, Parameter) pairs in registration order, each parameter once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    # --- state -------------------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: array} of every parameter (the arrays themselves, not copies)."""
        return OrderedDict((name, p.data) for name, p in self.named_parameters())

    def load_state_dict(self, state):
        """Copy arrays into the parameters, on the parameters' device and dtype.

        Raises KeyError or ValueError naming the first missing, unexpected or mis-shaped key.
        """
        from .state import check_state_dict  # loaded when a state is loaded, not by import nn
        own = OrderedDict(self.named_parameters())
        check_state_dict(state, {name: p.shape for name, p in own.items()}, "load_state_dict")
        for name, p in own.items():
            value = to_device(state[name], get_array_module(p.data))
            p.data[...] = value.astype(p.dtype, copy=False)

    def to(self, device=None, dtype=None):
        """Move every parameter to ``device`` ("cpu", "cuda" or an array module) and/or cast
        it to ``dtype``, in place; returns self."""
        xp = resolve_device(device) if device is not None else None
        for _, p in self.named_parameters():
            if xp is not None:
                p.data = to_device(p.data, xp)
            if dtype is not None:
                p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_lines = repr(child).split("\n")
            lines.append(f"  ({name}): " + "\n  ".join(child_lines))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""


def call_each(calls):
    """[module(x) for module, x in calls]: (Module, Tensor) pairs called one by one.

    The fast layer makes the calls of one module as one call on the batch of their inputs:
    the same results, as every layer of nn treats the images of a batch apart."""
    road = faster(call_each, get_array_module(calls[0][1].data))
    if road is not call_each:
        return road(calls)
    return [module(x) for module, x in calls]


class Sequential(Module):
    """Apply modules one after another; children are named "0", "1", ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


def _uniform_init(shape, fan_in, rng):
    """PyTorch's default for conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32."""
    bound = 1.0 / fan_in ** 0.5
    return rng.uniform(-bound, bound, size=shape).astype(_host.float32)


class Conv2d(Module):
    """weight: (out_channels, in_channels, KH, KW), bias: (out_channels,). See F.conv2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 rng=None):
        super().__init__()
        kh, kw = pair(kernel_size)
        self.stride, self.padding = pair(stride), pair(padding)
        rng = rng if rng is not None else _host.random.default_rng(0)
        fan_in = in_channels * kh * kw
        self.weight = Parameter(_uniform_init((out_channels, in_channels, kh, kw), fan_in, rng))
        self.bias = Parameter(_uniform_init((out_channels,), fan_in, rng)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        o, i, kh, kw = self.weight.shape
        return f"{i}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}"


class ConvTranspose2d(Module):
    """weight: (in_channels, out_channels, KH, KW), bias: (out_channels,). See F.conv_transpose2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True, rng=None):
        super().__init__()
        kh, kw = pair(kernel_size)
        self.stride, self.padding = pair(stride), pair(padding)
        self.output_padding = pair(output_padding)
        rng = rng if rng is not None else _host.random.default_rng(0)
        fan_in = out_channels * kh * kw  # PyTorch computes fan_in from weight.shape[1:]
        self.weight = Parameter(_uniform_init((in_channels, out_channels, kh, kw), fan_in, rng))
        self.bias = Parameter(_uniform_init((out_channels,), fan_in, rng)) if bias else None

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding)

    def extra_repr(self):
        i, o, kh, kw = self.weight.shape
        return (f"{i}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}")


class InstanceNorm2d(Module):
    """Normalise each sample's channels over H, W; with affine, learn weight and bias (C,)."""

    def __init__(self, num_features, eps=1e-5, affine=False):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.weight = Parameter(_host.ones(num_features, dtype=_host.float32)) if affine else None
        self.bias = Parameter(_host.zeros(num_features, dtype=_host.float32)) if affine else None

    def forward(self, x):
        return F.instance_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.weight is not None}"


class ReflectionPad2d(Module):
    """Mirror-pad H and W; padding: an int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)

    def forward(self, x):
        return F.pad(x, self.padding, mode="reflect")

    def extra_repr(self):
        return str(self.padding)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Linear(Module):
    """A fully connected layer, y = x W^T + b, as ``torch.nn.Linear``. See F.linear.

    x: (N, in_features) -> (N, out_features); weight: (out_features, in_features),
    bias: (out_features,). Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)),
    PyTorch's default, so that each output starts with about the spread of one input.
    """

    def __init__(self, in_features, out_features, bias=True, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = rng if rng is not None else _host.random.default_rng(0)
        self.weight = Parameter(_uniform_init((out_features, in_features), in_features, rng))
        self.bias = Parameter(_uniform_init((out_features,), in_features, rng)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

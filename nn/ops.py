"""Elementary differentiable operations, and the Tensor operators built on them.

Each backward returns gradients of the broadcast shape; ``Tensor.backward`` sums them back
to each input's shape (see ``_sum_to_shape``).

A Python number in an operation stays a Python number (``x * 0.5``, ``1 - x``, ``y - 1.0``):
the operations with a constant (``AddConstant`` ...) hold it, and every array library takes
it as an operand as it is, with the array's dtype (NEP 50). Turning it into an array first
would cost, on a GPU, an allocation and a host-to-device copy per number per step.
"""
import numbers

from .backend import get_array_module
from .tensor import Function, Tensor

__all__ = ["add", "sub", "mul", "div", "neg", "power", "matmul", "exp", "log", "abs",
           "sum", "mean", "reshape", "transpose", "getitem", "cat"]


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        gb = -g * self.a / (self.b * self.b)
        return g / self.b, gb


class _WithConstant(Function):
    """An operation of one array with a Python number c, which it keeps as a number."""

    def __init__(self, c):
        self.c = c


class AddConstant(_WithConstant):
    """a + c; d/da = 1. (a - c is a + (-c).)"""

    def forward(self, a):
        return a + self.c

    def backward(self, g):
        return g


class SubFromConstant(_WithConstant):
    """c - a; d/da = -1."""

    def forward(self, a):
        return self.c - a

    def backward(self, g):
        return -g


class MulConstant(_WithConstant):
    """a * c; d/da = c."""

    def forward(self, a):
        return a * self.c

    def backward(self, g):
        return g * self.c


class DivConstant(_WithConstant):
    """a / c; d/da = 1 / c."""

    def forward(self, a):
        return a / self.c

    def backward(self, g):
        return g / self.c


class ConstantDiv(_WithConstant):
    """c / a; d/da = -c / a^2."""

    def forward(self, a):
        self.a = a
        return self.c / a

    def backward(self, g):
        return -g * self.c / (self.a * self.a)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Power(Function):
    """a ** p for a constant exponent p: d/da = p * a ** (p - 1)."""

    def __init__(self, p):
        self.p = p

    def forward(self, a):
        self.a = a
        return a ** self.p

    def backward(self, g):
        return g * self.p * self.a ** (self.p - 1)


class MatMul(Function):
    """a (..., n, k) @ b (..., k, m) -> (..., n, m); grads g @ b^T and a^T @ g."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        # A vector is a one-row matrix on the left and a one-column matrix on the right.
        a = self.a[None, :] if self.a.ndim == 1 else self.a
        b = self.b[:, None] if self.b.ndim == 1 else self.b
        if self.b.ndim == 1:  # first: vector @ vector has a 0-d g, which this makes (1,)
            g = g[..., None]
        if self.a.ndim == 1:
            g = g[..., None, :]
        ga = g @ b.swapaxes(-1, -2)
        gb = a.swapaxes(-1, -2) @ g
        ga = ga[..., 0, :] if self.a.ndim == 1 else ga
        gb = gb[..., 0] if self.b.ndim == 1 else gb
        return ga, gb  # batch axes that broadcasting added are summed by Tensor.backward


class Exp(Function):
    def forward(self, a):
        self.y = get_array_module(a).exp(a)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    def forward(self, a):
        self.a = a
        return get_array_module(a).log(a)

    def backward(self, g):
        return g / self.a


class Abs(Function):
    """|a|; the gradient sign(a) is 0 at the kink a = 0."""

    def forward(self, a):
        self.sign = get_array_module(a).sign(a)
        return get_array_module(a).abs(a)

    def backward(self, g):
        return g * self.sign


class Sum(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        self.shape = a.shape
        return a.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        xp = get_array_module(g)
        if not self.keepdims and self.axis is not None:
            axes = (self.axis,) if isinstance(self.axis, int) else self.axis
            g = xp.expand_dims(g, tuple(ax % len(self.shape) for ax in axes))
        return xp.broadcast_to(g, self.shape)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.in_shape = a.shape
        return a.reshape(self.shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        self.axes = self.axes or tuple(reversed(range(a.ndim)))
        return a.transpose(self.axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inverse[ax] = i
        return g.transpose(inverse)


class GetItem(Function):
    """a[index]; the gradient is scattered back into zeros of a's shape."""

    def __init__(self, index):
        self.index = index

    def forward(self, a):
        self.shape = a.shape
        return a[self.index]

    def backward(self, g):
        xp = get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[self.index] = g  # basic indexing and slices: each element at most once
        return out


class Cat(Function):
    """Join arrays along one axis, as ``torch.cat``; the gradient is cut back into pieces."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        self.bounds = [0]
        for a in arrays:
            self.bounds.append(self.bounds[-1] + a.shape[self.axis])
        return get_array_module(*arrays).concatenate(arrays, axis=self.axis)

    def backward(self, g):
        index = [slice(None)] * g.ndim
        pieces = []
        for start, stop in zip(self.bounds, self.bounds[1:]):
            index[self.axis] = slice(start, stop)
            pieces.append(g[tuple(index)])
        return tuple(pieces)


def _constant(value):
    """``value`` as a Python number if it is a real number (a NumPy scalar becomes one, so
    that it takes the array's dtype as a Python number does), else None."""
    if isinstance(value, numbers.Real) and not isinstance(value, Tensor):
        return value.item() if hasattr(value, "item") else value
    return None


def _binary(a, b, general, constant_right, constant_left):
    """general()(a, b); or, when one side is a Python number, the Function that keeps it a
    number (constant_right(b)(a) or constant_left(a)(b)): no array is made for it."""
    if _constant(b) is not None:
        return constant_right(_constant(b))(a)
    if _constant(a) is not None:
        return constant_left(_constant(a))(b)
    return general()(a, b)


def add(a, b): return _binary(a, b, Add, AddConstant, AddConstant)
def sub(a, b): return _binary(a, b, Sub, lambda c: AddConstant(-c), SubFromConstant)
def mul(a, b): return _binary(a, b, Mul, MulConstant, MulConstant)
def div(a, b): return _binary(a, b, Div, DivConstant, ConstantDiv)
def neg(a): return Neg()(a)
def power(a, p): return Power(p)(a)
def matmul(a, b): return MatMul()(a, b)
def exp(a): return Exp()(a)
def log(a): return Log()(a)
def abs(a): return Abs()(a)  # noqa: A001 (the name PyTorch uses)
def sum(a, axis=None, keepdims=False): return Sum(axis, keepdims)(a)  # noqa: A001


def mean(a, axis=None, keepdims=False):
    """Sum divided by the number of elements summed."""
    shape = a.shape
    axes = range(len(shape)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    count = 1
    for ax in axes:
        count *= shape[ax]
    return Sum(axis, keepdims)(a) * (1.0 / count)


def reshape(a, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape(shape)(a)


def transpose(a, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose(axes or None)(a)


def getitem(a, index):
    return GetItem(index)(a)


def cat(tensors, axis=0):
    """Tensors of equal shape but along ``axis`` -> one tensor: (N1, ...), (N2, ...) -> (N1 + N2, ...)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Cat(axis)(*tensors)


def _swap(fn):
    return lambda self, other: fn(other, self)


Tensor.__add__ = add
Tensor.__radd__ = _swap(add)
Tensor.__sub__ = sub
Tensor.__rsub__ = _swap(sub)
Tensor.__mul__ = mul
Tensor.__rmul__ = _swap(mul)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _swap(div)
Tensor.__neg__ = neg
Tensor.__pow__ = power
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _swap(matmul)
Tensor.__getitem__ = getitem
Tensor.exp = exp
Tensor.log = log
Tensor.abs = abs
Tensor.sum = sum
Tensor.mean = mean
Tensor.reshape = reshape
Tensor.transpose = transpose
Tensor.T = property(lambda self: transpose(self))

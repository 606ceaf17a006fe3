"""The autograd engine: a Tensor holds an array and remembers the Function that made it.

A Function has ``forward`` on raw arrays and ``backward`` from the gradient of its output to
the gradients of its inputs. Calling a Function on Tensors runs ``forward`` and, when a
gradient is wanted, links the result to the Function, so that the operations form a graph.
``Tensor.backward`` walks that graph once, in reverse topological order, without recursion
(a 10,000-layer chain must not hit Python's recursion limit).

Below the engine come the elementary operations (``Add``, ``Mul``, ``MatMul``, ``Sum``, ...),
which Tensor's operators (``a + b``, ``a @ b``, ``a.sum()``, ``a.T``) call. Each backward
returns gradients of the broadcast shape; ``Tensor.backward`` sums them back to each input's
shape (``_sum_to_shape``). A Python number in an operation stays a Python number
(``x * 0.5``, ``1 - x``): the operations with a constant (``AddConstant`` ...) hold it, and
every array library takes it as it is, with the array's dtype (NEP 50); turning it into an
array would cost a GPU an allocation and a host-to-device copy per number per step.
"""
import contextlib
import numbers

from .backend import get_array_module, to_device, to_host, resolve_device

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled", "cat"]

_grad_enabled = True


def is_grad_enabled():
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Inside this block no graph is recorded: results never require grad."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def _as_array(value, like=None):
    """An array for ``value``: Tensors give their data; scalars take ``like``'s module and dtype."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    xp = get_array_module(like) if like is not None else get_array_module()
    dtype = like.dtype if like is not None and isinstance(value, (int, float)) else None
    return xp.asarray(value, dtype=dtype)


class Tensor:
    """An array with an optional gradient.

    data: a NumPy or CuPy array of any shape. grad: an array of the same shape and module,
    or None until ``backward`` reaches this tensor (only tensors created by the user,
    the leaves, keep their gradient, as in PyTorch).
    """

    def __init__(self, data, requires_grad=False):
        self.data = _as_array(data)
        self.grad = None
        self.requires_grad = requires_grad
        self._creator = None  # the Function whose output this is; None for a leaf

    # --- array-like facts ------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    def item(self):
        return self.data.item()

    def numpy(self):
        """The data as a NumPy array (copied from the device if needed)."""
        return to_host(self.data)

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def to(self, device=None, dtype=None):
        """A copy on ``device`` ("cpu", "cuda" or an array module) and/or with ``dtype``."""
        data = self.data
        if device is not None:
            data = to_device(data, resolve_device(device))
        if dtype is not None:
            data = data.astype(dtype)
        return Tensor(data, requires_grad=self.requires_grad)

    # --- operators: each builds one elementary Function (below) --------------------------
    def __add__(self, other): return _binary(self, other, Add, AddConstant, AddConstant)
    def __radd__(self, other): return _binary(other, self, Add, AddConstant, AddConstant)
    def __sub__(self, other): return _binary(self, other, Sub, _minus, SubFromConstant)
    def __rsub__(self, other): return _binary(other, self, Sub, _minus, SubFromConstant)
    def __mul__(self, other): return _binary(self, other, Mul, MulConstant, MulConstant)
    def __rmul__(self, other): return _binary(other, self, Mul, MulConstant, MulConstant)
    def __truediv__(self, other): return _binary(self, other, Div, DivConstant, ConstantDiv)
    def __rtruediv__(self, other): return _binary(other, self, Div, DivConstant, ConstantDiv)
    def __neg__(self): return Neg()(self)
    def __pow__(self, p): return Power(p)(self)
    def __matmul__(self, other): return MatMul()(self, other)
    def __rmatmul__(self, other): return MatMul()(other, self)
    def __getitem__(self, index): return GetItem(index)(self)
    def exp(self): return Exp()(self)
    def log(self): return Log()(self)
    def abs(self): return Abs()(self)
    def sum(self, axis=None, keepdims=False): return Sum(axis, keepdims)(self)

    def mean(self, axis=None, keepdims=False):
        """Sum divided by the number of elements summed."""
        axes = range(self.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        count = 1
        for ax in axes:
            count *= self.shape[ax]
        return Sum(axis, keepdims)(self) * (1.0 / count)

    def reshape(self, *shape):
        """reshape(2, 3) or reshape((2, 3))."""
        return Reshape(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list))
                       else shape)(self)

    def transpose(self, *axes):
        """transpose() reverses the axes; transpose(1, 0, 2) or transpose((1, 0, 2))."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose(axes or None)(self)

    T = property(lambda self: self.transpose())

    # --- the backward walk -----------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) * grad into ``leaf.grad`` for every leaf that requires grad.

        grad: an array of self's shape; may be omitted only for a one-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a one-element tensor, "
                                   f"got shape {self.shape}; pass grad=array of that shape")
            grad = xp.ones_like(self.data)
        grads = {id(self): _as_array(grad, like=self.data)}
        for tensor in _reverse_topological_order(self):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            fn = tensor._creator
            if fn is not None and fn.released:
                raise RuntimeError("backward() through a graph a second time: the arrays it "
                                   "saved were freed; run the forward pass again")
            if fn is None:  # a leaf: keep the gradient
                tensor.grad = g if tensor.grad is None else tensor.grad + g
                continue
            input_grads = fn.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for inp, ig in zip(fn.inputs, input_grads):
                if ig is None or not inp.requires_grad:
                    continue
                ig = _sum_to_shape(ig, inp.shape)
                previous = grads.get(id(inp))
                grads[id(inp)] = ig if previous is None else previous + ig
            fn.release()  # free what forward saved: the graph is used once


def _reverse_topological_order(root):
    """Tensors reachable from ``root`` through creators, each after every tensor that uses it."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        # Mark a tensor when it is expanded, not when it is pushed: a tensor pushed early by a
        # short path (the skip of x + f(x)) must still be placed after the long path's users.
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._creator is not None:
            for inp in tensor._creator.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    return reversed(order)


def _sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


class Parameter(Tensor):
    """A Tensor that a Module learns: it requires grad unless told otherwise."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Function:
    """One differentiable operation.

    Subclasses define ``forward(*arrays) -> array`` and ``backward(grad_out) -> grad or tuple
    of grads`` (one per input, None where no gradient flows). Options such as stride are
    passed to ``__init__``; whatever backward needs is saved on ``self`` by forward.

    ``self.needs_input_grad`` (set before forward, as in PyTorch) says which inputs require
    grad, so that forward saves and backward computes only what will be used: a convolution
    whose weight is frozen skips its weight gradient, a first layer its input gradient.
    """

    released = False
    needs_input_grad = (True,) * 8  # forward called directly, outside __call__: assume all

    def __call__(self, *inputs):
        inputs = [x if isinstance(x, Tensor) else Tensor(_as_array(x, like=_first_array(inputs)))
                  for x in inputs]
        self.needs_input_grad = tuple(_grad_enabled and x.requires_grad for x in inputs)
        out = self.forward(*(x.data for x in inputs))
        needs_grad = _grad_enabled and any(x.requires_grad for x in inputs)
        result = Tensor(out, requires_grad=needs_grad)
        if needs_grad:
            self.inputs = inputs
            result._creator = self
        return result

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def release(self):
        """Drop the arrays saved for backward once it has run."""
        self.__dict__.clear()
        self.inputs = ()
        self.released = True


def _first_array(values):
    for v in values:
        if isinstance(v, Tensor):
            return v.data
    return None


# --- the elementary operations ------------------------------------------------------------


class Add(Function):
    def forward(self, a, b): return a + b
    def backward(self, g): return g, g


class Sub(Function):
    def forward(self, a, b): return a - b
    def backward(self, g): return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g): return g * self.b, g * self.a


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g): return g / self.b, -g * self.a / (self.b * self.b)


class _WithConstant(Function):
    """An operation of one array with a Python number c, which it keeps as a number."""

    def __init__(self, c):
        self.c = c


class AddConstant(_WithConstant):
    """a + c; d/da = 1."""
    def forward(self, a): return a + self.c
    def backward(self, g): return g


class SubFromConstant(_WithConstant):
    """c - a; d/da = -1."""
    def forward(self, a): return self.c - a
    def backward(self, g): return -g


class MulConstant(_WithConstant):
    """a * c; d/da = c."""
    def forward(self, a): return a * self.c
    def backward(self, g): return g * self.c


class DivConstant(_WithConstant):
    """a / c; d/da = 1 / c."""
    def forward(self, a): return a / self.c
    def backward(self, g): return g / self.c


class ConstantDiv(_WithConstant):
    """c / a; d/da = -c / a^2."""

    def forward(self, a):
        self.a = a
        return self.c / a

    def backward(self, g):
        return -g * self.c / (self.a * self.a)


class Neg(Function):
    def forward(self, a): return -a
    def backward(self, g): return -g


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
    right, left = _constant(b), _constant(a)
    if right is not None:
        return constant_right(right)(a)
    if left is not None:
        return constant_left(left)(b)
    return general()(a, b)


def _minus(c):
    return AddConstant(-c)   # a - c is a + (-c)


def cat(tensors, axis=0):
    """Tensors of equal shape but along ``axis`` -> one tensor:
    (N1, ...), (N2, ...) -> (N1 + N2, ...)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Cat(axis)(*tensors)

"""The autograd engine: a Tensor holds an array and remembers the Function that made it.

A Function has ``forward`` on raw arrays and ``backward`` from the gradient of its output to
the gradients of its inputs. Calling a Function on Tensors runs ``forward`` and, when a
gradient is wanted, links the result to the Function, so that the operations form a graph.
``Tensor.backward`` walks that graph once, in reverse topological order, without recursion
(a 10,000-layer chain must not hit Python's recursion limit).
"""
import contextlib

from .backend import get_array_module, to_device, resolve_device

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "is_grad_enabled"]

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
        from .backend import to_host
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

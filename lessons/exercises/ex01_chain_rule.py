"""Exercises of lesson 1: the chain rule and a scalar autograd.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 1.1    (and 1.2)
"""
import math


class Value:
    """A scalar that records how it was computed, so that gradients can flow back (lesson 1)."""

    def __init__(self, data, parents=()):
        self.data = float(data)
        self.grad = 0.0
        self._parents = parents
        self._backward = lambda: None   # a leaf has nobody to pass its gradient to

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():                 # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        """Exercise 1.1, part 1: out = a * b.

        Write ``_backward``: by the chain rule dL/da = dL/dout * dout/da, where dL/dout is
        ``out.grad`` and dout/da = b (likewise dout/db = a). Add (+=) into ``self.grad`` and
        ``other.grad``: a value used twice (a * a) receives the sum of both contributions.
        Hint: ``__add__`` above is the pattern; only the local derivatives change.
        """
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            raise NotImplementedError("Exercise 1.1")
        out._backward = _backward
        return out

    def tanh(self):
        """Exercise 1.1, part 2: out = tanh(a).

        Write ``_backward``: d tanh(a)/da = 1 - tanh(a)^2, so dL/da += (1 - t^2) * out.grad with
        t = tanh(a), already computed in the forward pass.
        Hint: reuse ``t``; do not call math.tanh again.
        """
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            raise NotImplementedError("Exercise 1.1")
        out._backward = _backward
        return out

    __radd__ = __add__
    __rmul__ = __mul__

    def __repr__(self):
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"


def backward(root):
    """Fill .grad of every Value that root depends on with d(root)/d(value) (lesson 1)."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if id(parent) not in seen:
                stack.append((parent, False))
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def numerical_derivative(f, x, eps=1e-6):
    """Exercise 1.2: the derivative of a scalar function by the central difference

        f'(x) ~ (f(x + eps) - f(x - eps)) / (2 * eps)

    f: a function of one float returning a float; x: float; eps: the step -> float.
    Its error shrinks like eps^2 (the one-sided (f(x + eps) - f(x)) / eps only like eps).
    Hint: two calls of f, one subtraction, one division.
    """
    raise NotImplementedError("Exercise 1.2")

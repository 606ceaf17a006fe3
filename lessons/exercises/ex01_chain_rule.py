"""Exercises of lesson 1: the chain rule and a scalar autograd.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 1    (or one exercise: 1.1, 1.2, 1.3)
"""
import math


class Value:
    """A scalar that records how it was computed, so that gradients can flow back (lesson 1).

    ``+``, ``*`` and ``tanh`` are the lesson's; ``exp`` (Exercise 1.1) and ``**`` (Exercise
    1.2) are yours.
    """

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
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():                 # d(a * b)/da = b, d(a * b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():                 # d tanh(v)/dv = 1 - tanh(v)^2
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        """Exercise 1.1: out = e^a, where a is this Value.

        Write ``_backward``: by the chain rule dL/da = dL/dout * dout/da, with dL/dout in
        ``out.grad``. Find dout/da yourself; the forward pass has already computed a number
        you can reuse. Add (+=) into ``self.grad``: ``a`` may be used elsewhere too, as in
        exp(a) * a, and each use contributes its share.
        Hint: ``tanh`` above is the pattern of a one-input operation.
        """
        out = Value(math.exp(self.data), (self,))

        def _backward():
            raise NotImplementedError("Exercise 1.1")
        out._backward = _backward
        return out

    def __pow__(self, other):
        """Exercise 1.2: out = a ** b, where a is this Value (a > 0) and b is a number or a Value.

        Write ``_backward``. Both a and b are inputs of this node, so both get a gradient:
        dL/da from the power rule, and dL/db from the derivative of a^b = e^(b ln a) with
        respect to b. A number b is wrapped in a Value first, like the other operations do;
        its gradient is then computed and never read. Every use adds its share (+=), and in
        a ** a the base and the exponent are the same Value.
        Hint: math.log(self.data) is defined because a > 0; ``out.data`` is a^b.
        """
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data ** other.data, (self, other))

        def _backward():
            raise NotImplementedError("Exercise 1.2")
        out._backward = _backward
        return out

    def __rpow__(self, other):          # 2 ** a: the number is the base
        return Value(other) ** self

    __radd__ = __add__
    __rmul__ = __mul__

    def __repr__(self):
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"


def backward(root):
    """Fill .grad of every Value that root depends on with d(root)/d(value) (lesson 1)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:                        # lesson 1's walk: a node is placed after its users
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node._parents if id(parent) not in seen)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def error_orders(f, dfdx, x, eps=1e-2):
    """Exercise 1.3: measure how fast the error of a difference formula shrinks with its step.

    The lesson claims that the central difference's error shrinks like eps^2; the one-sided
    difference's only like eps. Measure both: the central difference is the lesson's, with
    step h; the one-sided one is the definition of the derivative itself, its quotient at
    step h, forward from x only. For each, take its error against the exact derivative,
    |difference(h) - dfdx(x)|, at h = eps and at h = eps / 10. An error that behaves like
    C h^p is divided by 10^p when h shrinks tenfold, so its order is
    p = log10(error at eps / error at eps / 10).

    f, dfdx: functions of one float -> float (dfdx is f's exact derivative); x, eps: floats
    -> (p_one_sided, p_central), two floats (for a smooth f, close to 1 and to 2).
    Hint: write the two formulas as small functions of h inside this one, then one helper
    that turns a formula into its order.
    """
    raise NotImplementedError("Exercise 1.3")

"""Exercises of lesson 2: tensors, broadcasting and writing a Function.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 2    (or one exercise: 2.1, 2.2, 2.3, 2.4)
"""
import nn


def sum_to_shape(grad, shape):
    """The lesson's sum_to_shape, yours to use: sum grad (the broadcast shape) over the axes
    broadcasting added or stretched -> an array of ``shape``."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True)


class MatMul(nn.Function):
    """y = a @ b for batches of matrices: a (..., n, k) @ b (..., k, m) -> y (..., n, m).

    The batch axes (...) broadcast as in NumPy: a (2, 3, n, k) with b (k, m), or a (3, 1, n, k)
    with b (1, 2, k, m). forward is given; backward is Exercise 2.1.
    """

    def forward(self, a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("MatMul here takes matrices or batches of them (ndim >= 2)")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        """Exercise 2.1: the gradients of y = a @ b, each of its own input's shape.

        g: dL/dy, (..., n, m) -> (dL/da of a's shape, dL/db of b's shape). For one pair of
        matrices the lesson gives dL/da = G B^T and dL/db = A^T G. With batches, "transpose"
        means the last two axes of each matrix, and an input that broadcasting repeated over
        batch axes was used once per batch entry: its gradient adds up over them.
        Return exactly a's and b's shapes (this backward is also called directly, without
        Tensor.backward's own summing).
        Hint: ``swapaxes(-1, -2)``, then ``sum_to_shape`` above.
        """
        ga = g @ self.b.swapaxes(-1, -2)      # (..., n, m) @ (..., m, k): broadcast batch
        gb = self.a.swapaxes(-1, -2) @ g      # (..., k, n) @ (..., n, m)
        return sum_to_shape(ga, self.a.shape), sum_to_shape(gb, self.b.shape)


class Div(nn.Function):
    """y = a / b, elementwise, with broadcasting. forward is given; backward is Exercise 2.2."""

    def forward(self, a, b):
        self.a, self.b = a, b   # what backward will need
        return a / b

    def backward(self, g):
        """Exercise 2.2: the gradients of y = a / b.

        g: dL/dy, of y's shape -> (dL/da, dL/db), a tuple with one gradient per input of
        forward, each of y's shape (Tensor.backward sums them to a's and b's shapes).
        Derive both local derivatives: y as a function of a alone, then of b alone.
        Hint: use ``self.a`` and ``self.b`` saved by forward; a / b = a * b^(-1).
        """
        return g / self.b, -g * self.a / (self.b * self.b)


class Softmax(nn.Function):
    """y = softmax(x) along the last axis: y[..., i] = exp(x[..., i]) / sum_j exp(x[..., j]).

    x: (..., C) -> y: (..., C), each row of y positive and summing to 1. forward is given
    (shifted by the row's maximum so that exp cannot overflow); backward is Exercise 2.3.
    """

    def forward(self, x):
        xp = nn.get_array_module(x)
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        self.y = e / e.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, g):
        """Exercise 2.3: the gradient of softmax.

        g: dL/dy, (..., C) -> dL/dx, (..., C). Every y[..., i] of a row depends on every x[..., j]
        of that row, through the shared sum: dy_i/dx_j = y_i (delta_ij - y_j). So
        dL/dx_j = sum_i g_i dy_i/dx_j; work that sum out, for one row, to a formula of y and g
        without the C x C Jacobian, then write it for all rows at once.
        Hint: one sum over the last axis, with keepdims=True; use ``self.y``.
        """
        # sum_i g_i y_i (delta_ij - y_j) = y_j (g_j - sum_i g_i y_i)
        return self.y * (g - (g * self.y).sum(axis=-1, keepdims=True))


def matmul(a, b):
    """a @ b on Tensors through the MatMul Function above: matmul(Tensor, Tensor) -> Tensor."""
    return MatMul()(a, b)


def div(a, b):
    """a / b on Tensors through the Div Function above: div(Tensor, Tensor) -> Tensor."""
    return Div()(a, b)


def softmax(x):
    """Softmax of a Tensor along its last axis through the Function above: Tensor -> Tensor."""
    return Softmax()(x)


def backward_order(root):
    """Exercise 2.4: the order in which ``Tensor.backward`` visits a graph.

    root: a Tensor that requires grad -> a list of Tensors: root and every Tensor it was
    computed from that requires grad, each exactly once, in an order that backward can walk
    (the lesson's "The backward walk", and lesson 1's ``backward``).

    A Tensor's ``_creator`` is the Function that made it (None for a leaf), and that
    Function's ``inputs`` are the Tensors it was called on. What must hold of the order so
    that, when a Tensor passes its gradient on, every share of that gradient has already
    arrived? Think of a Tensor used twice, y in (y * y + y.exp()), and of a Tensor reached by
    a short path and a long one, a in (a + 3 * a.exp()).
    Hint: lesson 1 warned about deep graphs: can your walk handle thousands of operations?
    """
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:                     # every user of its inputs is placed: place it
            order.append(tensor)
            continue
        if id(tensor) in visited:        # marked when expanded, not when pushed
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._creator is not None:
            stack.extend((t, False) for t in tensor._creator.inputs
                         if t.requires_grad and id(t) not in visited)
    return order[::-1]                   # root first, each Tensor after all its users

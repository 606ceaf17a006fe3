"""Classic wrong answers to the exercises of lesson 2."""
from lessons.solutions import ex02_tensors as solution

from . import Mistake, variant

sum_to_shape = solution.sum_to_shape


def _t(a):
    return a.swapaxes(-1, -2)


class MatMulWithT(solution.MatMul):
    """.T on batches: reverses the batch axes too."""

    def backward(self, g):
        return (sum_to_shape(g @ self.b.T, self.a.shape),
                sum_to_shape(self.a.T @ g, self.b.shape))


class MatMulNotSummed(solution.MatMul):
    """Right products, left in the output's batch shape."""

    def backward(self, g):
        return g @ _t(self.b), _t(self.a) @ g


class MatMulWithoutKeepdims(solution.MatMul):
    """Sums the batch axes, the stretched ones without keepdims."""

    def backward(self, g):
        def squash(grad, shape):
            extra = grad.ndim - len(shape)
            grad = grad.sum(axis=tuple(range(extra)))
            stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
            return grad.sum(axis=stretched)
        return squash(g @ _t(self.b), self.a.shape), squash(_t(self.a) @ g, self.b.shape)


class MatMulNoTranspose(solution.MatMul):
    def backward(self, g):
        return (sum_to_shape(g @ self.b, self.a.shape),
                sum_to_shape(_t(self.a) @ g, self.b.shape))


class MatMulWrongOrder(solution.MatMul):
    def backward(self, g):
        return (sum_to_shape(_t(self.b) @ g, self.a.shape),
                sum_to_shape(_t(self.a) @ g, self.b.shape))


class DivWrongSign(solution.Div):
    def backward(self, g):
        return g / self.b, g * self.a / (self.b * self.b)


class DivOneGradient(solution.Div):
    def backward(self, g):
        return g / self.b


class DivSquareForgotten(solution.Div):
    def backward(self, g):
        return g / self.b, -g * self.a / self.b


class DivMultiplies(solution.Div):
    def backward(self, g):
        return g * self.b, -g * self.a / (self.b * self.b)


class SoftmaxDiagonal(solution.Softmax):
    def backward(self, g):
        return g * self.y * (1 - self.y)


class SoftmaxSumsAxis0(solution.Softmax):
    def backward(self, g):
        return self.y * (g - (g * self.y).sum(axis=0, keepdims=True))


class SoftmaxSumsEverything(solution.Softmax):
    def backward(self, g):
        return self.y * (g - (g * self.y).sum())


# --- 2.4 backward_order ----------------------------------------------------------------------

def order_leaves_first(root):
    """The forward pass's order: leaves first."""
    return solution.backward_order(root)[::-1]


def order_without_root(root):
    return solution.backward_order(root)[1:]


def order_without_leaves(root):
    return [t for t in solution.backward_order(root) if t._creator is not None]


def order_marked_when_pushed(root):
    """Marks a Tensor visited when it is pushed, so a short path places it too early."""
    order, visited, stack = [], {id(root)}, [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        stack.append((tensor, True))
        for t in (tensor._creator.inputs if tensor._creator is not None else ()):
            if t.requires_grad and id(t) not in visited:
                visited.add(id(t))
                stack.append((t, False))
    return order[::-1]


MISTAKES = [
    Mistake("2.1", "MatMulWithT", variant(solution, MatMul=MatMulWithT),
            ".T reverses every axis, the batch axes too"),
    Mistake("2.1", "MatMulNotSummed", variant(solution, MatMul=MatMulNotSummed),
            "was broadcast over batch axes, used once per batch entry: sum the gradient"),
    Mistake("2.1", "MatMulWithoutKeepdims", variant(solution, MatMul=MatMulWithoutKeepdims),
            "was stretched; sum over it with keepdims=True"),
    Mistake("2.1", "MatMulNoTranspose", variant(solution, MatMul=MatMulNoTranspose),
            "is g @ b: b must be transposed"),
    Mistake("2.1", "MatMulWrongOrder", variant(solution, MatMul=MatMulWrongOrder),
            "the order of a matrix product matters, dL/da = g @ b^T"),
    Mistake("2.2", "DivWrongSign", variant(solution, Div=DivWrongSign),
            "b has the wrong sign"),
    Mistake("2.2", "DivOneGradient", variant(solution, Div=DivOneGradient),
            "backward must return a tuple of 2 gradients"),
    Mistake("2.2", "DivSquareForgotten", variant(solution, Div=DivSquareForgotten),
            "the derivative of 1/b is -1/b^2, so divide by b twice"),
    Mistake("2.2", "DivMultiplies", variant(solution, Div=DivMultiplies),
            "a is g * b: a / b is a times 1/b"),
    Mistake("2.3", "SoftmaxDiagonal", variant(solution, Softmax=SoftmaxDiagonal),
            "the diagonal of the Jacobian alone"),
    Mistake("2.3", "SoftmaxSumsAxis0", variant(solution, Softmax=SoftmaxSumsAxis0),
            "the sum of g * y runs over axis 0"),
    Mistake("2.3", "SoftmaxSumsEverything", variant(solution, Softmax=SoftmaxSumsEverything),
            "the sum of g * y runs over the whole array"),
    Mistake("2.4", "order_leaves_first", variant(solution, backward_order=order_leaves_first),
            "runs from the leaves to L, the order of the forward pass"),
    Mistake("2.4", "order_without_root", variant(solution, backward_order=order_without_root),
            "L itself is missing"),
    Mistake("2.4", "order_without_leaves", variant(solution, backward_order=order_without_leaves),
            "the leaves are missing"),
    Mistake("2.4", "order_marked_when_pushed",
            variant(solution, backward_order=order_marked_when_pushed),
            "marks a Tensor as visited when it is pushed"),
]

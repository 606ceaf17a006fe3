"""Classic wrong answers to the exercises of lesson 2."""


from lessons.solutions import ex02_tensors as solution

from . import Mistake, variant


class DivWrongSign(solution.Div):
    def backward(self, g):
        return g / self.b, g * self.a / (self.b * self.b)


class DivOneGradient(solution.Div):
    def backward(self, g):
        return g / self.b


def sum_leading_axes_only(grad, shape):
    return grad.sum(axis=tuple(range(grad.ndim - len(shape))))


MISTAKES = [
    Mistake('2.1', 'sum_leading_axes_only', variant(solution, sum_to_shape=sum_leading_axes_only),
            "sum_to_shape(grad of shape (2, 3, 4), shape=(3, 1)) has shape (3, 4), expected (3, 1)"),
    Mistake('2.2', 'DivWrongSign', variant(solution, Div=DivWrongSign),
            "the gradient with respect to b"),
    Mistake('2.2', 'DivOneGradient', variant(solution, Div=DivOneGradient),
            "backward must return a tuple of 2 gradients"),
]

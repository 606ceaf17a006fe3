"""Classic wrong answers to the exercises of lesson 3."""
import numpy as np

from lessons.solutions import ex03_gradient_checking as solution

from . import Mistake, variant


class LeakyForgetsSlope(solution.LeakyReLU):
    def backward(self, g):
        return g


class LeakyForgetsUpstream(solution.LeakyReLU):
    def backward(self, g):
        return np.where(self.positive, 1.0, self.slope) * np.ones_like(g)


def numerical_gradient_without_restoring(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        x[i] += eps
        plus = (f(x) * g).sum()
        x[i] -= 2 * eps
        grad[i] = (plus - (f(x) * g).sum()) / (2 * eps)
    return grad


def numerical_gradient_ignoring_g(f, x, g, eps=1e-6):
    return solution.numerical_gradient(f, x, np.ones_like(g), eps)


def numerical_gradient_one_sided(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    base = (f(x) * g).sum()
    for i in np.ndindex(*x.shape):
        x[i] += eps
        grad[i] = ((f(x) * g).sum() - base) / eps
        x[i] -= eps
    return grad


MISTAKES = [
    Mistake('3.1', 'numerical_gradient_without_restoring', variant(solution, numerical_gradient=numerical_gradient_without_restoring),
            "numerical_gradient changed x"),
    Mistake('3.1', 'numerical_gradient_ignoring_g', variant(solution, numerical_gradient=numerical_gradient_ignoring_g),
            "weighted by g is wrong at"),
    Mistake('3.1', 'numerical_gradient_one_sided', variant(solution, numerical_gradient=numerical_gradient_one_sided),
            "against central differences"),
    Mistake('3.2', 'LeakyForgetsSlope', variant(solution, LeakyReLU=LeakyForgetsSlope),
            "the gradient with respect to x with slope 0.2 (shape (2, 3, 4)) is wrong"),
    Mistake('3.2', 'LeakyForgetsUpstream', variant(solution, LeakyReLU=LeakyForgetsUpstream),
            "is wrong at"),
]

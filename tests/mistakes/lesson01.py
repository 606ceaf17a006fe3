"""Classic wrong answers to the exercises of lesson 1."""
import math

from lessons.solutions import ex01_chain_rule as solution

from . import Mistake, variant


class ValueAssigns(solution.Value):
    """Writes = instead of +=: a value used twice keeps only one contribution."""

    def __mul__(self, other):
        other = other if isinstance(other, solution.Value) else ValueAssigns(other)
        out = ValueAssigns(self.data * other.data, (self, other))

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad
        out._backward = _backward
        return out


class ValueForgetsUpstream(solution.Value):
    def __mul__(self, other):
        other = other if isinstance(other, solution.Value) else ValueForgetsUpstream(other)
        out = ValueForgetsUpstream(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data
            other.grad += self.data
        out._backward = _backward
        return out


class ValueTanhWithoutSquare(solution.Value):
    def tanh(self):
        t = math.tanh(self.data)
        out = solution.Value(t, (self,))

        def _backward():
            self.grad += (1 - t) * out.grad
        out._backward = _backward
        return out


class ValueTanhUnfinished(solution.Value):
    def tanh(self):
        out = solution.Value(math.tanh(self.data), (self,))

        def _backward():
            raise NotImplementedError("Exercise 1.1")
        out._backward = _backward
        return out


def one_sided(f, x, eps=1e-6):
    return (f(x + eps) - f(x)) / eps


def without_the_two(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / eps


MISTAKES = [
    Mistake('1.1', 'ValueAssigns', variant(solution, Value=ValueAssigns),
            "write += and not ="),
    Mistake('1.1', 'ValueForgetsUpstream', variant(solution, Value=ValueForgetsUpstream),
            "did you multiply by it?"),
    Mistake('1.1', 'ValueTanhWithoutSquare', variant(solution, Value=ValueTanhWithoutSquare),
            "dL/da = (1 - tanh(a)^2) * c: yours"),
    Mistake('1.1', 'ValueTanhUnfinished', variant(solution, Value=ValueTanhUnfinished),
            "Value.__mul__ is right, but Value.tanh still raises NotImplementedError"),
    Mistake('1.2', 'one_sided', variant(solution, numerical_derivative=one_sided),
            "one-sided difference"),
    Mistake('1.2', 'without_the_two', variant(solution, numerical_derivative=without_the_two),
            "numerical_derivative(lambda x: x**3, 2.0, eps=1e-3)"),
]

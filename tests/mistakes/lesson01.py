"""Classic wrong answers to the exercises of lesson 1."""
import math

from lessons.solutions import ex01_chain_rule as solution

from . import Mistake, variant

Value = solution.Value


def _exp(backward_rule):
    """A Value whose exp has the given backward rule: rule(self, out)."""
    class Wrong(Value):
        def exp(self):
            out = Value(math.exp(self.data), (self,))
            out._backward = lambda: backward_rule(self, out)
            return out
    return Wrong


def _exp_assigns(a, out):
    a.grad = out.data * out.grad


def _exp_forgets_upstream(a, out):
    a.grad += out.data


def _exp_uses_the_input(a, out):
    a.grad += a.data * out.grad


def _pow(backward_rule):
    """A Value whose ** has the given backward rule: rule(self, other, out)."""
    class Wrong(Value):
        def __pow__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data ** other.data, (self, other))
            out._backward = lambda: backward_rule(self, other, out)
            return out
    return Wrong


def _pow_off_by_one(a, b, out):
    a.grad += b.data * a.data ** b.data * out.grad
    b.grad += out.data * math.log(a.data) * out.grad


def _pow_constant_exponent(a, b, out):
    a.grad += b.data * a.data ** (b.data - 1) * out.grad


def _pow_log_of_exponent(a, b, out):
    a.grad += b.data * a.data ** (b.data - 1) * out.grad
    b.grad += out.data * math.log(abs(b.data)) * out.grad


def _pow_assigns(a, b, out):
    a.grad = b.data * a.data ** (b.data - 1) * out.grad
    b.grad = out.data * math.log(a.data) * out.grad


def _pow_forgets_upstream(a, b, out):
    a.grad += b.data * a.data ** (b.data - 1)
    b.grad += out.data * math.log(a.data)


def _orders(one_sided, central, log=math.log10, flip=False):
    def error_orders(f, dfdx, x, eps=1e-2):
        exact = dfdx(x)

        def order(formula):
            big = abs(formula(f, x, eps) - exact)
            small = abs(formula(f, x, eps / 10) - exact)
            return log(small / big) if flip else log(big / small)
        return order(one_sided), order(central)
    return error_orders


def one_sided(f, x, h):
    return (f(x + h) - f(x)) / h


def central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def central_without_the_two(f, x, h):
    return (f(x + h) - f(x - h)) / h


MISTAKES = [
    Mistake("1.1", "exp_assigns", variant(solution, Value=_exp(_exp_assigns)),
            "You wrote = where += belongs: a is used twice, and exp's backward overwrote"),
    Mistake("1.1", "exp_forgets_upstream", variant(solution, Value=_exp(_exp_forgets_upstream)),
            "without the factor c: multiply by the upstream gradient out.grad"),
    Mistake("1.1", "exp_uses_the_input", variant(solution, Value=_exp(_exp_uses_the_input)),
            "the derivative of exp(a) is exp(a) (out.data), not a"),
    Mistake("1.2", "pow_off_by_one", variant(solution, Value=_pow(_pow_off_by_one)),
            "the power rule lowers the exponent by one"),
    Mistake("1.2", "pow_constant_exponent", variant(solution, Value=_pow(_pow_constant_exponent)),
            "The exponent b is a Value and an input of the power"),
    Mistake("1.2", "pow_log_of_exponent", variant(solution, Value=_pow(_pow_log_of_exponent)),
            "the logarithm is of the base a"),
    Mistake("1.2", "pow_assigns", variant(solution, Value=_pow(_pow_assigns)),
            "base and exponent are the same Value, and the second assignment overwrote"),
    Mistake("1.2", "pow_forgets_upstream", variant(solution, Value=_pow(_pow_forgets_upstream)),
            "= 3 a^2, without c: multiply by the upstream gradient"),
    Mistake("1.3", "both_central", variant(solution, error_orders=_orders(central, central)),
            "both are the central difference's order"),
    Mistake("1.3", "ratio_upside_down",
            variant(solution, error_orders=_orders(one_sided, central, flip=True)),
            "the orders have the wrong sign"),
    Mistake("1.3", "natural_log",
            variant(solution, error_orders=_orders(one_sided, central, log=math.log)),
            "that is the natural logarithm"),
    Mistake("1.3", "central_without_the_two",
            variant(solution, error_orders=_orders(one_sided, central_without_the_two)),
            "is twice the derivative: divide by 2 h"),
]

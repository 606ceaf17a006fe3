"""Checks of lesson 1: the scalar Value's backward rules and the central difference."""
import math

from .core import Wrong, check_number, later_part

MODULE = "ex01_chain_rule"


def _grad_of(module, build, values):
    """Gradients of build(*leaves) with respect to each leaf, by the module's own backward."""
    leaves = [module.Value(v) for v in values]
    out = build(*leaves)
    module.backward(out)
    return [leaf.grad for leaf in leaves]


def check_value_backward(module):
    a, b, c = 1.5, -0.7, 2.3
    # Multiply by c afterwards so that the upstream gradient out.grad is not 1.
    ga, gb, gc = _grad_of(module, lambda a, b, c: (a * b) * c, (a, b, c))
    check_number("for L = (a * b) * c with a = 1.5, b = -0.7, c = 2.3, dL/da (the upstream "
                 "gradient out.grad of a * b is c; did you multiply by it?)", ga, b * c)
    check_number("for L = (a * b) * c, dL/db", gb, a * c)
    (ga,) = _grad_of(module, lambda a: a * a, (a,))
    check_number("for L = a * a with a = 1.5, dL/da = 2a (a is used twice: the two contributions "
                 "must add up, so write += and not =)", ga, 2 * a)

    def tanh_graph(a, c):
        return a.tanh() * c

    ga, _ = later_part("Value.__mul__", "Value.tanh", _grad_of, module, tanh_graph, (0.4, c))
    t = math.tanh(0.4)
    check_number("for L = tanh(a) * c with a = 0.4, c = 2.3, dL/da = (1 - tanh(a)^2) * c", ga,
                 (1 - t * t) * c)

    def composite(a, b):
        return (a * b + a).tanh() * a

    values = (0.3, -1.2)
    got = _grad_of(module, composite, values)
    for i, name in enumerate("ab"):
        def f(v, i=i):
            x = list(values)
            x[i] = v
            return math.tanh(x[0] * x[1] + x[0]) * x[0]
        eps = 1e-6
        numeric = (f(values[i] + eps) - f(values[i] - eps)) / (2 * eps)
        check_number(f"for L = tanh(a * b + a) * a with a = 0.3, b = -1.2, dL/d{name} "
                     "(compared with a central difference)", got[i], numeric, atol=1e-7)


def check_numerical_derivative(module):
    nd = module.numerical_derivative
    x, eps = 2.0, 1e-3
    central = ((x + eps) ** 3 - (x - eps) ** 3) / (2 * eps)   # 3x^2 + eps^2 = 12.000001
    got = nd(lambda v: v ** 3, x, eps)
    if got is not None and isinstance(got, (int, float)) and abs(got - 12.006001) < 1e-6:
        raise Wrong(f"for f(x) = x**3 at x = 2 with eps = 1e-3 you return {got:.9g}, the "
                    f"one-sided difference (f(x + eps) - f(x)) / eps; the central difference "
                    f"(f(x + eps) - f(x - eps)) / (2 eps) gives {central:.9g}")
    check_number("numerical_derivative(lambda x: x**3, 2.0, eps=1e-3) (the central difference "
                 "(f(x + eps) - f(x - eps)) / (2 eps))", got, central, atol=0, rtol=1e-10)
    check_number("numerical_derivative(math.sin, 0.3) with the default eps, against cos(0.3)",
                 nd(math.sin, 0.3), math.cos(0.3), atol=1e-8, rtol=0)
    check_number("numerical_derivative(math.exp, -1.0, eps=1e-4), against exp(-1)",
                 nd(math.exp, -1.0, eps=1e-4), math.exp(-1.0), atol=1e-8, rtol=0)


CHECKS = {"1.1": check_value_backward, "1.2": check_numerical_derivative}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"1.1": 2, "1.2": 2}

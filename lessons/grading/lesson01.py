"""Checks of lesson 1: the backward rules of exp and of a power with a Value exponent, and the
measured order of the one-sided and the central difference.

Each gradient is compared with the formula, on graphs chosen so that the classic mistakes give
numbers of their own: an upstream gradient that is not 1 (out.grad forgotten), a Value used
twice (= where += belongs), a Value exponent (its gradient forgotten)."""
import math

from .core import Wrong, check_number, check_tuple, name_the_mistake
from .ladder import Ladder, rung, with_ladders

MODULE = "ex01_chain_rule"
POINTS = {"1.1": 2, "1.2": 3, "1.3": 2}


def _grads(module, build, values):
    """The gradients of build(*leaves) for each leaf, by the module's own backward."""
    leaves = [module.Value(v) for v in values]
    out = build(*leaves)
    if not hasattr(out, "_backward"):   # a Value of the student's own class, or of its base
        raise Wrong(f"the result is {type(out).__name__}, not a Value: return ``out``")
    module.backward(out)
    return [leaf.grad for leaf in leaves]


def _central(f, values, i, eps=1e-6):
    """d f / d values[i] by a central difference, for a check of a whole graph."""
    plus, minus = list(values), list(values)
    plus[i] += eps
    minus[i] -= eps
    return (f(*plus) - f(*minus)) / (2 * eps)


def check_exp(module):
    a, c = 0.4, 2.3
    e = math.exp(a)
    (ga, _) = _grads(module, lambda a, c: a.exp() * c, (a, c))
    what = f"for L = exp(a) * c with a = {a}, c = {c}, dL/da"
    check_number(what, ga, e * c, atol=1e-9, rtol=1e-9, mistakes=[
        (e, f"{what} is exp(a) = {e:.6g}, without the factor c: multiply by the upstream "
            "gradient out.grad (here c), the chain rule's dL/dout"),
        (a * c, f"{what} = {ga:.6g} is a * c: the derivative of exp(a) is exp(a) (out.data), "
                "not a")])

    (ga,) = _grads(module, lambda a: a.exp() * a, (a,))
    what = f"for L = exp(a) * a with a = {a}, dL/da = exp(a) * (a + 1)"
    check_number(what, ga, e * (a + 1), atol=1e-9, rtol=1e-9, mistakes=[
        (e * a, f"{what}: yours {ga:.6g} = exp(a) * a, the share of exp(a) alone. You wrote = "
                "where += belongs: a is used twice, and exp's backward overwrote the share the "
                "product had already added")])

    def f(a, b):
        return math.tanh(math.exp(a * b) * a)
    values = (0.3, -1.2)
    got = _grads(module, lambda a, b: ((a * b).exp() * a).tanh(), values)
    for i, name in enumerate("ab"):
        check_number(f"for L = tanh(exp(a * b) * a) with a = 0.3, b = -1.2, dL/d{name} "
                     "(compared with a central difference)", got[i], _central(f, values, i),
                     atol=1e-7, rtol=1e-6)


def check_power(module):
    a, c = 1.5, 2.3
    (ga, _) = _grads(module, lambda a, c: (a ** 3) * c, (a, c))
    what = f"for L = a ** 3 * c with a = {a}, c = {c}, dL/da = 3 a^2 c"
    check_number(what, ga, 3 * a ** 2 * c, atol=1e-9, rtol=1e-9, mistakes=[
        (3 * a ** 3 * c, f"{what}: yours {ga:.6g} = 3 a^3 c: the power rule lowers the "
                         "exponent by one, b * a ** (b - 1)"),
        (3 * a ** 2, f"{what}: yours {ga:.6g} = 3 a^2, without c: multiply by the upstream "
                     "gradient out.grad")])

    a, b = 1.5, 0.7
    ga, gb = _grads(module, lambda a, b: (a ** b) * c, (a, b))
    power = a ** b
    check_number(f"for L = a ** b * c with a = {a}, b = {b}, c = {c}, dL/da = b a^(b - 1) c",
                 ga, b * a ** (b - 1) * c, atol=1e-9, rtol=1e-9)
    what = f"for L = a ** b * c with a = {a}, b = {b}, c = {c}, dL/db = a^b ln(a) c"
    check_number(what, gb, power * math.log(a) * c, atol=1e-9, rtol=1e-9, mistakes=[
        (0.0, f"{what}: yours is 0. The exponent b is a Value and an input of the power: "
              "d(a^b)/db = a^b ln a; add it into other.grad"),
        (power * math.log(b) * c, f"{what}: yours {gb:.6g} = a^b ln(b) c: the logarithm is of "
                                  "the base a (a^b = e^(b ln a)), not of the exponent"),
        (b * a ** (b - 1) * math.log(a) * c, f"{what}: yours {gb:.6g} = b a^(b-1) ln(a) c: "
                                             "d(a^b)/db is a^b ln a, the power itself times "
                                             "ln a, without the power rule's factor")])

    (ga,) = _grads(module, lambda a: a ** a, (a,))
    what = f"for L = a ** a with a = {a}, dL/da = a^a (ln a + 1)"
    check_number(what, ga, a ** a * (math.log(a) + 1), atol=1e-9, rtol=1e-9, mistakes=[
        (a ** a * math.log(a), f"{what}: yours {ga:.6g} = a^a ln a, the exponent's share "
                               "alone. You wrote = where += belongs: base and exponent are the "
                               "same Value, and the second assignment overwrote the first"),
        (a ** a, f"{what}: yours {ga:.6g} = a * a^(a-1), the base's share alone. You wrote = "
                 "where += belongs: base and exponent are the same Value, and the second "
                 "assignment overwrote the first")])

    (ga,) = _grads(module, lambda a: 2 ** a, (0.3,))
    check_number("for L = 2 ** a with a = 0.3 (a number to a Value's power), dL/da = 2^a ln 2",
                 ga, 2 ** 0.3 * math.log(2), atol=1e-9, rtol=1e-9)

    def f(a, b):
        return math.tanh(a ** b) * a ** 2
    values = (0.8, 1.7)
    got = _grads(module, lambda a, b: (a ** b).tanh() * a ** 2, values)
    for i, name in enumerate("ab"):
        check_number(f"for L = tanh(a ** b) * a ** 2 with a = 0.8, b = 1.7, dL/d{name} "
                     "(compared with a central difference)", got[i], _central(f, values, i),
                     atol=1e-7, rtol=1e-6)


def _orders(f, dfdx, x, eps, one_sided, central, log=math.log10, flip=False):
    """The two orders as the exercise defines them, or as a classic mistake computes them."""
    exact = dfdx(x)

    def order(formula):
        big, small = abs(formula(eps) - exact), abs(formula(eps / 10) - exact)
        return log(small / big) if flip else log(big / small)
    return order(one_sided), order(central)


def check_error_orders(module):
    for f, dfdx, x, eps, name in [(math.exp, math.exp, 0.5, 1e-2, "exp"),
                                  (math.sin, math.cos, 1.0, 1e-2, "sin"),
                                  (math.log, lambda v: 1 / v, 2.0, 1e-1, "log")]:
        def one_sided(h):
            return (f(x + h) - f(x)) / h

        def central(h):
            return (f(x + h) - f(x - h)) / (2 * h)

        def without_two(h):
            return (f(x + h) - f(x - h)) / h
        got = module.error_orders(f, dfdx, x, eps)
        what = f"error_orders(math.{name}, its derivative, x={x}, eps={eps})"
        check_tuple(got, 2, what, of="numbers (p_one_sided, p_central)")
        expected = _orders(f, dfdx, x, eps, one_sided, central)
        right = (f"; the right orders are {expected[0]:.4f} and {expected[1]:.4f}")
        name_the_mistake(got, expected, [
            (_orders(f, dfdx, x, eps, central, central), f"{what} = {_pair(got)}: both are the "
             "central difference's order; the first is the one-sided (f(x + h) - f(x)) / h"
             + right),
            (_orders(f, dfdx, x, eps, one_sided, central, flip=True), f"{what} = {_pair(got)}: "
             "the orders have the wrong sign. The error shrinks, so the ratio is the error at "
             "eps divided by the (smaller) error at eps / 10" + right),
            (_orders(f, dfdx, x, eps, one_sided, central, log=math.log), f"{what} = "
             f"{_pair(got)}: that is the natural logarithm. h shrank tenfold, so the order is "
             "log10 of the ratio (or its log divided by log(10))" + right),
            (_orders(f, dfdx, x, eps, one_sided, without_two), f"{what} = {_pair(got)}: the "
             "central difference's error does not shrink, because (f(x + h) - f(x - h)) / h is "
             "twice the derivative: divide by 2 h" + right)], atol=1e-6, rtol=1e-6)
        for label, g, e in zip(("the one-sided order", "the central order"), got, expected):
            check_number(f"{what}: {label}", g, e, atol=1e-6, rtol=1e-6)


def _pair(values):
    return "(" + ", ".join(f"{float(v):.4f}" for v in values) + ")"


# --- the ladders ------------------------------------------------------------------------------
# A graph is written once for Values and for floats: ``graph(exp, *leaves)``, where exp is
# Value.exp or math.exp. The expected gradients are central differences of the float version.

def _graph_case(text, graph, values):
    return dict(text=text, graph=graph, values=values)


def _graph_got(module, case):
    leaves = [module.Value(v) for v in case["values"]]
    out = case["graph"](lambda v: v.exp(), *leaves)
    if not hasattr(out, "_backward"):
        raise TypeError(f"the result is {type(out).__name__}, not a Value")
    module.backward(out)
    return [leaf.grad for leaf in leaves]


def _graph_expected(case):
    def f(*values):
        return case["graph"](math.exp, *values)
    return [_central(f, case["values"], i) for i in range(len(case["values"]))]


def _graph_ladder(what, rungs):
    return Ladder(what, rungs, got=_graph_got, expected=_graph_expected, atol=1e-6, rtol=1e-6,
                  show=lambda case: f"{case['text']} with leaves {case['values']}; the result "
                                    "lists the gradient of each leaf")


SHARED = ("backward must visit every node once, after every node that used it: a node "
          "visited twice passes its gradient on twice")

EXP_LADDER = _graph_ladder("exp's backward (run by backward(L))", [
    rung("for L = exp(a)", **_graph_case("L = exp(a)", lambda exp, a: exp(a), (0.4,))),
    rung("for L = exp(a) * c, where the upstream gradient is not 1", "multiply by out.grad, the "
         "gradient that reached exp's output", **_graph_case(
             "L = exp(a) * c", lambda exp, a, c: exp(a) * c, (0.4, 2.3))),
    rung("with a node used twice (e = exp(a); L = e * e)", SHARED, **_graph_case(
        "e = exp(a); L = e * e", lambda exp, a: (lambda e: e * e)(exp(a)), (0.4,))),
])

POWER_LADDER = _graph_ladder("**'s backward (run by backward(L))", [
    rung("for L = a ** 3", **_graph_case("L = a ** 3", lambda exp, a: a ** 3, (1.5,))),
    rung("for L = a ** 3 * c, where the upstream gradient is not 1", "multiply by out.grad, the "
         "gradient that reached the power's output", **_graph_case(
             "L = a ** 3 * c", lambda exp, a, c: a ** 3 * c, (1.5, 2.3))),
    rung("for L = a ** b * c, with a Value exponent b", "the exponent is an input too: "
         "d(a^b)/db comes from a^b = e^(b ln a)", **_graph_case(
             "L = a ** b * c", lambda exp, a, b, c: a ** b * c, (1.5, 0.7, 2.3))),
    rung("with a node used twice (p = a ** b; L = p * p)", SHARED, **_graph_case(
        "p = a ** b; L = p * p", lambda exp, a, b: (lambda p: p * p)(a ** b), (1.5, 0.7))),
])


def _orders_case(name, eps):
    f, dfdx, x = {"exp": (math.exp, math.exp, 0.5), "sin": (math.sin, math.cos, 1.0)}[name]
    return dict(name=name, f=f, dfdx=dfdx, x=x, eps=eps)


def _orders_expected(case):
    f, x = case["f"], case["x"]
    return list(_orders(f, case["dfdx"], x, case["eps"], lambda h: (f(x + h) - f(x)) / h,
                        lambda h: (f(x + h) - f(x - h)) / (2 * h)))


ORDERS_LADDER = Ladder(
    "error_orders", [
        rung("for exp at x = 0.5 with eps = 1e-2", **_orders_case("exp", 1e-2)),
        rung("with eps = 1e-1", "use the eps you are given: the error at eps and at eps / 10",
             **_orders_case("exp", 1e-1)),
        rung("for sin at x = 1.0", "use the f and dfdx you are given, not exp",
             **_orders_case("sin", 1e-1)),
    ],
    got=lambda module, case: list(module.error_orders(case["f"], case["dfdx"], case["x"],
                                                      case["eps"])),
    expected=_orders_expected, atol=1e-6, rtol=1e-6,
    show=lambda case: f"f = math.{case['name']}, x = {case['x']}, eps = {case['eps']}")

CHECKS = with_ladders({"1.1": check_exp, "1.2": check_power, "1.3": check_error_orders},
                      {"1.1": EXP_LADDER, "1.2": POWER_LADDER, "1.3": ORDERS_LADDER})

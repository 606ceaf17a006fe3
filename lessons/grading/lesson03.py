"""Checks of lesson 3: a gradient check's report (the worst element), the numerical Jacobian,
and a check along one direction.

Inputs are built so that the classic mistakes give answers of their own: a large element with
a large but allowed error (the worst is not the largest error), an error that the tolerance
rule passes or fails depending on which value it is relative to, square shapes where a
transposed Jacobian has the right shape, and an x that already holds a gradient."""
import numpy as np

import nn
import nn.functional as F

from .core import Unexplained, Wrong, check_array, check_number, check_tuple
from .ladder import Ladder, rung, shown, with_ladders

MODULE = "ex03_gradient_checking"
POINTS = {"3.1": 2, "3.2": 2, "3.3": 3}


# --- 3.1 -------------------------------------------------------------------------------------

def _report(analytic, numeric, atol, rtol, relative_to="numeric", worst_by="excess"):
    """(bad, worst) as the exercise defines it, or as a classic mistake computes it."""
    error = np.abs(analytic - numeric)
    scale = np.abs(numeric) if relative_to == "numeric" else np.abs(analytic)
    excess = error - (atol + rtol * scale)
    bad = int((excess > 0).sum())
    if bad == 0:
        return 0, None
    key = {"excess": excess, "error": error,
           "relative": error / np.maximum(np.abs(numeric), 1e-300)}[worst_by]
    return bad, tuple(int(i) for i in np.unravel_index(int(np.argmax(key)), key.shape))


def _cases(rng):
    """(name, analytic, numeric): small errors everywhere, plus planted ones."""
    numeric = rng.standard_normal((3, 4))
    analytic = numeric + 1e-7 * rng.standard_normal((3, 4))
    a1, n1 = analytic.copy(), numeric.copy()
    n1[1, 2], a1[1, 2] = 0.2, 0.3               # off by 0.1 on a small value: the worst
    n1[0, 0], a1[0, 0] = 50.0, 50.12            # off by 0.12, allowed 0.05: fails, less badly
    n1[2, 3], a1[2, 3] = 100.0, 100.09          # off by 0.09, allowed 0.1: passes
    a2, n2 = analytic.copy(), numeric.copy()
    n2[0, 1], a2[0, 1] = 10.0, 10.01002         # fails against |numeric|, passes against |a|
    n2[2, 2], a2[2, 2] = 3e-3, 4e-3             # fails either way; the largest relative error
    n2[1, 1], a2[1, 1] = -2.0, -2.02            # the largest excess
    return [("a report with three planted errors", a1, n1),
            ("a report with an error near its allowance", a2, n2),
            ("a report where every element passes", analytic, numeric)]


def _shown(index):
    """An index as the student would write it: (2, 3), not (np.int64(2), np.int64(3))."""
    try:
        return str(tuple(int(i) for i in np.ravel(index)))
    except (TypeError, ValueError):
        return repr(index)


def check_worst_element(module):
    rng = np.random.default_rng(0)
    atol, rtol = 1e-5, 1e-3
    for name, analytic, numeric in _cases(rng):
        what = f"worst_element on {name} (shape (3, 4), atol={atol}, rtol={rtol})"
        got = module.worst_element(analytic.copy(), numeric.copy(), atol, rtol)
        bad, worst = check_tuple(got, 2, what, of="items (bad, worst)")
        expected_bad, expected_worst = _report(analytic, numeric, atol, rtol)
        if expected_worst is None and worst is not None:
            raise Wrong(f"{what}: every element passes, so worst must be None; yours is "
                        f"{_shown(worst)}")
        if expected_worst is not None and isinstance(worst, (int, np.integer)):
            raise Wrong(f"{what}: worst = {worst} is a flat position (what np.argmax gives); "
                        "turn it into an index with one int per axis, np.unravel_index(..., "
                        "shape)")
        by_analytic = _report(analytic, numeric, atol, rtol, relative_to="analytic")
        if bad != expected_bad and bad == by_analytic[0]:
            raise Wrong(f"{what}: bad = {bad}, expected {expected_bad}. Your tolerance is "
                        "relative to |analytic|; the rule is atol + rtol * |numeric|, the "
                        "central difference being the reference")
        if bad != expected_bad:
            raise Unexplained(f"{what}: bad = {bad}, expected {expected_bad} elements failing "
                              "|analytic - numeric| <= atol + rtol * |numeric|")
        worst = None if worst is None else tuple(int(i) for i in np.ravel(worst))
        if worst != expected_worst:
            for by, words in [("error", "the largest |analytic - numeric|"),
                              ("relative", "the largest relative error")]:
                if worst == _report(analytic, numeric, atol, rtol, worst_by=by)[1]:
                    raise Wrong(f"{what}: worst = {worst} has {words}, but the worst element is "
                                f"the one that misses its allowance atol + rtol * |numeric| by "
                                f"the most, {expected_worst}")
            raise Unexplained(f"{what}: worst = {worst}, expected {expected_worst}")


# --- 3.2 -------------------------------------------------------------------------------------

def _jacobian(f, x, eps, one_sided=False):
    """The grader's own loop: column j from the perturbation of x.flat[j]."""
    J = np.zeros((np.size(f(x)), x.size))
    for j in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += eps
        minus.flat[j] -= eps
        if one_sided:
            J[:, j] = (np.ravel(f(plus)) - np.ravel(f(x))) / eps
        else:
            J[:, j] = (np.ravel(f(plus)) - np.ravel(f(minus))) / (2 * eps)
    return J


def check_numerical_jacobian(module):
    rng = np.random.default_rng(0)
    m_wide, m_square = rng.standard_normal((4, 5)), rng.standard_normal((2, 2))
    cases = [("f(x) = tanh(x @ M), x (3, 4), M (4, 5)", lambda a: np.tanh(a @ m_wide),
              rng.standard_normal((3, 4))),
             ("f(x) = tanh(x @ M) * x, x (2, 2), M (2, 2)", lambda a: np.tanh(a @ m_square) * a,
              rng.standard_normal((2, 2))),
             ("f(x) = sum(x ** 3), x (2, 3), one output", lambda a: (a ** 3).sum(),
              rng.standard_normal((2, 3)))]
    eps = 1e-3   # coarse, so that a one-sided difference is measurably off
    for name, f, x in cases:
        before = x.copy()
        got = module.numerical_jacobian(f, x, eps)
        what = f"numerical_jacobian for {name}, eps={eps}"
        if not np.array_equal(x, before):
            raise Wrong(f"{what} changed x: put each element back after perturbing it, or the "
                        "later columns are measured at the wrong point (and the caller's x is "
                        "spoiled)")
        expected = _jacobian(f, x, eps)
        shape = expected.shape
        if got is None or not hasattr(got, "shape"):
            raise Wrong(f"{what} returned {type(got).__name__}: return an array of shape "
                        f"{shape}")
        if got.shape == shape[::-1] and shape[0] != shape[1]:
            raise Wrong(f"{what} has shape {got.shape}, expected {shape}: that is the "
                        "transpose. Row i belongs to output i, column j to input j: "
                        "J[i, j] = d f.flat[i] / d x.flat[j]")
        if got.shape == np.shape(f(x)) + x.shape and got.shape != shape:
            raise Wrong(f"{what} has shape {got.shape}, f(x)'s shape then x's; the Jacobian "
                        f"is the matrix of shape {shape} (f(x).size, x.size)")
        check_array(f"{what}, against central differences", got, expected, atol=1e-10,
                    rtol=1e-8, mistakes=[
            (expected.T, f"{what} is the transpose of the Jacobian (the shapes agree because "
                         "both are square): row i belongs to output i, column j to input j"),
            (_jacobian(f, x, eps, one_sided=True), f"{what} is a one-sided difference "
             "(f(x + eps e_j) - f(x)) / eps; the central difference (f(x + eps e_j) - "
             "f(x - eps e_j)) / (2 eps) is accurate to eps^2 instead of eps")])


# --- 3.3 -------------------------------------------------------------------------------------

def _directional(fn, x, g, v, eps, old_grad=None, weight=True, dot=True, one_sided=False):
    """(analytic, numeric) as the exercise defines them, or as a classic mistake does."""
    t = nn.Tensor(x.copy(), requires_grad=True)
    fn(t).backward(g)
    grad = t.grad + (old_grad if old_grad is not None else 0)
    analytic = float((grad * v).sum()) if dot else float(grad.sum())

    def loss(data):
        with nn.no_grad():
            out = fn(nn.Tensor(data)).data
        return float((out * g).sum()) if weight else float(out.sum())
    if one_sided:
        numeric = (loss(x + eps * v) - loss(x)) / eps
    else:
        numeric = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
    return analytic, numeric


def check_directional(module):
    rng = np.random.default_rng(0)
    m = nn.Tensor(rng.standard_normal((4, 4)))

    def fn(t):                  # (3, 4) -> (3, 4)
        return F.tanh(t @ m) * t
    x, g, v = (rng.standard_normal((3, 4)) for _ in range(3))
    old = rng.standard_normal((3, 4))
    eps = 1e-3                  # coarse, so that a one-sided difference is measurably off
    t = nn.Tensor(x.copy(), requires_grad=True)
    t.grad = old.copy()         # left by an earlier backward
    got = module.directional_check(fn, t, g.copy(), v.copy(), eps)
    what = (f"directional_check(fn, x, g, v, eps={eps}) for fn(x) = tanh(x @ M) * x, "
            "x (3, 4), with x.grad already holding an earlier gradient")
    if not np.array_equal(t.data, x):
        raise Wrong(f"{what} changed x.data: the caller's x must come back as it was (perturb "
                    "copies, x.data + eps * v, not x.data itself)")
    analytic, numeric = check_tuple(got, 2, what, of="numbers (analytic, numeric)")
    expected_a, expected_n = _directional(fn, x, g, v, eps)
    check_number(f"{what}: analytic, sum(dL/dx * v)", analytic, expected_a, atol=1e-9,
                 rtol=1e-9, mistakes=[
        (_directional(fn, x, g, v, eps, old_grad=old)[0], f"{what}: analytic = {analytic:.6g} "
         "counts the gradient x.grad already held: backward adds into .grad, so set "
         "x.grad = None before it"),
        (_directional(fn, x, g, v, eps, dot=False)[0], f"{what}: analytic = {analytic:.6g} is "
         "sum(dL/dx), not along v: the derivative along v is sum(dL/dx * v)")])
    check_number(f"{what}: numeric, (L(x + eps v) - L(x - eps v)) / (2 eps)", numeric,
                 expected_n, atol=1e-9, rtol=1e-9, mistakes=[
        (_directional(fn, x, g, v, eps, weight=False)[1], f"{what}: numeric = {numeric:.6g} "
         "differentiates sum(fn(x)); backward(g) differentiates L = sum(fn(x) * g), and the "
         "difference must measure the same L"),
        (_directional(fn, x, g, v, eps, one_sided=True)[1], f"{what}: numeric = "
         f"{numeric:.6g} is the one-sided (L(x + eps v) - L(x)) / eps; the central "
         "(L(x + eps v) - L(x - eps v)) / (2 eps) is accurate to eps^2")])
    # And the point of it all: with the default eps the two agree.
    t = nn.Tensor(x.copy(), requires_grad=True)
    analytic, numeric = module.directional_check(fn, t, g, v)
    check_number("directional_check with the default eps: numeric against analytic", numeric,
                 analytic, atol=1e-7, rtol=1e-6)


# --- the ladders ------------------------------------------------------------------------------

def _as_numbers(result):
    """(bad, worst) as numbers: [bad, *worst], or [bad] when worst is None."""
    bad, worst = result
    return [bad] + ([] if worst is None else list(worst))


WORST_CASES = {
    "1-D": (np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.1, 2.0, 3.0])),
    "2-D": (np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]),
            np.array([[0.1, 1.0, 2.5], [3.0, 4.2, 5.0]])),
}
WORST_LADDER = Ladder(
    "worst_element", [
        rung("for 1-D arrays with one failing element", arrays="1-D"),
        rung("for 2-D arrays with three failing elements", "count every failing element; the "
             "index has one entry per axis", arrays="2-D")],
    got=lambda module, case: _as_numbers(module.worst_element(*WORST_CASES[case["arrays"]])),
    expected=lambda case: _as_numbers(_report(*WORST_CASES[case["arrays"]], 1e-5, 1e-3)),
    show=lambda case: "analytic = {}, numeric = {} (atol 1e-5, rtol 1e-3); the result lists bad, "
                      "then worst's entries".format(*WORST_CASES[case["arrays"]]), atol=0, rtol=0)


JACOBIAN_FUNCTIONS = {
    "square": lambda x: x ** 2,
    "two outputs": lambda x: np.array([x.sum() ** 2, (x * np.arange(1.0, x.size + 1)).sum()]),
    "cube of a 2-D x": lambda x: (x ** 3).T,
}
JACOBIAN_INPUTS = {"one": np.array([0.5]), "three": np.array([0.5, -1.0, 2.0]),
                   "2-D": np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])}


def _jacobian_exact(case):
    """The grader's own central differences, column by column (the test functions are
    polynomials of degree <= 3: the error is eps^2 times their third derivative, ~1e-12)."""
    f, x = JACOBIAN_FUNCTIONS[case["f"]], JACOBIAN_INPUTS[case["x"]]
    flat = x.ravel()
    columns = []
    for j in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[j] += 1e-6
        minus[j] -= 1e-6
        columns.append(np.ravel(f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / 2e-6)
    return np.stack(columns, axis=1)


JACOBIAN_LADDER = Ladder(
    "numerical_jacobian", [
        rung("for x of one element, f(x) = x ** 2", f="square", x="one"),
        rung("for x of three elements", "one column per element of x, each made by moving "
             "that element alone", f="square", x="three"),
        rung("for f with two outputs of three inputs, a 2x3 Jacobian", "rows are f's outputs, "
             "columns x's elements: every output responds to every input", f="two outputs",
             x="three"),
        rung("for a 2-D x", "column j moves x.flat[j]: every element of x, not only its rows",
             f="cube of a 2-D x", x="2-D")],
    got=lambda module, case: module.numerical_jacobian(JACOBIAN_FUNCTIONS[case["f"]],
                                                       JACOBIAN_INPUTS[case["x"]].copy()),
    expected=_jacobian_exact, atol=1e-6, rtol=1e-6,
    show=lambda case: f"f: {case['f']}, x = {JACOBIAN_INPUTS[case['x']]}")


DIRECTIONAL_FUNCTIONS = {"3 x": lambda t: t * 3.0, "tanh(x) * x": lambda t: F.tanh(t) * t}


def _directional_case(fn, size, eps=1e-6):
    rng = np.random.default_rng(11)
    return dict(fn=fn, x=rng.standard_normal(size), g=rng.standard_normal(size),
                v=rng.standard_normal(size), eps=eps)


def _directional_got(module, case):
    t = nn.Tensor(case["x"].copy(), requires_grad=True)
    return list(module.directional_check(DIRECTIONAL_FUNCTIONS[case["fn"]], t, case["g"].copy(),
                                         case["v"].copy(), case["eps"]))


DIRECTIONAL_LADDER = Ladder(
    "directional_check", [
        rung("for fn(x) = 3 x with x of one element", **_directional_case("3 x", 1)),
        rung("for x of three elements", "both numbers are sums over every element: "
             "sum(dL/dx * v)", **_directional_case("3 x", 3)),
        rung("for fn(x) = tanh(x) * x with eps = 1e-2", "the central difference uses the eps "
             "it is given", **_directional_case("tanh(x) * x", 3, eps=1e-2)),
    ],
    got=_directional_got,
    expected=lambda case: list(_directional(DIRECTIONAL_FUNCTIONS[case["fn"]], case["x"],
                                            case["g"], case["v"], case["eps"])),
    atol=1e-9, rtol=1e-7,
    show=lambda case: f"fn(x) = {case['fn']}, x = {shown(case['x'])}, g = {shown(case['g'])}, "
                      f"v = {shown(case['v'])}, eps = {case['eps']}; the result is (analytic, "
                      "numeric)")

CHECKS = with_ladders(
    {"3.1": check_worst_element, "3.2": check_numerical_jacobian, "3.3": check_directional},
    {"3.1": WORST_LADDER, "3.2": JACOBIAN_LADDER, "3.3": DIRECTIONAL_LADDER})

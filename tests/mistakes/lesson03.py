"""Classic wrong answers to the exercises of lesson 3."""
import numpy as np

import nn
from lessons.solutions import ex03_gradient_checking as solution

from . import Mistake, variant


def _worst(key="excess", relative_to="numeric", flat=False, clean_index=False):
    def worst_element(analytic, numeric, atol=1e-5, rtol=1e-3):
        error = np.abs(analytic - numeric)
        scale = np.abs(numeric) if relative_to == "numeric" else np.abs(analytic)
        excess = error - (atol + rtol * scale)
        bad = int((excess > 0).sum())
        if bad == 0 and not clean_index:
            return 0, None
        by = {"excess": excess, "error": error, "relative": error / np.abs(numeric)}[key]
        position = int(np.argmax(by))
        return bad, position if flat else np.unravel_index(position, by.shape)
    return worst_element


def jacobian_transposed(f, x, eps=1e-6):
    return solution.numerical_jacobian(f, x, eps).T


def jacobian_one_sided(f, x, eps=1e-6):
    base = np.ravel(f(x))
    columns = []
    for j in range(x.size):
        plus = x.copy()
        plus.flat[j] += eps
        columns.append((np.ravel(f(plus)) - base) / eps)
    return np.stack(columns, axis=1)


def jacobian_without_restoring(f, x, eps=1e-6):
    columns = []
    for j in range(x.size):
        x.flat[j] += eps
        plus = np.ravel(f(x))
        x.flat[j] -= 2 * eps
        columns.append((plus - np.ravel(f(x))) / (2 * eps))
    return np.stack(columns, axis=1)


def jacobian_unflattened(f, x, eps=1e-6):
    J = solution.numerical_jacobian(f, x, eps)
    return J.reshape(np.shape(f(x)) + x.shape)


def _directional(keep_old_grad=False, weight=True, dot=True, one_sided=False, in_place=False):
    def directional_check(fn, x, g, v, eps=1e-6):
        if not keep_old_grad:
            x.grad = None
        fn(x).backward(g)
        analytic = float((x.grad * v).sum()) if dot else float(x.grad.sum())

        def loss(data):
            with nn.no_grad():
                out = fn(nn.Tensor(data)).data
            return float((out * g).sum()) if weight else float(out.sum())
        if in_place:
            x.data += eps * v
            plus = loss(x.data)
            x.data -= 2 * eps * v
            return analytic, (plus - loss(x.data)) / (2 * eps)
        if one_sided:
            return analytic, (loss(x.data + eps * v) - loss(x.data)) / eps
        return analytic, (loss(x.data + eps * v) - loss(x.data - eps * v)) / (2 * eps)
    return directional_check


MISTAKES = [
    Mistake("3.1", "worst_by_largest_error", variant(solution, worst_element=_worst("error")),
            "has the largest |analytic - numeric|, but the worst element"),
    Mistake("3.1", "worst_by_relative_error",
            variant(solution, worst_element=_worst("relative")),
            "has the largest relative error, but the worst element"),
    Mistake("3.1", "tolerance_relative_to_analytic",
            variant(solution, worst_element=_worst(relative_to="analytic")),
            "Your tolerance is relative to |analytic|"),
    Mistake("3.1", "flat_position", variant(solution, worst_element=_worst(flat=True)),
            "is a flat position (what np.argmax gives)"),
    Mistake("3.1", "an_index_when_nothing_fails",
            variant(solution, worst_element=_worst(clean_index=True)),
            "every element passes, so worst must be None"),
    Mistake("3.2", "jacobian_transposed", variant(solution, numerical_jacobian=jacobian_transposed),
            "that is the transpose. Row i belongs to output i"),
    Mistake("3.2", "jacobian_one_sided", variant(solution, numerical_jacobian=jacobian_one_sided),
            "is a one-sided difference"),
    Mistake("3.2", "jacobian_without_restoring",
            variant(solution, numerical_jacobian=jacobian_without_restoring),
            "changed x: put each element back"),
    Mistake("3.2", "jacobian_unflattened",
            variant(solution, numerical_jacobian=jacobian_unflattened),
            "f(x)'s shape then x's; the Jacobian is the matrix"),
    Mistake("3.3", "old_gradient_counted",
            variant(solution, directional_check=_directional(keep_old_grad=True)),
            "counts the gradient x.grad already held"),
    Mistake("3.3", "numeric_without_g", variant(solution, directional_check=_directional(weight=False)),
            "differentiates sum(fn(x)); backward(g) differentiates"),
    Mistake("3.3", "analytic_not_along_v", variant(solution, directional_check=_directional(dot=False)),
            "is sum(dL/dx), not along v"),
    Mistake("3.3", "numeric_one_sided",
            variant(solution, directional_check=_directional(one_sided=True)),
            "is the one-sided (L(x + eps v) - L(x)) / eps"),
    Mistake("3.3", "x_changed_in_place",
            variant(solution, directional_check=_directional(in_place=True)),
            "changed x.data: the caller's x must come back"),
]

"""Checks of lesson 2: batched matmul's backward with broadcasting, a / b, softmax, and the order
of the backward walk (on a chain, a node used twice, short and long paths, a deep chain).

Each backward is called directly first (its shapes, then its values against the formula, with
the classic mistakes recognised by what they compute), then checked by nn.gradcheck through
Tensors: float64 and a random upstream gradient, so that a missing transpose cannot pass."""
import numpy as np

import nn
from nn.tensor import _reverse_topological_order   # Tensor.backward's own order

from .core import Wrong, check_array, check_backward_tuple, check_gradients
from .ladder import autograd_ladder, away_from_zero, device_rung, float32_rung, rung, with_ladders

MODULE = "ex02_tensors"
POINTS = {"2.1": 3, "2.2": 2, "2.3": 3, "2.4": 2}


def _sum_to(grad, shape):
    """The gradient of an input of ``shape`` broadcast to grad's shape: what nn computes."""
    leaf = nn.Tensor(np.zeros(shape), requires_grad=True)
    (leaf + nn.Tensor(np.zeros(grad.shape))).backward(grad)
    return leaf.grad


def _two(grads, names):
    check_backward_tuple(grads, names)
    for name, grad in zip(names, grads):
        if grad is None or not hasattr(grad, "shape"):
            raise Wrong(f"backward returned {type(grad).__name__} for the gradient with respect "
                        f"to {name}: return an array")
    return grads


def _t(a):
    return a.swapaxes(-1, -2)


# (a's shape, b's shape): square matrices (where a missing transpose or a swapped order gives
# numbers, not a shape error), batch axes added to b, added to a, stretched in both
MATMUL_SHAPES = [((2, 3, 3), (3, 3)), ((2, 3, 4, 5), (5, 6)), ((4, 5), (2, 5, 6)),
                 ((3, 1, 4, 5), (1, 2, 5, 6))]


def check_matmul_backward(module):
    rng = np.random.default_rng(0)
    for shape_a, shape_b in MATMUL_SHAPES:
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        g = rng.standard_normal(np.broadcast_shapes(shape_a[:-2], shape_b[:-2])
                                + (shape_a[-2], shape_b[-1]))
        call = f"MatMul backward for a {shape_a} @ b {shape_b}"
        f = module.MatMul()
        f.forward(a.copy(), b.copy())
        try:
            ga, gb = _two(f.backward(g.copy()), ("a", "b"))
        except ValueError as e:
            if "matmul" not in str(e):
                raise
            if shape_a[-1] == shape_a[-2] == shape_b[-1]:   # square: a transpose cannot clash
                raise Wrong(f"{call}: a product in your backward has shapes that do not fit "
                            f"({e}), though every matrix here is square. Did you write .T? On a "
                            "batch of matrices .T reverses every axis, the batch axes too; "
                            "transpose the last two only, swapaxes(-1, -2)") from None
            raise Wrong(f"{call}: a product in your backward has shapes that do not fit ({e}). "
                        "Check each product's matrix shapes: dL/da = g @ b^T is (n, m) @ "
                        "(m, k), dL/db = a^T @ g is (k, n) @ (n, m)") from None
        for name, got, x, full in [("a", ga, a, g @ _t(b)), ("b", gb, b, _t(a) @ g)]:
            expected = _sum_to(full, x.shape)
            what = f"{call}: the gradient with respect to {name}"
            if got.shape == full.shape and got.shape != x.shape:
                raise Wrong(f"{what} has shape {got.shape}, the output's batch shape; {name} "
                            f"{x.shape} was broadcast over batch axes, used once per batch "
                            "entry: sum the gradient over them to its own shape (sum_to_shape)")
            if got.shape != x.shape and got.size == x.size and got.shape == tuple(
                    n for n in x.shape if n != 1):
                raise Wrong(f"{what} has shape {got.shape}, expected {x.shape}: an axis of "
                            f"length 1 in {name} was stretched; sum over it with "
                            "keepdims=True so that it stays")
            if got.shape != x.shape:
                raise Wrong(f"{what} has shape {got.shape}, expected {x.shape} ({name}'s shape)")
            square = shape_a[-1] == shape_a[-2] == shape_b[-1]
            mistakes = []
            if square and name == "a":
                mistakes = [(_sum_to(g @ b, x.shape), f"{what} is g @ b: b must be transposed, "
                             "dL/da = g @ b^T"),
                            (_sum_to(_t(b) @ g, x.shape), f"{what} is b^T @ g: the order of a "
                             "matrix product matters, dL/da = g @ b^T (g on the left)")]
            elif square:
                mistakes = [(_sum_to(a @ g, x.shape), f"{what} is a @ g: a must be transposed, "
                             "dL/db = a^T @ g"),
                            (_sum_to(g @ _t(a), x.shape), f"{what} is g @ a^T: the order of a "
                             "matrix product matters, dL/db = a^T @ g (g on the right)")]
            check_array(what, got, expected, mistakes=mistakes)
    for shape_a, shape_b in MATMUL_SHAPES[1:]:
        ta = nn.Tensor(rng.standard_normal(shape_a), requires_grad=True)
        tb = nn.Tensor(rng.standard_normal(shape_b), requires_grad=True)
        check_gradients(lambda x, y: module.MatMul()(x, y), [ta, tb],
                        (f"a {shape_a}", f"b {shape_b}"))


def _away_from_zero(rng, shape):
    """Values in +-[0.5, 1.5]: a divisor far from 0, where a / b is smooth."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def check_div_backward(module):
    rng = np.random.default_rng(0)
    a, b, g = rng.standard_normal((2, 3)), _away_from_zero(rng, (2, 3)), rng.standard_normal((2, 3))
    f = module.Div()
    f.forward(a.copy(), b.copy())
    ga, gb = _two(f.backward(g.copy()), ("a", "b"))
    what = "Div backward for a, b of shape (2, 3): the gradient with respect to"
    check_array(f"{what} a", ga, g / b, mistakes=[
        (g * b, f"{what} a is g * b: a / b is a times 1/b, so dL/da = g / b")])
    right = -g * a / b ** 2
    check_array(f"{what} b", gb, right, mistakes=[
        (-right, f"{what} b has the wrong sign: a / b falls as b grows (for a > 0), "
                 "d(a/b)/db = -a / b^2"),
        (-g * a / b, f"{what} b is -g a / b: the derivative of 1/b is -1/b^2, so divide by b "
                     "twice"),
        (-g / b ** 2, f"{what} b is -g / b^2, without a: d(a/b)/db = -a / b^2")])
    for shape_a, shape_b in [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3))]:
        ta = nn.Tensor(rng.standard_normal(shape_a), requires_grad=True)
        tb = nn.Tensor(_away_from_zero(rng, shape_b), requires_grad=True)
        check_gradients(lambda x, y: module.Div()(x, y), [ta, tb], ("a", "b"))


def _possible(mistakes, shape):
    """The (result, words) of the mistakes that can be computed for this shape (a sum without
    keepdims only broadcasts back when the axes happen to fit)."""
    out = []
    for compute, words in mistakes:
        try:
            result = compute()
        except ValueError:
            continue
        if np.shape(result) == shape:
            out.append((result, words))
    return out


def check_softmax_backward(module):
    rng = np.random.default_rng(0)
    for shape in [(3, 5), (4, 4), (2, 3, 4)]:
        x, g = rng.standard_normal(shape), rng.standard_normal(shape)
        f = module.Softmax()
        y = f.forward(x.copy())
        got = f.backward(g.copy())
        # The definition, row by row: dL/dx_j = sum_i g_i y_i (delta_ij - y_j).
        expected = np.empty(shape)
        for row in np.ndindex(*shape[:-1]):
            yr = y[row]
            expected[row] = (np.diag(yr) - np.outer(yr, yr)).T @ g[row]
        what = f"Softmax backward for x of shape {shape}"
        mistakes = [(lambda: g * y * (1 - y), f"{what} is g * y * (1 - y), the diagonal of "
                     "the Jacobian alone: every y_i of a row depends on every x_j of it through "
                     "the shared sum, so the off-diagonal terms -y_i y_j add a term: "
                     "dL/dx = y * (g - sum(g * y))"),
                    (lambda: y * (g - (g * y).sum(axis=0, keepdims=True)), f"{what}: the sum "
                     "of g * y runs over axis 0; softmax normalises along the last axis, and "
                     "the sum must too (axis=-1)"),
                    (lambda: y * (g - (g * y).sum()), f"{what}: the sum of g * y runs over the "
                     "whole array; it belongs to each row alone (axis=-1, keepdims=True)"),
                    (lambda: y * (g - (g * y).sum(axis=-1)), f"{what}: the row sums of g * y, "
                     "taken without keepdims=True, broadcast along the wrong axis (each row's "
                     "sum lands in a column); keep the axis so that they stay with their rows")]
        if got is not None and getattr(got, "shape", None) != shape:
            raise Wrong(f"{what} has shape {getattr(got, 'shape', None)}, expected {shape} "
                        "(x's shape)")
        check_array(what, got, expected, mistakes=_possible(mistakes, shape))
    t = nn.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    check_gradients(lambda x: module.Softmax()(x), [t], ("x",))


# --- 2.4: the order of the backward walk --------------------------------------------------------

def _leaf(value):
    return nn.Tensor(np.full(2, value), requires_grad=True)


def _chain():
    x = _leaf(0.5)
    y = x * 2.0
    z = y.exp()
    return z.sum(), dict(x=x, y=y, z=z)


def _shared():
    x = _leaf(0.5)
    y = x * 3.0
    m = y * y
    e = y.exp()
    s = m + e
    return s.sum(), dict(x=x, y=y, m=m, e=e, s=s)


def _short_and_long():
    x = _leaf(0.5)
    a = x * 2.0
    b = a.exp()
    c = b * 3.0
    s = a + c
    return s.sum(), dict(x=x, a=a, b=b, c=c, s=s)


def _deep():
    x = _leaf(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0
    return y.sum(), dict(x=x)


ORDER_RUNGS = [
    ("for a chain, L = sum(exp(2 x))", _chain, ""),
    ("with a node used twice, y in L = sum(y * y + exp(y)), y = 3 x", _shared,
     "a Tensor used twice must be listed once, after both of its users, so that both shares "
     "of its gradient have arrived before it passes the sum on"),
    ("with a node reached by a short and a long path, a in L = sum(a + 3 exp(a)), a = 2 x",
     _short_and_long, "a Tensor reached first by a short path must still come after the users "
     "on the long path: mark a Tensor done when all its users are placed, not when it is first "
     "seen"),
    ("for a chain of 5,000 operations", _deep, "a walk that calls itself once per Tensor "
     "exceeds Python's recursion limit on deep graphs: keep your own stack"),
]


def _order_problem(order, root, names):
    """What is wrong with ``order`` as a backward order of root's graph, or None."""
    def name(t):
        return names.get(id(t), "the Tensor " + repr(tuple(t.shape)) if hasattr(t, "shape")
                         else type(t).__name__)
    if not all(isinstance(t, nn.Tensor) for t in order):
        return "it holds things that are not Tensors"
    expected, seen, stack = {}, set(), [root]
    while stack:                      # every Tensor root depends on, through requires_grad ones
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        expected[id(t)] = t
        if t._creator is not None:
            stack += [i for i in t._creator.inputs if i.requires_grad]
    counts = {}
    for t in order:
        counts[id(t)] = counts.get(id(t), 0) + 1
    twice = [t for t in order if counts[id(t)] > 1]
    if twice:
        return (f"{name(twice[0])} is listed {counts[id(twice[0])]} times: backward would pass "
                "its gradient on that many times")
    missing = [t for i, t in expected.items() if i not in counts]
    if missing:
        return f"{', '.join(name(t) for t in missing[:3])} is missing from it"
    extra = [t for t in order if id(t) not in expected]
    if extra:
        return (f"it lists {name(extra[0])}, which L does not depend on through Tensors that "
                "require grad")
    position = {id(t): k for k, t in enumerate(order)}
    for t in order:
        for i in (t._creator.inputs if t._creator is not None else ()):
            if i.requires_grad and position[id(i)] < position[id(t)]:
                return (f"{name(i)} comes before {name(t)}, which uses it: when {name(i)} passes "
                        f"its gradient on, {name(t)}'s share has not arrived yet")
    return None


def _mark_on_push(root):
    """The walk that marks a Tensor visited when it is pushed: the classic wrong order."""
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


def check_backward_order(module):
    for k, (label, build, hint) in enumerate(ORDER_RUNGS):
        root, tensors = build()
        names = {id(t): n for n, t in tensors.items()}
        names[id(root)] = "L"
        try:
            got = module.backward_order(root)
        except RecursionError:
            got = RecursionError
        what = f"backward_order(L) {label}"
        if got is RecursionError:
            problem = "There your walk raised RecursionError"
        elif got is None:
            raise Wrong(f"{what} returned None; return the list of Tensors")
        else:
            got = list(got)
            problem = _order_problem(got, root, names)
            if problem is not None:
                ids = [id(t) for t in got]
                right_order = list(_reverse_topological_order(root))
                right = [id(t) for t in right_order]
                if ids == right[::-1]:
                    raise Wrong(f"{what}: your list runs from the leaves to L, the order of the "
                                "forward pass; backward walks it the other way, L first")
                if ids == right[1:]:
                    raise Wrong(f"{what}: L itself is missing; the walk starts at the root, "
                                "whose gradient is the one given to backward")
                if ids == [id(t) for t in right_order if t._creator is not None]:
                    raise Wrong(f"{what}: the leaves are missing ({problem}); a leaf is where "
                                "the gradient is stored, so the walk must reach it too")
                if ids == [id(t) for t in _mark_on_push(root)]:
                    raise Wrong(f"{what}: {problem}. Your walk marks a Tensor as visited when it "
                                "is pushed; a Tensor first reached by a short path is then "
                                "placed before the users on the long path. Mark it when it is "
                                "expanded")
                problem = f"There {problem}"
        if problem is None:
            continue
        if k == 0:
            raise Wrong(f"backward_order is wrong already in the simplest case ({label}), so "
                        f"there is nothing simpler to point at. {problem}")
        raise Wrong(f"backward_order is right {ORDER_RUNGS[k - 1][0]}, wrong {label}: "
                    f"{hint}. {problem}")


# --- the ladders ------------------------------------------------------------------------------

def _shapes(*shapes):
    return dict(shapes=shapes)


LAST = _shapes((3, 1, 2, 3), (1, 2, 3, 4))
MATMUL_LADDER = autograd_ladder("MatMul.backward", [
    rung("for square matrices, (2, 2) @ (2, 2)", **_shapes((2, 2), (2, 2))),
    rung("for non-square matrices, (2, 3) @ (3, 4)", "each gradient has its own input's shape: "
         "which side of g does each factor go on, and transposed how?", **_shapes((2, 3), (3, 4))),
    rung("with a batch axis on a, (2, 2, 3) @ (3, 4)", "b is used once per batch entry, so its "
         "gradient adds up over the batch axis", **_shapes((2, 2, 3), (3, 4))),
    rung("with a batch axis on b, (2, 3) @ (2, 3, 4)", "a is used once per batch entry, so its "
         "gradient adds up over the batch axis", **_shapes((2, 3), (2, 3, 4))),
    rung("with axes of length 1 that stretch, (3, 1, 2, 3) @ (1, 2, 3, 4)", "an axis of length 1 "
         "was repeated: its gradient adds up over the repeats and keeps its length 1", **LAST),
    float32_rung(**LAST), device_rung(**LAST)],
    make=lambda module, case: module.MatMul(), reference=lambda case, a, b: a @ b,
    names=("a", "b"))

DIV_LADDER = autograd_ladder("Div.backward", [
    rung("for a, b of shape (3,)", **_shapes((3,), (3,))),
    rung("with b broadcast over rows, (2, 3) / (3,)", "b is used once per row, so its gradient "
         "adds up over the rows", **_shapes((2, 3), (3,))),
    float32_rung(**_shapes((2, 3), (3,))), device_rung(**_shapes((2, 3), (3,)))],
    make=lambda module, case: module.Div(), reference=lambda case, a, b: a / b,
    names=("a", "b"), draw=away_from_zero)


def _softmax(case, x):
    e = x.exp()
    return e / e.sum(axis=-1, keepdims=True)


SOFTMAX_LADDER = autograd_ladder("Softmax.backward", [
    rung("for one row of 3", **_shapes((1, 3))),
    rung("for four rows", "each row is normalised alone, so each row has a sum of its own",
         **_shapes((4, 3))),
    rung("for a 3-d x of shape (2, 3, 4)", "softmax runs along the last axis, axis -1, whatever "
         "the number of axes", **_shapes((2, 3, 4))),
    float32_rung(**_shapes((2, 3, 4))), device_rung(**_shapes((2, 3, 4)))],
    make=lambda module, case: module.Softmax(), reference=_softmax, names=("x",))

CHECKS = with_ladders(
    {"2.1": check_matmul_backward, "2.2": check_div_backward, "2.3": check_softmax_backward,
     "2.4": check_backward_order},
    {"2.1": MATMUL_LADDER, "2.2": DIV_LADDER, "2.3": SOFTMAX_LADDER})

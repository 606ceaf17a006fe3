"""Checks of lesson 4: Linear's backward, the softmax cross-entropy, the parameter walk and a
step of gradient descent with weight decay, each against a reference written another way (a
loop over the definition, nn's own modules), with the classic mistakes recognised by what they
compute."""
import math

import numpy as np

import nn
import nn.functional as F

from .core import (Unexplained, Wrong, as_host, check_array, check_gradients, check_number,
                   check_tuple, name_the_mistake)
from . import device
from .ladder import (Ladder, autograd_ladder, device_rung, float32_rung, put, rung,
                     with_ladders)

MODULE = "ex04_training"
POINTS = {"4.1": 2, "4.2": 3, "4.3": 2, "4.4": 2}




def _shape(a):
    return tuple(getattr(a, "shape", ()))


# --- 4.1 -----------------------------------------------------------------------------------

def check_linear_backward(module):
    rng = np.random.default_rng(0)
    n, n_in, n_out = 4, 3, 5                     # all different: a transpose shows in the shape
    x, w, b = (rng.standard_normal(s) for s in ((n, n_in), (n_out, n_in), (n_out,)))
    g = rng.standard_normal((n, n_out))
    fn = module.LinearFunction()
    fn.forward(x.copy(), w.copy(), b.copy())
    gx, gw, gb = check_tuple(fn.backward(g.copy()), 3, "LinearFunction.backward",
                             of="gradients")
    # The definitions, as loops over the indices of the docstring.
    ex = np.array([[sum(g[r, o] * w[o, i] for o in range(n_out)) for i in range(n_in)]
                   for r in range(n)])
    ew = np.array([[sum(g[r, o] * x[r, i] for r in range(n)) for i in range(n_in)]
                   for o in range(n_out)])
    eb = np.array([sum(g[r, o] for r in range(n)) for o in range(n_out)])
    if _shape(gb) == (n, n_out):
        raise Wrong(f"the bias gradient has shape {(n, n_out)}, one row per sample: the bias "
                    f"gradient must be summed over the batch (axis 0), since all {n} samples "
                    f"used the same bias; expected shape {(n_out,)}")
    if _shape(gb) == (n,):
        raise Wrong(f"the bias gradient has shape {(n,)}, one number per sample: you summed "
                    "over the wrong axis (axis 1, the outputs); sum over axis 0, the batch, "
                    f"to get one number per output, shape {(n_out,)}")
    if _shape(gw) == (n_in, n_out):
        raise Wrong(f"the weight gradient has shape {(n_in, n_out)}: that is the transposed "
                    f"weight gradient (x.T @ g); the weight is (out, in) = {(n_out, n_in)}, "
                    "so dL/dW = g.T @ x")
    name_the_mistake(gb, eb, [(eb / n, f"the bias gradient is divided by the batch size "
                                       f"({n}): sum over the batch, do not average; a loss "
                                       "that is a mean has already divided g")])
    check_array("the gradient with respect to x", gx, ex, atol=1e-12)
    check_array("the gradient with respect to the weight", gw, ew, atol=1e-12)
    check_array("the gradient with respect to the bias", gb, eb, atol=1e-12)
    tensors = [nn.Tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    check_gradients(module.linear, tensors, ("x", "weight", "bias"))


# --- 4.2 -----------------------------------------------------------------------------------

def _cross_entropy_by_hand(logits, target):
    """The mean of -log softmax per row, in Python floats; math.fsum keeps huge rows exact
    after the maximum is taken out (the reference must not overflow either)."""
    losses = []
    for row, t in zip(logits.tolist(), target.tolist()):
        m = max(row)
        losses.append(m + math.log(math.fsum(math.exp(v - m) for v in row)) - row[t])
    return sum(losses) / len(losses)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_cross_entropy(module):
    rng = np.random.default_rng(1)
    n, c = 5, 4
    logits = rng.standard_normal((n, c)) * 2
    target = np.array([2, 0, 3, 1, 2])
    expected = _cross_entropy_by_hand(logits, target)
    what = f"SoftmaxCrossEntropy.forward on logits of shape {(n, c)}"
    fn = module.SoftmaxCrossEntropy(target)
    got = fn.forward(logits.copy())
    log_softmax = np.log(_softmax(logits))
    name_the_mistake(got, expected, [
        (expected * n, f"{what} is the sum over the batch, {n} times the mean: divide by the "
                       "number of rows N"),
        (expected / c, f"{what} is the mean over all N*C = {n * c} entries, C = {c} times too "
                       "small: sum over the classes, then average over the N rows"),
        (-log_softmax.sum(axis=1).mean(), f"{what} adds -log p of every class, not only of "
                                          "the target's: pick logits[n, target[n]]")])
    check_number(what, got, expected, atol=1e-10, rtol=1e-10)

    huge = logits + 1000.0
    with np.errstate(all="ignore"):
        got_huge = module.SoftmaxCrossEntropy(target).forward(huge.copy())
    try:
        value = float(as_host(got_huge))
    except (TypeError, ValueError):
        raise Wrong(f"SoftmaxCrossEntropy.forward must return one number; it returned "
                    f"{type(got_huge).__name__}") from None
    if not math.isfinite(value):
        raise Wrong(f"SoftmaxCrossEntropy.forward on logits near 1000 gives {value}: exp(1000) "
                    "overflows to inf. Subtract each row's maximum before exp: "
                    "log sum exp(z) = m + log sum exp(z - m)")
    check_number("SoftmaxCrossEntropy.forward on logits near 1000 (the same rows plus 1000)",
                 got_huge, expected, atol=1e-9, rtol=1e-9)

    onehot = np.eye(c)[target]
    right = (_softmax(logits) - onehot) / n
    grad = fn.backward(np.array(2.5))           # an upstream gradient other than 1
    what = "SoftmaxCrossEntropy.backward(g=2.5)"
    name_the_mistake(grad, 2.5 * right, [
        (right, f"{what} ignores g: multiply by the upstream gradient"),
        (2.5 * right * n, f"{what} is N = {n} times too large: the loss is a mean over the N "
                          "rows, so its gradient is divided by N"),
        (2.5 * _softmax(logits) / n, f"{what} returned the softmax alone: subtract 1 at each "
                                     "row's target class (the one-hot row of the target)"),
        (2.5 * (onehot - _softmax(logits)) / n, f"{what} has the wrong sign: it is softmax "
                                                "minus the one-hot row")])
    check_array(what, grad, 2.5 * right, atol=1e-12)
    t = nn.Tensor(logits.copy(), requires_grad=True)
    check_gradients(lambda a: module.cross_entropy(a, target), [t], ("the logits",))


# --- 4.3 -----------------------------------------------------------------------------------

class _Scale(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.weight = nn.Parameter(np.ones(features))


class _Block(nn.Module):
    """Own parameters, children, grandchildren, a parameterless child (ReLU), and two layers
    that share one Parameter (tied weights)."""

    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(np.zeros(3))
        self.first = _Scale(3)
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 3)))
        self.last = _Scale(3)
        self.last.weight = self.first.weight     # the same Parameter in a second layer


def check_named_parameters(module):
    net = _Block()
    expected = list(net.named_parameters())      # nn's own walk
    got = module.named_parameters(net)
    if got is None:
        raise Wrong("named_parameters returned None; did you forget `return`?")
    got = list(got)
    if not all(isinstance(item, tuple) and len(item) == 2 for item in got):
        raise Wrong("named_parameters must return (name, Parameter) pairs")
    names, want = [name for name, _ in got], [name for name, _ in expected]
    if names == want and all(p is q for (_, p), (_, q) in zip(got, expected)):
        return
    ids = [id(p) for _, p in got]
    if len(set(ids)) < len(ids):
        raise Wrong("a Parameter is listed twice: first.weight and last.weight are one "
                    "Parameter (two layers share it); list each Parameter once, under the "
                    f"first name met (keep a set of the ids seen). Yours: {names}")
    if names == [n.rsplit(".", 1)[-1] for n in want]:
        raise Wrong("the names lack their path: 'weight' where 'first.weight' or "
                    "'body.0.weight' is expected; prefix each child's names with the child's "
                    f"name and a dot. Yours: {names}")
    if names == [n for n in want if "." not in n]:
        raise Wrong("only the module's own parameters are listed: walk into its children "
                    f"(module._modules) too, recursively. Yours: {names}")
    if names == [n for n in want if n.count(".") <= 1]:
        raise Wrong("the grandchildren's parameters are missing (body.2.0.weight): the walk "
                    f"must recurse all the way down, not stop at the children. Yours: {names}")
    if names == [".".join(n.split(".")[-2:]) for n in want]:
        raise Wrong("the names keep only the last child's name ('0.weight' for "
                    "'body.0.weight'): pass the whole path down the recursion. Yours: "
                    f"{names}")
    if sorted(names) == sorted(want):
        raise Wrong(f"the right names in the wrong order: own parameters first, then each "
                    f"child's in order, depth first. Yours: {names}, expected {want}")
    raise Unexplained(f"named_parameters gave {names}, expected {want}")


# --- 4.4 -----------------------------------------------------------------------------------

def check_sgd_step(module):
    rng = np.random.default_rng(3)
    lr, wd = 0.1, 0.05
    start = [rng.standard_normal(s) for s in ((3, 2), (2,), (4,))]
    grads = [rng.standard_normal(a.shape) for a in start]
    params = [nn.Parameter(a.copy()) for a in start]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    module.sgd_step(params, lr, weight_decay=wd)
    what = f"the parameters after sgd_step(lr={lr}, weight_decay={wd})"
    got = np.concatenate([nn.to_host(p.data).ravel() for p in params])
    p0 = np.concatenate([a.ravel() for a in start])
    g0 = np.concatenate([g.ravel() for g in grads])
    expected = p0 - lr * (g0 + wd * p0)
    if np.array_equal(got, p0):
        raise Wrong(f"{what} did not change: assigning to the loop variable (p = p - ...) "
                    "only renames it; change the array itself, p.data -= ...")
    name_the_mistake(got, expected, [
        (p0 - lr * (g0 - wd * p0), f"{what}: the decay pushes the weights away from 0; add "
                                   "weight_decay * p to the gradient, since the step subtracts it"),
        (p0 - lr * g0 - wd * p0, f"{what}: the decay is not scaled by the learning rate: the "
                                 "step is lr * (grad + weight_decay * p)"),
        (p0 - lr * g0, f"{what}: weight_decay was ignored; add weight_decay * p to the "
                       "gradient")])
    check_array(what, got, expected, atol=1e-12)

    frozen = nn.Parameter(rng.standard_normal(3))
    before = frozen.data.copy()
    live = nn.Parameter(rng.standard_normal(2))
    live.grad = rng.standard_normal(2)
    try:
        module.sgd_step([frozen, live], lr, weight_decay=wd)
    except (TypeError, AttributeError) as e:
        raise Wrong(f"sgd_step raised {type(e).__name__} ({e}) on a parameter whose grad is "
                    "None (one that got no gradient, e.g. an unused or frozen layer): skip "
                    "such parameters, as PyTorch's optimizers do") from None
    if not np.array_equal(nn.to_host(frozen.data), before):
        raise Wrong("sgd_step changed a parameter whose grad is None: leave it untouched, "
                    "decay included")


# --- the ladders ------------------------------------------------------------------------------

def _linear_case(n, n_in, n_out):
    return dict(shapes=((n, n_in), (n_out, n_in), (n_out,)))


LINEAR_LADDER = autograd_ladder(
    "LinearFunction.backward", [
        rung("for one sample with one input and one output", **_linear_case(1, 1, 1)),
        rung("with 3 inputs and 2 outputs", "the weight is (out, in): each output's gradient "
             "reaches every input through its own row of W", **_linear_case(1, 3, 2)),
        rung("for a batch of 4", "W and b are used by every sample of the batch: their "
             "gradients add up over it", **_linear_case(4, 3, 2)),
        float32_rung(**_linear_case(4, 3, 2)), device_rung(**_linear_case(4, 3, 2))],
    make=lambda module, case: module.LinearFunction(),
    reference=lambda case, x, w, b: F.linear(x, w, b), names=("x", "weight", "bias"))


def _target(case):
    target = np.array(case["target"])
    return device.device_module().asarray(target) if case.get("device") else target


LAST_CE = dict(shapes=((4, 3),), target=[2, 0, 1, 2])
CROSS_ENTROPY_LADDER = autograd_ladder(
    "SoftmaxCrossEntropy.backward", [
        rung("for one sample of 3 classes", shapes=((1, 3),), target=[2]),
        rung("for a batch of 4", "each sample subtracts 1 at its own class, and the mean "
             "divides every row by N", **LAST_CE),
        float32_rung(**LAST_CE), device_rung(**LAST_CE)],
    make=lambda module, case: module.SoftmaxCrossEntropy(_target(case)),
    reference=lambda case, logits: F.cross_entropy(logits, np.array(case["target"])),
    names=("logits",))


def _shared_pair():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    second.weight = first.weight                  # one Parameter, two layers
    return nn.Sequential(first, second)


MODULES = {"own": lambda: nn.Linear(2, 3),
           "child": lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)),
           "shared": _shared_pair}
NAMES_LADDER = Ladder(
    "named_parameters", [
        rung("for a module with parameters of its own only (nn.Linear)", net="own"),
        rung("for a module with children (nn.Sequential of two Linear)", "a child's names are "
             "its own, prefixed with the child's name in its parent and a dot", net="child"),
        rung("for two layers that share one Parameter", "each Parameter once, under the first "
             "name met", net="shared")],
    got=lambda module, case: [name for name, _ in module.named_parameters(MODULES[case["net"]]())],
    expected=lambda case: [name for name, _ in MODULES[case["net"]]().named_parameters()],
    show=lambda case: f"the module: {MODULES[case['net']]()!r}")


def _sgd(module, case):
    rng = np.random.default_rng(12)
    params = []
    for shape in case["shapes"]:
        p = nn.Parameter(put(rng.standard_normal(shape), case))
        p.grad = put(rng.standard_normal(shape), case)
        params.append(p)
    if module is None:
        for p in params:
            p.data = p.data - 0.1 * (p.grad + case["weight_decay"] * p.data)
    else:
        module.sgd_step(params, 0.1, weight_decay=case["weight_decay"])
    xp = nn.get_array_module(params[0].data)      # the parameters must stay on their device
    return xp.concatenate([p.data.ravel() for p in params])


SGD_LADDER = Ladder(
    "sgd_step (lr 0.1)", [
        rung("for one parameter without weight decay", shapes=((2, 2),), weight_decay=0.0),
        rung("with weight_decay 0.1", "the decay pulls each weight towards 0 in proportion to "
             "it: weight_decay * p joins the gradient", shapes=((2, 2),), weight_decay=0.1),
        rung("for two parameters", "every parameter of the list takes its step",
             shapes=((2, 2), (3,)), weight_decay=0.1),
        device_rung(shapes=((2, 2), (3,)), weight_decay=0.1)],
    got=_sgd, expected=lambda case: _sgd(None, case), atol=1e-12,
    show=lambda case: f"parameters of shapes {case['shapes']} and their gradients drawn from "
                      f"default_rng(12); weight_decay = {case['weight_decay']}")

CHECKS = with_ladders(
    {"4.1": check_linear_backward, "4.2": check_cross_entropy, "4.3": check_named_parameters,
     "4.4": check_sgd_step},
    {"4.1": LINEAR_LADDER, "4.2": CROSS_ENTROPY_LADDER, "4.3": NAMES_LADDER,
     "4.4": SGD_LADDER})

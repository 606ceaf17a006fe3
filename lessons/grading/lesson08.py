"""Checks of lesson 8: Nesterov momentum, RMSprop and AdamW, step by step against references
written in another form (per element for Nesterov and RMSprop; nn.optim.Adam on the decayed
weights for AdamW), with the classic mistakes recognised by what they compute."""
import math

import numpy as np

import nn

from .core import check_array, check_tuple, name_the_mistake
from .ladder import Ladder, device_rung, float32_rung, put, rung, with_ladders

MODULE = "ex08_optimizers"
POINTS = {"8.1": 2, "8.2": 2, "8.3": 3}




def _steps(rng, count, shape=(3, 4)):
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(count)]


def _elementwise(rule, *arrays):
    """Apply a scalar rule element by element: the definition, with no array tricks."""
    flat = [a.ravel() for a in arrays]
    results = [rule(*values) for values in zip(*flat)]
    return tuple(np.array(r).reshape(arrays[0].shape) for r in zip(*results))


def check_nesterov(module):
    rng = np.random.default_rng(0)
    lr, mu = 0.1, 0.9
    param, grads = _steps(rng, 3)
    velocity = rng.standard_normal(param.shape)   # a run already under way: no step is special
    for step, g in enumerate(grads, 1):
        def rule(p, g_, v):
            v = mu * v + g_
            return p - lr * (g_ + mu * v), v
        expected, expected_v = _elementwise(rule, param, g, velocity)
        got, got_v = check_tuple(module.nesterov_step(param.copy(), g.copy(), velocity.copy(),
                                                      lr, mu), 2, "nesterov_step")
        what = f"the parameter after step {step} (lr={lr}, momentum={mu})"
        name_the_mistake(got, expected, [
            (param - lr * expected_v, f"{what} moved by the velocity alone: that is plain "
             "momentum. Nesterov's step is lr * (grad + momentum * velocity), with the new "
             "velocity"),
            (param + lr * (g + mu * expected_v), f"{what} went uphill: the step is subtracted, "
             "param - lr * (grad + momentum * velocity)")])
        check_array(what, got, expected, atol=1e-12)
        name_the_mistake(got_v, expected_v, [(velocity, f"the velocity returned after step "
                                              f"{step} is the one you were given: return the "
                                              "updated velocity")])
        check_array(f"the velocity after step {step}", got_v, expected_v, atol=1e-12)
        param, velocity = expected, expected_v


def check_rmsprop(module):
    rng = np.random.default_rng(1)
    lr, alpha, eps = 0.01, 0.9, 0.1     # a large eps, so that where it goes shows
    param, grads = _steps(rng, 3)
    square = np.zeros_like(param)
    for step, g in enumerate(grads, 1):
        def rule(p, g_, s):
            s = alpha * s + (1 - alpha) * g_ * g_
            return p - lr * g_ / (math.sqrt(s) + eps), s
        expected, expected_s = _elementwise(rule, param, g, square)
        got, got_s = check_tuple(module.rmsprop_step(param.copy(), g.copy(), square.copy(),
                                                     lr=lr, alpha=alpha, eps=eps),
                                 2, "rmsprop_step")
        what = f"the parameter after step {step} (lr={lr}, alpha={alpha}, eps={eps})"
        name_the_mistake(got_s, expected_s, [(alpha * square + g * g, f"square_avg after step "
                                              f"{step} adds grad^2 at full weight: it is "
                                              "weighted by (1 - alpha), so the average stays "
                                              "an average")])
        check_array(f"square_avg after step {step}", got_s, expected_s, atol=1e-12)
        name_the_mistake(got, expected, [
            (param - lr * g / np.sqrt(expected_s + eps), f"{what}: eps is inside the square "
             "root; RMSprop divides by sqrt(square_avg) + eps, eps outside"),
            (param - lr * g / (expected_s + eps), f"{what}: you divided by square_avg itself; "
             "divide by its square root, the gradient's typical size")])
        check_array(what, got, expected, atol=1e-12)
        param, square = expected, expected_s


def check_adamw(module):
    rng = np.random.default_rng(2)
    for lr, betas, wd in [(0.1, (0.9, 0.999), 0.5), (2e-4, (0.5, 0.999), 0.01)]:
        start, grads = _steps(rng, 3)
        reference = nn.Parameter(start.copy())
        adam = nn.optim.Adam([reference], lr=lr, betas=betas)
        param, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
        for t, g in enumerate(grads, 1):
            before = reference.data.copy()
            reference.data *= 1 - lr * wd           # AdamW: decay the weight, then Adam
            reference.grad = g
            adam.step()
            got, got_m, got_v = check_tuple(module.adamw_step(param.copy(), g.copy(), m.copy(),
                                                              v.copy(), t, lr=lr, betas=betas,
                                                              weight_decay=wd),
                                            3, "adamw_step")
            what = f"the parameter after step {t} (lr={lr}, betas={betas}, weight_decay={wd})"
            name_the_mistake(got, reference.data,
                             _adamw_mistakes(before, g, m, v, t, lr, betas, wd, what))
            check_array(f"m after step {t}", got_m, adam.m[0], atol=1e-12)
            check_array(f"v after step {t}", got_v, adam.v[0], atol=1e-12)
            check_array(what, got, reference.data, atol=1e-12, rtol=1e-9)
            param, m, v = reference.data.copy(), adam.m[0].copy(), adam.v[0].copy()


def _adam_update(grad, m, v, t, lr, betas, eps=1e-8, correct=True):
    """Adam's step (the amount subtracted), and the new moments."""
    b1, b2 = betas
    m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad ** 2
    m_hat, v_hat = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
    return lr * m_hat / (np.sqrt(v_hat) + eps)


def _adamw_mistakes(p, g, m, v, t, lr, betas, wd, what):
    b1, b2 = betas
    return [
        (p - _adam_update(g + wd * p, m, v, t, lr, betas), f"{what}: you added weight_decay * "
         "param to the gradient (L2 regularisation, what Adam's weight_decay does). AdamW "
         "decouples it: param * (1 - lr * weight_decay), and grad goes into m and v unchanged"),
        (p * (1 - wd) - _adam_update(g, m, v, t, lr, betas), f"{what}: the decay is not "
         "scaled by the learning rate: it is param * (1 - lr * weight_decay)"),
        ((p - _adam_update(g, m, v, t, lr, betas)) * (1 - lr * wd), f"{what}: you decayed "
         "the weight after Adam's step; AdamW (and PyTorch) decays it first"),
        (p * (1 - lr * wd) - _adam_update(g, m, v, t, lr, betas, correct=False),
         f"{what}: the step has no bias correction (m / (1 - b1^t), v / (1 - b2^t)); without "
         f"it the first step is (1 - b1) / sqrt(1 - b2) = {(1 - b1) / math.sqrt(1 - b2):.3g} "
         "times too large")]


# --- the ladders: steps 1, 2, 3 of each optimizer from a fresh state ------------------------------

def _run(step, case, on=lambda a, case: a):
    """``case['steps']`` steps of ``step(param, grad, state, t, case)`` -> (param, *state), from
    the seeded start with its state at zeros; ``on`` puts each array where the case wants it."""
    rng = np.random.default_rng(3)
    param, grads = _steps(rng, case["steps"], shape=(2, 2))
    param = on(param, case)
    state = tuple(on(np.zeros((2, 2)), case) for _ in range(case.get("moments", 1)))
    for t, g in enumerate(grads, 1):
        param, *state = step(param, on(g, case), state, t, case)
    return (param, *state)


def _optimizer_ladder(what, names, student, reference, extra=(), moments=1):
    cases = [dict(steps=1, moments=moments, **dict(extra[:1])),
             dict(steps=2, moments=moments, **dict(extra[:1]))]
    rungs = [rung("at step 1", **cases[0]),
             rung("at step 2", "the state returned by step 1 must carry over into step 2: is "
                  "every state updated from the one passed in, and returned?", **cases[1])]
    for label, hint, key, value in extra[1:]:
        rungs.append(rung(label, hint, **dict(cases[1], **{key: value})))
    last = rungs[-1].case
    rungs += [float32_rung(**last), device_rung(**last)]
    return Ladder(what, rungs, got=lambda module, case: _run(
        lambda p, g, state, t, case: student(module, p, g, state, t, case), case, put),
        expected=lambda case: _run(reference, case), names=names, atol=1e-12, rtol=1e-9,
        show=lambda case: "param and the gradients drawn from default_rng(3), 2x2, the state "
                          "starting at zeros")


def _nesterov(p, g, state, t, case):
    v = 0.9 * state[0] + g
    return p - 0.1 * (g + 0.9 * v), v


def _rmsprop(p, g, state, t, case):
    s = 0.9 * state[0] + 0.1 * g * g
    return p - 0.01 * g / (np.sqrt(s) + 0.1), s


def _adamw(p, g, state, t, case):
    wd = case.get("weight_decay", 0.0)
    m, v = 0.9 * state[0] + 0.1 * g, 0.999 * state[1] + 0.001 * g * g
    return (p * (1 - 0.1 * wd) - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t))
                                                               + 1e-8), m, v)


NESTEROV_LADDER = _optimizer_ladder(
    "nesterov_step (lr 0.1, momentum 0.9)", ("the parameter", "the returned velocity"),
    lambda module, p, g, state, t, case: module.nesterov_step(p, g, state[0], 0.1, 0.9),
    _nesterov)
RMSPROP_LADDER = _optimizer_ladder(
    "rmsprop_step (lr 0.01, alpha 0.9, eps 0.1)", ("the parameter", "the returned square_avg"),
    lambda module, p, g, state, t, case: module.rmsprop_step(p, g, state[0], lr=0.01, alpha=0.9,
                                                             eps=0.1), _rmsprop)
ADAMW_LADDER = _optimizer_ladder(
    "adamw_step (lr 0.1, betas (0.9, 0.999))",
    ("the parameter", "the returned m", "the returned v"),
    lambda module, p, g, state, t, case: module.adamw_step(
        p, g, state[0], state[1], t, lr=0.1, betas=(0.9, 0.999),
        weight_decay=case.get("weight_decay", 0.0)),
    _adamw, moments=2, extra=[("weight_decay", 0.0),
                              ("with weight_decay 0.5", "the decay shrinks every weight by the "
                               "same factor, scaled by the learning rate", "weight_decay", 0.5)])

CHECKS = with_ladders({"8.1": check_nesterov, "8.2": check_rmsprop, "8.3": check_adamw},
                      {"8.1": NESTEROV_LADDER, "8.2": RMSPROP_LADDER, "8.3": ADAMW_LADDER})

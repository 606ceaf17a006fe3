"""Checks of lesson 7: the affine instance norm's backward, batch normalization's forward
with its running statistics, and its backward.

The references are written here from the definitions: loops over the channels for batch
norm's forward, nn's Tensor operations (mean, power; autograd derives the backward) for the
gradients, which nn.gradcheck then confirms against finite differences. A wrong answer is
first compared with what the classic mistakes compute from the same inputs.
"""
import numpy as np

import nn
import nn.functional as F

from .core import (Wrong, check_array, check_backward_tuple, check_gradients, check_tuple,
                   name_the_mistake)
from .ladder import (Ladder, autograd_ladder, device_rung, float32_rung, put, rung, shown,
                     with_ladders)

MODULE = "ex07_normalization"
POINTS = {"7.1": 3, "7.2": 2, "7.3": 2}


def _normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) from Tensor operations, so that autograd differentiates it."""
    mu = x.mean(axis=axes, keepdims=True)
    centered = x - mu
    return centered * ((centered * centered).mean(axis=axes, keepdims=True) + eps) ** -0.5


def _norm_backward(g, xhat, inv_std, axes, mean_term=True, variance_term=True):
    """The normalization backward, with a term left out as a wrong answer leaves it out."""
    d = g.copy()
    if mean_term:
        d = d - g.mean(axis=axes, keepdims=True)
    if variance_term:
        d = d - xhat * (g * xhat).mean(axis=axes, keepdims=True)
    return d * inv_std


def _statistics(x, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - mu) * inv_std, inv_std




# --- 7.1 -----------------------------------------------------------------------------------

def check_affine_instance_norm_backward(module):
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 4, 5), (3, 2, 2, 3)]:
        c = shape[1]
        x = rng.standard_normal(shape) * 2 + 1
        gamma, beta = rng.uniform(0.5, 3.0, c), rng.standard_normal(c)
        g = rng.standard_normal(shape)
        xt, gt, bt = (nn.Tensor(a.copy(), requires_grad=True) for a in (x, gamma, beta))
        y = _normalize(xt, (2, 3), 1e-5) * gt.reshape(1, -1, 1, 1) + bt.reshape(1, -1, 1, 1)
        y.backward(g)
        function = module.AffineInstanceNorm()
        function.forward(x.copy(), gamma.copy(), beta.copy())
        dx, dgamma, dbeta = check_backward_tuple(function.backward(g.copy()),
                                                 ("x", "gamma", "beta"))
        what = f"AffineInstanceNorm.backward (x of shape {shape})"
        xhat, inv_std = _statistics(x, (2, 3), 1e-5)
        d = g * gamma.reshape(1, -1, 1, 1)
        per_image = "summed over H and W only, one value per image: gamma and beta are " \
                    "shared by the whole batch, so sum over n too, axes (0, 2, 3)"
        name_the_mistake(dbeta, bt.grad, [
            (g.sum(axis=(2, 3)), f"{what}: dL/dbeta is {per_image}"),
            ((g * xhat).sum(axis=(0, 2, 3)), f"{what}: dL/dgamma and dL/dbeta come back in "
             "the wrong order: return (dx, dgamma, dbeta)")])
        check_array(f"{what}: dL/dbeta", dbeta, bt.grad, atol=1e-10)
        name_the_mistake(dgamma, gt.grad, [
            (g.sum(axis=(0, 2, 3)), f"{what}: dL/dgamma is the sum of g alone; gamma "
             "multiplies xhat, so each pixel's g is weighted by its xhat"),
            ((g * xhat).sum(axis=(2, 3)), f"{what}: dL/dgamma is {per_image}"),
            ((g * xhat * inv_std).sum(axis=(0, 2, 3)), f"{what}: dL/dgamma is divided by s: "
             "gamma multiplies xhat, the normalized value, so dL/dgamma sums g * xhat")])
        check_array(f"{what}: dL/dgamma", dgamma, gt.grad, atol=1e-10)
        check_array(f"{what}: dL/dx", dx, xt.grad, atol=1e-10, mistakes=[
            (_norm_backward(g, xhat, inv_std, (2, 3)), f"{what}: dL/dx is missing gamma: "
             "the normalization inside receives dL/dxhat = gamma * g, not g"),
            (_norm_backward(d, xhat, inv_std, (2, 3), mean_term=False), f"{what}: dL/dx is "
             "missing the mean term: subtract mean(d), since every x of a plane moves its "
             "mean"),
            (_norm_backward(d, xhat, inv_std, (2, 3), variance_term=False), f"{what}: dL/dx "
             "is missing the variance term: subtract xhat * mean(d * xhat), since every x of "
             "a plane moves its variance"),
            (_norm_backward(d, xhat, inv_std, (0, 2, 3)), f"{what}: dL/dx takes its means "
             "over the batch too (axes (0, 2, 3)): instance norm's statistics, and so its "
             "backward's means, are per image, over H and W"),
        ])
    x = nn.Tensor(rng.standard_normal((2, 2, 2, 3)) * 2 + 1, requires_grad=True)
    gamma = nn.Tensor(rng.uniform(0.5, 3.0, 2), requires_grad=True)
    beta = nn.Tensor(rng.standard_normal(2), requires_grad=True)
    check_gradients(lambda a, b, c: module.AffineInstanceNorm()(a, b, c), [x, gamma, beta],
                    ("x", "gamma", "beta"))


# --- 7.2 -----------------------------------------------------------------------------------

def _batch_norm_loops(x, running_mean, running_var, momentum, eps, ddof_y=0, ddof_running=1,
                      eps_outside=False, swap_momentum=False):
    """Batch norm in training mode, channel by channel, as the definition says; the keywords
    give the classic wrong answers."""
    y = np.empty_like(x)
    new_mean, new_var = np.empty_like(running_mean), np.empty_like(running_var)
    for c in range(x.shape[1]):
        values = x[:, c]
        m = values.size
        mu = values.sum() / m
        squares = ((values - mu) ** 2).sum()
        var = squares / (m - ddof_y)
        s = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        y[:, c] = (values - mu) / s
        keep = momentum if swap_momentum else 1 - momentum
        new_mean[c] = keep * running_mean[c] + (1 - keep) * mu
        new_var[c] = keep * running_var[c] + (1 - keep) * squares / (m - ddof_running)
    return y, new_mean, new_var


def check_batch_norm_train(module):
    rng = np.random.default_rng(1)
    for shape, momentum, eps in [((4, 3, 3, 2), 0.1, 1e-5), ((2, 2, 3, 3), 0.25, 0.5)]:
        c = shape[1]
        # Channels of their own scale and offset; a large eps makes where it goes show.
        x = rng.standard_normal(shape) * rng.uniform(0.3, 2.0, (1, c, 1, 1)) + \
            rng.uniform(-2, 2, (1, c, 1, 1))
        running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
        what = f"batch_norm_train(x of shape {shape}, momentum={momentum}, eps={eps})"
        given = (running_mean.copy(), running_var.copy())
        got = check_tuple(module.batch_norm_train(x.copy(), given[0], given[1],
                                                  momentum=momentum, eps=eps),
                          3, "batch_norm_train")
        y, new_mean, new_var = got
        expected = _batch_norm_loops(x, running_mean, running_var, momentum, eps)
        y_instance = _statistics(x, (2, 3), eps)[0]
        check_array(f"{what}: y", y, expected[0], atol=1e-10, mistakes=[
            (_batch_norm_loops(x, running_mean, running_var, momentum, eps, ddof_y=1)[0],
             f"{what}: y uses the unbiased variance (ddof=1, dividing by m - 1); the "
             "normalization divides by m. Only the running variance is unbiased"),
            (_batch_norm_loops(x, running_mean, running_var, momentum, eps,
                               eps_outside=True)[0],
             f"{what}: eps is outside the square root: y = (x - mean) / sqrt(var + eps)"),
            (y_instance, f"{what}: y normalizes each image on its own (axes (2, 3)): that is "
             "instance norm. Batch norm's statistics are over the batch and the pixels, axes "
             "(0, 2, 3)"),
            (_statistics(x, (0,), eps)[0], f"{what}: the statistics are over the batch axis "
             "only (axis 0), one mean per pixel: take them over axes (0, 2, 3), one per "
             "channel"),
        ])
        swapped = _batch_norm_loops(x, running_mean, running_var, momentum, eps,
                                    swap_momentum=True)
        biased = _batch_norm_loops(x, running_mean, running_var, momentum, eps, ddof_running=0)
        for k, name, old in ((1, "mean", running_mean), (2, "variance", running_var)):
            mistakes = [(swapped[k], f"{what}: the running {name} keeps `momentum` of the old "
                         "value; PyTorch's momentum is the weight of the new batch: "
                         "(1 - momentum) * running + momentum * batch"),
                        (old, f"{what}: the running {name} came back unchanged: return the new "
                         "running statistics")]
            if name == "variance":
                mistakes.insert(0, (biased[k], f"{what}: the running variance averages the "
                                    "biased variance; it is an estimate for the data at large "
                                    "and uses the unbiased one, var * m / (m - 1)"))
            check_array(f"{what}: the new running {name}", got[k], expected[k], atol=1e-12,
                        mistakes=mistakes)
        if not (np.array_equal(given[0], running_mean) and np.array_equal(given[1],
                                                                          running_var)):
            raise Wrong(f"{what} changed the running_mean or running_var it was given: "
                        "return new arrays and leave the given ones as they were")


# --- 7.3 -----------------------------------------------------------------------------------

def check_batch_norm_backward(module):
    rng = np.random.default_rng(2)
    for shape in [(3, 2, 3, 4), (2, 3, 2, 2)]:
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        xt = nn.Tensor(x.copy(), requires_grad=True)
        _normalize(xt, (0, 2, 3), 1e-5).backward(g)
        function = module.BatchNorm()
        function.forward(x.copy())
        got = function.backward(g.copy())
        what = f"BatchNorm.backward (x of shape {shape})"
        xhat, inv_std = _statistics(x, (0, 2, 3), 1e-5)
        m = x.size // x.shape[1]
        check_array(what, got, xt.grad, atol=1e-10, mistakes=[
            (_norm_backward(g, xhat, inv_std, (2, 3)), f"{what} takes its means over H and W "
             "only (axes (2, 3)), as instance norm's backward does: every x of a channel, in "
             "every image, moves the channel's mean and variance, so the means are over axes "
             "(0, 2, 3)"),
            (_norm_backward(g, xhat, inv_std, (0, 2, 3), mean_term=False), f"{what} is "
             "missing the mean term: subtract mean(g), since every x moves the mean"),
            (_norm_backward(g, xhat, inv_std, (0, 2, 3), variance_term=False), f"{what} is "
             "missing the variance term: subtract xhat * mean(g * xhat), since every x moves "
             "the variance"),
            (_norm_backward(g, xhat, inv_std, (0, 2, 3)) / inv_std, f"{what} is not divided "
             "by s = sqrt(var + eps): multiply by self.inv_std"),
            (g * inv_std - (g.sum(axis=(0, 2, 3), keepdims=True) + xhat * (g * xhat).sum(
                axis=(0, 2, 3), keepdims=True)) * inv_std / (m - 1),
             f"{what} divides by m - 1: the variance is biased (divided by m), and so is its "
             "derivative, 2 (x - mean) / m"),
        ])
    x = nn.Tensor(rng.standard_normal((2, 2, 2, 3)) * 2 + 1, requires_grad=True)
    check_gradients(lambda a: module.BatchNorm()(a), [x], ("x",))


# --- the ladders ------------------------------------------------------------------------------

def _norm_case(*shape, **more):
    n, c = shape[:2]
    return dict(shapes=(shape, (c,), (c,)), **more)


LAST_NORM = _norm_case(2, 3, 2, 3)
AFFINE_LADDER = autograd_ladder(
    "AffineInstanceNorm.backward", [
        rung("for one image of one channel (2x3)", **_norm_case(1, 1, 2, 3)),
        rung("with three channels", "each channel has its own gamma and beta, and its own "
             "gradients for them", **_norm_case(1, 3, 2, 3)),
        rung("for two images", "gamma and beta are shared by every image: their gradients add "
             "up over the batch", **LAST_NORM),
        float32_rung(**LAST_NORM), device_rung(**LAST_NORM)],
    make=lambda module, case: module.AffineInstanceNorm(),
    reference=lambda case, x, gamma, beta: F.instance_norm(x, gamma, beta, eps=1e-5),
    names=("x", "gamma", "beta"))


def _batch_stats(x):
    """Per channel over (N, H, W): the mean, the biased and the unbiased variance."""
    m = x.size // x.shape[1]
    mean = x.mean(axis=(0, 2, 3))
    var = ((x - mean.reshape(1, -1, 1, 1)) ** 2).mean(axis=(0, 2, 3))
    return mean, var, var * m / (m - 1)


def _batch_norm_expected(case):
    x, running_mean, running_var = _bn_inputs(case)
    mean, var, unbiased = _batch_stats(x)
    mom = case["momentum"]
    y = (x - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-5)
    return (y, (1 - mom) * running_mean + mom * mean, (1 - mom) * running_var + mom * unbiased)


def _bn_inputs(case):
    rng = np.random.default_rng(9)
    n, c, h, w = case["shape"]
    return (rng.standard_normal((n, c, h, w)) * 2 + 1, rng.uniform(-1, 1, c),
            rng.uniform(0.5, 2, c))


LAST_BN = dict(shape=(2, 3, 2, 3), momentum=0.3)
BATCH_NORM_LADDER = Ladder(
    "batch_norm_train", [
        rung("for one channel, two 2x2 images, momentum 0.1", shape=(2, 1, 2, 2), momentum=0.1),
        rung("with three channels", "every statistic is per channel: a mean over the axes "
             "(0, 2, 3), one number per channel", shape=(2, 3, 2, 2), momentum=0.1),
        rung("with momentum 0.3", "the running statistics move by the momentum you are given",
             shape=(2, 3, 2, 2), momentum=0.3),
        rung("for a non-square image, 2x3", "the statistics run over every pixel, rows and "
             "columns alike", **LAST_BN),
        float32_rung(**LAST_BN), device_rung(**LAST_BN)],
    got=lambda module, case: module.batch_norm_train(
        *[put(a, case) for a in _bn_inputs(case)], momentum=case["momentum"]),
    expected=_batch_norm_expected,
    names=("the normalised y", "the new running_mean", "the new running_var"),
    show=lambda case: "x, running_mean, running_var = {}, {}, {}".format(
        *[shown(a) for a in _bn_inputs(case)]), atol=1e-10)


def _batch_norm_reference(case, x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=(0, 2, 3), keepdims=True)
    return centred * (var + 1e-5) ** -0.5


LAST_BNB = dict(shapes=((2, 3, 2, 3),))
BATCH_NORM_BACKWARD_LADDER = autograd_ladder(
    "BatchNorm.backward", [
        rung("for one image of one channel (2x3)", shapes=((1, 1, 2, 3),)),
        rung("for two images", "the statistics are shared by the whole batch, so the means in "
             "backward run over the batch too", shapes=((2, 1, 2, 3),)),
        rung("with three channels", "every channel has statistics of its own",
             **LAST_BNB),
        float32_rung(**LAST_BNB), device_rung(**LAST_BNB)],
    make=lambda module, case: module.BatchNorm(), reference=_batch_norm_reference,
    names=("x",))

CHECKS = with_ladders(
    {"7.1": check_affine_instance_norm_backward, "7.2": check_batch_norm_train,
     "7.3": check_batch_norm_backward},
    {"7.1": AFFINE_LADDER, "7.2": BATCH_NORM_LADDER, "7.3": BATCH_NORM_BACKWARD_LADDER})

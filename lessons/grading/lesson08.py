"""Checks of lesson 8: optimizer steps, compared step by step with nn.optim."""
import numpy as np

import nn

from .core import Wrong, check_array

MODULE = "ex08_optimizers"


def _unpack(result, count, what):
    if not isinstance(result, tuple) or len(result) != count:
        raise Wrong(f"{what} must return a tuple of {count} arrays; it returned "
                    f"{type(result).__name__}" + (f" of {len(result)}"
                                                   if isinstance(result, tuple) else ""))
    return result


def _gradients(rng, steps, shape):
    return [rng.standard_normal(shape) for _ in range(steps)]


def check_sgd_momentum(module):
    rng = np.random.default_rng(0)
    for lr, momentum in [(0.1, 0.9), (0.05, 0.0)]:
        start = rng.standard_normal((3, 4))
        param = nn.Parameter(start.copy())
        optimizer = nn.optim.SGD([param], lr=lr, momentum=momentum)
        mine, velocity = start.copy(), np.zeros_like(start)
        for step, grad in enumerate(_gradients(rng, 3, start.shape), 1):
            param.grad = grad
            optimizer.step()
            mine, velocity = _unpack(module.sgd_momentum_step(mine, grad.copy(), velocity, lr,
                                                              momentum), 2, "sgd_momentum_step")
            check_array(f"the parameter after step {step} (lr={lr}, momentum={momentum}), "
                        "compared with nn.optim.SGD", mine, param.data, atol=1e-12)


def check_adam(module):
    rng = np.random.default_rng(0)
    for lr, betas in [(0.01, (0.9, 0.999)), (2e-4, (0.5, 0.999))]:   # default, and CycleGAN's
        start = rng.standard_normal((3, 4))
        param = nn.Parameter(start.copy())
        optimizer = nn.optim.Adam([param], lr=lr, betas=betas)
        mine, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
        for t, grad in enumerate(_gradients(rng, 3, start.shape), 1):
            param.grad = grad
            optimizer.step()
            mine, m, v = _unpack(module.adam_step(mine, grad.copy(), m, v, t, lr=lr, betas=betas),
                                 3, "adam_step")
            check_array(f"m after step {t} (betas={betas})", m, optimizer.m[0], atol=1e-12)
            check_array(f"v after step {t} (betas={betas})", v, optimizer.v[0], atol=1e-12)
            check_array(f"the parameter after step {t} (lr={lr}, betas={betas}), compared with "
                        "nn.optim.Adam", mine, param.data, atol=1e-12, rtol=1e-9)


CHECKS = {"8.1": check_sgd_momentum, "8.2": check_adam}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"8.1": 10, "8.2": 10}

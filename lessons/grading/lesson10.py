"""Checks of lesson 10: the cycle and identity losses, and the image pool's rule, replayed
against the grader's own copy of the rule with the same random seed."""
import numpy as np

import nn

from .core import Wrong, later_part
from .lesson09 import check_loss

MODULE = "ex10_cyclegan"


def _pair(rng, shape=(2, 3, 3, 3)):
    """(real, other) float64 Tensors with |other - real| >= 0.1, away from |.|'s kink at 0."""
    real = rng.uniform(-1, 1, shape)
    other = real + rng.uniform(0.1, 0.6, shape) * rng.choice([-1.0, 1.0], shape)
    return nn.Tensor(real, requires_grad=True), nn.Tensor(other, requires_grad=True)


def _l1(a, b):
    return np.abs(a.data - b.data).mean()


def check_cycle_identity(module):
    rng = np.random.default_rng(0)
    real_a, rec_a = _pair(rng)
    real_b, rec_b = _pair(rng)
    inputs, names = [real_a, rec_a, real_b, rec_b], ("real_a", "rec_a", "real_b", "rec_b")
    for lam in (10.0, 3.0):
        check_loss(f"cycle_loss(real_a, rec_a, real_b, rec_b, lambda_cycle={lam}) = "
                   "lambda_cycle * (mean(|rec_a - real_a|) + mean(|rec_b - real_b|))",
                   module.cycle_loss(*inputs, lambda_cycle=lam),
                   lam * (_l1(rec_a, real_a) + _l1(rec_b, real_b)),
                   lambda *t: module.cycle_loss(*t, lambda_cycle=lam), inputs, names)
    names = ("real_a", "same_a", "real_b", "same_b")
    for lam, lam_idt in ((10.0, 0.5), (4.0, 0.3)):
        loss = later_part("cycle_loss", "identity_loss", module.identity_loss, *inputs,
                          lambda_cycle=lam, lambda_identity=lam_idt)
        check_loss(f"identity_loss(real_a, same_a, real_b, same_b, lambda_cycle={lam}, "
                   f"lambda_identity={lam_idt}) = lambda_cycle * lambda_identity * "
                   "(mean(|same_a - real_a|) + mean(|same_b - real_b|))", loss,
                   lam * lam_idt * (_l1(rec_a, real_a) + _l1(rec_b, real_b)),
                   lambda *t: module.identity_loss(*t, lambda_cycle=lam,
                                                   lambda_identity=lam_idt), inputs, names)


def _reference_query(pool, image, pool_size, rng):
    """The rule of exercise 10.2 -> (returned image, why), for the explanation of a mismatch."""
    if pool_size == 0:
        return image, "pool_size is 0: return the image itself"
    if len(pool) < pool_size:
        pool.append(image)
        return image, "the pool was not full yet: store the new image and return it"
    u = rng.random()
    if u > 0.5:
        i = int(rng.integers(pool_size))
        old, pool[i] = pool[i], image
        return old, (f"the pool was full and rng.random() gave {u:.3f} > 0.5: return the stored "
                     f"pool[{i}] and put the new image in its place")
    return image, f"the pool was full and rng.random() gave {u:.3f} <= 0.5: return the new image"


def _label(image):
    """Image k of the stream is filled with the value k."""
    return int(image.flat[0]) if hasattr(image, "flat") else None


def check_pool_query(module):
    images = [np.full((3, 2, 2), float(k)) for k in range(40)]
    for pool_size in (5, 1, 0):
        mine, ref = [], []
        rng_mine, rng_ref = np.random.default_rng(3), np.random.default_rng(3)
        for k, image in enumerate(images):
            got = module.pool_query(mine, image, pool_size, rng_mine)
            expected, why = _reference_query(ref, image, pool_size, rng_ref)
            where = f"with pool_size={pool_size}, query {k} (image {k} is the new one)"
            if got is None:
                raise Wrong(f"{where}: pool_query returned None; return the image to show")
            if _label(got) != _label(expected):
                raise Wrong(f"{where}: you returned image {_label(got)}, expected image "
                            f"{_label(expected)}, because {why}")
            if len(mine) > max(pool_size, 0):
                raise Wrong(f"{where}: the pool holds {len(mine)} images, more than pool_size")
            if [_label(m) for m in mine] != [_label(r) for r in ref]:
                raise Wrong(f"{where}: afterwards the pool holds images "
                            f"{[_label(m) for m in mine]}, expected {[_label(r) for r in ref]}, "
                            f"because {why}")


CHECKS = {"10.1": check_cycle_identity, "10.2": check_pool_query}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"10.1": 10, "10.2": 10}

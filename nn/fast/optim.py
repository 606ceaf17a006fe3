"""Adam's update with scratch space: one array per parameter size instead of a temporary
per operation, and both bias corrections folded into two numbers.

The loop over the elements is m, v, then p -= alpha * m / (sqrt(v) + eps'), with
alpha = lr * sqrt(1 - b2^t) / (1 - b1^t) and eps' = eps * sqrt(1 - b2^t) (``Adam.update``'s
formula multiplied through by sqrt(1 - b2^t)).
"""
import weakref

from ..backend import get_array_module

__all__ = ["adam_update_in_place", "folded_step"]

_scratch = weakref.WeakKeyDictionary()  # optimizer -> {(module, dtype): buffer}


def folded_step(opt):
    """(alpha, eps') of step opt.t: both bias corrections folded in (see above)."""
    (b1, b2), t = opt.betas, opt.t
    sqrt_correction = (1 - b2 ** t) ** 0.5
    return opt.lr * sqrt_correction / (1 - b1 ** t), opt.eps * sqrt_correction


def adam_update_in_place(opt):
    """``Adam.update(opt)``: the same update, in place through one scratch array."""
    b1, b2 = opt.betas
    alpha, eps = folded_step(opt)
    buffers = _scratch.setdefault(opt, {})
    for p, m, v in zip(opt.params, opt.m, opt.v):
        if p.grad is None:
            continue
        g = p.grad
        xp = get_array_module(g)
        tmp = _scratch_like(buffers, opt.params, p.data)
        m *= b1
        xp.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp += eps
        xp.divide(m, tmp, out=tmp)
        tmp *= alpha
        p.data -= tmp


def _scratch_like(buffers, params, like):
    """A scratch array shaped like ``like``: a view of one buffer per dtype and device, as
    large as the largest of ``params``, reused by every parameter in turn."""
    xp = get_array_module(like)
    key = (xp.__name__, like.dtype.str)
    buf = buffers.get(key)
    if buf is None or buf.size < like.size:
        largest = max(p.data.size for p in params)
        buf = buffers[key] = xp.empty(max(largest, like.size), dtype=like.dtype)
    return buf[:like.size].reshape(like.shape)

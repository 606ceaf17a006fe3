"""Adam's update without a temporary per operation, both bias corrections folded into two
numbers.

The loop over the elements is m, v, then p -= alpha * m / (sqrt(v) + eps'), with
alpha = lr * sqrt(1 - b2^t) / (1 - b1^t) and eps' = eps * sqrt(1 - b2^t) (``Adam.update``'s
formula multiplied through by sqrt(1 - b2^t)).

    adam_update_in_place   parameter by parameter, through one scratch array
    adam_update_on_cores   all parameters at once: the parameters and moments are views of
                           three flat buffers (``flat_buffers``), which are cut into parts
                           of CHUNK numbers that the host's cores update side by side
"""
import functools
import threading
import weakref

from ..backend import get_array_module
from .cores import on_cores

__all__ = ["adam_update_in_place", "adam_update_on_cores", "flat_buffers", "flat_parts",
           "folded_step", "CHUNK"]

_scratch = weakref.WeakKeyDictionary()  # optimizer -> {(module, dtype): buffer}
_FLAT = weakref.WeakKeyDictionary()     # optimizer -> (the views it was given, flat buffers)

CHUNK = 2 ** 17
"""Numbers per part of the flat update: large enough that a thread runs its ufuncs without
queueing for Python's lock, small enough that the arrays of a part stay in cache."""


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


# --- all parameters at once -------------------------------------------------------------------

def flat_buffers(opt, xp):
    """(parameters, m, v) as flat arrays whose views the optimizer's arrays are; made again
    when any of those arrays was replaced (Module.to, load_state_dict)."""
    arrays = [p.data for p in opt.params] + list(opt.m) + list(opt.v)
    made = _FLAT.get(opt)
    if made is not None and all(a is b for a, b in zip(made[0], arrays)):
        return made[1]
    count = len(opt.params)
    groups = arrays[:count], arrays[count:2 * count], arrays[2 * count:]
    buffers = [xp.concatenate([a.reshape(-1) for a in group]) for group in groups]
    views = []
    for buffer, group in zip(buffers, groups):
        start = 0
        for a in group:
            views.append(buffer[start:start + a.size].reshape(a.shape))
            start += a.size
    for p, view in zip(opt.params, views[:count]):
        p.data = view
    opt.m[:], opt.v[:] = views[count:2 * count], views[2 * count:]
    _FLAT[opt] = (views, buffers)
    return buffers


@functools.lru_cache(maxsize=16)
def flat_parts(sizes, chunk):
    """The flat buffer of arrays of these ``sizes``, cut every ``chunk`` numbers:
    ((start, stop, pieces), ...), where each piece (i, lo, hi, at) says that numbers
    [lo, hi) of array i lie at [start + at, start + at + hi - lo) of the buffer."""
    offsets = [0]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    parts, first = [], 0
    for start in range(0, offsets[-1], chunk):
        stop = min(start + chunk, offsets[-1])
        while offsets[first + 1] <= start:
            first += 1
        pieces, i = [], first
        while i < len(sizes) and offsets[i] < stop:
            lo, hi = max(start, offsets[i]) - offsets[i], min(stop, offsets[i + 1]) - offsets[i]
            if hi > lo:
                pieces.append((i, lo, hi, offsets[i] + lo - start))
            i += 1
        parts.append((start, stop, tuple(pieces)))
    return tuple(parts)


_threads = threading.local()             # each thread's scratch: {(module, dtype): arrays}


def _thread_scratch(dtype, xp):
    """Two arrays of CHUNK numbers belonging to the calling thread."""
    buffers = _threads.__dict__.setdefault("buffers", {})
    key = (xp.__name__, dtype.str)
    if key not in buffers or buffers[key][0].size < CHUNK:
        buffers[key] = (xp.empty(CHUNK, dtype=dtype), xp.empty(CHUNK, dtype=dtype))
    return buffers[key]


def adam_update_on_cores(opt):
    """``Adam.update(opt)`` on the flat buffers, part by part (CHUNK numbers), the parts
    shared out over the host's cores (``on_cores``): each part's gradient is gathered from
    the parameters' gradients (a view when the part lies in one of them), then 11 operations
    run on that part while its arrays are in cache. A parameter without a gradient, or with
    another dtype than the first, sends the whole update to ``adam_update_in_place``."""
    params = opt.params
    dtype = params[0].data.dtype
    if any(p.grad is None for p in params) or any(p.data.dtype != dtype for p in params):
        return adam_update_in_place(opt)
    xp = get_array_module(params[0].data)
    flat_p, flat_m, flat_v = flat_buffers(opt, xp)
    grads = [p.grad.reshape(-1) for p in params]
    b1, b2 = opt.betas
    alpha, eps = folded_step(opt)

    def update(part):
        start, stop, pieces = part
        gathered, tmp = _thread_scratch(dtype, xp)
        tmp = tmp[:stop - start]
        if len(pieces) == 1:
            i, lo, hi, _ = pieces[0]
            g = grads[i][lo:hi]
        else:
            g = gathered[:stop - start]
            for i, lo, hi, at in pieces:
                g[at:at + hi - lo] = grads[i][lo:hi]
        m, v, p = flat_m[start:stop], flat_v[start:stop], flat_p[start:stop]
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
        p -= tmp

    on_cores(update, flat_parts(tuple(p.data.size for p in params), CHUNK))

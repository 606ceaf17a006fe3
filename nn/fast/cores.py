"""Elementwise work on every core of the host.

The BLAS spreads a matmul over the cores by itself; NumPy's ufuncs run on one. But a ufunc
lets go of Python's global lock while it loops over an array, so threads that each run
the same chain of ufuncs on their own part of the arrays keep every core busy at once.
``on_cores(work, items)`` does that: the items are shared out in contiguous runs, one run
per thread, the calling thread taking the first.

It pays only for long work. Handing work to a thread and waiting for it costs about 55
microseconds (a 2-core virtual machine), and each ufunc call still takes the lock for a
moment, so a chain over small parts makes the threads queue for it. Measured there, one
multiply by 2 of a float32 array on one thread against two: 2**20 numbers, 0.18 ms against
0.37 ms; 2**22 numbers, 1.7 ms against 1.1 ms. So a single layer's elementwise work (at most
2**19 numbers in a 64-pixel CycleGAN) stays on one core, and Adam, which updates every
parameter at once (16 M numbers for the official generators), shares its parts of 2**17
numbers out: 45 ms against 28 ms.

The number of threads is the BLAS's: OPENBLAS_NUM_THREADS or OMP_NUM_THREADS when set,
else every core this process may run on.
"""
import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["thread_count", "on_cores"]

_pool = None


def thread_count():
    """How many threads share the elementwise work (at least 1)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:               # not on Linux
        return os.cpu_count() or 1


def _forget_pool():
    """A forked child inherits the pool's bookkeeping but not its threads: start afresh."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def on_cores(work, items, threads=None):
    """Call ``work(item)`` for every item, the items shared out over ``threads`` threads
    (default ``thread_count()``) in contiguous runs; returns when all are done, raising the
    first exception any of them raised. With one thread or one item, all run right here."""
    global _pool
    items = list(items)
    threads = min(threads or thread_count(), len(items))
    if threads <= 1:
        for item in items:
            work(item)
        return
    if _pool is None or _pool._max_workers < threads - 1:
        _pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="nn-cores")

    def run(share):
        for item in share:
            work(item)

    bounds = [len(items) * k // threads for k in range(threads + 1)]
    shares = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    others = [_pool.submit(run, share) for share in shares[1:]]
    try:
        run(shares[0])
    finally:
        for other in others:             # wait for all before raising
            other.exception()
    for other in others:
        other.result()

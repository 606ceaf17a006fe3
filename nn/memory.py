"""Keep freed host memory in the process, so that the next step does not fault it in again.

A training step allocates and frees the same large arrays (activations, gradients, im2col
columns) every iteration. glibc's malloc gives arrays above a threshold their own fresh pages
(mmap) and hands freed ones back to the kernel, so every step touches brand-new pages, and
each first touch is a page fault in which the kernel zeroes the page. On a virtual machine
that can cost as much as the arithmetic: a 3x3 convolution's weight gradient on
(1, 256, 16, 16), called in a loop, took 3.5 ms with fresh pages and 1.5 ms with reused ones.
glibc raises its threshold by itself once a large block has been freed, so a long loop of
identical steps (a whole CycleGAN step) mostly settles without help; a loop over one layer,
or a step whose arrays are larger than glibc's 32 MiB ceiling for that threshold, does not.
PyTorch's GPU caching allocator exists for the same reason.

``keep_freed_memory()`` asks malloc to serve large arrays from its heap and not to return
freed memory to the kernel. The resident size then stays at the step's peak (which a step
reaches anyway) instead of rising and falling. It changes the whole process, so it is a
call a program makes, never a side effect of ``import nn``: the benchmarks make it, to time
single layers in a loop; train.py does not, its loop of identical steps settles by itself.
"""
import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1   # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold=2 ** 30, trim_threshold=2 ** 40):
    """Set glibc's mmap and trim thresholds; returns True if malloc accepted them.

    Arrays up to ``mmap_threshold`` bytes come from the heap, and the heap is shrunk only when
    more than ``trim_threshold`` bytes at its top are free. On a C library without ``mallopt``
    (macOS, musl) nothing changes and False is returned.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Clamp to C int: mallopt takes an int.
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, min(mmap_threshold, 2 ** 31 - 1))
    ok_trim = mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, 2 ** 31 - 1))
    return bool(ok_mmap and ok_trim)

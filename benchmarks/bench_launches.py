"""Kernel launches per CycleGAN training step: a proxy for the step's time on a GPU.

On a GPU, a step on small images costs about one kernel launch per array operation (every
ufunc, reduction, copy, matmul, strided copy), whatever the array's size: a launch costs some
microseconds, and small arrays keep the device busy for less. Our step is counted on the CuPy
stand-in (nn/fake_cupy.py), which counts one launch per such operation; beside it, when
PyTorch is installed, the aten operations that torch.profiler records for the official step
(benchmarks/bench_step.py's twin, called as the official code calls its networks).

    python benchmarks/bench_launches.py                      # the built-in configuration and A
    python benchmarks/bench_launches.py --config A --by-function

Counting needs no GPU and its figures do not depend on the machine or on how busy it is.
"""
import argparse
import collections
import os
import sys

import numpy as np

import common  # noqa: F401  (puts the repository on sys.path)
import bench_step
from nn import fake_cupy

# train.py's built-in run, and the official model on 64px crops
CONFIGS = {name: bench_step.CONFIGS[name] for name in ("built-in", "A")}


def _caller():
    """The innermost function of nn/ or cyclegan.py on the stack: who launched."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if os.sep + "nn" + os.sep in name or name.endswith("cyclegan.py"):
            module = os.path.splitext(os.path.basename(name))[0]
            return f"{module}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "other"


def our_launches(ngf, ndf, n_blocks, size, batch, by_function=False):
    """(Counts of the second train_step on the stand-in, Counter by nn function or None)."""
    from cyclegan import CycleGAN
    model = CycleGAN(ngf=ngf, ndf=ndf, n_blocks=n_blocks, device=fake_cupy, seed=0)
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32) for _ in range(2))
    model.train_step(a, b)     # the first step also creates Adam's scratch buffers
    callers = collections.Counter()
    launch = fake_cupy._launch
    if by_function:
        def counted(operation):
            callers[_caller()] += 1
            launch(operation)
        fake_cupy._launch = counted
    try:
        with fake_cupy.counting() as cost:
            model.train_step(a, b)
    finally:
        fake_cupy._launch = launch
    return cost, (callers if by_function else None)


def torch_aten_ops(ngf, ndf, n_blocks, size, batch):
    """(all aten ops, top-level aten ops) that torch.profiler records for one official step
    (after a warm-up step), or None without PyTorch. Top-level: not called by another aten op
    (aten::conv2d counts once, not again for the aten::convolution it calls)."""
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile
    except ImportError:
        return None
    step = bench_step.torch_step(ngf, ndf, n_blocks, size, batch, batched=False)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    aten = [e for e in prof.events() if e.name.startswith("aten::")]

    def top_level(event):
        parent = event.cpu_parent
        while parent is not None:
            if parent.name.startswith("aten::"):
                return False
            parent = parent.cpu_parent
        return True
    tops = collections.Counter(e.name for e in aten if top_level(e))
    return len(aten), tops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=list(CONFIGS) + ["all"], default="all")
    parser.add_argument("--by-function", action="store_true",
                        help="also break our launches down by the nn function that made them")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch's count")
    args = parser.parse_args()
    for name in (CONFIGS if args.config == "all" else [args.config]):
        ngf, ndf, n_blocks, size, batch = CONFIGS[name]
        print(f"config {name}: ngf={ngf} ndf={ndf} n_blocks={n_blocks} {size}px batch {batch}")
        cost, callers = our_launches(ngf, ndf, n_blocks, size, batch, args.by_function)
        print(f"  ours: {cost.total_launches} launches per train_step; {cost.allocations} "
              f"allocations, {cost.to_device} host-to-device and {cost.to_host} "
              f"device-to-host copies, {cost.synchronizations} synchronisation(s)")
        top = ", ".join(f"{op} {n}" for op, n in cost.launches.most_common(8))
        print(f"    by operation: {top}")
        if callers:
            top = ", ".join(f"{fn} {n}" for fn, n in callers.most_common(10))
            print(f"    by function: {top}")
        aten = None if args.no_torch else torch_aten_ops(ngf, ndf, n_blocks, size, batch)
        if aten is None:
            print("  PyTorch: not installed (or --no-torch)")
        else:
            total, tops = aten
            print(f"  PyTorch official step: {sum(tops.values())} top-level aten ops "
                  f"({total} aten ops recorded in all)")
            top = ", ".join(f"{op[6:]} {n}" for op, n in tops.most_common(8))
            print(f"    top-level by operation: {top}")


if __name__ == "__main__":
    main()

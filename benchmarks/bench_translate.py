"""Translating one image with a ResNet generator, ours against a PyTorch twin, each in its own process.

    python benchmarks/bench_translate.py [--size 256] [--ngf 64] [--n-blocks 9] [--rounds 5]
    python benchmarks/bench_translate.py --memory 4000x3000 --ngf 16 --n-blocks 3

The default is what a user of the official pretrained models runs: the official
architecture (ngf 64, 9 residual blocks) in eval mode without a graph (``nn.no_grad``,
``torch.no_grad``) on one 256x256 image, random weights (the time does not depend on
them). Both frameworks run in fresh subprocesses driven in alternating rounds, with the
same thread count; printed are the median seconds per image after a warm-up, GFLOP/s
(convolutions counted from the layer shapes), peak resident memory of each process and the
ratio ours/PyTorch.

``--memory HxW`` instead translates one image of that size once, in a subprocess per
framework, and prints each process's peak resident memory (VmHWM), beside
``translate.estimate_translation_memory``'s estimate for ours.
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time

import numpy as np

from common import (Worker, alternate, machine_line, matmul_rate, serve, speed_line, threads,
                    torch_resnet_generator)
from bench_step import generator_convs


def ours_translate(ngf, n_blocks, h, w):
    from cyclegan import ResnetGenerator
    import nn
    generator = ResnetGenerator(ngf=ngf, n_blocks=n_blocks, rng=np.random.default_rng(0)).eval()
    x = nn.Tensor(np.random.default_rng(1).uniform(-1, 1, (1, 3, h, w)).astype(np.float32))

    def translate():
        with nn.no_grad():
            return generator(x).data
    return translate


def torch_translate(ngf, n_blocks, h, w):
    import torch
    torch.set_num_threads(threads())
    torch.manual_seed(0)
    generator = torch_resnet_generator(torch.nn, ngf, n_blocks).eval()
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (1, 3, h, w)).astype(np.float32))

    def translate():
        with torch.no_grad():
            return generator(x)
    return translate


def worker(args):
    """Build one framework's translation, then answer "run K" lines with K times (JSON), and
    "peak" with this process's peak resident memory in MiB."""
    build = ours_translate if args.worker == "ours" else torch_translate
    h, w = args.hw
    translate = build(args.ngf, args.n_blocks, h, w)
    serve(translate, args.settle)


def start_worker(framework, args, hw):
    """A Worker running this script for one framework on an h x w image."""
    return Worker([sys.executable, os.path.abspath(__file__), "--worker", framework,
                   "--ngf", str(args.ngf), "--n-blocks", str(args.n_blocks),
                   "--hw", f"{hw[0]}x{hw[1]}", "--settle", str(args.settle)])


def translation_flops(ngf, n_blocks, h, w):
    """Convolution flops of one forward pass on an h x w image (bench_step counts squares)."""
    return sum(generator_convs(ngf, n_blocks, h)) * w / h


def time_translation(args, frameworks):
    size = args.size
    workers = {k: start_worker(k, args, (size, size)) for k in frameworks}
    times, peaks = alternate(workers, args.rounds, args.per_round)
    rate = matmul_rate()
    flops = translation_flops(args.ngf, args.n_blocks, size, size)
    print(f"float32 matmul 2048^3: {rate:.1f} GFLOP/s (after the runs)")
    print(f"ngf {args.ngf}, {args.n_blocks} blocks, one {size}x{size} image, eval mode without "
          f"a graph, {flops / 1e9:.1f} GFLOP")
    for k in workers:
        print(speed_line(k, statistics.median(times[k]), flops, rate, peaks[k], unit="image"))
    if "torch" in workers:
        ratio = statistics.median(times["ours"]) / statistics.median(times["torch"])
        print(f"  ours/PyTorch: time {ratio:.2f}, memory {peaks['ours'] / peaks['torch']:.2f}")


def measure_memory(args, frameworks):
    from translate import estimate_translation_memory
    h, w = args.hw
    print(f"ngf {args.ngf}, {args.n_blocks} blocks, one {h}x{w} image (H x W), eval mode "
          "without a graph")
    for k in frameworks:
        worker_ = start_worker(k, args, (h, w))
        start = time.perf_counter()
        worker_.ask("run 0")                    # one translation: the warm-up call
        seconds = time.perf_counter() - start
        print(f"  {k:6s} peak RSS {worker_.close():7.0f} MiB  ({seconds:.1f} s with start-up)")
    estimate = estimate_translation_memory(h, w, args.ngf, args.n_blocks)
    print(f"  estimate_translation_memory (translate.py, including its image arrays): "
          f"{estimate / 2 ** 20:.0f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per framework")
    parser.add_argument("--per-round", type=int, default=3, help="timed images per round")
    parser.add_argument("--memory", metavar="HxW",
                        help="measure the peak memory of one HxW translation instead")
    parser.add_argument("--settle", type=float, default=0.1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--hw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.hw = tuple(int(v) for v in args.hw.split("x"))
        return worker(args)
    if args.memory:
        try:
            args.hw = tuple(int(v) for v in args.memory.lower().split("x"))
        except ValueError:
            args.hw = ()
        if len(args.hw) != 2 or min(args.hw) < 4 or any(v % 4 for v in args.hw):
            parser.error(f"--memory takes HxW with both sides multiples of 4, got {args.memory!r}")
    frameworks = ["ours"]
    torch_available = importlib.util.find_spec("torch") is not None  # imported by its worker only
    if torch_available:
        frameworks.append("torch")
    print(machine_line() + ("" if torch_available else "; PyTorch not installed"))
    if args.memory:
        measure_memory(args, frameworks)
    else:
        time_translation(args, frameworks)


if __name__ == "__main__":
    main()

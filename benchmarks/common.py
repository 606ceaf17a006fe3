"""Shared pieces of the benchmarks: timing, the machine's matmul rate, the optional PyTorch.

Every figure is a median over repeats, so one slow run (a page fault, another process)
does not move it. PyTorch is imported only when it is installed; it is never needed.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as `python benchmarks/bench_conv.py` from anywhere
    sys.path.insert(0, ROOT)


def threads():
    """The thread count BLAS uses: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else every core."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            return int(os.environ[name])
    return os.cpu_count()


def load_torch(num_threads):
    """torch with ``num_threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(num_threads)
    return torch


def seconds(fn):
    """Wall time of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_times(fns, rounds, per_round=3, settle=0.05):
    """Median seconds of each function in ``fns``, run interleaved in rounds.

    Each round runs every function in turn: one untimed warm-up call, then ``per_round``
    timed calls; the median is over all timed calls. Interleaving makes a change in the
    machine's speed (a neighbour, turbo) touch every function alike. Before each function's
    turn the process sleeps ``settle`` seconds: the thread pools of BLAS and of PyTorch's
    OpenMP spin for a while after their last parallel region, and a pool still spinning
    steals a core from the other framework (measured: 2x on a 2-core machine).
    """
    times = [[] for _ in fns]
    for _ in range(rounds):
        for t, fn in zip(times, fns):
            time.sleep(settle)
            fn()
            t.extend(seconds(fn) for _ in range(per_round))
    return [statistics.median(t) for t in times]


def matmul_rate(n=2048, repeats=5):
    """GFLOP/s of a float32 (n, n) @ (n, n) product on this machine (2 n^3 flops), median."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    (t,) = median_times([lambda: np.matmul(a, b, out=out)], 1, repeats)
    return 2 * n ** 3 / t / 1e9


def _cpuinfo(field):
    """The value of ``field`` for the first CPU in /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model():
    """The CPU's name and its widest vector extension: the ratio to PyTorch depends on it,
    since PyTorch's own kernels use AVX-512 where the CPU has it."""
    flags = (_cpuinfo("flags") or "").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    name = _cpuinfo("model name") or "unknown CPU"
    return f"{name} ({vector})" if vector else name


def blas_kernel():
    """The kernel family OpenBLAS picked at load time (e.g. Haswell, SkylakeX), asked of
    NumPy's bundled OpenBLAS; "unknown" for another BLAS."""
    import ctypes
    import glob
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                       "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, name):
                fn = getattr(lib, name)
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"


def machine_line():
    return (f"{cpu_model()}, {threads()} threads, "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
            f"(OpenBLAS kernel: {blas_kernel()}), numpy {np.__version__}")


def torch_resnet_generator(nn, ngf, n_blocks):
    """The official ResnetGenerator (models/networks.py, instance norm, no dropout) built from
    ``torch.nn``, passed in as ``nn``: the PyTorch twin of ``cyclegan.ResnetGenerator``."""
    def block(dim):
        return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim),
                             nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3),
                             nn.InstanceNorm2d(dim))

    class Residual(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.conv_block = block(dim)

        def forward(self, x):
            return x + self.conv_block(x)

    layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for m in (1, 2):
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * m * 2),
                   nn.ReLU(True)]
    layers += [Residual(4 * ngf) for _ in range(n_blocks)]
    for m in (4, 2):
        layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                   nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class Worker:
    """A benchmark process driven line by line: ``ask(command)`` writes one command to its
    stdin and reads one JSON answer; ``close()`` asks for its peak memory and waits for it."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark worker {self.proc.args} died")
        return json.loads(line)

    def close(self):
        peak = self.ask("peak")
        self.proc.wait()
        return peak


def alternate(workers, rounds, per_round):
    """Drive ``workers`` (a dict of Worker) in alternating rounds of ``per_round`` timings
    each, so that a change in the machine's speed touches all alike; then close them.
    Returns ({name: all its timings}, {name: its peak memory in MiB})."""
    times = {k: [] for k in workers}
    for _ in range(rounds):
        for k, w in workers.items():
            times[k] += w.ask(f"run {per_round}")
    return times, {k: w.close() for k, w in workers.items()}


def speed_line(name, seconds, flops, rate, peak, unit="step", extra=""):
    """One worker's figures: seconds per ``unit``, GFLOP/s and their share of the matmul
    ``rate``, and peak memory."""
    gflops = flops / seconds / 1e9
    return (f"  {name:13s} {seconds:7.3f} s/{unit}  {extra}{gflops:6.1f} GFLOP/s "
            f"({gflops / rate:4.0%} of matmul)  peak RSS {peak:6.0f} MiB")


def serve(work, settle):
    """The worker's side of ``Worker``: answer "run K" lines with K timings of ``work()``
    (JSON, after one untimed warm-up call), and "peak" with this process's peak memory."""
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "run":
            time.sleep(settle)  # let the other process's idle threads stop spinning
            work()              # warm: first touches of the arrays this round
            times = []
            for _ in range(int(rest[0])):
                start = time.perf_counter()
                work()
                times.append(time.perf_counter() - start)
            print(json.dumps(times), flush=True)
        elif command == "peak":
            print(json.dumps(peak_rss_mib()), flush=True)
            return


def peak_rss_mib():
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss does not
    (a child forked from a large parent would report at least the parent's size)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

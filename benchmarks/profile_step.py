"""Where one CycleGAN training step spends its time, per kind of operation.

    python benchmarks/profile_step.py [--config A|B|C|built-in] [--steps 3] [--layers]

Every Function's forward and backward, the convolution kernels inside them, Adam's step and
the autograd engine's own walk are wrapped, for the duration of this script only, by a
timer that books each call's *exclusive* time (its own, less that of the wrapped calls
inside it) under a label such as "FastConv2d.backward > weight_grad" (the fast layer's
roads, as the step runs by default). Nothing in nn
changes when this script is not running: the wrappers are installed here and removed after.
The table lists the labels by time, then the totals per kind (convolution forward, input
gradient, weight gradient, instance norm, padding, elementwise, Adam, ...).

``--layers`` adds a table of the convolution kernels by the shapes they ran on: calls, time,
and their rate in GFLOP/s (2 flops per multiply-add of the sum they compute) against this
machine's float32 matmul rate, which says how far each road is from its matmul.
"""
import argparse
import time
from collections import defaultdict

from common import matmul_rate, threads  # noqa: F401  (puts the repository on sys.path)
from bench_step import CONFIGS, ours_step

import nn
import nn.fast.layers
import nn.optim
from nn.convolution import output_size
from nn.tensor import Function, Tensor

KERNELS = ["conv2d", "conv_transpose2d", "weight_grad"]   # the fast convolutions' roads
KIND = {  # (Function class, phase, kernel) -> kind; a class alone covers all its phases
    ("FastConv2d", "forward", "conv2d"): "conv forward",
    ("FastConv2d", "backward", "conv_transpose2d"): "conv input-grad",
    ("FastConv2d", "backward", "weight_grad"): "conv weight-grad",
    ("FastConvTranspose2d", "forward", "conv_transpose2d"): "conv forward",
    ("FastConvTranspose2d", "backward", "conv2d"): "conv input-grad",
    ("FastConvTranspose2d", "backward", "weight_grad"): "conv weight-grad",
    "FastConv2d": "conv bias and glue", "FastConvTranspose2d": "conv bias and glue",
    "FastInstanceNormalize": "instance norm", "Pad": "padding",
    "FastLeakyReLU": "activations", "TanhFunction": "activations",
    "SigmoidFunction": "activations", "AddConstant": "elementwise arithmetic",
    "SubFromConstant": "elementwise arithmetic", "MulConstant": "elementwise arithmetic",
    "DivConstant": "elementwise arithmetic", "ConstantDiv": "elementwise arithmetic",
    "Add": "elementwise arithmetic", "Sub": "elementwise arithmetic",
    "Mul": "elementwise arithmetic", "Div": "elementwise arithmetic",
    "Neg": "elementwise arithmetic", "Power": "elementwise arithmetic",
    "Abs": "elementwise arithmetic", "Exp": "elementwise arithmetic", "Log": "elementwise arithmetic",
    "Sum": "reductions and shapes", "Reshape": "reductions and shapes",
    "Transpose": "reductions and shapes", "GetItem": "reductions and shapes",
    "MatMul": "reductions and shapes",
    "Adam": "Adam", "Tensor": "autograd engine (graph walk, gradient sums)",
    "Function": "Function.__call__ (wrapping arrays in Tensors)",
}


class Profiler:
    """Books exclusive time per label; ``install`` wraps, ``remove`` restores."""

    def __init__(self):
        self.time, self.calls = defaultdict(float), defaultdict(int)
        self.stack = []          # [label, time spent in wrapped calls inside it]
        self.patched = []        # (owner, attribute name, original)
        self.flops = defaultdict(float)

    def wrap(self, owner, name, label):
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        function = original.__func__ if isinstance(original, staticmethod) else original

        def timed(*args, **kwargs):
            key = label(*args) if callable(label) else label
            self.stack.append([key, 0.0])
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                _, inner = self.stack.pop()
                self.time[key] += elapsed - inner
                self.calls[key] += 1
                if self.stack:
                    self.stack[-1][1] += elapsed
        self.patched.append((owner, name, original))
        setattr(owner, name, staticmethod(timed) if isinstance(original, staticmethod)
                else timed)

    def install(self, by_shape=False):
        """Wrap everything; ``by_shape``: book each convolution kernel apart per shape, and
        count its flops in self.flops."""
        for cls in _subclasses(Function):
            for phase in ("forward", "backward"):
                if phase in cls.__dict__:
                    self.wrap(cls, phase, (cls.__name__, phase))
        for cls in (nn.fast.layers.FastConv2d, nn.fast.layers.FastConvTranspose2d):
            for kernel in KERNELS:
                # The kernel's label names the Function phase it runs in.
                self.wrap(cls, kernel, lambda *args, kernel=kernel: self.kernel_key(
                    kernel, args, by_shape))
        self.wrap(nn.optim.Adam, "step", ("Adam", "step"))
        self.wrap(Tensor, "backward", ("Tensor", "backward"))
        self.wrap(Function, "__call__", ("Function", "__call__"))

    def kernel_key(self, kernel, args, by_shape):
        """(Function, phase, kernel), and with ``by_shape`` the shapes of its two arrays."""
        key = (*self.stack[-1][0][:2], kernel) if self.stack else ("", "", kernel)
        if not by_shape:
            return key
        key += (" ".join("x".join(map(str, a.shape)) for a in args[:2] if a is not None),)
        self.flops[key] += kernel_flops(kernel, args)
        return key

    def remove(self):
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)
        self.patched.clear()


def _subclasses(cls):
    found = []
    for sub in cls.__subclasses__():
        found += [sub] + _subclasses(sub)
    return found


def kind_of(key):
    return KIND.get(key) or KIND.get(key[0], "other")


def label_of(key):
    """'Function.phase > kernel' for a (Function, phase[, kernel]) key."""
    return ".".join(key[:2]) + (f" > {key[2]}" if len(key) > 2 else "")


def kernel_flops(kernel, args):
    """2 * multiply-adds of one call of a convolution kernel, from its arguments:
    conv2d(x, weight, stride, padding), conv_transpose2d(x, weight, ...) (the work of the
    convolution it is the adjoint of), weight_grad(x, grad_out, kernel_size, ..., columns)."""
    if kernel == "conv2d":
        (n, c_in, h, w), (c_out, _, kh, kw) = args[0].shape, args[1].shape
        (sh, sw), (ph, pw) = args[2], args[3]
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        return 2 * n * c_out * c_in * kh * kw * oh * ow
    if kernel == "conv_transpose2d":
        (n, c_in, h, w), (_, c_out, kh, kw) = args[0].shape, args[1].shape
        return 2 * n * c_in * c_out * kh * kw * h * w
    x, grad_out, (kh, kw) = args[0], args[1], args[2]
    columns = args[5] if len(args) > 5 else None
    c_in = x.shape[1] if x is not None else columns.shape[0] // (kh * kw)
    return 2 * grad_out.size * c_in * kh * kw


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="A", choices=sorted(CONFIGS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--layers", action="store_true",
                        help="also the convolution kernels by shape, against the matmul rate")
    args = parser.parse_args()

    step = ours_step(*CONFIGS[args.config], keep_memory=True)
    step(), step()  # warm-up, unprofiled
    plain = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        plain.append(time.perf_counter() - start)
    profiler = Profiler()
    profiler.install(by_shape=args.layers)
    try:
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        total = (time.perf_counter() - start) / args.steps
    finally:
        profiler.remove()

    per_step = {k: v / args.steps for k, v in profiler.time.items()}
    if args.layers:
        print_layers(per_step, profiler, args.steps, matmul_rate())
        per_step = merge_shapes(per_step)
        profiler.calls = merge_shapes(profiler.calls)
    booked = sum(per_step.values())
    print(f"config {args.config}: {sorted(plain)[len(plain) // 2]:.3f} s/step unprofiled, "
          f"{total:.3f} s/step profiled, {args.steps} steps")
    print(f"\n{'where (exclusive time)':58s} {'calls':>6s} {'ms/step':>8s} {'share':>6s}")
    for key, t in sorted(per_step.items(), key=lambda kv: -kv[1]):
        if t / total < 0.002:
            continue
        print(f"{label_of(key):58s} {profiler.calls[key] // args.steps:6d} {t * 1e3:8.1f} "
              f"{t / total:6.1%}")
    kinds = defaultdict(float)
    for key, t in per_step.items():
        kinds[kind_of(key)] += t
    kinds["rest of the step (losses, pools, Python)"] = total - booked
    print(f"\n{'per kind':58s} {'':6s} {'ms/step':>8s} {'share':>6s}")
    for kind, t in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"{kind:58s} {'':6s} {t * 1e3:8.1f} {t / total:6.1%}")


def merge_shapes(table):
    """The per-shape entries of a table added up per (Function, phase, kernel)."""
    merged = defaultdict(int)
    for key, value in table.items():
        merged[key[:3]] += value
    return merged


def print_layers(per_step, profiler, steps, rate):
    print(f"float32 matmul 2048^3: {rate:.0f} GFLOP/s\n")
    print(f"{'convolution kernel':42s} {'shapes (input, weight or gradient)':34s} "
          f"{'calls':>5s} {'ms/step':>8s} {'GFLOP/s':>8s} {'of matmul':>9s}")
    for key, t in sorted(per_step.items(), key=lambda kv: -kv[1]):
        if len(key) < 4 or t <= 0:
            continue
        gflops = profiler.flops[key] / steps / t / 1e9
        print(f"{label_of(key):42s} {key[3]:34s} {profiler.calls[key] // steps:5d} {t * 1e3:8.1f} "
              f"{gflops:8.0f} {gflops / rate:9.0%}")
    print()


if __name__ == "__main__":
    main()

"""Forward + backward of single convolution layers, against the machine's matmul rate.

    python benchmarks/bench_conv.py [--rounds 5] [--fresh-pages]

For each layer: median milliseconds of forward and backward through nn's autograd (input
and weight both require grad), the GFLOP/s that makes (forward, input gradient and weight
gradient are three matmuls of 2*N*C_out*C_in*KH*KW*OH*OW flops each; for a transposed
convolution OH, OW are its input's size), that rate as a fraction of a 2048^3 float32 matmul,
and, when PyTorch is installed, the time ratio ours/PyTorch with the same thread count.
"""
import argparse

import numpy as np

from common import load_torch, machine_line, matmul_rate, median_times, threads

import nn
import nn.functional as F
from nn.memory import keep_freed_memory

# (name, kind, input shape, weight shape, stride, padding, output_padding)
LAYERS = [
    ("conv 3x3 256->256, 1x16x16", "conv", (1, 256, 16, 16), (256, 256, 3, 3), 1, 1, 0),
    ("conv 3x3 64->64, 4x64x64", "conv", (4, 64, 64, 64), (64, 64, 3, 3), 1, 1, 0),
    ("conv 7x7 64->3, 1x70x70", "conv", (1, 64, 70, 70), (3, 64, 7, 7), 1, 0, 0),
    ("convT 3x3 s2 256->128, 1x16x16", "convT", (1, 256, 16, 16), (256, 128, 3, 3), 2, 1, 1),
]


def layer_flops(kind, x_shape, w_shape, stride, padding):
    """Flops of forward + input gradient + weight gradient: 3 matmuls of 2*N*K*M*P each."""
    n, _, h, w = x_shape
    a, b, kh, kw = w_shape  # C_out, C_in for conv; C_in, C_out for convT: the product is the same
    if kind == "conv":
        pixels = ((h + 2 * padding - kh) // stride + 1) * ((w + 2 * padding - kw) // stride + 1)
    else:
        pixels = h * w  # every input pixel spreads a KH x KW patch
    return 3 * 2 * n * a * b * kh * kw * pixels


def ours(kind, x_shape, w_shape, stride, padding, output_padding, rng):
    x = nn.Tensor(rng.standard_normal(x_shape, dtype=np.float32), requires_grad=True)
    w = nn.Parameter(rng.standard_normal(w_shape, dtype=np.float32) * 0.05)
    y_shape = (F.conv2d(x, w, stride=stride, padding=padding) if kind == "conv" else
               F.conv_transpose2d(x, w, stride=stride, padding=padding,
                                  output_padding=output_padding)).shape
    g = rng.standard_normal(y_shape, dtype=np.float32)

    def step():
        x.grad = w.grad = None
        if kind == "conv":
            y = F.conv2d(x, w, stride=stride, padding=padding)
        else:
            y = F.conv_transpose2d(x, w, stride=stride, padding=padding,
                                   output_padding=output_padding)
        y.backward(g)
    return step


def theirs(torch, kind, x_shape, w_shape, stride, padding, output_padding, rng):
    x = torch.from_numpy(rng.standard_normal(x_shape, dtype=np.float32)).requires_grad_()
    w = torch.from_numpy(rng.standard_normal(w_shape, dtype=np.float32) * 0.05).requires_grad_()
    tf = torch.nn.functional

    def forward():
        if kind == "conv":
            return tf.conv2d(x, w, stride=stride, padding=padding)
        return tf.conv_transpose2d(x, w, stride=stride, padding=padding,
                                   output_padding=output_padding)
    g = torch.from_numpy(rng.standard_normal(tuple(forward().shape), dtype=np.float32))

    def step():
        x.grad = w.grad = None
        forward().backward(g)
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of 3 runs")
    parser.add_argument("--fresh-pages", action="store_true",
                        help="leave malloc's defaults (see nn/memory.py): slower on most VMs")
    args = parser.parse_args()
    if not args.fresh_pages:
        keep_freed_memory()

    torch = load_torch(threads())
    rate = matmul_rate()
    print(machine_line())
    print(f"float32 matmul 2048^3: {rate:.1f} GFLOP/s (median of 5)")
    header = f"{'layer':34s} {'ms':>8s} {'GFLOP/s':>8s} {'of mm':>6s}"
    print(header + (f" {'torch ms':>9s} {'ours/torch':>10s}" if torch else "  (PyTorch not installed)"))
    rng = np.random.default_rng(0)
    for name, kind, xs, ws, s, p, op in LAYERS:
        fns = [ours(kind, xs, ws, s, p, op, rng)]
        if torch:
            fns.append(theirs(torch, kind, xs, ws, s, p, op, rng))
        times = median_times(fns, args.rounds)
        gflops = layer_flops(kind, xs, ws, s, p) / times[0] / 1e9
        line = f"{name:34s} {times[0] * 1e3:8.2f} {gflops:8.1f} {gflops / rate:6.0%}"
        if torch:
            line += f" {times[1] * 1e3:9.2f} {times[0] / times[1]:10.2f}"
        print(line)


if __name__ == "__main__":
    main()

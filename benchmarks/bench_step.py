"""One full CycleGAN training step, ours against a PyTorch twin, each in its own process.

    python benchmarks/bench_step.py [--config A|B|C|built-in|all] [--rounds 5] [--per-round 3]
    python benchmarks/bench_step.py --baseline ../other-checkout --no-torch   # before/after
    python benchmarks/bench_step.py --plain      # also ours with the fast layer off

A step is the official update: G_A, G_B forward (fake, reconstruction, identity), the
generator loss (LSGAN + cycle L1 + identity L1) and its backward with the discriminators
frozen, one Adam step for both generators; then both discriminators' losses on real and
fake images, their backward and one Adam step. Configurations (ngf/ndf/n_blocks, size, batch):

    A  64/64/6, 64px, batch 1     B  32/32/6, 64px, batch 1     C  16/16/3, 32px, batch 4
    built-in  16/16/3, 64px, batch 1 (what ``python train.py`` trains)

Our step (with nn's fast layer on, as by default) batches the calls of one network whose
inputs are ready (G_A on real A and real B at once, likewise G_B; each discriminator on real
and fake at once); the official code calls them one by one. PyTorch runs twice, in two
twins: "torch" follows the official code call by call, "torch-batched" groups the calls as
ours does, so both ratios are printed: against the official code, and against the same
algorithm (the same work, arranged the same way).

Each twin runs in a fresh subprocess (so memory is measured apart: peak RSS of that process,
libraries included) and they are driven in alternating rounds, so a change in the machine's
speed touches all alike. Printed: median seconds per step (after warm-up), images per
second, GFLOP per step counted from the layer shapes, GFLOP/s against this run's float32
matmul rate, peak memory, and the ratios ours/PyTorch.
"""
import argparse
import importlib.util
import os
import statistics
import sys

import numpy as np

from common import (Worker, alternate, machine_line, matmul_rate, serve, speed_line, threads,
                    torch_resnet_generator)

CONFIGS = {  # name: (ngf, ndf, n_blocks, image size, batch)
    "A": (64, 64, 6, 64, 1),
    "B": (32, 32, 6, 64, 1),
    "C": (16, 16, 3, 32, 4),
    "built-in": (16, 16, 3, 64, 1),
}


# --- flops from the layer shapes -------------------------------------------------------------

def generator_convs(ngf, n_blocks, size, nc=3):
    """(forward flops, is first layer) of every convolution of the ResNet generator."""
    def conv(c_in, c_out, k, out_hw):  # 2 flops per multiply-add
        return 2 * c_in * c_out * k * k * out_hw * out_hw
    layers = [conv(nc, ngf, 7, size), conv(ngf, 2 * ngf, 3, size // 2),
              conv(2 * ngf, 4 * ngf, 3, size // 4)]
    layers += [conv(4 * ngf, 4 * ngf, 3, size // 4)] * (2 * n_blocks)
    # A transposed convolution does the work of the convolution it is the adjoint of.
    layers += [conv(2 * ngf, 4 * ngf, 3, size // 4), conv(ngf, 2 * ngf, 3, size // 2),
               conv(ngf, nc, 7, size)]
    return layers


def discriminator_convs(ndf, size, nc=3):
    """Forward flops of the 70x70 PatchGAN's convolutions (4x4, padding 1)."""
    layers, c_in, hw = [], nc, size
    for c_out, stride in [(ndf, 2), (2 * ndf, 2), (4 * ndf, 2), (8 * ndf, 1), (1, 1)]:
        hw = (hw + 2 - 4) // stride + 1
        layers.append(2 * c_in * c_out * 16 * hw * hw)
        c_in = c_out
    return layers


def step_flops(ngf, ndf, n_blocks, size, batch):
    """Convolution flops of one step: forward, input gradient and weight gradient of each
    layer, less the gradients nobody needs (a first layer fed a real image needs no input
    gradient; the discriminators' weights are frozen while the generators learn)."""
    g, d = generator_convs(ngf, n_blocks, size), discriminator_convs(ndf, size)
    flops = 6 * 3 * sum(g) - 4 * g[0]          # 6 generator passes; 4 of them eat real images
    flops += 2 * (2 * sum(d))                   # D on the fakes in the G step: no weight grad
    flops += 4 * (3 * sum(d) - d[0])            # D step: real and fake for each D
    return flops * batch


# --- the two workers ---------------------------------------------------------------------------

def ours_step(ngf, ndf, n_blocks, size, batch, keep_memory, fast=True):
    import nn
    nn.fast.enabled(fast)
    if keep_memory:
        from nn.memory import keep_freed_memory
        keep_freed_memory()
    from cyclegan import CycleGAN
    model = CycleGAN(ngf=ngf, ndf=ndf, n_blocks=n_blocks, seed=0)
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32) for _ in range(2))
    return lambda: model.train_step(a, b)


def torch_step(ngf, ndf, n_blocks, size, batch, batched=False):
    """The official architecture and update in PyTorch (pytorch-CycleGAN-and-pix2pix).

    batched=False follows the official code call by call (six generator calls, four
    discriminator calls in D's step); batched=True groups the calls as our
    ``CycleGAN.train_step`` does (G_A([a, b]), G_B([b, a]), then the reconstructions;
    D([real, fake])), so that the two frameworks run the same algorithm."""
    import torch
    from torch import nn
    torch.set_num_threads(threads())
    torch.manual_seed(0)

    def generator():
        return torch_resnet_generator(nn, ngf, n_blocks)

    def discriminator():
        layers = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out, stride in [(ndf, 2 * ndf, 2), (2 * ndf, 4 * ndf, 2), (4 * ndf, 8 * ndf, 1)]:
            layers += [nn.Conv2d(c_in, c_out, 4, stride, 1), nn.InstanceNorm2d(c_out),
                       nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(8 * ndf, 1, 4, 1, 1)]
        return nn.Sequential(*layers)

    def init(m):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)

    G_A, G_B, D_A, D_B = generator(), generator(), discriminator(), discriminator()
    for net in (G_A, G_B, D_A, D_B):
        net.apply(init)
    opt_G = torch.optim.Adam(list(G_A.parameters()) + list(G_B.parameters()), 2e-4, (0.5, 0.999))
    opt_D = torch.optim.Adam(list(D_A.parameters()) + list(D_B.parameters()), 2e-4, (0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    rng = np.random.default_rng(1)
    real_A, real_B = (torch.from_numpy(rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32))
                      for _ in range(2))

    def gan(pred, is_real):
        return mse(pred, torch.full_like(pred, 1.0 if is_real else 0.0))

    def set_requires_grad(nets, flag):
        for net in nets:
            for p in net.parameters():
                p.requires_grad = flag

    def generate():
        """(fake_B, rec_A, fake_A, rec_B, idt_A, idt_B)."""
        if batched:
            fake_B, idt_A = G_A(torch.cat([real_A, real_B])).split(batch)
            fake_A, idt_B = G_B(torch.cat([real_B, real_A])).split(batch)
            return fake_B, G_B(fake_B), fake_A, G_A(fake_A), idt_A, idt_B
        fake_B = G_A(real_A)
        rec_A = G_B(fake_B)
        fake_A = G_B(real_B)
        rec_B = G_A(fake_A)
        return fake_B, rec_A, fake_A, rec_B, G_A(real_B), G_B(real_A)

    def judge(D, real, fake):
        if batched:
            on_real, on_fake = D(torch.cat([real, fake])).split(batch)
            return (gan(on_real, True) + gan(on_fake, False)) * 0.5
        return (gan(D(real), True) + gan(D(fake), False)) * 0.5

    def step():
        set_requires_grad([D_A, D_B], False)
        opt_G.zero_grad()
        fake_B, rec_A, fake_A, rec_B, idt_A, idt_B = generate()
        loss_idt_A = l1(idt_A, real_B) * 10.0 * 0.5
        loss_idt_B = l1(idt_B, real_A) * 10.0 * 0.5
        loss_G = (gan(D_A(fake_B), True) + gan(D_B(fake_A), True) + l1(rec_A, real_A) * 10.0
                  + l1(rec_B, real_B) * 10.0 + loss_idt_A + loss_idt_B)
        loss_G.backward()
        opt_G.step()
        set_requires_grad([D_A, D_B], True)
        opt_D.zero_grad()
        # The image pools return the newest fakes while they fill (the first 50 steps), so a
        # short benchmark uses the fakes directly.
        for D, real, fake in ((D_A, real_B, fake_B), (D_B, real_A, fake_A)):
            judge(D, real, fake.detach()).backward()
        opt_D.step()
    return step


def worker(args):
    """Build one framework's step, then answer "run K" lines with K step times (JSON), and
    "peak" with this process's peak resident memory in MiB."""
    config = CONFIGS[args.config]
    if args.code:
        sys.path.insert(0, args.code)     # before nn is first imported, in ours_step
    if args.worker in ("ours", "ours-plain"):
        step = ours_step(*config, keep_memory=not args.fresh_pages,
                         fast=args.worker == "ours")
    else:
        step = torch_step(*config, batched=args.worker == "torch-batched")
    serve(step, args.settle)


def start_worker(framework, args, code=None):
    """A Worker running this script for one framework; ``code``: the folder of another
    checkout whose nn and cyclegan it imports instead of this one's."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework,
           "--config", args.config_name, "--settle", str(args.settle)]
    if code:
        cmd += ["--code", os.path.abspath(code)]
    if args.fresh_pages:
        cmd.append("--fresh-pages")
    return Worker(cmd)


def run_config(name, args, rate, torch_available):
    ngf, ndf, n_blocks, size, batch = CONFIGS[name]
    args.config_name = name
    workers = {"ours": start_worker("ours", args)}
    if args.baseline:  # our step with another checkout's code, in the same rounds
        workers["baseline"] = start_worker("ours", args, args.baseline)
    if args.plain:  # our step with the fast layer off: the plain road
        workers["ours-plain"] = start_worker("ours-plain", args)
    if torch_available:
        workers["torch"] = start_worker("torch", args)
        workers["torch-batched"] = start_worker("torch-batched", args)
    times, peaks = alternate(workers, args.rounds, args.per_round)
    flops = step_flops(ngf, ndf, n_blocks, size, batch)
    print(f"\nconfig {name}: ngf/ndf/n_blocks {ngf}/{ndf}/{n_blocks}, {size}px, batch {batch}, "
          f"{flops / 1e9:.1f} GFLOP/step")
    for k in workers:
        t = statistics.median(times[k])
        print(speed_line(k, t, flops, rate, peaks[k], extra=f"{batch / t:6.1f} img/s  "))
    if args.baseline:
        ratio = statistics.median(times["ours"]) / statistics.median(times["baseline"])
        print(f"  ours/baseline: time {ratio:.3f}")
    if torch_available:
        for mine in [k for k in ("ours", "ours-plain") if k in workers]:
            ours = statistics.median(times[mine])
            for k, label in (("torch", "official call by call"),
                             ("torch-batched", "batched as ours")):
                print(f"  {mine}/PyTorch ({label}): time {ours / statistics.median(times[k]):.2f}, "
                      f"memory {peaks[mine] / peaks[k]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="all", choices=[*CONFIGS, "all"])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per framework")
    parser.add_argument("--per-round", type=int, default=3, help="timed steps per round")
    parser.add_argument("--settle", type=float, default=0.1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["ours", "ours-plain", "torch", "torch-batched"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--fresh-pages", action="store_true",
                        help="leave malloc's defaults (see nn/memory.py)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also time our step as another checkout of the project (DIR) has it, "
                             "in the same alternating rounds, and print the ratio")
    parser.add_argument("--no-torch", action="store_true", help="leave the PyTorch twins out")
    parser.add_argument("--plain", action="store_true",
                        help="also time our step with nn's fast layer off (nn.fast.enabled(False))")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    torch_available = (importlib.util.find_spec("torch") is not None  # imported by its worker only
                       and not args.no_torch)
    rate = matmul_rate()
    print(machine_line())
    print(f"float32 matmul 2048^3: {rate:.1f} GFLOP/s; each framework in its own process, "
          f"peak RSS per process" + ("" if torch_available else "; no PyTorch twin"))
    for name in (CONFIGS if args.config == "all" else [args.config]):
        run_config(name, args, rate, torch_available)


if __name__ == "__main__":
    main()

"""Train a CycleGAN.

    python train.py                              # built-in day2night landscapes, CPU, minutes
    python train.py --dataroot datasets/horse2zebra --n-epochs 100 --n-epochs-decay 100 --gpu
    python train.py --resume                     # continue runs/day2night exactly

Without --dataroot the model learns the built-in "day2night" dataset (builtin_data.py): two
domains of procedurally drawn landscapes where the true translation of every test image is
known, so each epoch also reports the translation error of G_A against the error of doing
nothing. Each epoch writes, under --out: samples/epoch_NNN.png (rows real A | fake B | rec A |
real B | fake A | rec B on fixed test images), losses.csv, losses.png and checkpoint.npz.
"""
import argparse
import os
import signal
import sys
import time

import numpy as np

import builtin_data
import data
import nn
import training_io as io
from progress import Progress

LOSSES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
ERRORS = ("error_AtoB", "error_BtoA", "error_identity")
N_GRID = 8        # test images shown in the sample grids
N_METRIC = 64     # built-in test scenes the translation error is measured on

# The built-in configuration: small enough to finish in minutes on two CPU cores, large enough
# for the translation error to fall well below the identity's. User data gets the official
# architecture (ngf = ndf = 64, 9 blocks at 256 pixels; 6 blocks below that) unless told otherwise.
BUILTIN = {"crop_size": 64, "ngf": 16, "ndf": 16, "n_blocks": 3,
           "n_epochs": 4, "n_epochs_decay": 4, "n_train": 250}
USER = {"crop_size": 64, "ngf": 64, "ndf": 64, "n_epochs": 100, "n_epochs_decay": 100}


# --- the command line -----------------------------------------------------------------------

def _number(kind, low, inclusive=True, what=""):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}")
        if value < low or (value == low and not inclusive):
            sign = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be {sign} {low}{what}, got {text}")
        return value
    return parse


def _crop_size(text):
    value = _number(int, 24, what=" (the discriminator's five 4x4 convolutions need it)")(text)
    if value % 4:
        raise argparse.ArgumentTypeError(
            f"must be a multiple of 4 (the generator halves it twice and doubles it back), "
            f"got {value}; try {value + 4 - value % 4}")
    return value


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--dataroot", help="folder with trainA, trainB, testA, testB (see "
                   "download.py); default: the built-in day2night dataset, nothing to download")
    d.add_argument("--crop-size", type=_crop_size, help="side of the random training crop, "
                   f"a multiple of 4 (default: {BUILTIN['crop_size']} built-in, "
                   f"{USER['crop_size']} for --dataroot; the official value is 256)")
    d.add_argument("--load-size", type=_number(int, 1), help="images are resized to this side "
                   "before cropping (default: crop size * 286/256 rounded to an even number, the "
                   "official ratio 286/256)")
    d.add_argument("--n-train", type=_number(int, 1), default=BUILTIN["n_train"],
                   help="built-in dataset only: training scenes per domain (default: %(default)s)")
    m = p.add_argument_group("model (official defaults in brackets)")
    m.add_argument("--ngf", type=_number(int, 1), help="generator filters in the first layer "
                   f"(default: {BUILTIN['ngf']} built-in, {USER['ngf']} otherwise) [64]")
    m.add_argument("--ndf", type=_number(int, 1), help="discriminator filters in the first "
                   f"layer (default: {BUILTIN['ndf']} built-in, {USER['ndf']} otherwise) [64]")
    m.add_argument("--n-blocks", type=_number(int, 0), help="residual blocks in the generator "
                   f"(default: {BUILTIN['n_blocks']} built-in; 9 for crops of 256 and more, "
                   "else 6) [9]")
    t = p.add_argument_group("training (official defaults in brackets)")
    t.add_argument("--n-epochs", type=_number(int, 0), help="epochs at the initial learning rate "
                   f"(default: {BUILTIN['n_epochs']} built-in, {USER['n_epochs']} otherwise) [100]")
    t.add_argument("--n-epochs-decay", type=_number(int, 0), help="further epochs with the rate "
                   "decaying linearly to zero "
                   f"(default: {BUILTIN['n_epochs_decay']} built-in, {USER['n_epochs_decay']} "
                   "otherwise) [100]")
    t.add_argument("--batch-size", type=_number(int, 1), default=1,
                   help="images per batch (default: %(default)s) [1]")
    t.add_argument("--lr", type=_number(float, 0, inclusive=False), default=2e-4,
                   help="Adam learning rate (default: %(default)s) [0.0002]")
    t.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 (default: %(default)s)")
    t.add_argument("--lambda-A", type=_number(float, 0), default=10.0,
                   help="weight of the cycle loss A -> B -> A (default: %(default)s) [10]")
    t.add_argument("--lambda-B", type=_number(float, 0), default=10.0,
                   help="weight of the cycle loss B -> A -> B (default: %(default)s) [10]")
    t.add_argument("--lambda-identity", type=_number(float, 0), default=0.5,
                   help="identity loss weight, relative to lambda-A/B (default: %(default)s) [0.5]")
    t.add_argument("--pool-size", type=_number(int, 0), default=50, help="generated images "
                   "kept to show the discriminators; 0 disables the pool (default: %(default)s) [50]")
    t.add_argument("--seed", type=_number(int, 0), default=0, help="seed of the weights, the image pools "
                   "and the data order (default: %(default)s)")
    r = p.add_argument_group("run")
    r.add_argument("--out", help="output folder (default: runs/day2night, or runs/<name of "
                   "the dataroot>)")
    r.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz "
                   "exactly where it stopped; the run's own configuration is used, options "
                   "other than --out and --gpu are ignored")
    r.add_argument("--gpu", action="store_true", help="train on a CUDA GPU with CuPy")
    return p


def resolve_config(args):
    """The full configuration as a dict: the options given, else the documented defaults."""
    builtin = args.dataroot is None
    defaults = BUILTIN if builtin else USER
    config = {k: v for k, v in vars(args).items() if k not in ("resume", "gpu")}
    for key in ("crop_size", "ngf", "ndf", "n_epochs", "n_epochs_decay"):
        if config[key] is None:
            config[key] = defaults[key]
    if config["load_size"] is None:
        config["load_size"] = 2 * round(config["crop_size"] * 286 / 256 / 2)
    if config["load_size"] < config["crop_size"]:
        raise ValueError(f"--load-size {config['load_size']} is smaller than --crop-size "
                         f"{config['crop_size']}; the crop must fit inside the image")
    if config["n_blocks"] is None:
        config["n_blocks"] = BUILTIN["n_blocks"] if builtin else (
            9 if config["crop_size"] >= 256 else 6)
    if config["out"] is None:
        name = "day2night" if builtin else os.path.basename(os.path.normpath(args.dataroot))
        config["out"] = os.path.join("runs", name)
    return config


# --- the pieces of a run ----------------------------------------------------------------------

def load_data(config):
    """Training images (uint8, at load size) and test batches (float32 [-1, 1]).

    Returns (train_A, train_B, test_A, test_B, truth): for the built-in dataset test_B[i] is
    the true translation of test_A[i] and truth is True.
    """
    if config["dataroot"] is None:
        d = builtin_data.make_dataset(size=config["load_size"], n_train=config["n_train"],
                                      n_test=N_METRIC, seed=0)
        # Centre crops: the test images then show objects at the scale of the training crops.
        o, c = (config["load_size"] - config["crop_size"]) // 2, config["crop_size"]
        test_A, test_B = (data.to_model_range(d[k][:, o:o + c, o:o + c]) for k in ("testA", "testB"))
        return d["trainA"], d["trainB"], test_A, test_B, True
    root = config["dataroot"]
    train_A, _ = data.load_folder(os.path.join(root, "trainA"), config["load_size"])
    train_B, _ = data.load_folder(os.path.join(root, "trainB"), config["load_size"])
    tests = []
    for domain, train in (("A", train_A), ("B", train_B)):
        folder = os.path.join(root, "test" + domain)
        images = (data.load_folder(folder, config["crop_size"], limit=N_GRID)[0]
                  if os.path.isdir(folder) else train[:N_GRID, :config["crop_size"],
                                                      :config["crop_size"]])
        tests.append(data.to_model_range(images))
    return train_A, train_B, tests[0], tests[1], False


def build_model(config, device):
    from cyclegan import CycleGAN
    return CycleGAN(ngf=config["ngf"], ndf=config["ndf"], n_blocks=config["n_blocks"],
                    lr=config["lr"], beta1=config["beta1"], lambda_A=config["lambda_A"],
                    lambda_B=config["lambda_B"], lambda_identity=config["lambda_identity"],
                    pool_size=config["pool_size"], n_epochs=config["n_epochs"],
                    n_epochs_decay=config["n_epochs_decay"], seed=config["seed"], device=device)


def translate_batches(model, images, direction, batch=16):
    """model.translate over ``images`` in batches, returned on the host."""
    return np.concatenate([nn.to_host(model.translate(images[i:i + batch], direction))
                           for i in range(0, len(images), batch)])


def evaluate(model, test_A, test_B):
    """Translation errors on the built-in test scenes (mean absolute error in [-1, 1])."""
    fake_B = translate_batches(model, test_A, "AtoB")
    fake_A = translate_batches(model, test_B, "BtoA")
    return {"error_AtoB": builtin_data.translation_error(fake_B, test_B),
            "error_BtoA": builtin_data.translation_error(fake_A, test_A),
            "error_identity": builtin_data.translation_error(test_A, test_B)}


def write_samples(model, test_A, test_B, path):
    real_A, real_B = test_A[:N_GRID], test_B[:N_GRID]
    fake_B = translate_batches(model, real_A, "AtoB")
    fake_A = translate_batches(model, real_B, "BtoA")
    rows = [real_A, fake_B, translate_batches(model, fake_B, "BtoA"),
            real_B, fake_A, translate_batches(model, fake_A, "AtoB")]
    io.save_png(path, io.sample_grid(rows))


class Run:
    """A model, its data and its position; ``run(stop_after)`` trains, ``checkpoint()`` saves.

    ``epoch`` is the epoch being trained (1-based), ``iteration`` the number of its batches
    already done; a checkpoint at the end of epoch e says (e + 1, 0).
    """

    def __init__(self, config, device="cpu", resume_from=None, stream=None):
        self.config, self.stream = config, stream
        self.out = config["out"]
        os.makedirs(os.path.join(self.out, "samples"), exist_ok=True)
        train_A, train_B, self.test_A, self.test_B, self.truth = load_data(config)
        self.loader = data.UnalignedLoader(train_A, train_B, config["crop_size"],
                                           config["batch_size"], seed=[config["seed"], 1])
        self.model = build_model(config, device)
        self.epoch, self.iteration = 1, 0
        if resume_from is not None:
            state, loader_state, self.epoch, self.iteration, _ = io.load_checkpoint(resume_from)
            self.model.load_state_dict(state)
            self.loader.load_state_dict(loader_state)
        self.total_epochs = config["n_epochs"] + config["n_epochs_decay"]
        columns = ["epoch", "iterations", "seconds", "lr", *LOSSES] + (
            list(ERRORS) if self.truth else [])
        self.table = io.LossTable(os.path.join(self.out, "losses.csv"), columns)
        self.table.truncate(self.epoch - 1)
        self.history = []  # the losses of every step, for tests and curious readers
        self.stop_requested = False  # set by Ctrl-C; the loop stops after the current step

    @property
    def checkpoint_path(self):
        return os.path.join(self.out, "checkpoint.npz")

    def checkpoint(self):
        io.save_checkpoint(self.checkpoint_path, self.model, self.loader, self.epoch,
                           self.iteration, self.config)

    def say(self, text):
        print(text, file=self.stream or sys.stdout, flush=True)

    def run(self, stop_after=None):
        """Train to the end (or for ``stop_after`` more iterations; then return False)."""
        per_epoch = len(self.loader)
        done = (self.epoch - 1) * per_epoch + self.iteration
        progress = Progress(self.total_epochs, per_epoch, done=done,
                            stream=self.stream or sys.stderr)
        steps = 0
        while self.epoch <= self.total_epochs:
            if self.iteration == 0:
                # As the official train.py: the schedule steps at the start of every epoch, so
                # epoch e trains with the rate of step e (see cyclegan.linear_decay_rule).
                self.model.update_learning_rate()
            # Epoch means of the losses; after a resume, of the iterations run since.
            start, sums, count = time.monotonic(), dict.fromkeys(LOSSES, 0.0), 0
            for real_A, real_B in self.loader.epoch(start=self.iteration):
                if stop_after is not None and steps == stop_after:
                    return False
                losses = self.model.train_step(real_A, real_B)
                self.history.append(losses)
                self.iteration += 1
                steps, count = steps + 1, count + 1
                for k in LOSSES:
                    sums[k] += losses[k]
                progress.update(self.epoch, self.iteration, losses, len(real_A))
                if self.stop_requested:
                    return False
            progress.end_epoch()
            self.end_epoch({k: v / max(count, 1) for k, v in sums.items()},
                           time.monotonic() - start)
        return True

    def end_epoch(self, mean_losses, seconds):
        """Per-epoch outputs, then the checkpoint that starts the next epoch."""
        lr = self.model.optimizer_G.lr
        row = {"epoch": self.epoch, "iterations": self.iteration, "seconds": round(seconds, 1),
               "lr": lr, **mean_losses}
        grid = os.path.join(self.out, "samples", f"epoch_{self.epoch:03d}.png")
        write_samples(self.model, self.test_A, self.test_B, grid)
        summary = f"epoch {self.epoch}/{self.total_epochs} done in {seconds:.0f} s"
        if self.truth:
            errors = evaluate(self.model, self.test_A, self.test_B)
            row.update(errors)
            summary += (f"; translation error G_A(A) vs true B {errors['error_AtoB']:.3f} "
                        f"(identity {errors['error_identity']:.3f}), "
                        f"G_B(B) vs true A {errors['error_BtoA']:.3f}")
        self.table.append(row)
        io.plot_losses(self.table.read(), os.path.join(self.out, "losses.png"))
        self.epoch, self.iteration = self.epoch + 1, 0
        self.checkpoint()
        for name in ("G_A", "G_B"):  # each generator alone, for translate.py
            nn.save(os.path.join(self.out, f"{name}.npz"), getattr(self.model, name).state_dict())
        self.say(summary)
        self.last_errors = row


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    device = "cpu"
    if args.gpu:
        try:
            device = nn.backend.load_cupy()
        except RuntimeError as e:
            parser.exit(2, f"error: {e}\n")
    config = resolve_config(args)
    resume_from = None
    if args.resume:
        resume_from = os.path.join(config["out"], "checkpoint.npz")
        if not os.path.exists(resume_from):
            parser.error(f"--resume: there is no checkpoint at {resume_from}")
        config = {**io.load_checkpoint(resume_from)[4], "out": config["out"]}
    try:
        run = Run(config, device, resume_from)
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"error: {e}\n")
    where = "GPU" if args.gpu else "CPU"
    run.say(f"training on {'the built-in day2night dataset' if run.truth else config['dataroot']}"
            f" ({len(run.loader.images_A)} A, {len(run.loader.images_B)} B images, "
            f"{config['crop_size']}x{config['crop_size']} crops) on the {where}, "
            f"{run.total_epochs} epochs of {len(run.loader)} iterations"
            + (f", resuming at epoch {run.epoch} iteration {run.iteration}" if resume_from else ""))
    started = time.monotonic()

    def stop_after_this_step(signum, frame):
        # A step interrupted halfway (generators updated, discriminators not) could not be
        # resumed exactly, so Ctrl-C lets the step finish; a second Ctrl-C stops at once.
        run.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, stop_after_this_step)
    try:
        finished = run.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if not finished:
        run.checkpoint()
        print(f"\ninterrupted: saved {run.checkpoint_path} at epoch {run.epoch} iteration "
              f"{run.iteration}; continue with: python train.py --resume --out {run.out}",
              file=sys.stderr)
        return 130
    run.say(f"finished in {time.monotonic() - started:.0f} s. Wrote to {run.out}/:\n"
            f"  samples/epoch_NNN.png  sample grids (rows real A | fake B | rec A | "
            f"real B | fake A | rec B)\n"
            f"  losses.csv, losses.png  losses per epoch\n"
            f"  checkpoint.npz  networks, optimizers, pools and random states "
            f"(python translate.py --checkpoint {run.checkpoint_path} IMAGE)")
    if run.truth and getattr(run, "last_errors", None):
        e = run.last_errors
        verdict = "below" if e["error_AtoB"] < e["error_identity"] else "NOT below"
        run.say(f"translation error of G_A on {N_METRIC} test scenes: {e['error_AtoB']:.3f}, "
                f"{verdict} the identity mapping's {e['error_identity']:.3f} "
                f"(mean absolute error in [-1, 1]; G_B: {e['error_BtoA']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train a CycleGAN.

    python train.py                              # built-in day2night landscapes, CPU, minutes
    python train.py --dataroot datasets/horse2zebra --n-epochs 100 --n-epochs-decay 100 --gpu
    python train.py --resume                     # continue runs/day2night exactly

Without --dataroot the model learns the built-in "day2night" dataset (builtin_data.py): two
domains of procedurally drawn landscapes where the true translation of every test image is
known, so each epoch also reports the translation error of G_A against the error of doing
nothing. Each epoch writes, under --out: samples/epoch_NNN.png (rows real A | fake B | rec A |
real B | fake A | rec B on fixed test images), losses.csv, losses.png, checkpoint.npz, and
each generator's weights G_A.npz and G_B.npz (for translate.py).

A run is never lost: every file is replaced atomically; Ctrl-C or SIGTERM finishes the current
iteration, saves a checkpoint and prints the command that resumes it exactly; a non-finite loss
or a checkpoint that cannot be written stops the run with the last good checkpoint kept; a
sample grid or plot that cannot be written (a full disk) is a warning. A new run refuses an
--out that already holds one. Mistakes on the command line, in --dataroot or in a checkpoint
end in one paragraph saying what is wrong and what to do (exit status 2; 1 for a fault).
"""
import argparse
import math
import os
import shlex
import signal
import sys
import time
import warnings

import numpy as np

import nn
from cyclegan_support import builtin_data, data, training_io as io
from cyclegan_support.device import select_device
from cyclegan_support.progress import Progress

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
    if config["n_epochs"] + config["n_epochs_decay"] == 0:
        raise ValueError("--n-epochs and --n-epochs-decay are both 0: there is nothing to train")
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
        folder, images = os.path.join(root, "test" + domain), None
        if os.path.isdir(folder):
            try:
                images = data.load_folder(folder, config["crop_size"], limit=N_GRID)[0]
            except ValueError as e:  # the test folders are optional: an empty one is no error
                warnings.warn(f"{e}; the sample grids show training images instead")
        if images is None:
            images = train[:N_GRID, :config["crop_size"], :config["crop_size"]]
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


class RunError(Exception):
    """A problem the user can fix: main prints it as one paragraph, without a traceback, and
    exits with ``status`` (2 for bad input, 1 for a run that had to stop)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


class NonFiniteLoss(RuntimeError):
    """A loss became inf or NaN; the weights that produced it are not worth saving."""


def resume_command(out, gpu=False):
    """The exact command that continues the run in ``out``."""
    script = os.path.relpath(os.path.abspath(__file__))
    return f"python {shlex.quote(script)} --resume --out {shlex.quote(out)}" + (
        " --gpu" if gpu else "")


class Run:
    """A model, its data and its position; ``run(stop_after)`` trains, ``checkpoint()`` saves.

    ``epoch`` is the epoch being trained (1-based), ``iteration`` the number of its batches
    already done; a checkpoint at the end of epoch e says (e + 1, 0). ``resume_from`` is a
    checkpoint's path, or the ``Checkpoint`` that ``training_io.load_checkpoint`` returned.
    Nothing is written until the data are loaded and the checkpoint fits the model.
    """

    def __init__(self, config, device="cpu", resume_from=None, stream=None):
        self.config, self.stream = config, stream
        self.out = config["out"]
        train_A, train_B, self.test_A, self.test_B, self.truth = load_data(config)
        self.loader = data.UnalignedLoader(train_A, train_B, config["crop_size"],
                                           config["batch_size"], seed=[config["seed"], 1])
        self.model = build_model(config, device)
        self.epoch, self.iteration = 1, 0
        self.sums = dict.fromkeys(LOSSES, 0.0)  # of the current epoch's losses so far
        if resume_from is not None:
            if isinstance(resume_from, (str, os.PathLike)):
                resume_from = io.load_checkpoint(resume_from)
            self.model.load_state_dict(resume_from.state)
            self.loader.load_state_dict(resume_from.loader)
            self.epoch, self.iteration = resume_from.epoch, resume_from.iteration
            self.sums.update(resume_from.sums)
        self.saved_at = (self.epoch, self.iteration) if resume_from is not None else None
        self.total_epochs = config["n_epochs"] + config["n_epochs_decay"]
        os.makedirs(os.path.join(self.out, "samples"), exist_ok=True)
        columns = ["epoch", "iterations", "seconds", "lr", *LOSSES] + (
            list(ERRORS) if self.truth else [])
        self.table = io.LossTable(os.path.join(self.out, "losses.csv"), columns)
        self.table.truncate(self.epoch - 1)
        self.history = []  # the losses of every step, for tests and curious readers
        self.stop_requested = False  # set by Ctrl-C or SIGTERM: stop after the current step

    @property
    def checkpoint_path(self):
        return os.path.join(self.out, "checkpoint.npz")

    def checkpoint(self):
        io.save_checkpoint(self.checkpoint_path, self.model, self.loader, self.epoch,
                           self.iteration, self.config, self.sums)
        self.saved_at = (self.epoch, self.iteration)

    def say(self, text):
        print(text, file=self.stream or sys.stdout, flush=True)

    def warn(self, text):
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def run(self, stop_after=None):
        """Train to the end, or until a stop is requested or ``stop_after`` more iterations
        are done; then return False, with the position ready for ``checkpoint()``.

        Raises NonFiniteLoss (nothing saved after the last good checkpoint) when a loss is
        inf or NaN, and OSError when a checkpoint cannot be written (the previous one stays).
        """
        per_epoch = len(self.loader)
        done = (self.epoch - 1) * per_epoch + self.iteration
        progress = Progress(self.total_epochs, per_epoch, done=done,
                            stream=self.stream or sys.stderr)
        steps = 0
        while self.epoch <= self.total_epochs:
            if self.stop_requested:  # a signal during the end of an epoch, or during set-up
                return False
            if self.iteration == 0:
                # As the official train.py: the schedule steps at the start of every epoch, so
                # epoch e trains with the rate of step e (see cyclegan.linear_decay_rule).
                self.model.update_learning_rate()
            start = time.monotonic()
            for real_A, real_B in self.loader.epoch(start=self.iteration):
                losses = self.model.train_step(real_A, real_B)
                bad = [k for k in LOSSES if not math.isfinite(losses[k])]
                if bad:
                    raise NonFiniteLoss(f"the {bad[0]} loss is {losses[bad[0]]} at epoch "
                                        f"{self.epoch}, iteration {self.iteration + 1}")
                self.history.append(losses)
                self.iteration += 1
                steps += 1
                for k in LOSSES:
                    self.sums[k] += losses[k]
                progress.update(self.epoch, self.iteration, losses, len(real_A))
                if self.stop_requested or steps == stop_after:
                    return False
            progress.end_epoch()
            # The sums run over the whole epoch, across interruptions (the checkpoint keeps
            # them); the seconds are those of this process only.
            self.end_epoch({k: v / max(self.iteration, 1) for k, v in self.sums.items()},
                           time.monotonic() - start)
        return True

    def _write(self, path, write):
        """Write an output that training can do without; a failure (a full disk) is a warning."""
        try:
            write()
        except OSError as e:
            self.warn(f"could not write {path} ({e}); training goes on, the checkpoint is "
                      "written separately")

    def end_epoch(self, mean_losses, seconds):
        """Per-epoch outputs, then the checkpoint that starts the next epoch."""
        lr = self.model.optimizer_G.lr
        row = {"epoch": self.epoch, "iterations": self.iteration, "seconds": round(seconds, 1),
               "lr": lr, **mean_losses}
        grid = os.path.join(self.out, "samples", f"epoch_{self.epoch:03d}.png")
        self._write(grid, lambda: write_samples(self.model, self.test_A, self.test_B, grid))
        summary = f"epoch {self.epoch}/{self.total_epochs} done in {seconds:.0f} s"
        if self.truth:
            errors = evaluate(self.model, self.test_A, self.test_B)
            row.update(errors)
            summary += (f"; translation error G_A(A) vs true B {errors['error_AtoB']:.3f} "
                        f"(identity {errors['error_identity']:.3f}), "
                        f"G_B(B) vs true A {errors['error_BtoA']:.3f}")
        self._write(self.table.path, lambda: self.table.append(row))
        plot = os.path.join(self.out, "losses.png")
        self._write(plot, lambda: io.plot_losses(self.table.read(), plot))
        self.epoch, self.iteration = self.epoch + 1, 0
        self.sums = dict.fromkeys(LOSSES, 0.0)
        self.checkpoint()
        for name in ("G_A", "G_B"):  # each generator alone, for translate.py
            path = os.path.join(self.out, f"{name}.npz")
            self._write(path, lambda: io.save_generator(path, getattr(self.model, name)))
        self.say(summary)
        self.last_errors = row


# --- the command line's checks, each before anything slow or anything written -----------------

def given_options(argv):
    """The destinations of the options written on the command line (not left to default)."""
    probe = argparse.Namespace()
    quiet = build_parser()
    for action in quiet._actions:
        action.default = argparse.SUPPRESS
    quiet.parse_args(argv, probe)
    return set(vars(probe))


def check_writable(out):
    """Create ``out`` and write a file in it, so a bad --out fails now, not after an epoch."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise RunError(f"cannot write to the output folder --out {out!r} ({e.strerror or e}); "
                       "choose a folder you can write to with --out") from e


def load_resumed(config, given, gpu):
    """The checkpoint of ``--resume`` (loaded, checked) and the run's own configuration."""
    path = os.path.join(config["out"], "checkpoint.npz")
    if not os.path.exists(path):
        raise RunError(f"--resume: there is no checkpoint at {path}; pass the --out of the "
                       "run to continue, or start a new run without --resume")
    try:
        checkpoint = io.load_checkpoint(path)
    except (OSError, ValueError) as e:
        raise RunError(f"--resume: cannot read the checkpoint {path}: {e}. Nothing was "
                       "changed. If a crash damaged it, start a new run with another --out; "
                       "copy the folder first if you want to keep its samples.") from e
    saved = checkpoint.config
    if not set(saved) >= set(config) - {"out"}:
        raise RunError(f"--resume: {path} lacks configuration entries "
                       f"({', '.join(sorted(set(config) - set(saved) - {'out'}))}); it was "
                       "written by another version of train.py")
    for key in sorted(given - {"out", "resume", "gpu"}):
        if saved[key] != config[key]:
            raise RunError(f"--resume continues a run exactly as it was configured, but the "
                           f"checkpoint {path} says --{key.replace('_', '-')} {saved[key]} and "
                           f"the command line {config[key]}; drop the option, or start a new "
                           "run with another --out")
    return checkpoint, {**saved, "out": config["out"]}


def clean_up_killed_saves(out):
    """A save killed midway (SIGKILL, power loss) leaves its temporary file behind, as large
    as a checkpoint; the run it belonged to is the one being resumed, so nothing else is
    writing there now."""
    freed = 0
    for folder in (out, os.path.join(out, "samples")):
        if os.path.isdir(folder):
            freed += nn.serialization.remove_interrupted_writes(folder)
    if freed:
        print(f"removed {freed / 2**20:.1f} MiB of temporary files that a save killed midway "
              f"left in {out}", flush=True)


def prepare(parser, argv):
    """Everything main checks before training: (config, device, checkpoint or None, gpu)."""
    args = parser.parse_args(argv)
    given = given_options(argv)
    try:
        device = select_device(args.gpu)
        config = resolve_config(args)
    except (RuntimeError, ValueError) as e:
        raise RunError(str(e)) from e
    checkpoint = None
    if args.resume:
        checkpoint, config = load_resumed(config, given, args.gpu)
        clean_up_killed_saves(config["out"])
    else:
        path = os.path.join(config["out"], "checkpoint.npz")
        if os.path.exists(path):
            raise RunError(f"{config['out']} already holds a run ({path}); continue it with "
                           f"{resume_command(config['out'], args.gpu)}, or start a new one "
                           "with another --out (or after deleting that folder)")
        if config["dataroot"] is not None:
            try:
                data.check_dataroot(config["dataroot"])
            except FileNotFoundError as e:
                raise RunError(str(e)) from e
    check_writable(config["out"])
    return config, device, checkpoint, args.gpu


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    """Train from the command line; returns the exit status (0 done, 1 stopped by a fault,
    2 bad input, 128 + signal number when interrupted with a resumable checkpoint)."""
    parser = build_parser()
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning  # one line naming the file, not a source excerpt
        try:
            return train(parser, argv)
        except RunError as e:
            parser.exit(e.status, f"error: {e}\n")


def train(parser, argv):
    config, device, checkpoint, gpu = prepare(parser, argv)
    again = resume_command(config["out"], gpu)
    received = []

    def stop_after_this_step(signum, frame):
        # A step interrupted halfway (generators updated, discriminators not) could not be
        # resumed exactly, so Ctrl-C or SIGTERM lets the step finish; a second one stops at once.
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        if run is not None:
            run.stop_requested = True

    run = None
    # Installed before the (slow) data loading, so an early signal is a clean stop too.
    previous = {s: signal.signal(s, stop_after_this_step) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            run = Run(config, device, checkpoint)
        except (ValueError, FileNotFoundError, KeyError) as e:
            what = f"the checkpoint {config['out']}/checkpoint.npz does not fit the model " \
                   "its configuration describes: " if checkpoint else ""
            raise RunError(what + str(e.args[0] if e.args else e)) from e
        run.stop_requested = bool(received)
        where = "GPU" if gpu else "CPU"
        run.say(f"training on {'the built-in day2night dataset' if run.truth else config['dataroot']}"
                f" ({len(run.loader.images_A)} A, {len(run.loader.images_B)} B images, "
                f"{config['crop_size']}x{config['crop_size']} crops) on the {where}, "
                f"{run.total_epochs} epochs of {len(run.loader)} iterations"
                + (f", resuming at epoch {run.epoch} iteration {run.iteration}"
                   if checkpoint else ""))
        started = time.monotonic()
        try:
            finished = run.run()
            if not finished:
                run.checkpoint()
        except KeyboardInterrupt:
            print(f"\nstopped at once by a second signal: {_kept(run)}; continue with: {again}",
                  file=sys.stderr)
            return 128 + received[-1] if received else 130
    except NonFiniteLoss as e:
        raise RunError(f"training stopped: {e}. Nothing was saved after it: {_kept(run)}. A "
                       "loss that blows up usually means the learning rate is too high for "
                       "this data; start a new run with a smaller --lr (another --out).",
                       status=1) from e
    except OSError as e:
        raise RunError(f"training stopped: could not write the checkpoint "
                       f"{e.filename or run.checkpoint_path} ({e.strerror or e}); {_kept(run)}. "
                       f"Free some space, then continue with: {again}", status=1) from e
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not finished:
        print(f"\ninterrupted: saved {run.checkpoint_path} at epoch {run.epoch} iteration "
              f"{run.iteration}; continue with: {again}", file=sys.stderr)
        return 128 + received[0] if received else 130
    run.say(f"finished in {time.monotonic() - started:.0f} s. Wrote to {run.out}/:\n"
            f"  samples/epoch_NNN.png  sample grids (rows real A | fake B | rec A | "
            f"real B | fake A | rec B)\n"
            f"  losses.csv, losses.png  losses per epoch\n"
            f"  checkpoint.npz  networks, optimizers, pools and random states "
            f"(python translate.py --checkpoint {run.checkpoint_path} IMAGE)\n"
            f"  G_A.npz, G_B.npz  each generator alone, for translate.py")
    if run.truth and getattr(run, "last_errors", None):
        e = run.last_errors
        verdict = "below" if e["error_AtoB"] < e["error_identity"] else "NOT below"
        run.say(f"translation error of G_A on {N_METRIC} test scenes: {e['error_AtoB']:.3f}, "
                f"{verdict} the identity mapping's {e['error_identity']:.3f} "
                f"(mean absolute error in [-1, 1]; G_B: {e['error_BtoA']:.3f})")
    return 0


def _kept(run):
    if run.saved_at is None:
        return "no checkpoint had been written yet"
    return (f"{run.checkpoint_path} keeps the last good state (epoch {run.saved_at[0]}, "
            f"iteration {run.saved_at[1]})")


if __name__ == "__main__":
    sys.exit(main())

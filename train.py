"""Train a CycleGAN.

    python train.py                              # built-in day2night landscapes, CPU, minutes
    python train.py --dataroot datasets/horse2zebra --n-epochs 100 --n-epochs-decay 100 --gpu
    python train.py --resume                     # continue runs/day2night exactly

Without --dataroot the model learns the built-in "day2night" dataset (see
cyclegan_support/builtin_data.py): two domains of procedurally drawn landscapes where the true
translation of every test image is known, so each epoch also reports the translation error of
G_A against the error of doing nothing. Each epoch writes, under --out: samples/epoch_NNN.png
(rows real A | fake B | rec A | real B | fake A | rec B on fixed test images), losses.csv,
losses.png, checkpoint.npz, and each generator's weights G_A.npz and G_B.npz (for translate.py).

A run is never lost: every file is replaced atomically; Ctrl-C or SIGTERM finishes the current
iteration, saves a checkpoint and prints the command that resumes it exactly; a non-finite loss
or a checkpoint that cannot be written stops the run with the last good checkpoint kept; a
sample grid or plot that cannot be written (a full disk) is a warning. A new run refuses an
--out that already holds one. Mistakes on the command line, in --dataroot or in a checkpoint
end in one paragraph saying what is wrong and what to do (exit status 2; 1 for a fault).
"""
import math
import os
import sys
import time
import warnings

import nn
from cyclegan import CycleGAN, LOSS_NAMES as LOSSES
from cyclegan_support import builtin_data, data, safeguards, training_io as io
from cyclegan_support.options import build_parser as _options, resolve_config
from cyclegan_support.progress import Progress

ERRORS = ("error_AtoB", "error_BtoA", "error_identity")
N_GRID = 8        # test images shown in the sample grids
N_METRIC = 64     # built-in test scenes the translation error is measured on


def main(argv=None):
    """Train from the command line; returns the exit status (0 done, 1 fault, 2 bad input, 128
    + signal number when interrupted). Checks, signals and faults: cyclegan_support/safeguards."""
    return safeguards.main(build_parser(), argv, Run, train, script=__file__)


class Run:
    """A model, its data and its position; ``run(stop_after)`` trains, ``checkpoint()`` saves.

    ``epoch`` is the epoch being trained (1-based), ``iteration`` the number of its batches
    done; a checkpoint at the end of epoch e says (e + 1, 0). ``resume_from``: a checkpoint's
    path or a ``training_io.Checkpoint``. ``history``: every step's losses, if ``record_steps``.
    """

    def __init__(self, config, device="cpu", resume_from=None, stream=None, record_steps=False):
        self.config, self.stream, self.out = config, stream, config["out"]
        train_A, train_B, self.test_A, self.test_B, self.truth = load_data(config)
        self.loader = data.UnalignedLoader(train_A, train_B, config["crop_size"],
                                           config["batch_size"], seed=[config["seed"], 1])
        self.model = build_model(config, device)
        self.epoch, self.iteration, self.saved_at = 1, 0, None
        self.sums = dict.fromkeys(LOSSES, 0.0)  # of the current epoch's losses so far
        if resume_from is not None:
            self.resume(resume_from)
        self.total_epochs = config["n_epochs"] + config["n_epochs_decay"]
        os.makedirs(os.path.join(self.out, io.SAMPLES), exist_ok=True)
        self.table = io.LossTable(os.path.join(self.out, io.LOSS_TABLE),
                                  ["epoch", "iterations", "seconds", "lr", *LOSSES]
                                  + (list(ERRORS) if self.truth else []))
        self.table.truncate(self.epoch - 1)
        self.history = [] if record_steps else None
        self.stop_requested = False  # set by Ctrl-C or SIGTERM: stop after the current step
        self.last_row = None

    def run(self, stop_after=None):
        """Train to the end, or until a stop is requested or ``stop_after`` more iterations
        are done; then return False, with the position ready for ``checkpoint()``.

        Raises NonFiniteLoss (nothing saved after the last good checkpoint) when a loss is
        inf or NaN, and OSError when a checkpoint cannot be written (the previous one stays).
        """
        per_epoch, steps = len(self.loader), 0
        progress = Progress(self.total_epochs, per_epoch, stream=self.stream or sys.stderr,
                            done=(self.epoch - 1) * per_epoch + self.iteration)
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
                self.record(losses)
                progress.update(self.epoch, self.iteration, losses, len(real_A))
                steps += 1
                if self.stop_requested or steps == stop_after:
                    return False
            progress.end_epoch()
            self.end_epoch(time.monotonic() - start)
        return True

    def record(self, losses):
        """Count one step's losses into the epoch's sums; stop at one that is not finite."""
        bad = [k for k in LOSSES if not math.isfinite(losses[k])]
        if bad:
            raise safeguards.NonFiniteLoss(f"the {bad[0]} loss is {losses[bad[0]]} at epoch "
                                           f"{self.epoch}, iteration {self.iteration + 1}")
        self.iteration += 1
        for k in LOSSES:
            self.sums[k] += losses[k]
        if self.history is not None:
            self.history.append(losses)

    def end_epoch(self, seconds):
        """Per-epoch outputs, then the checkpoint that starts the next epoch. The sums run
        over the whole epoch, across interruptions (the checkpoint keeps them); the seconds
        are those of this process only."""
        row = {"epoch": self.epoch, "iterations": self.iteration, "seconds": round(seconds, 1),
               "lr": self.model.optimizer_G.lr,
               **{k: v / max(self.iteration, 1) for k, v in self.sums.items()}}
        grid = io.sample_path(self.out, self.epoch)
        self._write(grid, lambda: io.write_samples(self.model, self.test_A[:N_GRID],
                                                   self.test_B[:N_GRID], grid))
        summary = f"epoch {self.epoch}/{self.total_epochs} done in {seconds:.0f} s"
        if self.truth:
            row.update(io.translation_errors(self.model, self.test_A, self.test_B))
            summary += (f"; translation error G_A(A) vs true B {row['error_AtoB']:.3f} "
                        f"(identity {row['error_identity']:.3f}), "
                        f"G_B(B) vs true A {row['error_BtoA']:.3f}")
        self._write(self.table.path, lambda: self.table.append(row))
        plot = os.path.join(self.out, io.LOSS_PLOT)
        self._write(plot, lambda: io.plot_losses(self.table.read(), plot))
        self.epoch, self.iteration = self.epoch + 1, 0
        self.sums = dict.fromkeys(LOSSES, 0.0)
        self.checkpoint()
        for name in ("G_A", "G_B"):  # each generator alone, for translate.py
            path = io.generator_path(self.out, name)
            self._write(path, lambda: io.save_generator(path, getattr(self.model, name)))
        self.say(summary)
        self.last_row = row

    @property
    def checkpoint_path(self):
        return io.checkpoint_path(self.out)

    def checkpoint(self):
        io.save_checkpoint(self.checkpoint_path, self.model, self.loader, self.epoch,
                           self.iteration, self.config, self.sums)
        self.saved_at = (self.epoch, self.iteration)

    def resume(self, checkpoint):
        """Continue from a checkpoint (a path or a ``training_io.Checkpoint``)."""
        if isinstance(checkpoint, (str, os.PathLike)):
            checkpoint = io.load_checkpoint(checkpoint)
        self.model.load_state_dict(checkpoint.state)
        self.loader.load_state_dict(checkpoint.loader)
        self.epoch, self.iteration = checkpoint.epoch, checkpoint.iteration
        self.sums.update(checkpoint.sums)
        self.saved_at = (self.epoch, self.iteration)

    def _write(self, path, write):
        """Write an output that training can do without; a failure (a full disk) is a warning."""
        try:
            write()
        except OSError as e:
            print(f"warning: could not write {path} ({e}); training goes on, the checkpoint is "
                  "written separately", file=sys.stderr, flush=True)

    def say(self, text):
        print(text, file=self.stream or sys.stdout, flush=True)


def train(run):
    """Train ``run`` to the end (True) or until a stop is requested (False)."""
    what = "the built-in day2night dataset" if run.truth else run.config["dataroot"]
    crop, where = run.config["crop_size"], "CPU" if run.model.xp is nn.backend.numpy else "GPU"
    run.say(f"training on {what} ({len(run.loader.images_A)} A, {len(run.loader.images_B)} B "
            f"images, {crop}x{crop} crops) on the {where}, {run.total_epochs} epochs of "
            f"{len(run.loader)} iterations" + (f", resuming at epoch {run.epoch} iteration "
                                               f"{run.iteration}" if run.saved_at else ""))
    started = time.monotonic()
    finished = run.run()
    if finished:
        report(run, time.monotonic() - started)
    return finished


def report(run, seconds):
    """What a finished run wrote, and how well its G_A translates the built-in test scenes."""
    run.say(f"finished in {seconds:.0f} s. Wrote to {run.out}/:\n"
            f"  {io.SAMPLES}/epoch_NNN.png  sample grids (rows real A | fake B | rec A | "
            f"real B | fake A | rec B)\n"
            f"  {io.LOSS_TABLE}, {io.LOSS_PLOT}  losses per epoch\n"
            f"  {io.CHECKPOINT}  networks, optimizers, pools and random states "
            f"(python translate.py --checkpoint {run.checkpoint_path} IMAGE)\n"
            f"  G_A.npz, G_B.npz  each generator alone, for translate.py")
    if run.truth and run.last_row:
        e = run.last_row
        verdict = "below" if e["error_AtoB"] < e["error_identity"] else "NOT below"
        run.say(f"translation error of G_A on {N_METRIC} test scenes: {e['error_AtoB']:.3f}, "
                f"{verdict} the identity mapping's {e['error_identity']:.3f} "
                f"(mean absolute error in [-1, 1]; G_B: {e['error_BtoA']:.3f})")


# --- the options, the data and the model ----------------------------------------------------

def build_parser():
    """The options of cyclegan_support/options.py, with this file's docstring as --help."""
    return _options(description=__doc__)


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
        test_A, test_B = (data.to_model_range(d[k][:, o:o + c, o:o + c])
                          for k in ("testA", "testB"))
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
    return CycleGAN(device=device, **{k: config[k] for k in (
        "ngf", "ndf", "n_blocks", "lr", "beta1", "lambda_A", "lambda_B", "lambda_identity",
        "pool_size", "n_epochs", "n_epochs_decay", "seed")})

if __name__ == "__main__":
    sys.exit(main())

"""What a training run writes besides its checkpoint: the sample grids, the loss table (CSV)
and its plot, and the translation errors the table holds for the built-in dataset.

The files sit under the run's output folder with the names below. Every file is replaced
atomically (a temporary file renamed over the target): a crash or a full disk halfway through
a write leaves the previous version whole, never half a file. None of them is needed to
continue a run (the checkpoint is), so ``attempt`` makes a failed write a warning.
"""
import csv
import os
import sys

import numpy as np

import nn
from nn.serialization import replace_atomically
from cyclegan import LOSS_NAMES
from cyclegan_support import builtin_data
from cyclegan_support.sample_grid import sample_grid, save_png

__all__ = ["CHECKPOINT", "LOSS_TABLE", "LOSS_PLOT", "SAMPLES", "checkpoint_path", "sample_path",
           "generator_path", "attempt", "write_samples", "translation_errors", "LossTable",
           "plot_losses"]

# The files of a run, under its output folder (--out).
CHECKPOINT = "checkpoint.npz"
LOSS_TABLE, LOSS_PLOT = "losses.csv", "losses.png"
SAMPLES = "samples"  # the folder of the sample grids, one per epoch


def checkpoint_path(out):
    return os.path.join(out, CHECKPOINT)


def sample_path(out, epoch):
    return os.path.join(out, SAMPLES, f"epoch_{epoch:03d}.png")


def generator_path(out, name):
    """Where network ``name`` ("G_A" or "G_B") is written alone, for translate.py."""
    return os.path.join(out, f"{name}.npz")


def attempt(path, write):
    """``write()`` an output that training can do without; a failure (a full disk) is a
    warning, and training goes on."""
    try:
        write()
    except OSError as e:
        print(f"warning: could not write {path} ({e}); training goes on, the checkpoint is "
              "written separately", file=sys.stderr, flush=True)


def translate_batches(model, images, direction, batch=16):
    """model.translate over ``images`` in batches, returned on the host."""
    return np.concatenate([nn.to_host(model.translate(images[i:i + batch], direction))
                           for i in range(0, len(images), batch)])


def write_samples(model, test_A, test_B, path):
    """The sample grid (rows real A | fake B | rec A | real B | fake A | rec B) on the test
    images (float32 (N, 3, h, w)), as a PNG."""
    fake_B = translate_batches(model, test_A, "AtoB")
    fake_A = translate_batches(model, test_B, "BtoA")
    rows = [test_A, fake_B, translate_batches(model, fake_B, "BtoA"),
            test_B, fake_A, translate_batches(model, fake_A, "AtoB")]
    save_png(path, sample_grid(rows))


def translation_errors(model, test_A, test_B):
    """On test scenes whose true translations are known (test_B[i] is test_A[i] in domain B):
    the mean absolute errors (in [-1, 1]) of G_A, of G_B and of the identity mapping."""
    fake_B = translate_batches(model, test_A, "AtoB")
    fake_A = translate_batches(model, test_B, "BtoA")
    return {"error_AtoB": builtin_data.translation_error(fake_B, test_B),
            "error_BtoA": builtin_data.translation_error(fake_A, test_A),
            "error_identity": builtin_data.translation_error(test_A, test_B)}


class LossTable:
    """A CSV of one row per epoch. A resumed run keeps the rows of the epochs its checkpoint
    had finished and drops the others. The file is small, so every change rewrites it whole,
    atomically: a full disk can cost the newest row, never the table."""

    def __init__(self, path, columns):
        self.path, self.columns = path, list(columns)

    def _write(self, rows):
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, self.columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        replace_atomically(self.path, write)

    def truncate(self, last_epoch):
        """Keep only rows with epoch <= last_epoch (a run resumed from an older checkpoint)."""
        if os.path.exists(self.path):
            self._write([r for r in self.read() if int(r["epoch"]) <= last_epoch])

    def append(self, row):
        row = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        self._write((self.read() if os.path.exists(self.path) else []) + [row])

    def read(self):
        """The rows as dicts of strings; a row without a whole-number epoch is left out."""
        with open(self.path, newline="") as f:
            return [r for r in csv.DictReader(f) if (r.get("epoch") or "").isdigit()]


def plot_losses(rows, path, losses=LOSS_NAMES):
    """Loss curves (and the translation error, when present) per epoch, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")  # files only: no window, works without a display
    import matplotlib.pyplot as plt

    epochs = [int(r["epoch"]) for r in rows]
    has_error = bool(rows) and rows[0].get("error_AtoB") not in (None, "")
    fig, axes = plt.subplots(1, 2 if has_error else 1, figsize=(11 if has_error else 6, 4),
                             squeeze=False)
    ax = axes[0, 0]
    for name in losses:
        ax.plot(epochs, [float(r[name]) for r in rows], marker=".", label=name,
                linestyle="-" if name.endswith("A") else "--")
    ax.set(xlabel="epoch", ylabel="mean loss over the epoch", title="CycleGAN losses")
    ax.legend(ncol=2, fontsize=8)
    if has_error:
        ax = axes[0, 1]
        for name, label in (("error_AtoB", "G_A(A) vs true B"), ("error_BtoA", "G_B(B) vs true A"),
                            ("error_identity", "identity (A vs true B)")):
            ax.plot(epochs, [float(r[name]) for r in rows], marker=".", label=label)
        ax.set(xlabel="epoch", ylabel="mean absolute error in [-1, 1]", ylim=(0, None),
               title="translation error on the test scenes")
        ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=100))
    finally:
        plt.close(fig)

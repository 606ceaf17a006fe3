"""What a training run writes: sample grids, the loss table (CSV), its plot, and checkpoints.

A checkpoint is one ``.npz`` written atomically by ``nn.save``: the model's own state_dict
(four networks, both optimizers, the schedulers, both image pools, the model's random
generator) plus ``train.*`` entries for the loop (epoch, iteration, the data generator's state,
the running sums of the epoch's losses, the configuration as JSON). Nothing in it is pickled.

Every file here is written the same way, to a temporary file renamed over the target: a crash
or a full disk halfway through a write leaves the previous version whole, never half a file.
"""
import csv
import json
import os

import numpy as np

import nn
from nn.serialization import replace_atomically
from data import to_uint8

__all__ = ["sample_grid", "save_png", "LossTable", "plot_losses", "save_checkpoint",
           "load_checkpoint", "generator_state"]

GRID_ROWS = ("real A", "fake B", "rec A", "real B", "fake A", "rec B")


def sample_grid(rows, labels=GRID_ROWS, min_tile=64, gap=2):
    """One uint8 (H, W, 3) image: row r shows the batch rows[r] (float (N, 3, h, w) in [-1, 1])
    side by side, under a label column. Small tiles are enlarged (nearest neighbour, so pixels
    stay visible) to at least ``min_tile`` pixels."""
    from PIL import Image, ImageDraw

    tiles = [to_uint8(nn.to_host(r)) for r in rows]
    n, h, w = tiles[0].shape[:3]
    scale = max(1, -(-min_tile // h))
    th, tw = h * scale, w * scale
    label_w = 56
    canvas = Image.new("RGB", (label_w + n * (tw + gap), len(rows) * (th + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, batch in enumerate(tiles):
        top = r * (th + gap)
        draw.text((4, top + th // 2 - 5), labels[r], fill=(0, 0, 0))
        for c, tile in enumerate(batch):
            image = Image.fromarray(tile).resize((tw, th), Image.NEAREST)
            canvas.paste(image, (label_w + c * (tw + gap), top))
    return np.asarray(canvas)


def save_png(path, image):
    """Write uint8 (H, W, 3) to ``path``, through a temporary file renamed over the target."""
    from PIL import Image

    replace_atomically(path, lambda tmp: Image.fromarray(image).save(tmp))


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


def plot_losses(rows, path, losses=("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B",
                                    "idt_B")):
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


def save_checkpoint(path, model, loader, epoch, iteration, config, sums=None):
    """Write everything needed to continue exactly: the model's state, the data generator's
    state, the position (``epoch`` to run, ``iteration`` batches of it already done), the
    running sums of the epoch's losses ({name: float}, so a resumed epoch's mean is the whole
    epoch's), and the configuration (JSON) so that translate.py can rebuild the networks."""
    state = dict(model.state_dict())
    state.update({f"train.data.{k}": v for k, v in loader.state_dict().items()})
    state.update({f"train.sums.{k}": np.float64(v) for k, v in (sums or {}).items()})
    state["train.epoch"] = np.int64(epoch)
    state["train.iteration"] = np.int64(iteration)
    state["train.config"] = np.array(json.dumps(config))
    nn.save(path, state)


def load_checkpoint(path, with_sums=False):
    """(model state, loader state, epoch, iteration, config) from ``save_checkpoint``'s file,
    and the loss sums as a sixth item when ``with_sums``.

    Raises FileNotFoundError, or ValueError naming the file when it is truncated, corrupt,
    holds pickled objects (refused unread) or is not a training checkpoint."""
    state = nn.load(path)
    missing = [k for k in ("train.config", "train.epoch", "train.iteration") if k not in state]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (it has no {missing[0]} entry; "
                         "a G_A.npz or G_B.npz holds one generator, for translate.py only)")
    try:
        loader = {k[len("train.data."):]: state.pop(k) for k in list(state)
                  if k.startswith("train.data.")}
        sums = {k[len("train.sums."):]: float(state.pop(k)) for k in list(state)
                if k.startswith("train.sums.")}
        epoch, iteration = int(state.pop("train.epoch")), int(state.pop("train.iteration"))
        config = json.loads(str(state.pop("train.config")))
    except (TypeError, ValueError) as e:  # a non-scalar position, a config that is not JSON
        raise ValueError(f"{path} has a damaged train.* entry ({e})") from e
    if not isinstance(config, dict) or epoch < 1 or iteration < 0:
        raise ValueError(f"{path} has a damaged train.* entry (epoch {epoch}, iteration "
                         f"{iteration}, config {type(config).__name__})")
    return (state, loader, epoch, iteration, config) + ((sums,) if with_sums else ())


def generator_state(state, name):
    """The entries of network ``name`` ("G_A", ...) in a model state, without the prefix."""
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

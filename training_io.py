"""What a training run writes: sample grids, the loss table (CSV), its plot, and checkpoints.

A checkpoint is one ``.npz`` written atomically by ``nn.save``: the model's own state_dict
(four networks, both optimizers, the schedulers, both image pools, the model's random
generator) plus ``train.*`` entries for the loop (epoch, iteration, the data generator's state,
the configuration as JSON). Nothing in it is pickled.
"""
import csv
import json
import os

import numpy as np

import nn
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

    tmp = path + ".tmp.png"
    Image.fromarray(image).save(tmp)
    os.replace(tmp, path)


class LossTable:
    """A CSV of one row per epoch. The header is written when the file is created; a resumed
    run appends to it, after dropping rows from epochs the checkpoint had not reached."""

    def __init__(self, path, columns):
        self.path, self.columns = path, list(columns)

    def truncate(self, last_epoch):
        """Keep only rows with epoch <= last_epoch (a run resumed from an older checkpoint)."""
        if not os.path.exists(self.path):
            return
        rows = self.read()
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(r for r in rows if int(r["epoch"]) <= last_epoch)

    def append(self, row):
        new = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})

    def read(self):
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))


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
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def save_checkpoint(path, model, loader, epoch, iteration, config):
    """Write everything needed to continue exactly: the model's state, the data generator's
    state, the position (``epoch`` to run, ``iteration`` batches of it already done), and the
    configuration (JSON) so that translate.py can rebuild the networks."""
    state = dict(model.state_dict())
    state.update({f"train.data.{k}": v for k, v in loader.state_dict().items()})
    state["train.epoch"] = np.int64(epoch)
    state["train.iteration"] = np.int64(iteration)
    state["train.config"] = np.array(json.dumps(config))
    nn.save(path, state)


def load_checkpoint(path):
    """(model state, loader state, epoch, iteration, config) from ``save_checkpoint``'s file."""
    state = nn.load(path)
    if "train.config" not in state:
        raise ValueError(f"{path} is not a training checkpoint (it has no train.config entry)")
    loader = {k[len("train.data."):]: state.pop(k) for k in list(state)
              if k.startswith("train.data.")}
    epoch, iteration = int(state.pop("train.epoch")), int(state.pop("train.iteration"))
    config = json.loads(str(state.pop("train.config")))
    return state, loader, epoch, iteration, config


def generator_state(state, name):
    """The entries of network ``name`` ("G_A", ...) in a model state, without the prefix."""
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

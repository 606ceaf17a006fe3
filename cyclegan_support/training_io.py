"""What a training run writes: sample grids, the loss table (CSV), its plot, and checkpoints.

The files sit under the run's output folder with the names below (``checkpoint_path``, ...).
Each epoch also writes each generator alone (``save_generator``: its weights and the
architecture they fit), which translate.py reads with ``read_generator``.

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
from dataclasses import dataclass

import numpy as np

import nn
from nn.serialization import replace_atomically
from nn.state import strip_prefix
from cyclegan import LOSS_NAMES
from cyclegan_support import builtin_data, records
from cyclegan_support.data import to_uint8

__all__ = ["CHECKPOINT", "LOSS_TABLE", "LOSS_PLOT", "SAMPLES", "checkpoint_path", "sample_path",
           "generator_path", "translate_batches", "write_samples", "translation_errors",
           "sample_grid", "save_png", "LossTable", "plot_losses", "save_checkpoint", "Checkpoint",
           "load_checkpoint", "save_generator", "read_generator", "architecture_from_shapes"]

GRID_ROWS = ("real A", "fake B", "rec A", "real B", "fake A", "rec B")

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


def translate_batches(model, images, direction, batch=16):
    """model.translate over ``images`` in batches, returned on the host."""
    return np.concatenate([nn.to_host(model.translate(images[i:i + batch], direction))
                           for i in range(0, len(images), batch)])


def write_samples(model, test_A, test_B, path):
    """The sample grid of ``GRID_ROWS`` on the test images (float32 (N, 3, h, w)) as a PNG."""
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


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: the model's state ({key: array}), the loader's state, the
    position (``epoch`` to run, ``iteration`` batches of it done), the configuration and the
    running sums of the epoch's losses ({name: float})."""
    state: dict
    loader: dict
    epoch: int
    iteration: int
    config: dict
    sums: dict


def load_checkpoint(path, arrays=None):
    """The ``Checkpoint`` in ``save_checkpoint``'s file (or in ``arrays``, the {key: array}
    that ``nn.load(path)`` returned, so that a caller who already read the file does not read
    it again).

    Raises FileNotFoundError, or ValueError naming the file when it is truncated, corrupt,
    holds pickled objects (refused unread) or is not a training checkpoint."""
    state = dict(nn.load(path) if arrays is None else arrays)
    missing = [k for k in ("train.config", "train.epoch", "train.iteration") if k not in state]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (it has no {missing[0]} entry; "
                         "a G_A.npz or G_B.npz holds one generator, for translate.py only)")
    try:
        loader = pop_prefixed(state, "train.data.")
        sums = {k: float(v) for k, v in pop_prefixed(state, "train.sums.").items()}
        epoch, iteration = int(state.pop("train.epoch")), int(state.pop("train.iteration"))
        config = json.loads(str(state.pop("train.config")))
    except (TypeError, ValueError, RecursionError) as e:  # a non-scalar position, bad JSON
        raise ValueError(f"{path} has a damaged train.* entry ({e})") from e
    if not isinstance(config, dict) or epoch < 1 or iteration < 0:
        raise ValueError(f"{path} has a damaged train.* entry (epoch {epoch}, iteration "
                         f"{iteration}, config {type(config).__name__})")
    records.check_config(config, state, path)
    return Checkpoint(state, loader, epoch, iteration, config, sums)


# --- one generator alone (G_A.npz, G_B.npz): its weights and the architecture they fit ------

ARCHITECTURE_KEY = "architecture"  # a JSON 0-d string: ResnetGenerator's keyword arguments


def save_generator(path, generator):
    """Write ``generator``'s weights and its architecture (input_nc, output_nc, ngf,
    n_blocks), so that a reader rebuilds it as ``ResnetGenerator(**architecture)``."""
    state = dict(generator.state_dict())
    state[ARCHITECTURE_KEY] = np.array(json.dumps(generator.architecture))
    nn.save(path, state)


def read_generator(path, name="G_A"):
    """(state, architecture) of one generator, from either a generator file or a training
    checkpoint (whose network ``name``, "G_A" or "G_B", is taken). The file is read once.

    The architecture is the one the file records; a generator file without a record (written
    by ``nn.save(path, generator.state_dict())``) has it read from its weights' shapes.
    Raises OSError or ValueError naming the file when it holds no generator.
    """
    arrays = nn.load(path)
    if "train.config" in arrays:
        checkpoint = load_checkpoint(path, arrays)
        state = strip_prefix(checkpoint.state, name + ".")
        config = checkpoint.config
        channels = (config.get("input_nc", 3), config.get("output_nc", 3))
        if name == "G_B":
            channels = channels[::-1]
        try:
            architecture = {"input_nc": channels[0], "output_nc": channels[1],
                            "ngf": config["ngf"], "n_blocks": config["n_blocks"]}
        except KeyError as e:
            raise ValueError(f"{path} has no {e.args[0]!r} in its configuration") from e
        return state, architecture
    state = dict(arrays)
    if ARCHITECTURE_KEY in state:
        try:
            architecture = json.loads(str(state.pop(ARCHITECTURE_KEY)))
        except (ValueError, RecursionError) as e:  # not JSON, or nested 100,000 deep
            raise ValueError(f"{path} has a damaged {ARCHITECTURE_KEY!r} entry ({e})") from e
        if not isinstance(architecture, dict):
            raise ValueError(f"{path} has a damaged {ARCHITECTURE_KEY!r} entry")
        return state, architecture
    return state, architecture_from_shapes(state, path)


def architecture_from_shapes(state, source,
                             advice="pass a train.py checkpoint or a G_A.npz / G_B.npz file"):
    """{input_nc, output_nc, ngf, n_blocks} of a ResnetGenerator's state_dict, from its keys
    and shapes: the first 7x7 convolution is (ngf, input_nc, 7, 7), the last (output_nc, ngf,
    7, 7), and each residual block has its own ``model.<i>.conv_block`` entries.

    Raises ValueError naming ``source`` when the state holds no ResNet generator: no 4-d
    'model.1.weight' (the message ends with ``advice``, what to pass instead), or keys and
    shapes that describe none.
    """
    first = state.get("model.1.weight")
    if getattr(first, "ndim", 0) != 4:
        raise ValueError(f"{source} holds no ResNet generator (no 4-d 'model.1.weight', the "
                         f"first 7x7 convolution); {advice}")
    try:
        top = [k.split(".") for k in state if k.count(".") == 2 and k.endswith(".weight")]
        last = state["model.%d.weight" % max(int(parts[1]) for parts in top)]
        blocks = {k.split(".")[1] for k in state if ".conv_block." in k}
        return {"input_nc": int(first.shape[1]), "output_nc": int(last.shape[0]),
                "ngf": int(first.shape[0]), "n_blocks": len(blocks)}
    except (IndexError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{source} holds no ResNet generator its keys and shapes describe "
                         f"({type(e).__name__}: {e})") from None


def pop_prefixed(state, prefix):
    """Remove the entries of ``state`` whose keys start with ``prefix``; return them without it."""
    taken = strip_prefix(state, prefix)
    for key in taken:
        del state[prefix + key]
    return taken

"""A training checkpoint: what train.py writes to continue a run exactly, and what translate.py
reads a generator from.

A checkpoint is one ``.npz`` written atomically by ``nn.save`` (a temporary file renamed over
the target: a crash or a full disk halfway through leaves the previous one whole): the model's
own state_dict (four networks, both optimizers, the schedulers, both image pools, the model's
random generator) plus ``train.*`` entries for the loop (epoch, iteration, the data
generator's state, the running sums of the epoch's losses, the configuration as JSON).
Nothing in it is pickled.
"""
import json
from dataclasses import dataclass

import numpy as np

import nn
from nn.state import strip_prefix
from cyclegan_support import records

__all__ = ["save_checkpoint", "Checkpoint", "load_checkpoint"]


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
        loader = _pop_prefixed(state, "train.data.")
        sums = {k: float(v) for k, v in _pop_prefixed(state, "train.sums.").items()}
        epoch, iteration = int(state.pop("train.epoch")), int(state.pop("train.iteration"))
        config = json.loads(str(state.pop("train.config")))
    except (TypeError, ValueError, RecursionError) as e:  # a non-scalar position, bad JSON
        raise ValueError(f"{path} has a damaged train.* entry ({e})") from e
    if not isinstance(config, dict) or epoch < 1 or iteration < 0:
        raise ValueError(f"{path} has a damaged train.* entry (epoch {epoch}, iteration "
                         f"{iteration}, config {type(config).__name__})")
    records.check_config(config, state, path)
    return Checkpoint(state, loader, epoch, iteration, config, sums)


def _pop_prefixed(state, prefix):
    """Remove the entries of ``state`` whose keys start with ``prefix``; return them without it."""
    taken = strip_prefix(state, prefix)
    for key in taken:
        del state[prefix + key]
    return taken

"""One generator alone: writing it with its architecture (train.py's G_A.npz and G_B.npz,
translate.py's --export), and reading one back from any file that holds one.

A generator comes from a generator file (an ``.npz`` whose ``architecture`` entry records
ResnetGenerator's keyword arguments), a training checkpoint (train.py's checkpoint.npz: both
generators and the configuration) or a PyTorch state dict (.pth) of the official
ResnetGenerator. A file without a record has its architecture read from its weights' keys and
shapes; every weight is checked against the architecture before anything is loaded. A .pth
is read without running any code in it (``nn.load_pth``).
"""
import json
import os
import sys

import numpy as np

import nn
from nn.state import check_state_dict, strip_prefix
from cyclegan_support import records
from cyclegan_support.records import describe_architecture
from cyclegan_support.checkpoint import load_checkpoint

__all__ = ["ARCHITECTURE_KEY", "save_generator", "is_pytorch_file", "describe_architecture",
           "architecture_from_shapes", "read_generator", "load_generator"]

ARCHITECTURE_KEY = "architecture"  # a JSON 0-d string: ResnetGenerator's keyword arguments


def save_generator(path, generator):
    """Write ``generator``'s weights and its architecture (input_nc, output_nc, ngf,
    n_blocks), so that a reader rebuilds it as ``ResnetGenerator(**architecture)``."""
    state = dict(generator.state_dict())
    state[ARCHITECTURE_KEY] = np.array(json.dumps(generator.architecture))
    nn.save(path, state)


def is_pytorch_file(path):
    """A .pth/.pt name, or a file that is neither an .npz nor any other zip (legacy .pth)."""
    if os.fspath(path).lower().endswith((".pth", ".pt")):
        return True
    with open(path, "rb") as f:
        return f.read(2) != b"PK"


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


def _read_state(path, name):
    """(state, architecture) of network ``name`` ("G_A" or "G_B") in ``path``, read once: a
    .pth, a training checkpoint or a generator file, the architecture as recorded or else as
    the shapes describe it."""
    if is_pytorch_file(path):
        return _with_shapes(nn.load_pth(path), path, advice="the official CycleGAN generators "
                            "are ResNet generators (resnet_9blocks), pix2pix's U-Nets are not "
                            "supported")
    arrays = nn.load(path)
    if "train.config" in arrays:
        checkpoint = load_checkpoint(path, arrays)
        config = checkpoint.config
        channels = (config.get("input_nc", 3), config.get("output_nc", 3))
        if name == "G_B":
            channels = channels[::-1]
        try:
            architecture = {"input_nc": channels[0], "output_nc": channels[1],
                            "ngf": config["ngf"], "n_blocks": config["n_blocks"]}
        except KeyError as e:
            raise ValueError(f"{path} has no {e.args[0]!r} in its configuration") from e
        return strip_prefix(checkpoint.state, name + "."), architecture
    state = dict(arrays)
    if ARCHITECTURE_KEY not in state:
        return _with_shapes(state, path)
    try:
        architecture = json.loads(str(state.pop(ARCHITECTURE_KEY)))
    except (ValueError, RecursionError) as e:  # not JSON, or nested 100,000 deep
        raise ValueError(f"{path} has a damaged {ARCHITECTURE_KEY!r} entry ({e})") from e
    if not isinstance(architecture, dict):
        raise ValueError(f"{path} has a damaged {ARCHITECTURE_KEY!r} entry")
    return state, architecture


def _with_shapes(state, path, **advice):
    return state, architecture_from_shapes(state, path, **advice)


def read_generator(path, direction="AtoB", stream=None):
    """(generator, state) from ``path``: ``ResnetGenerator(**architecture)`` for the file's
    architecture, and the weights to load into it, checked against it (every key and shape).
    ``direction`` picks G_A (AtoB) or G_B (BtoA) of a training checkpoint. The InstanceNorm
    statistics that PyTorch < 0.4 saved are dropped first, with a note on ``stream`` (default
    stderr). Raises OSError or ValueError naming the file and what is wrong."""
    from cyclegan import ResnetGenerator
    from nn.pth import skip_instance_norm_statistics

    state, architecture = _read_state(path, "G_A" if direction == "AtoB" else "G_B")
    records.check_architecture(architecture, state, path)  # before building anything
    try:
        generator = ResnetGenerator(**architecture)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path} records an unusable architecture {architecture!r} ({e})")
    skipped = skip_instance_norm_statistics(state, generator)
    if skipped:
        print(f"note: {path}: skipped {len(skipped)} InstanceNorm running_mean/running_var "
              "entries, which PyTorch < 0.4 saved and InstanceNorm does not use (the official "
              "loader skips them too)", file=stream or sys.stderr)
    expected = {k: v.shape for k, v in generator.state_dict().items()}
    try:
        check_state_dict(state, expected, f"{path} does not fit "
                         f"{describe_architecture(generator.architecture)}, the architecture "
                         "read from it")
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    return generator, state


def load_generator(path, direction="AtoB", device="cpu", stream=None):
    """The generator stored in ``path`` for ``direction``, in eval mode on ``device``:
    a train.py checkpoint, a generator .npz, or a PyTorch .pth of the official
    ResnetGenerator. Raises OSError or ValueError naming the file and what is wrong."""
    generator, state = read_generator(path, direction, stream)
    generator.load_state_dict(state)
    return generator.to(device).eval()

"""The records a weights file keeps about itself, checked before anything is built from them.

A generator file (G_A.npz) records its architecture, ``{input_nc, output_nc, ngf, n_blocks}``
(``check_architecture``); a training checkpoint records train.py's configuration, the JSON
entry ``train.config`` (``check_config``). A file may come from a stranger, so before a model
is built from a record:

- every key is one the record has, every value a number of the right type (or text), in the
  range the command line accepts (``training.options.build_parser``'s checks, with their messages);
- the model the record describes is not much larger than the weights the file holds
  (``_fits``): a forged ngf of 10^6 would ask for 131 TiB, a forged n_blocks of 10^9 in a
  542-byte file for a model larger than any disk, before a single shape was compared. (A
  model near the file's size is built, and its shapes compared one by one: that message
  says more.)
- every floating-point weight is finite (a NaN weight translates to a black image).

Each check raises ValueError with one message naming the file, the entry and what it should be.
"""
import argparse
import math

from nn.state import check_finite

__all__ = ["ARCHITECTURE_KEYS", "describe_architecture", "generator_weight_count",
           "discriminator_weight_count", "check_architecture", "check_config"]

ARCHITECTURE_KEYS = ("input_nc", "output_nc", "ngf", "n_blocks")

# train.config's entries by kind; the ranges are the command line's (training.options.build_parser).
_TEXTS = {"dataroot", "out"}  # dataroot may be None (the built-in dataset)
_FLOATS = {"lr", "beta1", "lambda_A", "lambda_B", "lambda_identity"}
# input_nc and output_nc are optional: a reader takes 3 when they are absent
_CHANNELS = {"input_nc", "output_nc"}


def generator_weight_count(input_nc, output_nc, ngf, n_blocks):
    """The number of weights (and biases) of ``cyclegan.ResnetGenerator``: a 7x7 conv
    input_nc -> ngf, 3x3 convs ngf -> 2 ngf -> 4 ngf, n_blocks blocks of two 3x3 convs
    4 ngf -> 4 ngf, transposed 3x3 convs 4 ngf -> 2 ngf -> ngf, a 7x7 conv ngf -> output_nc."""
    def conv(c_in, c_out, k):
        return c_in * c_out * k * k + c_out

    return (conv(input_nc, ngf, 7) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
            + n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3)
            + conv(4 * ngf, 2 * ngf, 3) + conv(2 * ngf, ngf, 3) + conv(ngf, output_nc, 7))


def discriminator_weight_count(input_nc, ndf, n_layers=3):
    """The number of weights of ``cyclegan.NLayerDiscriminator``: 4x4 convs input_nc -> ndf
    -> ndf min(2^n, 8) for n = 1..n_layers -> 1."""
    total, previous = input_nc * ndf * 16 + ndf, ndf
    for n in range(1, n_layers + 1):
        width = ndf * min(2 ** n, 8)
        total += previous * width * 16 + width
        previous = width
    return total + previous * 16 + 1


def _held(state, prefix=""):
    """How many numbers the entries of ``state`` under ``prefix`` hold."""
    return sum(int(getattr(v, "size", 1)) for k, v in state.items() if k.startswith(prefix))


def _fits(needed, held):
    """Whether a model of ``needed`` weights may be built to be compared with ``held``:
    twice the file's weights, and a million more (4 MB) for small files."""
    return needed <= 2 * held + 2 ** 20


def _whole(source, record, key, value, low):
    if type(value) is not int or value < low:
        raise ValueError(f"{source}: its {record} says {key} {value!r}; it must be a whole "
                         f"number >= {low} (the file is damaged or was not written by this "
                         "project)")
    return value


def check_architecture(architecture, state, source):
    """Raise ValueError unless ``architecture`` is a ResnetGenerator's record (exactly the
    ``ARCHITECTURE_KEYS``, whole numbers in range) whose weights ``state`` ({name: array},
    the generator's weights) can hold, and every floating-point weight in ``state`` is
    finite. Nothing is built."""
    if not isinstance(architecture, dict):
        raise ValueError(f"{source}: its architecture record is a "
                         f"{type(architecture).__name__}, not a dict of "
                         f"{', '.join(ARCHITECTURE_KEYS)}")
    unknown = sorted(str(k)[:40] for k in architecture if k not in ARCHITECTURE_KEYS)
    missing = [k for k in ARCHITECTURE_KEYS if k not in architecture]
    if unknown or missing:
        raise ValueError(f"{source}: its architecture record has the keys "
                         f"{sorted(str(k)[:40] for k in architecture)[:8]}; a ResNet "
                         f"generator's are {', '.join(ARCHITECTURE_KEYS)}"
                         + (f" (unknown: {', '.join(unknown[:4])})" if unknown else "")
                         + (f" (missing: {', '.join(missing)})" if missing else ""))
    for key in ARCHITECTURE_KEYS:
        _whole(source, "architecture record", key, architecture[key], 0 if key == "n_blocks" else 1)
    needed, held = generator_weight_count(**architecture), _held(state)
    if not _fits(needed, held):
        raise ValueError(f"{source}: its architecture record "
                         f"({describe_architecture(architecture)}) asks "
                         f"for {needed} weights, and the file holds {held}; the record is "
                         "damaged or does not belong to these weights (nothing was built)")
    check_finite(state, source)


def describe_architecture(architecture):
    """The generator a complete architecture record describes, in words."""
    a = architecture
    return (f"a ResNet generator with ngf {a['ngf']}, {a['n_blocks']} residual blocks, "
            f"{a['input_nc']} -> {a['output_nc']} channels")


def _option_checks():
    """{config key: the command line's parse-and-check function} (None: any text)."""
    from training.options import build_parser

    return {a.dest: a.type for a in build_parser()._actions
            if a.dest not in ("help", "resume", "gpu")}


def check_config(config, state, source):
    """Raise ValueError unless ``config`` (a checkpoint's ``train.config``, parsed) has only
    train.py's keys, each of its kind and in the range its option accepts, with the crop
    inside the loaded image, and unless ``state`` (the checkpoint's other entries) holds the
    weights of the four networks the configuration describes, all finite. Keys the
    configuration lacks are left to the caller (an older train.py wrote fewer)."""
    if not isinstance(config, dict):
        raise ValueError(f"{source}: its train.config is a {type(config).__name__}, not a "
                         "dict of train.py's options")
    checks = _option_checks()
    unknown = sorted(str(k)[:40] for k in config if k not in checks and k not in _CHANNELS)
    if unknown:
        raise ValueError(f"{source}: its train.config has entries train.py does not know "
                         f"({', '.join(unknown[:4])}); the file is damaged or was written by "
                         "another program")
    for key, value in config.items():
        option = "--" + key.replace("_", "-")
        if key in _CHANNELS:
            _whole(source, "train.config", key, value, 1)
        elif key in _TEXTS:
            if not (isinstance(value, str) or (key == "dataroot" and value is None)):
                raise ValueError(f"{source}: its train.config says {key} {value!r:.60}, "
                                 "not a folder name")
        elif key in _FLOATS:
            if type(value) not in (int, float) or not math.isfinite(value):
                raise ValueError(f"{source}: its train.config says {key} {value!r:.60}, not a "
                                 f"finite number (as {option} takes)")
        elif type(value) is not int:
            raise ValueError(f"{source}: its train.config says {key} {value!r:.60}, not a "
                             f"whole number (as {option} takes)")
        if checks.get(key) is not None:
            try:
                checks[key](repr(value))
            except argparse.ArgumentTypeError as e:
                raise ValueError(f"{source}: its train.config says {key} {value!r:.60}, which "
                                 f"{option} refuses: {e}") from None
    if config.get("load_size", math.inf) < config.get("crop_size", 0):
        raise ValueError(f"{source}: its train.config says load_size {config['load_size']} and "
                         f"crop_size {config['crop_size']}; the crop must fit inside the image")
    if all(k in config for k in ("ngf", "ndf", "n_blocks")):
        channels = (config.get("input_nc", 3), config.get("output_nc", 3))
        for name, needed in (
                ("G_A", generator_weight_count(*channels, config["ngf"], config["n_blocks"])),
                ("G_B", generator_weight_count(*channels[::-1], config["ngf"],
                                               config["n_blocks"])),
                ("D_A", discriminator_weight_count(channels[1], config["ndf"])),
                ("D_B", discriminator_weight_count(channels[0], config["ndf"]))):
            held = _held(state, name + ".")
            if not _fits(needed, held):
                raise ValueError(f"{source}: its train.config (ngf {config['ngf']}, ndf "
                                 f"{config['ndf']}, n_blocks {config['n_blocks']}) asks for "
                                 f"{needed} weights in {name}, and the file holds {held}; the "
                                 "configuration is damaged or does not belong to these weights")
    check_finite(state, source)

"""train.py's command line: its options, their checks and the defaults they resolve to.

Every option is checked as it is parsed (a range, a multiple of 4), so a mistake ends at once
in one line naming the option; ``resolve_config`` then fills in what was left out, with the
built-in dataset's small defaults or, for --dataroot, the official ones.
"""
import argparse
import math
import os

__all__ = ["BUILTIN", "USER", "DEFAULTS", "build_parser", "given_options", "resolve_config"]

# The built-in configuration: small enough to finish in minutes on two CPU cores, large enough
# for the translation error to fall well below the identity's. User data gets the official
# architecture (ngf = ndf = 64, 9 blocks at 256 pixels; 6 blocks below that) unless told otherwise.
BUILTIN = {"crop_size": 64, "ngf": 16, "ndf": 16, "n_blocks": 3,
           "n_epochs": 4, "n_epochs_decay": 4, "n_train": 250}
USER = {"crop_size": 64, "ngf": 64, "ndf": 64, "n_epochs": 100, "n_epochs_decay": 100}
# The largest values the sizes may take: 10,000 built-in scenes per domain take some minutes
# to draw and 300 MB at 72 pixels; the official models train at 256 pixels.
MAX_N_TRAIN, MAX_SIZE = 10_000, 2048
# The defaults that do not depend on the dataset (the official values, where there is one).
DEFAULTS = {"n_train": BUILTIN["n_train"], "batch_size": 1, "lr": 2e-4, "beta1": 0.5,
            "lambda_A": 10.0, "lambda_B": 10.0, "lambda_identity": 0.5, "pool_size": 50, "seed": 0}


def _number(kind, low, inclusive=True, what="", below=None, high=None):
    """A parser of numbers of ``kind`` that are >= ``low`` (> when not ``inclusive``), < ``below``
    and <= ``high`` when those are given; inf and nan are refused."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < low or (value == low and not inclusive):
            sign = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be {sign} {low}{what}, got {text}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"must be below {below}{what}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}{what}, got {text}")
        return value
    return parse


def _crop_size(text):
    value = _number(int, 24, what=" (the discriminator's five 4x4 convolutions need it)",
                    high=MAX_SIZE)(text)
    if value % 4:
        raise argparse.ArgumentTypeError(
            f"must be a multiple of 4 (the generator halves it twice and doubles it back), "
            f"got {value}; try {value + 4 - value % 4}")
    return value


def build_parser(description=None, defaults=True):
    """train.py's options. With ``defaults=False`` an option left out is absent from the parsed
    namespace, which is how ``given_options`` tells what the command line said."""
    p = argparse.ArgumentParser(description=description, argument_default=None if defaults
                                else argparse.SUPPRESS,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--dataroot", help="folder with trainA, trainB, testA, testB (see "
                   "download.py); default: the built-in day2night dataset, nothing to download")
    d.add_argument("--crop-size", type=_crop_size, help="side of the random training crop, "
                   f"a multiple of 4 (default: {BUILTIN['crop_size']} built-in, "
                   f"{USER['crop_size']} for --dataroot; the official value is 256)")
    d.add_argument("--load-size", type=_number(int, 1, high=MAX_SIZE), help="images are "
                   "resized to this side before cropping (default: crop size * 286/256 rounded "
                   "to an even number, the official ratio 286/256)")
    d.add_argument("--n-train", type=_number(int, 1, high=MAX_N_TRAIN),
                   help="built-in dataset only: training scenes per domain, at most "
                   f"{MAX_N_TRAIN} (default: %(default)s)")
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
                   "otherwise) [100]. As in the official schedule, the last epoch's rate is 0: "
                   "its steps would change no weight, so it is skipped and a run trains "
                   "n-epochs + n-epochs-decay - 1 epochs (the same weights, in less time)")
    t.add_argument("--batch-size", type=_number(int, 1),
                   help="images per batch (default: %(default)s) [1]")
    t.add_argument("--lr", type=_number(float, 0, inclusive=False),
                   help="Adam learning rate (default: %(default)s) [0.0002]")
    t.add_argument("--beta1", type=_number(float, 0, below=1, what=" (Adam's decay of its "
                   "running mean of the gradients, 0 <= beta1 < 1)"),
                   help="Adam beta1, 0 <= beta1 < 1 (default: %(default)s) [0.5]")
    t.add_argument("--lambda-A", type=_number(float, 0),
                   help="weight of the cycle loss A -> B -> A (default: %(default)s) [10]")
    t.add_argument("--lambda-B", type=_number(float, 0),
                   help="weight of the cycle loss B -> A -> B (default: %(default)s) [10]")
    t.add_argument("--lambda-identity", type=_number(float, 0),
                   help="identity loss weight, relative to lambda-A/B (default: %(default)s) [0.5]")
    t.add_argument("--pool-size", type=_number(int, 0), help="generated images "
                   "kept to show the discriminators; 0 disables the pool "
                   "(default: %(default)s) [50]")
    t.add_argument("--seed", type=_number(int, 0), help="seed of the weights, the image pools "
                   "and the data order (default: %(default)s)")
    r = p.add_argument_group("run")
    r.add_argument("--out", help="output folder (default: runs/day2night, or runs/<name of "
                   "the dataroot>)")
    r.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz "
                   "exactly where it stopped; the run's own configuration is used, options "
                   "other than --out and --gpu are ignored")
    r.add_argument("--gpu", action="store_true", help="train on a CUDA GPU with CuPy")
    if defaults:
        p.set_defaults(**DEFAULTS)
    return p


def given_options(argv):
    """The destinations of the options written on the command line (not left to default)."""
    return set(vars(build_parser(defaults=False).parse_args(argv)))


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
    if config["n_epochs"] + config["n_epochs_decay"] < 2:
        raise ValueError(
            f"--n-epochs {config['n_epochs']} and --n-epochs-decay {config['n_epochs_decay']} "
            "leave nothing to train: the official schedule trains epoch e at the rate lr * (1 - "
            "max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)), so its last epoch has rate 0 and "
            "changes no weight (it is skipped); ask for two epochs or more, e.g. --n-epochs 1 "
            "--n-epochs-decay 1")
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

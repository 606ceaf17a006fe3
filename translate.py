"""Translate images with a trained generator, ours or an official pretrained one.

    python translate.py --checkpoint runs/day2night/checkpoint.npz photo.jpg
    python translate.py --checkpoint runs/day2night/checkpoint.npz --direction BtoA night/ --out day/
    python translate.py --checkpoint runs/day2night/G_A.npz folder/
    python translate.py --checkpoint pretrained/horse2zebra.pth horse.jpg    # official weights
    python translate.py --export runs/day2night/G_A.npz G_A.pth               # for PyTorch

--checkpoint is a training checkpoint (train.py's checkpoint.npz: both generators, the
direction picks G_A for AtoB or G_B for BtoA), one generator's weights (G_A.npz or G_B.npz,
written beside it), or a PyTorch state dict (.pth) of the official ResnetGenerator, such as
the official pretrained models. A generator file holds one direction: --direction is then
not needed. The architecture (ngf, n_blocks, channels) is the one the file records, or is
read from its keys and shapes; every weight is checked against it before anything is loaded.
A .pth file is read without running any code in it (nn.load_pth).

The generator halves the image twice and doubles it back, so both sides must be multiples of
4. Images are *padded*, not resized: mirrored on the right and bottom (by up to 3 pixels, or
up to the smallest size the generator takes, 8 pixels with residual blocks), and the result
cropped back to the original size, so nothing is resampled and the aspect ratio is kept.
Use --resize to scale large photos down first (a generator trained on small crops sees its
textures at the scale it learned; the official models were trained at 256 pixels).

Before each image, the memory its translation needs is estimated; an image that would not fit
in the memory this machine has free is skipped with the --resize that would fit. Long
translations show a progress bar on stderr.

--export WEIGHTS OUT writes the generator of WEIGHTS (any of the files above) to OUT: a
PyTorch .pth that torch.load(OUT, weights_only=True) reads and the official ResnetGenerator
loads with load_state_dict, or an .npz generator file for this project.
"""
import argparse
import os
import sys

import numpy as np

import nn
from cyclegan_support import data, records, training_io
from cyclegan_support.device import select_device
from cyclegan_support.progress import Bar

__all__ = ["is_pytorch_file", "describe_architecture", "read_generator", "load_generator",
           "check_generator", "smallest_side", "padded_size", "layer_plan",
           "estimate_peak_bytes", "available_memory", "translate_image", "export", "main"]

GIB = 2 ** 30


# --- reading a generator ------------------------------------------------------------------

def is_pytorch_file(path):
    """A .pth/.pt name, or a file that is neither an .npz nor any other zip (legacy .pth)."""
    if os.fspath(path).lower().endswith((".pth", ".pt")):
        return True
    with open(path, "rb") as f:
        return f.read(2) != b"PK"


def describe_architecture(architecture):
    a = architecture
    return (f"a ResNet generator with ngf {a['ngf']}, {a['n_blocks']} residual blocks, "
            f"{a['input_nc']} -> {a['output_nc']} channels")


def _shape(value):
    return tuple(int(n) for n in getattr(value, "shape", ()))


def check_generator(state, architecture, source, stream=None):
    """Build ``ResnetGenerator(**architecture)`` and check that ``state`` holds exactly its
    weights with their shapes; returns the generator (not yet loaded). The InstanceNorm
    statistics that PyTorch < 0.4 saved are dropped from ``state`` first, with a note on
    ``stream`` (default stderr). Raises ValueError saying what the architecture expects and
    what the file has instead."""
    from cyclegan import ResnetGenerator
    from nn.pth import skip_instance_norm_statistics

    records.check_architecture(architecture, state, source)  # before building anything
    try:
        generator = ResnetGenerator(**architecture)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{source} records an unusable architecture {architecture!r} ({e})")
    skipped = skip_instance_norm_statistics(state, generator)
    if skipped:
        print(f"note: {source}: skipped {len(skipped)} InstanceNorm running_mean/running_var "
              "entries, which PyTorch < 0.4 saved and InstanceNorm does not use (the official "
              "loader skips them too)", file=stream or sys.stderr)
    expected = {k: _shape(v) for k, v in generator.state_dict().items()}
    problems = [f"{k!r} should have shape {shape}, the file has {_shape(state[k])}"
                for k, shape in expected.items() if k in state and _shape(state[k]) != shape]
    problems += [f"it lacks {k!r} (shape {shape})" for k, shape in expected.items()
                 if k not in state]
    problems += [f"it has {k!r}, which that generator has no place for" for k in state
                 if k not in expected]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError(f"{source} does not fit {describe_architecture(generator.architecture)}"
                         ", the architecture read from it: " + "; ".join(problems[:3]) + more)
    return generator


def read_generator(path, direction="AtoB", stream=None):
    """(generator, state) from ``path``: the generator built for the file's architecture and
    checked against it, and the weights to load into it (see ``load_generator``)."""
    if is_pytorch_file(path):
        state = nn.load_pth(path)
        architecture = training_io.architecture_from_shapes(
            state, path, advice="the official CycleGAN generators are ResNet generators "
            "(resnet_9blocks), pix2pix's U-Nets are not supported")
    else:
        state, architecture = training_io.read_generator(
            path, "G_A" if direction == "AtoB" else "G_B")
    return check_generator(state, architecture, path, stream), state


def load_generator(path, direction="AtoB", device="cpu", stream=None):
    """The generator stored in ``path`` for ``direction``, in eval mode on ``device``:
    a train.py checkpoint, a generator .npz, or a PyTorch .pth of the official
    ResnetGenerator. Raises OSError or ValueError naming the file and what is wrong."""
    generator, state = read_generator(path, direction, stream)
    generator.load_state_dict(state)
    return generator.to(device).eval()


def export(source, target, direction="AtoB", stream=None):
    """Write the generator of ``source`` to ``target``: a PyTorch .pth (zip format), or an
    .npz generator file that records its architecture."""
    generator = load_generator(source, direction, stream=stream)
    if os.fspath(target).lower().endswith(".npz"):
        training_io.save_generator(target, generator)
    else:
        nn.save_pth(target, generator.state_dict())
    return generator


# --- the sizes an image can have, and the memory it needs ---------------------------------

def smallest_side(generator):
    """The smallest image side the generator takes. Its first and last reflection pads (3
    pixels) need a side of at least 4; a residual block's pad (1 pixel) at a quarter of the
    size needs at least 2 there, so 8 at the input."""
    return 8 if generator.architecture["n_blocks"] else 4


def padded_size(h, w, generator):
    """(H, W) an h x w image is padded to: multiples of 4, at least ``smallest_side``."""
    least = smallest_side(generator)
    return max(-(-h // 4) * 4, least), max(-(-w // 4) * 4, least)


def layer_plan(generator, h, w):
    """The multiply-adds of each layer of ``generator.model`` on one (3, h, w) image (h, w
    padded already), from the shapes alone: what the progress bar counts."""
    from cyclegan import ResnetBlock

    plan, c = [], generator.model[1].weight.shape[1]
    for layer in generator.model:
        macs = c * h * w  # a pad, a norm, an activation: about one operation a number
        if isinstance(layer, nn.ReflectionPad2d):
            left, right, top, bottom = layer.padding
            h, w = h + top + bottom, w + left + right
        elif isinstance(layer, nn.Conv2d):
            o, i, kh, kw = layer.weight.shape
            (sh, sw), (ph, pw) = layer.stride, layer.padding
            h, w, c = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1, o
            macs = o * i * kh * kw * h * w
        elif isinstance(layer, nn.ConvTranspose2d):
            i, o, kh, kw = layer.weight.shape
            macs = o * i * kh * kw * h * w
            (sh, sw), (ph, pw), (oph, opw) = layer.stride, layer.padding, layer.output_padding
            h, w, c = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw, o
        elif isinstance(layer, ResnetBlock):
            macs = 2 * c * c * 9 * h * w
        plan.append(macs)
    return plan


def estimate_peak_bytes(generator, h, w):
    """About the most memory translating one h x w image with ``generator`` holds at once
    (``cyclegan.estimate_translation_memory`` at the padded size)."""
    from cyclegan import estimate_translation_memory

    return estimate_translation_memory(*padded_size(h, w, generator), **generator.architecture)


def available_memory():
    """Bytes this process can still take: MemAvailable of /proc/meminfo, lowered to the room
    left under a container's limit (cgroup v2 or v1); None where neither can be read."""
    room = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    room.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit) as f, open(usage) as g:
                text = f.read().strip()
                if text != "max" and int(text) < 2 ** 60:
                    room.append(int(text) - int(g.read().strip()))
        except (OSError, ValueError):
            pass
    return min(room) if room else None


def fitting_resize(generator, h, w, free):
    """The largest --resize (the shorter side, a multiple of 4) whose translation is
    estimated to fit in ``free`` bytes, or None when even the smallest image does not."""
    shorter, longer = min(h, w), max(h, w)

    def fits(side):
        return estimate_peak_bytes(generator, side, max(1, round(longer * side / shorter))) <= free

    low, high = 1, shorter // 4  # sides 4 * low .. 4 * high; the estimate grows with the side
    if not fits(4 * low):
        return None
    while low < high:  # bisect for the largest side that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(4 * middle) else (low, middle - 1)
    return 4 * low


def _header_size(path, resize):
    """(h, w) an image will have after --resize, read from its header (nothing decoded)."""
    import warnings
    from PIL import Image

    with warnings.catch_warnings():  # a very large image: the memory estimate speaks for it
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            w, h = image.size
    if resize:
        w, h = data.scaled_size((w, h), resize)
    return h, w


# --- translating ------------------------------------------------------------------------

def translate_image(generator, image, bar=None, label=""):
    """uint8 (H, W, 3) -> uint8 (H, W, 3): mirror-pad (to multiples of 4, and at least
    ``smallest_side``), translate, crop back. ``bar`` (a progress Bar) is advanced by each
    layer's multiply-adds."""
    h, w = image.shape[:2]
    ph, pw = padded_size(h, w, generator)
    padded = np.pad(image, ((0, ph - h), (0, pw - w), (0, 0)), mode="reflect")
    x = data.to_model_range(padded[None])
    xp = nn.get_array_module(generator.parameters()[0].data)
    plan = layer_plan(generator, ph, pw) if bar is not None else None
    with nn.no_grad():
        y = nn.Tensor(nn.backend.to_device(x, xp))
        del x
        for i, layer in enumerate(generator.model):  # the Sequential, a layer at a time
            y = layer(y)
            if bar is not None:
                bar.advance(plan[i], label)
    return data.to_uint8(nn.to_host(y.data))[0, :h, :w]


def _output_path(out, path):
    return os.path.join(out, os.path.splitext(os.path.basename(path))[0] + ".png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="an image, or a folder of images")
    p.add_argument("--checkpoint", help="train.py's checkpoint.npz, one generator's G_A.npz / "
                   "G_B.npz, or a PyTorch .pth of the official generator")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="for a training checkpoint: AtoB uses G_A, BtoA uses G_B "
                   "(default: %(default)s)")
    p.add_argument("--out", default="translated", help="folder for the PNGs (default: %(default)s)")
    p.add_argument("--resize", type=int, help="scale each image so its shorter side has this "
                   "many pixels before translating (default: keep the size)")
    p.add_argument("--gpu", action="store_true", help="run on a CUDA GPU with CuPy")
    p.add_argument("--export", nargs=2, metavar=("WEIGHTS", "OUT"), help="write the generator "
                   "of WEIGHTS to OUT, a PyTorch .pth (or an .npz generator file), and exit")
    args = p.parse_args(argv)
    if args.export:
        if args.input or args.checkpoint:
            p.error("--export WEIGHTS OUT takes no image and no --checkpoint")
        try:
            export(*args.export, direction=args.direction)
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.exit(2, f"error: cannot export {args.export[0]} to {args.export[1]}: {e}\n")
        print(f"{args.export[0]} -> {args.export[1]}")
        return 0
    if args.input is None or args.checkpoint is None:
        p.error("give --checkpoint WEIGHTS and an image or a folder (or --export WEIGHTS OUT)")
    if args.resize is not None and args.resize < 4:
        p.error(f"--resize must be >= 4, got {args.resize}")
    try:
        device = select_device(args.gpu, without="translation runs on the CPU")
    except RuntimeError as e:
        p.exit(2, f"error: {e}\n")
    try:
        generator = load_generator(args.checkpoint, args.direction, device)
    except (OSError, ValueError, KeyError) as e:
        p.exit(2, f"error: cannot load a generator from {args.checkpoint}: {e}\n")
    if not os.path.exists(args.input):
        p.exit(2, f"error: there is no file or folder {args.input!r} to translate\n")
    paths = data.find_images(args.input) if os.path.isdir(args.input) else [args.input]
    if not paths:
        p.exit(2, f"error: {args.input} holds no images\n")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        p.exit(2, f"error: cannot create the output folder --out {args.out!r} ({e.strerror or e}); "
                  "choose a folder you can write to\n")
    return _translate_all(p, generator, paths, args)


def _translate_all(p, generator, paths, args):
    """Translate every path; returns the exit status (1 when none could be translated)."""
    from PIL import Image

    sizes, skipped = {}, 0
    free = available_memory() if not args.gpu else None
    for path in paths:  # the headers first: the bar's total, and images too large to try
        try:
            h, w = _header_size(path, args.resize)
        except data.unreadable_errors() as e:
            print(f"warning: skipping {path}: not a readable image ({e})", file=sys.stderr)
            skipped += 1
            continue
        need = estimate_peak_bytes(generator, h, w)
        if free is not None and need > free:
            fit = fitting_resize(generator, h, w, free)
            advice = (f"try --resize {fit}" if fit else "free some memory first")
            message = (f"{path} ({w}x{h}) needs about {need / GIB:.1f} GiB to translate, and "
                       f"this machine has {free / GIB:.1f} GiB free; {advice}")
            if len(paths) == 1:
                p.exit(2, f"error: {message}\n")
            print(f"warning: skipping {message}", file=sys.stderr)
            skipped += 1
            continue
        sizes[path] = (h, w)
    bar = Bar(sum(sum(layer_plan(generator, *padded_size(h, w, generator)))
                  for h, w in sizes.values()))
    least = smallest_side(generator)
    done = 0
    for n, path in enumerate(sizes, 1):
        try:
            image = data.read_image(path, shorter_side=args.resize)
        except data.unreadable_errors() as e:
            print(f"warning: skipping {path}: not a readable image ({e})", file=sys.stderr)
            skipped += 1
            continue
        if min(image.shape[:2]) < least:
            print(f"note: {path} is {image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                  f"{least}x{least} the generator takes; it is mirror-padded to that size and "
                  "the result cropped back", file=sys.stderr)
        target = _output_path(args.out, path)
        label = f"{n}/{len(sizes)} {os.path.basename(path)}"
        try:
            Image.fromarray(translate_image(generator, image, bar, label)).save(target)
        except OSError as e:
            p.exit(1, f"error: cannot write {target} ({e.strerror or e}); free some space or "
                      "choose another --out\n")
        except MemoryError as e:  # the estimate was short, or memory went to someone else
            print(f"warning: skipping {path}: out of memory ({e}); try --resize",
                  file=sys.stderr)
            skipped += 1
            continue
        done += 1
        bar.clear()  # the bar's line, before stdout writes over it
        print(f"{path} -> {target}")
    bar.close()
    return 1 if done == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

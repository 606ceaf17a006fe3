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

Each translation is written to --out as a PNG of the image's name (a.jpg -> a.png), through
a temporary file renamed when whole, so a full disk never leaves half a PNG or costs the file
that was there. Nothing is written when two images would get one name (a.png, a.jpg, a.PNG),
or when --out is the folder the images come from (unless --into-input-folder). A FIFO, a
device or a folder named like an image is skipped with a warning, never opened.

--export WEIGHTS OUT writes the generator of WEIGHTS (any of the files above) to OUT: a
PyTorch .pth that torch.load(OUT, weights_only=True) reads and the official ResnetGenerator
loads with load_state_dict, or an .npz generator file for this project. A file already at OUT
is replaced only when it is a generator file of that kind (never a training checkpoint).
"""
import argparse
import os
import sys
import warnings
import zipfile

import numpy as np

import nn
from nn.convolution import output_size, transposed_output_size
from nn.serialization import replace_atomically
from cyclegan_support import data, generator_file, records
from cyclegan_support.device import select_device
from cyclegan_support.generator_file import (describe_architecture, load_generator,  # noqa: F401
                                             read_generator, save_generator)
from cyclegan_support.progress import Bar

__all__ = ["export", "existing_kind", "output_paths", "smallest_side", "padded_size",
           "layer_plan", "estimate_peak_bytes", "estimate_translation_memory", "available_memory",
           "translate_image", "main"]

GIB = 2 ** 30


# Reading a generator from any file that holds one: cyclegan_support/generator_file.py.

def existing_kind(target):
    """None when ``target`` does not exist or is a generator file of the kind ``export`` would
    write there (an .npz generator file for a name ending in .npz, else a PyTorch .pth
    holding a ResNet generator); otherwise what it is, as a phrase ("a training checkpoint
    ..."), so that an export never replaces a file of another kind."""
    if not os.path.lexists(target):
        return None
    problem = data.not_a_file_or_folder(target)
    if problem is not None:
        return problem
    if os.path.isdir(target):
        return "a folder"
    if os.fspath(target).lower().endswith(".npz"):
        try:
            with zipfile.ZipFile(target) as archive:
                names = set(archive.namelist())
        except (OSError, zipfile.BadZipFile):
            return "a file that is not an .npz archive"
        if "train.config.npy" in names:
            return ("a training checkpoint (both generators, both discriminators and the "
                    "optimizers' state: what train.py --resume continues from)")
        if names & {generator_file.ARCHITECTURE_KEY + ".npy", "model.1.weight.npy"}:
            return None
        return "an .npz file that holds no generator"
    try:  # whatever makes reading it fail, it is not a generator .pth
        generator_file.architecture_from_shapes(nn.load_pth(target), target)
    except Exception:
        return "a file that holds no PyTorch generator"
    return None


def _check_openable(path):
    """Raise ValueError when ``path`` exists but is no file or folder (a FIFO: opening it to
    read the weights would wait for a writer forever), or is a link that leads nowhere."""
    problem = data.not_a_file_or_folder(path)
    if problem not in (None, "not there"):
        raise ValueError(f"{path} is {problem}; give a weights file")


def export(source, target, direction="AtoB", stream=None):
    """Write the generator of ``source`` to ``target``: a PyTorch .pth (zip format), or an
    .npz generator file that records its architecture. A ``target`` that exists must be a
    generator file of that kind (``existing_kind``): anything else is refused with a
    ValueError, before ``source`` is read."""
    _check_openable(source)
    kind = existing_kind(target)
    if kind is not None:
        written = "an .npz generator file" if os.fspath(target).lower().endswith(".npz") \
            else "a PyTorch .pth generator"
        raise ValueError(f"{target} already exists and is {kind}; the export would replace it "
                         f"with {written}. Choose another OUT name, or move {target} away first "
                         "if it is really meant to go")
    generator = load_generator(source, direction, stream=stream)
    if os.fspath(target).lower().endswith(".npz"):
        save_generator(target, generator)
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
            h, w, c = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw), o
            macs = o * i * kh * kw * h * w
        elif isinstance(layer, nn.ConvTranspose2d):
            i, o, kh, kw = layer.weight.shape
            macs = o * i * kh * kw * h * w
            (sh, sw), (ph, pw), (oph, opw) = layer.stride, layer.padding, layer.output_padding
            h, w, c = (transposed_output_size(h, kh, sh, ph, oph),
                       transposed_output_size(w, kw, sw, pw, opw), o)
        elif isinstance(layer, ResnetBlock):
            macs = 2 * c * c * 9 * h * w
        plan.append(macs)
    return plan


def estimate_peak_bytes(generator, h, w):
    """About the most memory translating one h x w image with ``generator`` holds at once
    (``estimate_translation_memory`` at the padded size)."""
    return estimate_translation_memory(*padded_size(h, w, generator), **generator.architecture)


def estimate_translation_memory(height, width, ngf=64, n_blocks=9, input_nc=3, output_nc=3):
    """Estimated peak resident memory, in bytes, of translating one height x width image with a
    ResnetGenerator(input_nc, output_nc, ngf, n_blocks) in float32 without a graph, as
    translate.py does it (``nn.no_grad``: a large convolution runs in bands of rows and
    builds at most B = ``nn.fast.convolution.BAND_NUMBERS`` numbers on the way).

    With P = H*W pixels (sides padded to multiples of 4), A = 4*ngf*(H + 6)*(W + 6) bytes,
    one full-resolution activation of ngf channels (as padded before the last layer), and
    a band of 6*min(B, 147 P) bytes (its columns, 4 bytes a number, and half as much again
    for its slab of input and its output; 147 P numbers are the first layer's whole im2col):

        peak = 48 MiB + 8 * parameters      Python, NumPy, Pillow; the weights and the state
                                            they were loaded from
             + max(18 P + 2 A,              the image (uint8, mirror-padded uint8, float32)
                                            held while the generator runs, plus its largest
                                            moment: two full-resolution activations (an
                                            instance norm, a ReLU or the last reflection pad:
                                            input and output)
                   18 P + 1.5 A + band,     or the last transposed convolution: its input
                                            (half of A), its output and one band
                   57 P)                    or the output side: input and output in float32,
                                            two float32 temporaries of the conversion to
                                            uint8, the uint8 images

    The half- and quarter-resolution layers (2 and 4 times the channels on a quarter and a
    sixteenth of the pixels) hold less. Measured with translate.py on a 4000x3000 photo,
    ngf 16, 3 blocks: 1594 MiB, estimated 1742 MiB; tests/test_translation_memory.py holds
    the other measurements, from 7% below to 23% above. A caller compares it with the memory
    the machine has free before starting, and suggests --resize when it does not fit.
    """
    from nn.fast.convolution import BAND_NUMBERS

    h, w = height + (-height % 4), width + (-width % 4)
    pixels = h * w
    activation = 4 * ngf * (h + 6) * (w + 6)
    band = 6 * min(BAND_NUMBERS, 147 * pixels)
    parameters = records.generator_weight_count(input_nc, output_nc, ngf, n_blocks)
    held = 18 * pixels
    return int(48 * 2 ** 20 + 8 * parameters
               + max(held + 2 * activation, held + 1.5 * activation + band, 57 * pixels))


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
    """(h, w) an image will have after --resize, read from its header (nothing decoded);
    raises data.ImageTooLarge when it is too large to decode."""
    w, h = data.image_size(path, resize)
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


def output_paths(paths, out):
    """{input path: the PNG it is written to in ``out``}, the input's name with .png for its
    extension. Raises ValueError, before anything is written, when two inputs would be written
    to one file (a.png, a.jpg and a.PNG all give a.png; names that differ only in case are
    one file on a case-insensitive disk)."""
    targets = {path: os.path.join(out, os.path.splitext(os.path.basename(path))[0] + ".png")
               for path in paths}
    groups = {}
    for path, target in targets.items():
        groups.setdefault(target.lower(), []).append(path)
    clashes = [group for group in groups.values() if len(group) > 1]
    if clashes:
        names = [os.path.basename(p) for p in clashes[0]]
        more = f" (and {len(clashes) - 1} more such groups)" if len(clashes) > 1 else ""
        raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} would all be written to "
                         f"{targets[clashes[0][0]]}{more}, each translation replacing the one "
                         "before; rename them so that their names differ before the extension "
                         "(not only in case), or translate them into separate --out folders")
    return targets


def _same_folder(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _list_inputs(source):
    """The images to translate: ``[source]`` for a file, the images of a folder (entries that
    are no regular file, such as a FIFO, are skipped with a warning)."""
    if not os.path.isdir(source):
        return [source]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = data.find_images(source)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="an image, or a folder of images")
    p.add_argument("--checkpoint", help="train.py's checkpoint.npz, one generator's G_A.npz / "
                   "G_B.npz, or a PyTorch .pth of the official generator")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="for a training checkpoint: AtoB uses G_A, BtoA uses G_B "
                   "(default: %(default)s)")
    p.add_argument("--out", default="translated", help="folder for the PNGs (default: "
                   "%(default)s); it may not be the folder the images are read from, unless "
                   "--into-input-folder is given")
    p.add_argument("--into-input-folder", action="store_true", help="allow --out to be the "
                   "folder the images come from: each translation is written beside its image, "
                   "and replaces an image of the same name (a.png is replaced by its "
                   "translation)")
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
        _check_openable(args.checkpoint)
        generator = load_generator(args.checkpoint, args.direction, device)
    except (OSError, ValueError, KeyError) as e:
        p.exit(2, f"error: cannot load a generator from {args.checkpoint}: {e}\n")
    problem = data.not_a_file_or_folder(args.input)
    if problem == "not there":
        p.exit(2, f"error: there is no file or folder {args.input!r} to translate\n")
    if problem is not None:
        p.exit(2, f"error: {args.input!r} is {problem}; give an image or a folder of images\n")
    paths = _list_inputs(args.input)
    if not paths:
        p.exit(2, f"error: {args.input} holds no images\n")
    source_folder = args.input if os.path.isdir(args.input) else os.path.dirname(
        os.path.abspath(args.input))
    if _same_folder(source_folder, args.out) and not args.into_input_folder:
        p.exit(2, f"error: --out {args.out!r} is the folder the images are read from; their "
                  "translations would be written among them and replace any of the same name "
                  "(a.png by its translation). Choose another --out, or give "
                  "--into-input-folder if that is what you want\n")
    try:
        targets = output_paths(paths, args.out)
    except ValueError as e:
        p.exit(2, f"error: {e}\n")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        p.exit(2, f"error: cannot create the output folder --out {args.out!r} ({e.strerror or e}); "
                  "choose a folder you can write to\n")
    return _translate_all(p, generator, targets, args)


def _translate_all(p, generator, targets, args):
    """Translate each image of ``targets`` ({input path: output path}); returns the exit
    status (1 when none could be translated)."""
    from PIL import Image

    sizes = {}
    free = available_memory() if not args.gpu else None
    for path in targets:  # the headers first: the bar's total, and images too large to try
        try:
            h, w = _header_size(path, args.resize)
        except data.ImageTooLarge as e:
            if len(targets) == 1:
                p.exit(2, f"error: {path}: {e}\n")
            _skip(f"{path}: {e}")
            continue
        except data.unreadable_errors() as e:
            _skip(f"{path}: not a readable image ({e})")
            continue
        need = estimate_peak_bytes(generator, h, w)
        if free is not None and need > free:
            fit = fitting_resize(generator, h, w, free)
            advice = (f"try --resize {fit}" if fit else "free some memory first")
            message = (f"{path} ({w}x{h}) needs about {need / GIB:.1f} GiB to translate, and "
                       f"this machine has {free / GIB:.1f} GiB free; {advice}")
            if len(targets) == 1:
                p.exit(2, f"error: {message}\n")
            _skip(message)
            continue
        sizes[path] = (h, w)
    bar = Bar(sum(sum(layer_plan(generator, *padded_size(h, w, generator)))
                  for h, w in sizes.values()))
    least = smallest_side(generator)
    done = 0
    for n, path in enumerate(sizes, 1):
        try:
            image = data.read_image(path, shorter_side=args.resize)
        except data.ImageTooLarge as e:  # the header said otherwise: the file changed since
            _skip(f"{path}: {e}")
            continue
        except data.unreadable_errors() as e:
            _skip(f"{path}: not a readable image ({e})")
            continue
        if min(image.shape[:2]) < least:
            print(f"note: {path} is {image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                  f"{least}x{least} the generator takes; it is mirror-padded to that size and "
                  "the result cropped back", file=sys.stderr)
        target = targets[path]
        label = f"{n}/{len(sizes)} {os.path.basename(path)}"
        try:
            result = Image.fromarray(translate_image(generator, image, bar, label))
            # a temporary file renamed over the target: a full disk leaves no half a PNG,
            # and a file already at that path stays whole until the new one is
            replace_atomically(target, lambda tmp: result.save(tmp, format="PNG"))
        except OSError as e:
            p.exit(1, f"error: cannot write {target} ({e.strerror or e}); free some space or "
                      "choose another --out\n")
        except MemoryError as e:  # the estimate was short, or memory went to someone else
            _skip(f"{path}: out of memory ({e}); try --resize")
            continue
        done += 1
        bar.clear()  # the bar's line, before stdout writes over it
        print(f"{path} -> {target}")
    bar.close()
    return 1 if done == 0 else 0


def _skip(what):
    """Warn that ``what`` (an image and why) is left out; the other images are translated."""
    print(f"warning: skipping {what}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

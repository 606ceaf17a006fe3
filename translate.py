"""Translate images with a trained generator.

    python translate.py --checkpoint runs/day2night/checkpoint.npz photo.jpg
    python translate.py --checkpoint runs/day2night/checkpoint.npz --direction BtoA night/ --out day/
    python translate.py --checkpoint runs/day2night/G_A.npz folder/

--checkpoint is either a training checkpoint (train.py's checkpoint.npz: both generators, the
direction picks G_A for AtoB or G_B for BtoA) or one generator's weights (G_A.npz or G_B.npz,
written beside it; the direction is then the one that generator was trained for). Either way
the file says the generator's architecture (ngf, n_blocks, channels): a checkpoint in its
configuration, a generator file in an entry of its own.

The generator halves the image twice and doubles it back, so both sides must be multiples of
4. Images are *padded*, not resized: mirrored by up to 3 pixels on the right and bottom, and the
result cropped back to the original size, so nothing is resampled and the aspect ratio is kept.
Use --resize to scale large photos down first (a generator trained on small crops sees its
textures at the scale it learned).
"""
import argparse
import os
import sys

import numpy as np

import nn
from cyclegan_support import data, training_io
from cyclegan_support.device import select_device

__all__ = ["load_generator", "translate_image", "main"]


def load_generator(path, direction="AtoB", device="cpu"):
    """The generator stored in ``path`` for ``direction``, in eval mode on ``device``."""
    from cyclegan import ResnetGenerator

    state, architecture = training_io.read_generator(path, "G_A" if direction == "AtoB" else "G_B")
    generator = ResnetGenerator(**architecture)
    generator.load_state_dict(state)
    return generator.to(device).eval()


def translate_image(generator, image):
    """uint8 (H, W, 3) -> uint8 (H, W, 3): mirror-pad to multiples of 4, translate, crop back."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")
    x = data.to_model_range(padded[None])
    xp = nn.get_array_module(generator.parameters()[0].data)
    with nn.no_grad():
        y = generator(nn.Tensor(nn.backend.to_device(x, xp))).data
    return data.to_uint8(nn.to_host(y))[0, :h, :w]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="an image, or a folder of images")
    p.add_argument("--checkpoint", required=True,
                   help="train.py's checkpoint.npz, or one generator's G_A.npz / G_B.npz")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                   help="AtoB uses G_A, BtoA uses G_B (default: %(default)s)")
    p.add_argument("--out", default="translated", help="folder for the PNGs (default: %(default)s)")
    p.add_argument("--resize", type=int, help="scale each image so its shorter side has this "
                   "many pixels before translating (default: keep the size)")
    p.add_argument("--gpu", action="store_true", help="run on a CUDA GPU with CuPy")
    args = p.parse_args(argv)
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
    from PIL import Image
    failed = 0
    for path in paths:
        try:
            image = data.read_image(path, shorter_side=args.resize)
        except data.unreadable_errors() as e:
            print(f"warning: skipping {path}: not a readable image ({e})", file=sys.stderr)
            failed += 1
            continue
        target = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0] + ".png")
        try:
            Image.fromarray(translate_image(generator, image)).save(target)
        except OSError as e:
            p.exit(1, f"error: cannot write {target} ({e.strerror or e}); free some space or "
                      "choose another --out\n")
        print(f"{path} -> {target}")
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main())

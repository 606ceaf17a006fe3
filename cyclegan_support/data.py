"""Unpaired image data for CycleGAN: folders, the training transform, and the epoch sampler.

A dataset in the official layout is a folder ``dataroot/{trainA, trainB, testA, testB}`` of
images. Each image is decoded once, converted to RGB and resized to ``load_size`` x ``load_size``
(bicubic, as the official ``resize_and_crop``); the random part of the official transform, a
``crop_size`` crop and a horizontal flip, is applied per batch. Keeping the resized images in
memory (uint8, 3 * load_size**2 bytes each) is why a CPU epoch is not spent decoding JPEGs.

Batches are float32 (N, 3, crop_size, crop_size) in [-1, 1], the range of the generator's tanh.
All randomness comes from one ``numpy.random.Generator`` whose state a checkpoint stores.
"""
import contextlib
import errno
import os
import stat
import warnings

import numpy as np

from nn.state import rng_state, set_rng_state

__all__ = ["IMAGE_EXTENSIONS", "LAYOUT", "check_dataroot", "not_a_file_or_folder",
           "find_images", "to_rgb", "unreadable_errors", "ImageTooLarge", "scaled_size",
           "open_image", "bounded_decode", "image_size", "read_image", "load_folder", "to_model_range", "to_uint8",
           "UnalignedLoader"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
LAYOUT = ("a dataset is a folder holding trainA/ and trainB/ (the images of each domain) and, "
          "optionally, testA/ and testB/ (images shown in the sample grids)")


def check_dataroot(root):
    """Raise FileNotFoundError naming ``root`` unless it is a folder with trainA and trainB.

    Called before anything is loaded or written, so a mistyped path fails in a second."""
    if not os.path.exists(root):
        raise FileNotFoundError(f"--dataroot {root!r} does not exist; {LAYOUT}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--dataroot {root!r} is a file, not a folder; {LAYOUT}")
    missing = [d for d in ("trainA", "trainB") if not os.path.isdir(os.path.join(root, d))]
    if missing:
        raise FileNotFoundError(f"--dataroot {root!r} has no {' and no '.join(missing)} "
                                f"folder; {LAYOUT}")


def not_a_file_or_folder(path):
    """None when ``path`` (its symbolic links followed) is a regular file or a folder; else what
    it is instead, as a phrase: "a FIFO (named pipe)", "a symbolic link that leads in a loop",
    "a symbolic link to 'x', which does not exist", "not there", ... Nothing is opened: a FIFO
    would make ``open`` wait for a writer, forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link that leads in a loop (it, or a link it names, points back)"
        if os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
        if e.errno == errno.ENOENT:
            return "not there"
        return f"not readable ({e.strerror or e})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file") + \
        ", not a file"


def find_images(folder):
    """Sorted paths of the regular files in ``folder`` whose names end in an image extension.

    An entry with such a name that is no regular file (a FIFO, a device, a folder, a symbolic
    link that loops or leads nowhere) is left out with a warning naming it: reading a FIFO
    would wait forever."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no folder {folder!r}; {LAYOUT}")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    paths = []
    for path in (os.path.join(folder, n) for n in names):
        problem = not_a_file_or_folder(path)
        if problem is None and os.path.isdir(path):
            problem = "a folder"
        if problem is None:
            paths.append(path)
        else:
            warnings.warn(f"skipping {path}: {problem}", stacklevel=2)
    return paths


def to_rgb(image):
    """A Pillow image of any mode as an RGB one.

    Pillow's own ``convert("RGB")`` clips 16-bit greyscale (modes "I;16", "I") at 255, which
    turns a 16-bit scan into a white page; those are scaled to 8 bits first (x / 257, so 65535
    becomes 255). Float images ("F") are taken to be in [0, 1]. Alpha is dropped, as the
    official code does; CMYK, palette, 1-bit and greyscale go through Pillow's conversion.
    """
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        x = np.asarray(image, dtype=np.float64)
        x = x * 255 if image.mode == "F" else x / 257
        image = Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def unreadable_errors():
    """The exceptions Pillow raises on a file that is not a readable image (SyntaxError comes
    from some plugins' parsers, DecompressionBombError from an image larger than its limit)."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class ImageTooLarge(ValueError):
    """An image with more pixels than Pillow decodes (twice ``Image.MAX_IMAGE_PIXELS``, about
    179 million, 0.5 GiB as RGB) that cannot be decoded at a reduced scale; the message says
    how large it is and what to do."""


def scaled_size(size, shorter_side):
    """(width, height) of an image of ``size`` (width, height) scaled, aspect kept, to a
    shorter side of ``shorter_side`` pixels (each side rounded, at least 1)."""
    w, h = size
    scale = shorter_side / min(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


@contextlib.contextmanager
def open_image(path):
    """``Image.open(path)`` without Pillow's refusal of images above its pixel limit, so that
    the size of a very large image can be read and reported: opening reads only the header.
    ``bounded_decode`` then keeps the decoding within that limit."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS  # Pillow checks this module-level limit inside open()
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    with image:
        yield image


def _turned(image, header_only=False):
    """Whether the EXIF orientation turns ``image`` by 90 degrees (``exif_transpose`` swaps
    its width and height). With ``header_only``, a PNG is not decoded to find EXIF data that
    follows its pixels (Pillow's PNG ``getexif`` would), and such a PNG counts as not turned."""
    if header_only and image.format == "PNG" and "exif" not in image.info:
        return False
    return image.getexif().get(0x0112) in (5, 6, 7, 8)  # 0x0112: the EXIF Orientation tag


def bounded_decode(image, wanted=None):
    """Make sure decoding ``image`` (opened, not yet decoded) stays within Pillow's pixel
    limit: a larger JPEG is asked to decode at 1/2, 1/4 or 1/8 of its size when ``wanted``
    (width, height) is that small still (Pillow's ``draft``, done by the JPEG decoder itself);
    otherwise raise ImageTooLarge. Images within the limit are left as they are."""
    from PIL import Image

    limit = None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS
    w, h = image.size
    if limit is None or w * h <= limit:
        return
    if wanted is not None:
        image.draft(None, wanted)  # JPEG only; other formats keep their size
        if image.size[0] * image.size[1] <= limit:
            return
    if image.format == "JPEG":
        advice = ("ask for a smaller size (translate.py --resize), at which a JPEG is decoded "
                  "directly, or scale it down with an image editor first")
    else:
        advice = "scale it down with an image editor first"
    raise ImageTooLarge(f"too large to decode: {w}x{h} pixels, more than the {limit:,} decoded "
                        f"at once (it would take {w * h * 3 / 2 ** 30:.1f} GiB as RGB); {advice}")


def _wanted(size, turned, load_size=None, shorter_side=None):
    """(width, height) ``read_image`` returns for an image of ``size`` as stored (None: its
    own), and that size as stored (turned back when the EXIF orientation turns it)."""
    shown = size[::-1] if turned else size
    if load_size is not None:
        shown = (load_size, load_size)
    elif shorter_side is not None:
        shown = scaled_size(shown, shorter_side)
    return shown, (shown[::-1] if turned else shown)


def image_size(path, shorter_side=None):
    """(width, height) that ``read_image(path, shorter_side=...)`` returns, from the header
    alone (nothing decoded); raises ImageTooLarge when read_image would. (A PNG whose EXIF
    orientation follows its pixels is measured unturned: finding it means decoding.)"""
    with open_image(path) as image:
        shown, stored = _wanted(image.size, _turned(image, header_only=True),
                                shorter_side=shorter_side)
        bounded_decode(image, stored if shorter_side is not None else None)
    return shown


def read_image(path, load_size=None, shorter_side=None):
    """One image as uint8 (H, W, 3) RGB: (load_size, load_size, 3) when ``load_size`` is given,
    scaled to a shorter side of ``shorter_side`` pixels (aspect kept) when that is, else as is.

    The EXIF orientation is applied first, so a phone photo is not trained on sideways;
    greyscale, palette and RGBA images become RGB (alpha is dropped, as the official code does).
    16-bit images are scaled to 8 bits (see ``to_rgb``). Any size and aspect ratio is
    accepted: the resize to a square is the official transform (it stretches, never crops).
    Resizing is bicubic. An image above Pillow's pixel limit is decoded at a reduced scale
    where the format allows it (JPEG), else refused (``bounded_decode``). Raises one of
    ``unreadable_errors()`` (OSError, Pillow's UnidentifiedImageError, ...) when the file
    cannot be decoded, ImageTooLarge when it is too large to.
    """
    from PIL import Image, ImageOps  # imported here: importing this module stays cheap

    resized = load_size is not None or shorter_side is not None
    with open_image(path) as image:
        stored_size = image.size
        # a JPEG's EXIF is in its header, and only a JPEG is decoded at a reduced scale
        _, stored = _wanted(stored_size, _turned(image, header_only=True), load_size,
                            shorter_side)
        bounded_decode(image, stored if resized else None)
        shown, _ = _wanted(stored_size, _turned(image), load_size, shorter_side)
        image = to_rgb(ImageOps.exif_transpose(image))
        if image.size != shown:
            image = image.resize(shown, Image.BICUBIC)
        return np.asarray(image, dtype=np.uint8).copy()


def load_folder(folder, load_size, limit=None):
    """Every readable image of ``folder`` (or the first ``limit``): uint8 (N, load_size,
    load_size, 3) and their paths.

    A file that cannot be decoded (not an image, truncated, corrupt, or too large to decode:
    see ``bounded_decode``) is skipped with one warning naming it; a folder with no
    readable image at all is an error, since training on nothing would fail much later.
    """
    images, paths = [], []
    candidates = find_images(folder)
    for path in candidates:
        if limit is not None and len(images) == limit:
            break
        try:
            images.append(read_image(path, load_size))
            paths.append(path)
        except ImageTooLarge as e:
            warnings.warn(f"skipping {path}: {e}", stacklevel=2)
        except unreadable_errors() as e:
            warnings.warn(f"skipping {path}: not a readable image ({e})", stacklevel=2)
    if not images:
        raise ValueError(f"{folder!r} holds no readable image ({len(candidates)} files with an "
                         f"image extension: {', '.join(IMAGE_EXTENSIONS)}); put the pictures of "
                         "this domain there")
    return np.stack(images), paths


def to_model_range(images):
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1]: x / 127.5 - 1."""
    x = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
    return x / np.float32(127.5) - np.float32(1)


def to_uint8(x):
    """float (N, 3, H, W) in [-1, 1] (NumPy) -> uint8 (N, H, W, 3), clipped and rounded."""
    x = (np.asarray(x, dtype=np.float32) + 1) * 127.5
    return np.clip(np.rint(x), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


class UnalignedLoader:
    """Unpaired batches (real_A, real_B), the official unaligned sampling:

    an epoch has max(|A|, |B|) items; item k takes A[perm[k] % |A|] for a fresh permutation and
    a B image drawn uniformly at random, so neither domain fixes a partner for the other. Each
    image gets its own random crop and flip (A and B independently). Batches hold ``batch_size``
    items, the last one fewer, as the official loader (no drop_last).

    images_A, images_B: uint8 (N, L, L, 3) at load size. Batches: float32 (N, 3, crop, crop).

    For an exact resume the whole epoch's plan (order, B draws, crops, flips) is drawn at the
    start of the epoch, and ``state_dict`` records the generator's state *before* that draw:
    redrawing from it and skipping the batches already seen reproduces the rest of the epoch.
    """

    def __init__(self, images_A, images_B, crop_size, batch_size=1, seed=0):
        for name, images in (("A", images_A), ("B", images_B)):
            if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
                raise ValueError(f"images_{name} must be uint8 (N, H, W, 3), got "
                                 f"{images.dtype} {images.shape}")
            if min(images.shape[1:3]) < crop_size:
                raise ValueError(f"crop_size {crop_size} is larger than the {name} images "
                                 f"({images.shape[1]}x{images.shape[2]}); raise load_size")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.images_A, self.images_B = images_A, images_B
        self.crop_size, self.batch_size = crop_size, batch_size
        self.rng = np.random.default_rng(seed)
        self._epoch_start = rng_state(self.rng)

    @property
    def epoch_size(self):
        """Images per epoch: max(|A|, |B|)."""
        return max(len(self.images_A), len(self.images_B))

    def __len__(self):
        """Batches per epoch."""
        return -(-self.epoch_size // self.batch_size)

    def plan_epoch(self):
        """Draw one epoch: A indices, B indices, crop corners (y, x) and flips for A and B."""
        rng, n = self.rng, self.epoch_size
        plan = {"A": rng.permutation(n) % len(self.images_A),
                "B": rng.integers(0, len(self.images_B), size=n)}
        for domain in ("A", "B"):
            images = self.images_A if domain == "A" else self.images_B
            h, w = images.shape[1:3]
            plan[domain + "_y"] = rng.integers(0, h - self.crop_size + 1, size=n)
            plan[domain + "_x"] = rng.integers(0, w - self.crop_size + 1, size=n)
            plan[domain + "_flip"] = rng.random(n) < 0.5
        return plan

    def crop(self, images, index, y, x, flip):
        """uint8 (len(index), crop, crop, 3): crops of images[index], mirrored where flip."""
        c = self.crop_size
        out = np.stack([images[i, yy:yy + c, xx:xx + c] for i, yy, xx in zip(index, y, x)])
        out[flip] = out[flip, :, ::-1]
        return out

    def epoch(self, start=0):
        """Yield the epoch's batches (real_A, real_B), skipping the first ``start`` of them."""
        self._epoch_start = rng_state(self.rng)
        plan = self.plan_epoch()
        for b in range(start, len(self)):
            s = slice(b * self.batch_size, (b + 1) * self.batch_size)
            batch = [to_model_range(self.crop(images, plan[d][s], plan[d + "_y"][s],
                                              plan[d + "_x"][s], plan[d + "_flip"][s]))
                     for d, images in (("A", self.images_A), ("B", self.images_B))]
            yield batch[0], batch[1]
        self._epoch_start = rng_state(self.rng)

    def state_dict(self):
        """{"rng": the generator's state at the start of the current (or the next) epoch}."""
        return {"rng": self._epoch_start}

    def load_state_dict(self, state):
        set_rng_state(self.rng, state["rng"])
        self._epoch_start = rng_state(self.rng)

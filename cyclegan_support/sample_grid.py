"""The sample grid: batches of images side by side, one row a batch, under a label column, as
train.py writes one every epoch (and lesson 10 and docs/sample_pretrained.py draw theirs)."""
import numpy as np

import nn
from nn.serialization import replace_atomically
from cyclegan_support.data import to_uint8

__all__ = ["GRID_ROWS", "sample_grid", "save_png"]

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

    replace_atomically(path, lambda tmp: Image.fromarray(image).save(tmp))

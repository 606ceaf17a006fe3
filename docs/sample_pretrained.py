"""Make docs/sample_pretrained.png: a generator trained here, exported to a PyTorch .pth and
translated from that file by translate.py, on built-in test scenes whose true translation is
known.

    python train.py --out runs/small --crop-size 32 --load-size 36 --ngf 8 --ndf 8 \\
        --n-blocks 2 --n-epochs 3 --n-epochs-decay 3
    python docs/sample_pretrained.py runs/small/G_A.npz        # -> docs/sample_pretrained.png

Prints the mean absolute error of the translation against the true night scenes.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cyclegan_support import builtin_data, data  # noqa: E402
from cyclegan_support.sample_grid import sample_grid  # noqa: E402


def main(weights, count=6, size=36):
    day = builtin_data.render_scenes(0, "test", count, "day", size)
    night = builtin_data.render_scenes(0, "test", count, "night", size)
    work = tempfile.mkdtemp()
    pth = os.path.join(work, "G_A.pth")
    run = [sys.executable, os.path.join(ROOT, "translate.py")]
    subprocess.run(run + ["--export", weights, pth], check=True)
    folder = os.path.join(work, "day")
    os.makedirs(folder)
    for i, image in enumerate(day):
        Image.fromarray(image).save(os.path.join(folder, f"{i}.png"))
    out = os.path.join(work, "night")
    subprocess.run(run + ["--checkpoint", pth, folder, "--out", out], check=True)
    fake = np.stack([np.asarray(Image.open(os.path.join(out, f"{i}.png"))) for i in range(count)])
    rows = [data.to_model_range(x) for x in (day, fake, night)]
    error = builtin_data.translation_error(rows[1], rows[2])
    print(f"translated from {pth}: mean absolute error {error:.3f} against the true night "
          f"scenes (identity {builtin_data.translation_error(rows[0], rows[2]):.3f})")
    grid = sample_grid(rows, labels=("day", "from .pth", "true night"), min_tile=96)
    Image.fromarray(grid).save(os.path.join(ROOT, "docs", "sample_pretrained.png"))


if __name__ == "__main__":
    main(sys.argv[1])

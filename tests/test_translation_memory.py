"""translate.estimate_translation_memory against the peak memory translate.py was measured at.

The estimate lets translate.py refuse a photo that will not fit before it starts. It should
be close, and rather above than below: a refusal of a photo that would just have fitted
costs a --resize, running out of memory midway costs the whole run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import nn
from cyclegan import ResnetGenerator
from translate import estimate_translation_memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (width, height, ngf, n_blocks): peak RSS in MiB of `python translate.py --checkpoint
# G.npz photo.jpg` (/usr/bin/time -v), random weights, a random JPEG, measured once.
MEASURED = {
    (4000, 3000, 16, 3): 1594,
    (4000, 3000, 8, 3): 902,
    (2000, 1500, 4, 2): 215,
    (1200, 900, 16, 3): 285,
    (1024, 768, 64, 9): 535,
    (640, 480, 16, 3): 167,
    (64, 64, 16, 3): 47,
    (64, 64, 64, 9): 132,
}


@pytest.mark.parametrize("case", sorted(MEASURED))
def test_estimate_is_close_to_the_measured_peak(case):
    width, height, ngf, n_blocks = case
    estimate = estimate_translation_memory(height, width, ngf, n_blocks) / 2 ** 20
    measured = MEASURED[case]
    assert 0.9 * measured <= estimate <= 1.3 * measured, (
        f"{width}x{height}, ngf {ngf}, {n_blocks} blocks: estimated {estimate:.0f} MiB, "
        f"measured {measured} MiB")


def test_a_phone_photo_fits_in_2_gib_and_a_huge_one_does_not():
    assert estimate_translation_memory(3000, 4000, ngf=16, n_blocks=3) < 2 * 2 ** 30
    assert estimate_translation_memory(12000, 12000, ngf=16, n_blocks=3) > 16 * 2 ** 30


def test_estimate_grows_with_the_image_and_the_width_of_the_network():
    small = estimate_translation_memory(256, 256, 16, 3)
    assert estimate_translation_memory(512, 512, 16, 3) > small
    assert estimate_translation_memory(256, 256, 32, 3) > small
    assert estimate_translation_memory(256, 256, 16, 9) > small
    # Sides are padded to multiples of 4, as translate.py pads them.
    assert estimate_translation_memory(253, 255, 16, 3) == estimate_translation_memory(256, 256, 16, 3)


def test_estimate_holds_for_a_translation_run_now(tmp_path):
    """translate.py on a 640x480 photo, measured now: the estimate is close to its peak."""
    from PIL import Image
    generator = ResnetGenerator(ngf=16, n_blocks=3, rng=np.random.default_rng(0))
    nn.save(str(tmp_path / "G_A.npz"), generator.state_dict())
    image = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    probe = ("import runpy, sys; sys.argv = sys.argv[1:]; "
             "sys.path.insert(0, '.'); code = 0\n"
             "try:\n    runpy.run_path('translate.py', run_name='__main__')\n"
             "except SystemExit as e:\n    code = e.code or 0\n"
             # VmHWM, not ru_maxrss: a child's ru_maxrss starts from the size of the pytest
             # process that forked it.
             "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
             "print('peak', hwm[0].split()[1], code)")
    out = subprocess.run([sys.executable, "-c", probe, "translate.py", "--checkpoint",
                          str(tmp_path / "G_A.npz"), str(tmp_path / "photo.png"), "--out",
                          str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    line = [l for l in out.stdout.splitlines() if l.startswith("peak ")]
    assert line, out.stdout + out.stderr
    _, kib, code = line[-1].split()
    assert code == "0", out.stdout + out.stderr
    measured = int(kib) * 1024
    estimate = estimate_translation_memory(480, 640, 16, 3)
    assert 0.9 * measured <= estimate <= 1.3 * measured, (measured / 2 ** 20, estimate / 2 ** 20)

"""What a user can get wrong, and what can go wrong while training: every case ends in a clear
message (status 2 for bad input, 1 for a fault; no traceback) or is handled, and no run is lost.

Runs are tiny (TINY in tests/cli.py: ngf = ndf = 2, one residual block, 24-pixel crops, a
handful of images); the finished one that several tests start from is conftest.py's.
"""
import json
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from cli import ROOT, TINY, assert_clean_error, run_main
import cyclegan
from cyclegan_support import data
import handmade
import nn
import train
import translate

def snapshot(folder):
    """{relative path: (bytes, mtime)} of every file under ``folder``."""
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = (f.read(), os.stat(path).st_mtime_ns)
    return files


def _png16(path, pixels, color_type):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB): color_type 0 grey, 2 RGB."""
    h, w = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    handmade.png(path, w, h, 16, color_type, zlib.compress(raw))


def _image(seed, h=30, w=40):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def make_dataset(root, n=3):
    for domain in ("trainA", "trainB"):
        os.makedirs(root / domain)
        for i in range(n):
            Image.fromarray(_image(hash(domain) % 100 + i)).save(root / domain / f"{i}.png")
    return root


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, words", [
    ("missing", ["does not exist", "trainA/ and trainB/"]),
    ("file", ["is a file, not a folder", "trainA/ and trainB/"]),
    ("no trainB", ["has no trainB folder", "trainA/ and trainB/"]),
])
def test_dataroot_must_be_a_folder_with_trainA_and_trainB(tmp_path, capsys, layout, words):
    root = tmp_path / "data"
    if layout == "file":
        root.write_text("not a folder")
    elif layout == "no trainB":
        (root / "trainA").mkdir(parents=True)
    out = tmp_path / "out"
    status, _, err = run_main(train.main, ["--dataroot", str(root), "--out", str(out)], capsys)
    assert_clean_error(status, err, str(root), *words)
    assert not out.exists()  # checked before anything is written


def test_a_domain_without_images_is_named(tmp_path, capsys):
    root = make_dataset(tmp_path / "data")
    for f in (root / "trainB").iterdir():
        f.unlink()
    (root / "trainB" / "README.txt").write_text("pictures go here")
    status, _, err = run_main(train.main, TINY + ["--dataroot", str(root),
                                                  "--out", str(tmp_path / "out")], capsys)
    assert_clean_error(status, err, str(root / "trainB"), "holds no readable image")


def _unreadable_files(folder):
    """A text file named .jpg, an empty .png, and a PNG and a JPEG cut in half."""
    (folder / "text.jpg").write_text("this is not an image")
    (folder / "empty.png").write_bytes(b"")
    for name, fmt in (("cut.png", "PNG"), ("cut.jpg", "JPEG")):
        Image.fromarray(_image(9, 64, 64)).save(folder / "whole", format=fmt)
        whole = (folder / "whole").read_bytes()
        (folder / name).write_bytes(whole[:len(whole) // 2])
        (folder / "whole").unlink()
    return ["text.jpg", "empty.png", "cut.png", "cut.jpg"]


def test_unreadable_files_are_skipped_with_one_warning_each(tmp_path, capsys):
    root = make_dataset(tmp_path / "data")
    bad = _unreadable_files(root / "trainA")
    out = tmp_path / "out"
    status, _, err = run_main(train.main, TINY + ["--n-epochs-decay", "0", "--dataroot",
                                                  str(root), "--out", str(out)], capsys)
    assert status == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: skipping")]
    assert len(warnings) == len(bad)
    for name in bad:
        assert sum(str(root / "trainA" / name) in w for w in warnings) == 1, name
    assert "Traceback" not in err and (out / "checkpoint.npz").is_file()


def test_a_domain_of_unreadable_files_is_an_error(tmp_path, capsys):
    root = make_dataset(tmp_path / "data")
    for f in (root / "trainA").iterdir():
        f.unlink()
    _unreadable_files(root / "trainA")
    status, _, err = run_main(train.main, TINY + ["--dataroot", str(root),
                                                  "--out", str(tmp_path / "out")], capsys)
    assert_clean_error(status, err, str(root / "trainA"), "holds no readable image")
    assert err.count("warning: skipping") == 4


def _save_mode(folder, kind):
    """One 10 x 6 (wide) image of ``kind`` whose RGB meaning is known: returns its path and
    the expected RGB colour."""
    path = str(folder / f"{kind}.png")
    if kind == "grey":
        Image.new("L", (10, 6), 100).save(path)
        return path, (100, 100, 100)
    if kind == "rgba":
        Image.new("RGBA", (10, 6), (10, 20, 30, 0)).save(path)  # alpha dropped, colour kept
        return path, (10, 20, 30)
    if kind == "palette":
        Image.new("RGB", (10, 6), (200, 50, 25)).quantize(colors=2).save(path)
        return path, (200, 50, 25)
    if kind == "grey16":  # Pillow alone would clip 77 * 257 to 255: a white page
        _png16(path, np.full((6, 10), 77 * 257, np.uint16), color_type=0)
        return path, (77, 77, 77)
    if kind == "rgb16":
        _png16(path, np.broadcast_to(np.array([65535, 128 * 257, 10 * 257], np.uint16),
                                     (6, 10, 3)), color_type=2)
        return path, (255, 128, 10)
    if kind == "cmyk":
        path = path[:-4] + ".jpg"
        Image.new("CMYK", (10, 6), (0, 255, 0, 0)).save(path, quality=95)
        return path, (255, 0, 255)  # no cyan, full magenta, no yellow or black
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["grey", "rgba", "palette", "grey16", "rgb16", "cmyk"])
def test_every_colour_mode_becomes_rgb(tmp_path, kind):
    path, colour = _save_mode(tmp_path, kind)
    image = data.read_image(path, load_size=8)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    tolerance = 6 if kind == "cmyk" else 0  # JPEG is lossy
    assert np.abs(image.astype(int) - colour).max() <= tolerance, image[0, 0]


@pytest.mark.parametrize("orientation, top, bottom", [(6, 0, 2), (8, 2, 0), (3, None, None)])
def test_exif_rotation_of_a_wide_photo_is_applied(tmp_path, orientation, top, bottom):
    # Stored 12 wide and 6 tall: left half red (channel 0), right half blue (channel 2).
    pixels = np.zeros((6, 12, 3), np.uint8)
    pixels[:, :6, 0] = 255
    pixels[:, 6:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = data.read_image(str(tmp_path / "phone.jpg"), load_size=12).astype(int)
    if top is None:  # 180 degrees: red goes to the right
        assert image[:, -1, 0].min() > 200 and image[:, 0, 2].min() > 200
    else:  # 90 degrees either way: the halves become top and bottom
        assert image[0, :, top].min() > 200 and image[0, :, 2 - top].max() < 60
        assert image[-1, :, bottom].min() > 200 and image[-1, :, 2 - bottom].max() < 60


def test_an_empty_test_folder_is_a_warning(tmp_path, capsys):
    root = make_dataset(tmp_path / "data", n=2)
    (root / "testA").mkdir()
    (root / "testA" / "notes.txt").write_text("no pictures yet")
    status, _, err = run_main(train.main, TINY + ["--n-epochs-decay", "0", "--dataroot",
                                                  str(root), "--out", str(tmp_path / "o")], capsys)
    assert status == 0, err
    assert "warning: " in err and "training images instead" in err and "Traceback" not in err


def test_odd_sizes_and_modes_train_without_a_crash(tmp_path, capsys):
    root = make_dataset(tmp_path / "data", n=1)
    folder = root / "trainA"
    for kind in ("grey", "rgba", "palette", "grey16", "rgb16", "cmyk"):
        _save_mode(folder, kind)
    Image.fromarray(_image(1, 5, 7)).save(folder / "tiny.png")  # smaller than the crop
    ramp = np.linspace(0, 255, 1600).astype(np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (900, 1))] * 3, axis=2)).save(folder / "wide.png")
    status, _, err = run_main(train.main, TINY + ["--n-epochs-decay", "0", "--dataroot",
                                                  str(root), "--out", str(tmp_path / "o")], capsys)
    assert status == 0 and "warning" not in err, err
    images, _ = data.load_folder(str(folder), 28)
    assert images.shape == (9, 28, 28, 3)  # one image per kind, plus 0.png


def test_translation_pads_sizes_that_are_not_multiples_of_4(tmp_path, capsys):
    generator = cyclegan.ResnetGenerator(ngf=2, n_blocks=1, rng=np.random.default_rng(0))
    nn.save(tmp_path / "G_A.npz", generator.state_dict())
    Image.fromarray(_image(2, 13, 10)).save(tmp_path / "odd.png")
    status, _, err = run_main(translate.main, ["--checkpoint", str(tmp_path / "G_A.npz"),
                                               str(tmp_path / "odd.png"), "--out",
                                               str(tmp_path / "t")], capsys)
    assert status == 0, err
    assert Image.open(tmp_path / "t" / "odd.png").size == (10, 13)


@pytest.mark.parametrize("argv, message", [
    (["--n-epochs", "-1"], "must be >= 0"),
    (["--lr", "0"], "must be > 0"),
    (["--lr=-1e-3"], "must be > 0"),
    (["--batch-size", "0"], "must be >= 1"),
    (["--pool-size", "-1"], "must be >= 0"),
    (["--crop-size", "30"], "multiple of 4"),
    (["--crop-size", "64", "--load-size", "60"], "smaller than --crop-size"),
    (["--n-epochs", "0", "--n-epochs-decay", "0"], "nothing to train"),
])
def test_out_of_range_options(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    status, _, err = run_main(train.main, argv + ["--out", str(out)], capsys)
    assert_clean_error(status, err, message)
    assert not out.exists()


@pytest.mark.parametrize("damage", ["missing", "truncated", "corrupt", "not a checkpoint"])
def test_resume_from_a_bad_checkpoint_changes_nothing(run_copy, capsys, damage):
    path = run_copy / "checkpoint.npz"
    whole = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(whole[:len(whole) // 2])
    elif damage == "corrupt":  # the zip directory is intact, an array's bytes are not
        middle = len(whole) // 2
        path.write_bytes(whole[:middle] + bytes(b ^ 0xFF for b in whole[middle:middle + 64])
                         + whole[middle + 64:])
    else:
        shutil.copy(run_copy / "G_A.npz", path)
    before = snapshot(run_copy)
    status, _, err = run_main(train.main, ["--resume", "--out", str(run_copy)], capsys)
    assert_clean_error(status, err, str(path))
    assert snapshot(run_copy) == before


def _rewrite_config(path, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(str(arrays["train.config"]))
    arrays["train.config"] = np.array(json.dumps({**config, **changes}))
    np.savez(path, **arrays)


@pytest.mark.parametrize("changes, words", [
    ({"ngf": 4}, ["'G_A.model.1.weight'", "(2, 3, 7, 7)", "(4, 3, 7, 7)"]),
    ({"n_blocks": 2}, ["G_A.model.", "lacks", "does not fit"]),
])
def test_resume_from_another_architecture_names_the_key(run_copy, capsys, changes, words):
    _rewrite_config(run_copy / "checkpoint.npz", **changes)  # weights of ngf 2, 1 block
    before = snapshot(run_copy)
    status, _, err = run_main(train.main, ["--resume", "--out", str(run_copy)], capsys)
    assert_clean_error(status, err, *words)
    assert snapshot(run_copy) == before


def test_resume_from_non_finite_weights_blames_the_checkpoint(run_copy, capsys):
    """A checkpoint whose weights hold a NaN: the answer names the checkpoint, not --lr, and
    the checkpoint is left as it was."""
    path = run_copy / "checkpoint.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["G_A.model.1.weight"][0, 0, 0, 0] = np.nan
    arrays["train.epoch"] = np.int64(2)  # back inside the run, so that --resume trains
    np.savez(path, **arrays)
    before = path.read_bytes()
    status, _, err = run_main(train.main, ["--resume", "--out", str(run_copy)], capsys)
    assert_clean_error(status, err, str(path), "non-finite")
    assert "--lr" not in err
    assert path.read_bytes() == before


def test_resume_refuses_options_that_contradict_the_checkpoint(run_copy, capsys):
    before = snapshot(run_copy)
    status, _, err = run_main(train.main, ["--resume", "--out", str(run_copy), "--ngf", "8"],
                              capsys)
    assert_clean_error(status, err, "--ngf 2", "8")
    assert snapshot(run_copy) == before


class Trap:
    """Unpickling this calls open(marker, "w"): a visible side effect, had it been allowed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_pickled_checkpoints_are_refused_unread(run_copy, tmp_path, capsys):
    marker = tmp_path / "pickle_ran"
    with np.load(run_copy / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["trap"] = np.array([Trap(str(marker))], dtype=object)
    np.savez(run_copy / "checkpoint.npz", **arrays)
    # The trap works: a loader that allows pickle springs it.
    shutil.copy(run_copy / "checkpoint.npz", tmp_path / "bait.npz")
    with np.load(tmp_path / "bait.npz", allow_pickle=True) as f:
        f["trap"][0].close()
    assert marker.exists()
    marker.unlink()

    before = snapshot(run_copy)
    status, _, err = run_main(train.main, ["--resume", "--out", str(run_copy)], capsys)
    assert_clean_error(status, err, "checkpoint.npz", "pickled")
    status, _, err = run_main(translate.main, ["--checkpoint", str(run_copy / "checkpoint.npz"),
                                               str(tmp_path / "bait.npz"), "--out",
                                               str(tmp_path / "t")], capsys)
    assert_clean_error(status, err, "checkpoint.npz", "pickled")
    assert not marker.exists()
    assert snapshot(run_copy) == before


def run_without_a_device(tmp_path, program, argv, device_count):
    """``python program argv`` where ``import cupy`` finds a CuPy whose
    cuda.runtime.getDeviceCount() runs the statement ``device_count`` (which raises, or
    answers 0): the completed process."""
    fake = tmp_path / "fake"
    (fake / "cupy").mkdir(parents=True)
    (fake / "cupy" / "__init__.py").write_text(
        "class CUDARuntimeError(RuntimeError):\n    pass\n"
        "class runtime:\n    @staticmethod\n    def getDeviceCount():\n"
        f"        {device_count}\n"
        "class cuda:\n    runtime = runtime\n")
    return subprocess.run([sys.executable, program, *argv], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(fake)}, capture_output=True,
                          text=True, timeout=60)


def test_gpu_without_cupy_or_without_a_device(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    status, _, err = run_main(train.main, ["--gpu", "--out", str(out)], capsys)
    assert_clean_error(status, err, "not installed", "pip install cupy-cuda12x",
                       "pip install cupy-cuda13x")
    # Without a device, through the real entry point: a fake CuPy whose runtime finds no GPU.
    done = run_without_a_device(tmp_path, "train.py", ["--gpu", "--out", str(out)],
                                "raise CUDARuntimeError('cudaErrorNoDevice: no CUDA-capable "
                                "device is detected')")
    assert_clean_error(done.returncode, done.stderr, "no CUDA device", "cudaErrorNoDevice",
                       "nvidia-smi", "without --gpu")
    assert not out.exists()


def test_translate_gpu_gives_the_same_hints_as_train(tmp_path, capsys, monkeypatch):
    argv = ["--gpu", "--checkpoint", "x.npz", str(tmp_path), "--out", str(tmp_path / "t")]
    monkeypatch.setitem(sys.modules, "cupy", None)
    status, _, err = run_main(translate.main, argv, capsys)
    assert_clean_error(status, err, "not installed", "pip install cupy-cuda12x", "without --gpu")
    done = run_without_a_device(tmp_path, "translate.py", argv, "return 0")
    assert_clean_error(done.returncode, done.stderr, "no CUDA device", "nvidia-smi",
                       "without --gpu")


def test_an_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")
    out = blocker / "run"
    status, out_text, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert_clean_error(status, err, str(out), "choose a folder")
    assert "training on" not in out_text  # refused before anything was loaded
    status, _, err = run_main(translate.main, ["--checkpoint", "x.npz", str(blocker), "--out",
                                               str(out)], capsys)
    assert status == 2 and "Traceback" not in err


def test_a_file_named_samples_in_the_output_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples").write_text("a file where the sample grids' folder should be")
    status, out_text, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert_clean_error(status, err, "cannot write to the output folder", "samples",
                       "choose a folder")
    assert "checkpoint" not in err and "training on" not in out_text
    # The same when the file appears after the checks, while the run is being built.
    other = tmp_path / "other"
    build_model = train.build_model

    def build_model_late(config, device):
        os.rmdir(other / "samples")
        (other / "samples").write_text("late")
        return build_model(config, device)
    monkeypatch.setattr(train, "build_model", build_model_late)
    status, _, err = run_main(train.main, TINY + ["--out", str(other)], capsys)
    assert_clean_error(status, err, "cannot write to the output folder", "samples")
    assert "checkpoint" not in err


def test_a_new_run_does_not_overwrite_an_old_one(run_copy, capsys):
    before = snapshot(run_copy)
    status, _, err = run_main(train.main, TINY + ["--out", str(run_copy)], capsys)
    assert_clean_error(status, err, "already holds a run", "--resume --out " + str(run_copy))
    assert snapshot(run_copy) == before

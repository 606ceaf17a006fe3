"""What translate.py writes, and what it reads first: outputs never replace each other or the
inputs, every PNG is written whole or not at all, --export replaces only a generator file of
its own kind, an input that is no regular file (a FIFO, a symbolic link loop) is named and
never waited on, and an image too large to decode is said to be too large.

Every case ends in a result or one message; none leaves a user's file changed.
"""
import errno
import io
import os
import signal
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from cli import assert_clean_error, run_main
import handmade
import nn
import translate
from cyclegan import CycleGAN
from cyclegan_support import data, generator_file
from cyclegan_support.checkpoint import load_checkpoint, save_checkpoint

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
WEIGHTS = os.path.join(FIXTURES, "tiny_G.pth")  # ngf 4, 2 residual blocks


def photo(path, h=12, w=16, seed=0, format=None):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(path, format=format)
    return image


def translate_cli(capsys, image, out, *more):
    return run_main(translate.main, ["--checkpoint", WEIGHTS, str(image), "--out", str(out),
                                     *more], capsys)


def contents(folder):
    """{name: bytes} of the files in ``folder`` (a FIFO is listed, never read)."""
    return {n: (open(os.path.join(folder, n), "rb").read()
                if os.path.isfile(os.path.join(folder, n)) else None)
            for n in sorted(os.listdir(folder))}


@pytest.fixture
def no_wait():
    """Fail, instead of hanging, when the test takes longer than 60 s (a FIFO opened for
    reading waits for a writer forever; the alarm interrupts that wait)."""
    def give_up(signum, frame):
        raise TimeoutError("waited 60 s: something opened a FIFO")
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- names that collide ---------------------------------------------------------------------

@pytest.mark.parametrize("names", [("a.png", "a.jpg", "a.PNG"), ("A.png", "a.bmp")])
def test_inputs_written_to_one_name_are_refused_before_anything_is_written(tmp_path, capsys,
                                                                           names):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(names + ("b.png",)):
        photo(folder / name, seed=i, format="PNG" if name.lower().endswith("png") else None)
    status, printed, err = translate_cli(capsys, folder, tmp_path / "t")
    assert_clean_error(status, err, *names, "would all be written to", "separate --out")
    assert err.count("error: ") == 1 and printed == ""
    assert not (tmp_path / "t").exists()  # refused before the output folder was made


def test_output_names_keep_the_name_and_end_in_png(tmp_path):
    paths = [str(tmp_path / n) for n in ("a.jpg", "b.PNG", "c.d.webp")]
    targets = translate.output_paths(paths, "out")
    assert targets == {paths[0]: os.path.join("out", "a.png"),
                       paths[1]: os.path.join("out", "b.png"),
                       paths[2]: os.path.join("out", "c.d.png")}
    with pytest.raises(ValueError, match=r"a.jpg and a.png would all be written to out.a.png"):
        translate.output_paths([str(tmp_path / "a.jpg"), str(tmp_path / "a.png")], "out")


# --- --out among the inputs -----------------------------------------------------------------

def test_out_that_is_the_input_folder_is_refused_unless_asked_for(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    original = photo(folder / "a.png")
    photo(folder / "b.jpg", seed=1)
    (tmp_path / "link").symlink_to(folder)
    before = contents(folder)
    for out in (folder, str(folder) + os.sep + ".", tmp_path / "link"):
        status, printed, err = translate_cli(capsys, folder, out)
        assert_clean_error(status, err, "is the folder the images are read from",
                           "--into-input-folder")
        assert printed == "" and contents(folder) == before
    status, printed, err = translate_cli(capsys, folder, folder, "--into-input-folder")
    assert status == 0, err
    assert sorted(os.listdir(folder)) == ["a.png", "b.jpg", "b.png"]
    assert contents(folder)["b.jpg"] == before["b.jpg"]
    translated = np.asarray(Image.open(folder / "a.png"))
    generator = translate.load_generator(WEIGHTS)
    np.testing.assert_array_equal(translated, translate.translate_image(generator, original))


def test_one_file_translated_in_its_own_folder_is_refused(tmp_path, capsys, monkeypatch):
    photo(tmp_path / "a.png")
    before = contents(tmp_path)
    status, _, err = translate_cli(capsys, tmp_path / "a.png", tmp_path)
    assert_clean_error(status, err, "is the folder", "a.png", "--into-input-folder")
    monkeypatch.chdir(tmp_path)
    status, _, err = translate_cli(capsys, "a.png", ".")
    assert_clean_error(status, err, "--into-input-folder")
    assert contents(tmp_path) == before


def test_help_names_the_option(capsys):
    status, printed, _ = run_main(translate.main, ["--help"], capsys)
    assert status == 0
    assert "--into-input-folder" in printed and "replaces an image of the same name" in printed


# --- atomic writes --------------------------------------------------------------------------

def test_a_full_disk_leaves_no_half_png_and_keeps_the_file_there(tmp_path, capsys, monkeypatch):
    photo(tmp_path / "photo.png")
    out = tmp_path / "t"
    out.mkdir()
    (out / "photo.png").write_bytes(b"an earlier translation")
    real_save = Image.Image.save

    def full_disk(self, fp, format=None, **options):  # the disk fills up halfway through
        whole = io.BytesIO()
        real_save(self, whole, format or "PNG")
        with open(fp, "wb") as f:
            f.write(whole.getvalue()[:40])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    status, printed, err = translate_cli(capsys, tmp_path / "photo.png", out)
    assert_clean_error(status, err, "cannot write", "No space left on device", code=1)
    assert contents(out) == {"photo.png": b"an earlier translation"}  # no temporary file left
    monkeypatch.setattr(Image.Image, "save", real_save)
    status, printed, err = translate_cli(capsys, tmp_path / "photo.png", out)
    assert status == 0, err
    assert os.listdir(out) == ["photo.png"] and Image.open(out / "photo.png").size == (16, 12)


# --- --export over an existing file ---------------------------------------------------------

def tiny_checkpoint(path):
    model = CycleGAN(ngf=2, ndf=2, n_blocks=1, pool_size=0)
    images = np.zeros((1, 8, 8, 3), np.uint8)
    save_checkpoint(path, model, data.UnalignedLoader(images, images, 8), 1, 0,
                                {"ngf": 2, "ndf": 2, "n_blocks": 1})
    return path


def test_export_refuses_to_replace_a_file_of_another_kind(tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path / "checkpoint.npz")
    (tmp_path / "notes.pth").write_text("my notes")
    (tmp_path / "weights.npz").write_bytes(open(WEIGHTS, "rb").read())  # a .pth, named .npz
    (tmp_path / "notes.npz").write_text("my notes")
    nn.save(tmp_path / "arrays.npz", {"x": np.zeros(3)})
    (tmp_path / "folder.pth").mkdir()
    os.mkfifo(tmp_path / "fifo.pth")
    cases = {"checkpoint.npz": "a training checkpoint",
             "notes.pth": "a file that holds no PyTorch generator",
             "notes.npz": "a file that is not an .npz archive",
             "weights.npz": "an .npz file that holds no generator",
             "arrays.npz": "an .npz file that holds no generator", "folder.pth": "a folder",
             "fifo.pth": "a FIFO"}
    before = contents(tmp_path)
    for name, what in cases.items():
        status, printed, err = run_main(translate.main, ["--export", WEIGHTS,
                                                         str(tmp_path / name)], capsys)
        assert_clean_error(status, err, f"{tmp_path / name} already exists and is {what}",
                           "Choose another OUT name")
        assert printed == ""
    assert contents(tmp_path) == before
    assert load_checkpoint(checkpoint).epoch == 1


def test_export_replaces_a_generator_file_of_its_own_kind(tmp_path, capsys):
    generator = translate.load_generator(WEIGHTS)
    nn.save_pth(tmp_path / "G.pth", {k: v * 0 for k, v in generator.state_dict().items()})
    generator_file.save_generator(tmp_path / "G.npz", translate.load_generator(WEIGHTS))
    nn.save(tmp_path / "bare.npz", {k: v * 0 for k, v in generator.state_dict().items()})
    for name in ("G.pth", "G.npz", "bare.npz"):
        status, printed, err = run_main(translate.main, ["--export", WEIGHTS,
                                                         str(tmp_path / name)], capsys)
        assert status == 0, err
        exported = translate.load_generator(tmp_path / name)
        for key, value in generator.state_dict().items():
            np.testing.assert_array_equal(exported.state_dict()[key].data, value.data)


def test_an_export_onto_a_full_disk_keeps_the_generator_file_there(tmp_path, capsys,
                                                                   monkeypatch):
    generator = translate.load_generator(WEIGHTS)
    nn.save_pth(tmp_path / "G.pth", {k: v * 0 for k, v in generator.state_dict().items()})
    before = contents(tmp_path)
    real_writestr = zipfile.ZipFile.writestr

    def full_disk(self, info, payload, *args, **kwargs):
        if len(self.filelist) == 3:  # the disk fills up at the third member
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_writestr(self, info, payload, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    status, printed, err = run_main(translate.main, ["--export", WEIGHTS,
                                                     str(tmp_path / "G.pth")], capsys)
    assert_clean_error(status, err, "No space left on device")
    assert contents(tmp_path) == before  # the old file whole, no temporary file left


# --- inputs that are no regular file --------------------------------------------------------

def test_a_fifo_in_a_folder_is_skipped_with_a_warning(tmp_path, capsys, no_wait):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.png")
    os.mkfifo(folder / "b.png")
    (folder / "c.png").mkdir()
    status, printed, err = translate_cli(capsys, folder, tmp_path / "t")
    assert status == 0, err
    assert f"warning: skipping {folder / 'b.png'}: a FIFO" in err
    assert f"warning: skipping {folder / 'c.png'}: a folder" in err
    assert os.listdir(tmp_path / "t") == ["a.png"] and "a.png ->" in printed


def test_a_fifo_as_the_input_is_refused_unopened(tmp_path, capsys, no_wait):
    os.mkfifo(tmp_path / "photo.png")
    status, printed, err = translate_cli(capsys, tmp_path / "photo.png", tmp_path / "t")
    assert_clean_error(status, err, "photo.png' is a FIFO (named pipe)", "give an image")


def test_a_fifo_as_the_weights_is_refused_unopened(tmp_path, capsys, no_wait):
    os.mkfifo(tmp_path / "G_A.npz")
    photo(tmp_path / "a.png")
    status, _, err = run_main(translate.main, ["--checkpoint", str(tmp_path / "G_A.npz"),
                                               str(tmp_path / "a.png"), "--out",
                                               str(tmp_path / "t")], capsys)
    assert_clean_error(status, err, "G_A.npz is a FIFO (named pipe)", "give a weights file")
    status, _, err = run_main(translate.main, ["--export", str(tmp_path / "G_A.npz"),
                                               str(tmp_path / "G.pth")], capsys)
    assert_clean_error(status, err, "G_A.npz is a FIFO (named pipe)")
    assert not (tmp_path / "t").exists() and not (tmp_path / "G.pth").exists()


def test_training_data_skips_a_fifo_too(tmp_path, no_wait):
    photo(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    with pytest.warns(UserWarning, match="b.png: a FIFO"):
        images, paths = data.load_folder(str(tmp_path), 8)
    assert paths == [str(tmp_path / "a.png")] and images.shape == (1, 8, 8, 3)


def test_symbolic_links_that_lead_nowhere_are_named_as_such(tmp_path, capsys):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "gone").symlink_to(tmp_path / "deleted.png")
    status, _, err = translate_cli(capsys, tmp_path / "loop", tmp_path / "t")
    assert_clean_error(status, err, "a symbolic link that leads in a loop")
    assert "no file or folder" not in err
    status, _, err = translate_cli(capsys, tmp_path / "gone", tmp_path / "t")
    assert_clean_error(status, err, "a symbolic link to", "deleted.png', which does not exist")
    status, _, err = translate_cli(capsys, tmp_path / "absent.png", tmp_path / "t")
    assert_clean_error(status, err, "there is no file or folder")


# --- images too large to decode -------------------------------------------------------------

def huge_png(path, h, w):
    """A valid h x w black RGB PNG written row by row: a few hundred KB, never decoded."""
    compressor, row = zlib.compressobj(9), b"\x00" * (1 + 3 * w)
    rows = b"".join(compressor.compress(row) for _ in range(h)) + compressor.flush()
    return handmade.png(path, w, h, 8, 2, rows)


def test_a_14000_pixel_png_is_too_large_not_unreadable(tmp_path, capsys, monkeypatch):
    path = huge_png(tmp_path / "huge.png", 14000, 14000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self))
    status, printed, err = translate_cli(capsys, path, tmp_path / "t", "--resize", "256")
    assert_clean_error(status, err, "huge.png: too large to decode: 14000x14000 pixels",
                       "scale it down with an image editor")
    assert "not a readable image" not in err and not decoded


def gradient_jpeg(path, w, h, orientation=None):
    """A smooth w x h JPEG (so that decoding it at a reduced scale changes little)."""
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.fromarray(image.astype(np.uint8)).save(path, quality=95, exif=exif)
    return path


@pytest.mark.parametrize("w, h, orientation", [(96, 64, None), (96, 64, 6), (400, 40, 6)])
def test_a_jpeg_above_the_limit_is_decoded_at_a_reduced_scale(tmp_path, monkeypatch, w, h,
                                                               orientation):
    path = gradient_jpeg(tmp_path / "big.jpg", w, h, orientation)
    whole = data.read_image(path, shorter_side=8)  # within Pillow's limit: decoded whole
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # now above it (2000 pixels)
    assert data.image_size(path, 8) == (whole.shape[1], whole.shape[0])
    scaled = data.read_image(path, shorter_side=8)  # 400 x 40 turned: decoded at 100 x 10
    assert scaled.shape == whole.shape
    assert np.abs(scaled.astype(int) - whole).mean() < 4  # the same picture, decoded smaller
    with pytest.raises(data.ImageTooLarge, match=f"{w}x{h} pixels.*--resize"):
        data.read_image(path)  # asked for at full size: refused, with what to do


def test_a_jpeg_above_the_limit_translates_with_resize(tmp_path, capsys, monkeypatch):
    path = gradient_jpeg(tmp_path / "big.jpg", 96, 64)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    status, _, err = translate_cli(capsys, path, tmp_path / "t")
    assert_clean_error(status, err, "too large to decode: 96x64", "translate.py --resize")
    status, printed, err = translate_cli(capsys, path, tmp_path / "t", "--resize", "8")
    assert status == 0, err
    assert Image.open(tmp_path / "t" / "big.png").size == (12, 8)


def test_a_header_agrees_with_the_image_read(tmp_path):
    for orientation in (None, 3, 6, 8):
        path = gradient_jpeg(tmp_path / f"o{orientation}.jpg", 30, 18, orientation)
        for resize in (None, 8, 25):
            w, h = data.image_size(path, resize)
            assert data.read_image(path, shorter_side=resize).shape == (h, w, 3)

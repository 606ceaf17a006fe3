"""The official pretrained generators and any weights file or photo a user hands in:
download.py --pretrained, translate.py with a PyTorch .pth, --export back to PyTorch, the
architecture check, bad and hostile weight files, images too small or too large to translate
as they are, and the progress bar. Every failure ends in a message, never a traceback.

PyTorch is not needed: the .pth files are the fixtures it wrote once (tests/fixtures/).
"""
import io
import os
import shutil
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from cli import Terminal, assert_clean_error, run_main
import download
import handmade
import nn
import train
import translate
from cyclegan import ResnetGenerator
from cyclegan_support.generator_file import save_generator
from cyclegan_support.progress import Bar

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ZIPPED, LEGACY = (os.path.join(FIXTURES, n) for n in ("tiny_G.pth", "tiny_G_legacy.pth"))


def photo(path, h, w, seed=0):
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(image).save(path)
    return image


def translate_cli(capsys, checkpoint, image, out, *more):
    return run_main(translate.main, ["--checkpoint", str(checkpoint), str(image), "--out",
                                     str(out), *more], capsys)


# --- translating with a PyTorch file --------------------------------------------------------

@pytest.mark.parametrize("weights", (ZIPPED, LEGACY))
def test_translate_with_a_pytorch_file(tmp_path, capsys, weights):
    image = photo(tmp_path / "photo.png", 21, 30)
    status, printed, err = translate_cli(capsys, weights, tmp_path / "photo.png", tmp_path / "t")
    assert status == 0, err
    assert "Traceback" not in err
    assert ("skipped 18 InstanceNorm running_mean/running_var" in err) == (weights == LEGACY)
    result = np.asarray(Image.open(tmp_path / "t" / "photo.png"))
    generator = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    state = nn.load_pth(ZIPPED)
    generator.load_state_dict(state)
    assert np.array_equal(result, translate.translate_image(generator.eval(), image))
    assert f"photo.png -> {tmp_path / 't' / 'photo.png'}" in printed


def test_the_architecture_is_read_from_the_shapes_and_checked(tmp_path):
    state = nn.load_pth(ZIPPED)
    generator = translate.load_generator(ZIPPED)
    assert generator.architecture == {"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 2}
    wrong = dict(state)
    wrong["model.10.conv_block.1.weight"] = np.zeros((16, 8, 3, 3), np.float32)
    nn.save_pth(tmp_path / "wrong.pth", wrong)
    with pytest.raises(ValueError, match=r"does not fit a ResNet generator with ngf 4, 2 "
                       r"residual blocks, 3 -> 3 channels.*'model.10.conv_block.1.weight' has "
                       r"shape \(16, 8, 3, 3\) in the state but \(16, 16, 3, 3\) in the model"):
        translate.load_generator(tmp_path / "wrong.pth")
    extra = dict(state, **{"model.30.weight": np.zeros(3, np.float32)})
    nn.save_pth(tmp_path / "extra.pth", extra)
    with pytest.raises(ValueError, match="unexpected key 'model.30.weight'"):
        translate.load_generator(tmp_path / "extra.pth")
    missing = {k: v for k, v in state.items() if k != "model.15.bias"}
    nn.save_pth(tmp_path / "missing.pth", missing)
    with pytest.raises(ValueError, match=r"missing key 'model.15.bias' \(the state lacks it; expected shape \(4,\)\)"):
        translate.load_generator(tmp_path / "missing.pth")


@pytest.mark.parametrize("name, state, words", [
    ("views.pth", None, ["holds no ResNet generator", "model.1.weight"]),
    ("unet.pth", {"model.model.0.weight": np.zeros((64, 3, 4, 4), np.float32)},
     ["holds no ResNet generator", "U-Nets"]),
])
def test_a_pytorch_file_that_is_no_generator(tmp_path, capsys, name, state, words):
    path = os.path.join(FIXTURES, name) if state is None else str(tmp_path / name)
    if state is not None:
        nn.save_pth(path, state)
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, path, tmp_path / "p.png", tmp_path / "t")
    assert_clean_error(status, err, path, *words)


def test_an_npz_generator_that_is_no_generator_is_a_message(tmp_path, capsys):
    """A 1-d first weight and no recorded architecture: the shapes cannot describe a ResNet
    generator, and the answer is a message, not an IndexError from reading them."""
    nn.save(str(tmp_path / "G.npz"), {"model.1.weight": np.zeros(3, np.float32)})
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, tmp_path / "G.npz", tmp_path / "p.png", tmp_path / "t")
    assert_clean_error(status, err, "holds no ResNet generator", "model.1.weight")


def test_a_recorded_architecture_missing_a_field_is_a_message(tmp_path, capsys):
    """A generator file whose record leaves out ngf is refused naming the missing field, not
    with a bare KeyError 'ngf'."""
    generator = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    save_generator(str(tmp_path / "G.npz"), generator)
    state = nn.load(str(tmp_path / "G.npz"))
    state["architecture"] = np.array('{"input_nc": 3, "output_nc": 3, "n_blocks": 2}')
    nn.save(str(tmp_path / "G.npz"), state)
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, tmp_path / "G.npz", tmp_path / "p.png", tmp_path / "t")
    assert_clean_error(status, err, "architecture record has the keys", "(missing: ngf)")


def test_export_to_pytorch_and_back(tmp_path, capsys):
    generator = ResnetGenerator(3, 3, ngf=4, n_blocks=1, rng=np.random.default_rng(3))
    save_generator(tmp_path / "G_A.npz", generator)
    status, printed, err = run_main(translate.main, ["--export", str(tmp_path / "G_A.npz"),
                                                     str(tmp_path / "G_A.pth")], capsys)
    assert status == 0, err
    exported = nn.load_pth(tmp_path / "G_A.pth")
    assert list(exported) == list(generator.state_dict())
    for key, value in generator.state_dict().items():
        np.testing.assert_array_equal(exported[key], value)
    status, _, err = run_main(translate.main, ["--export", str(tmp_path / "G_A.pth"),
                                               str(tmp_path / "again.npz")], capsys)
    assert status == 0, err
    again = translate.load_generator(tmp_path / "again.npz")
    assert again.architecture == generator.architecture
    for key, value in generator.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key], value)


def test_export_of_a_bad_file_is_a_message(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    status, _, err = run_main(translate.main, ["--export", str(tmp_path / "bad.npz"),
                                               str(tmp_path / "out.pth")], capsys)
    assert_clean_error(status, err, "cannot export", "bad.npz")
    assert not (tmp_path / "out.pth").exists()
    status, _, err = run_main(translate.main, ["--export", ZIPPED, str(tmp_path / "o.pth"),
                                               "photo.jpg"], capsys)
    assert_clean_error(status, err, "--export WEIGHTS OUT takes no image")


# --- weights files that are damaged, hostile, or declare more than they hold ----------------

def damaged(tmp_path, kind):
    data = open(ZIPPED, "rb").read()
    path = tmp_path / f"{kind.replace(' ', '_')}.pth"
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "truncated legacy":
        legacy = open(LEGACY, "rb").read()
        path.write_bytes(legacy[: len(legacy) - 100])
    elif kind == "corrupted zip":
        with zipfile.ZipFile(ZIPPED) as archive:
            info = max(archive.infolist(), key=lambda i: i.file_size)
        start = info.header_offset + 30 + len(info.filename) + 64
        path.write_bytes(data[:start] + bytes(b ^ 0xFF for b in data[start:start + 8])
                         + data[start + 8:])
    elif kind == "wrong magic":
        path.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x18." + b"\x00" * 64)
    elif kind == "not a weights file":
        path.write_bytes(b"GIF89a" + bytes(100))
    elif kind == "os.system":
        path.write_bytes(handmade.calling("os", "system", f"touch {tmp_path / 'ran'}"))
    elif kind == "builtins.eval in a zip":
        command = f"open({str(tmp_path / 'ran')!r}, 'w')"
        handmade.zip_pth(path, handmade.calling("builtins", "eval", command))
    return path


@pytest.mark.parametrize("kind, words", [
    ("truncated", ["damaged or truncated"]),
    ("truncated legacy", ["truncated"]),
    ("corrupted zip", ["damaged"]),
    ("wrong magic", ["wrong magic number"]),
    ("not a weights file", ["wrong magic number"]),
    ("os.system", ["names os.system", "refused unread"]),
    ("builtins.eval in a zip", ["names builtins.eval", "refused unread"]),
])
def test_bad_pytorch_files_get_a_message(tmp_path, capsys, kind, words):
    path = damaged(tmp_path, kind)
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, path, tmp_path / "p.png", tmp_path / "t")
    assert_clean_error(status, err, str(path), *words)
    assert not (tmp_path / "ran").exists()


def npz_declaring_a_terabyte(path):
    """A 1 KB .npz whose member header declares 10^12 float32s (3.6 TiB)."""
    handmade.npz_declaring(path, (10 ** 12,), data=b"\x00" * 512, name="model.1.weight")
    assert os.path.getsize(path) < 1024
    return path


def test_an_npz_declaring_more_than_it_holds_translate(tmp_path, capsys):
    path = npz_declaring_a_terabyte(tmp_path / "G_A.npz")
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, path, tmp_path / "p.png", tmp_path / "t")
    assert_clean_error(status, err, str(path), "declares shape (1000000000000,)",
                       "refused before allocating")


def test_an_npz_declaring_more_than_it_holds_train_resume(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    npz_declaring_a_terabyte(out / "checkpoint.npz")
    status, _, err = run_main(train.main, ["--resume", "--out", str(out)], capsys)
    assert_clean_error(status, err, "--resume: cannot read the checkpoint",
                       "declares shape (1000000000000,)", "refused before allocating")


@pytest.mark.parametrize("layout", ("zip", "legacy"))
def test_a_pth_declaring_more_than_it_holds(tmp_path, capsys, layout):
    from nn.pth import _pickle_state

    numel = 10 ** 12
    pickled = _pickle_state([("model.1.weight", "FloatStorage", numel, (numel,))],
                            legacy=layout == "legacy")
    path = tmp_path / "big.pth"
    if layout == "zip":
        handmade.zip_pth(path, pickled, [("0", b"\x00" * 64)])
    else:
        handmade.legacy_pth(path, pickled, ["0"], [(numel, b"\x00" * 64)])
    photo(tmp_path / "p.png", 8, 8)
    status, _, err = translate_cli(capsys, path, tmp_path / "p.png", tmp_path / "t")
    declared = f"{4 * numel} bytes declared" if layout == "zip" else f"declares {numel} elements"
    assert_clean_error(status, err, str(path), declared)


# --- images too small or too large ----------------------------------------------------------

@pytest.mark.parametrize("h, w", [(1, 1), (1, 9), (5, 2), (7, 7)])
def test_images_smaller_than_the_generator_takes_are_padded(tmp_path, capsys, h, w):
    photo(tmp_path / "tiny.png", h, w)
    status, _, err = translate_cli(capsys, ZIPPED, tmp_path / "tiny.png", tmp_path / "t")
    assert status == 0, err
    assert "Traceback" not in err
    assert "smaller than the 8x8 the generator takes" in err
    assert Image.open(tmp_path / "t" / "tiny.png").size == (w, h)


def test_the_smallest_side_is_the_one_that_works():
    for n_blocks, least in ((0, 4), (1, 8), (9, 8)):
        generator = ResnetGenerator(3, 3, ngf=2, n_blocks=n_blocks).eval()
        assert translate.smallest_side(generator) == least
        image = np.zeros((least, least, 3), np.uint8)
        assert translate.translate_image(generator, image).shape == (least, least, 3)
        if least > 4:  # one multiple of 4 less fails inside the network: padding is needed
            with nn.no_grad(), pytest.raises(ValueError, match="reflect"):
                generator(nn.Tensor(np.zeros((1, 3, least - 4, least - 4), np.float32)))


def huge_png(path, h, w):
    """A valid h x w black RGB PNG written row by row: a few hundred KB, never h*w*3 bytes
    in memory."""
    compressor, parts, row = zlib.compressobj(9), [], b"\x00" * (1 + 3 * w)
    for _ in range(h):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    return handmade.png(path, w, h, 8, 2, b"".join(parts))


def test_a_12000_pixel_photo_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    path = huge_png(tmp_path / "huge.png", 12000, 12000)
    monkeypatch.setattr(translate, "available_memory", lambda: 4 * 2 ** 30)  # a 4 GiB machine
    decoded = []
    monkeypatch.setattr(translate.data, "read_image", lambda *a, **k: decoded.append(a))
    status, _, err = translate_cli(capsys, ZIPPED, path, tmp_path / "t")
    assert_clean_error(status, err, "huge.png (12000x12000) needs about",
                       "this machine has 4.0 GiB free; try --resize")
    assert not decoded
    resize = int(err.split("try --resize ")[1].split()[0])
    generator = translate.load_generator(ZIPPED)
    assert translate.estimate_peak_bytes(generator, resize, resize) <= 4 * 2 ** 30
    assert translate.estimate_peak_bytes(generator, resize + 4, resize + 4) > 4 * 2 ** 30
    assert translate.estimate_peak_bytes(generator, 12000, 12000) > 4 * 2 ** 30


def test_in_a_folder_a_photo_too_large_is_skipped_and_the_others_translated(tmp_path, capsys,
                                                                             monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    huge_png(folder / "huge.png", 4000, 3000)
    photo(folder / "small.png", 16, 12)
    generator = translate.load_generator(ZIPPED)
    free = translate.estimate_peak_bytes(generator, 100, 100)
    monkeypatch.setattr(translate, "available_memory", lambda: free)
    status, printed, err = translate_cli(capsys, ZIPPED, folder, tmp_path / "t")
    assert status == 0, err
    assert "warning: skipping" in err and "huge.png (3000x4000) needs about" in err
    assert os.listdir(tmp_path / "t") == ["small.png"]


def test_the_estimate_is_the_generators_at_the_padded_size():
    generator = ResnetGenerator(3, 3, ngf=16, n_blocks=3)
    assert translate.estimate_peak_bytes(generator, 3000, 4000) == \
        translate.estimate_translation_memory(3000, 4000, ngf=16, n_blocks=3)
    assert translate.estimate_peak_bytes(generator, 1, 1) == \
        translate.estimate_translation_memory(8, 8, ngf=16, n_blocks=3)  # padded up to 8x8


# --- the progress bar -----------------------------------------------------------------------

def test_a_long_translation_shows_a_progress_bar():
    generator = ResnetGenerator(3, 3, ngf=2, n_blocks=1).eval()
    plan = translate.layer_plan(generator, 32, 32)
    assert len(plan) == len(generator.model)
    screen = Terminal()
    bar = Bar(sum(plan), stream=screen, delay=0.0)
    translate.translate_image(generator, np.zeros((32, 32, 3), np.uint8), bar, "1/1 p.png")
    bar.close()
    text = screen.getvalue()
    assert "\r[" in text and "100%" in text and "1/1 p.png" in text and text.endswith("\n")
    log = io.StringIO()  # not a terminal, and quick: nothing printed
    bar = Bar(10, stream=log)
    bar.advance(10)
    bar.close()
    assert log.getvalue() == ""


# --- download.py --pretrained --------------------------------------------------------------

def test_the_official_address_and_names():
    assert download.pretrained_url("horse2zebra") == (
        "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth")
    assert len(download.PRETRAINED) == 18 and "style_vangogh" in download.PRETRAINED
    with pytest.raises(download.DownloadError, match="horse2zebra"):
        download.pretrained_url("horse2giraffe")


@pytest.mark.parametrize("weights", (LEGACY, ZIPPED))
def test_download_a_pretrained_generator_from_a_local_address(tmp_path, weights):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(weights, served / "horse2zebra.pth")
    log = io.StringIO()
    path = download.download_pretrained("horse2zebra", str(tmp_path / "pretrained"),
                                        base_url=served.as_uri(), stream=log)
    assert path == str(tmp_path / "pretrained" / "horse2zebra.pth")
    assert "ngf 4, 2 residual blocks" in log.getvalue()
    assert os.listdir(tmp_path / "pretrained") == ["horse2zebra.pth"]
    assert translate.load_generator(path).architecture["ngf"] == 4


def test_a_downloaded_file_that_is_no_generator_is_deleted(tmp_path, capsys):
    served = tmp_path / "served"
    served.mkdir()
    (served / "style_monet.pth").write_bytes(handmade.calling("os", "system",
                                                             f"touch {tmp_path / 'ran'}"))
    status, _, err = run_main(download.main, ["--pretrained", "style_monet", "--root",
                                              str(tmp_path / "p"), "--base-url",
                                              served.as_uri()], capsys)
    assert status == 1 and "Traceback" not in err
    assert "is not a usable generator, deleted" in err and "names os.system" in err
    assert os.listdir(tmp_path / "p") == [] and not (tmp_path / "ran").exists()


def test_download_list_and_wrong_names(capsys):
    status, printed, _ = run_main(download.main, ["--list"], capsys)
    assert status == 0
    datasets, models = printed.split("pretrained generators")
    assert "horse2zebra" in datasets and "style_vangogh" in models
    status, _, err = run_main(download.main, ["--pretrained", "horses"], capsys)
    assert_clean_error(status, err, "unknown pretrained model 'horses'", "--list")
    status, _, err = run_main(download.main, ["style_monet"], capsys)
    assert_clean_error(status, err, "is a pretrained model: --pretrained style_monet")

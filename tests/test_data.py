"""Image folders, the training transform, the unaligned sampler, the built-in dataset and the
dataset downloader (against local zips only: these tests never touch the network)."""
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from cyclegan_support import builtin_data, data
import download
import nn


# --- image folders --------------------------------------------------------------------------

def _rgb(seed, h=6, w=5):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def mixed_folder(tmp_path):
    """One image of each kind, plus a text file disguised as a JPEG and a README."""
    rgb, grey = _rgb(0), _rgb(1)[..., 0]
    rgba = np.concatenate([_rgb(2), np.full((6, 5, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgb).save(tmp_path / "a_rgb.png")
    Image.fromarray(grey).save(tmp_path / "b_grey.png")
    Image.fromarray(rgba).save(tmp_path / "c_rgba.png")
    palette = Image.fromarray(rgb).quantize(colors=4)
    palette.save(tmp_path / "d_palette.png")
    smooth = np.broadcast_to(np.linspace(0, 250, 5).astype(np.uint8)[None, :, None], (6, 5, 3))
    Image.fromarray(np.ascontiguousarray(smooth)).save(tmp_path / "e_photo.jpg", quality=95)
    (tmp_path / "f_broken.jpg").write_text("this is not an image")
    (tmp_path / "README.txt").write_text("ignored: not an image extension")
    return tmp_path, {"rgb": rgb, "grey": grey, "rgba": rgba,
                      "palette": np.asarray(palette.convert("RGB")), "smooth": smooth}


def test_folder_of_mixed_formats(mixed_folder):
    folder, originals = mixed_folder
    with pytest.warns(UserWarning, match="f_broken.jpg") as record:
        images, paths = data.load_folder(str(folder), load_size=5)
    assert len(record) == 1
    assert [os.path.basename(p) for p in paths] == [
        "a_rgb.png", "b_grey.png", "c_rgba.png", "d_palette.png", "e_photo.jpg"]
    assert images.shape == (5, 5, 5, 3) and images.dtype == np.uint8
    # Each kind becomes RGB with its own pixels (the 6x5 originals are resized to 5x5).
    resize = lambda a: np.asarray(Image.fromarray(a).resize((5, 5), Image.BICUBIC))  # noqa: E731
    np.testing.assert_array_equal(images[0], resize(originals["rgb"]))
    np.testing.assert_array_equal(images[1], np.repeat(resize(originals["grey"])[..., None], 3, 2))
    np.testing.assert_array_equal(images[2], resize(originals["rgba"][..., :3]))
    np.testing.assert_array_equal(images[3], resize(originals["palette"]))
    jpeg_error = np.abs(images[4].astype(int) - resize(np.ascontiguousarray(originals["smooth"])))
    assert jpeg_error.mean() < 4  # JPEG is lossy, but not on a smooth ramp


def test_exif_orientation_is_applied(tmp_path):
    # Stored 8 wide and 4 tall, left half red; EXIF orientation 6 says "turn 90 degrees
    # clockwise to display", which brings the red left half to the top.
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[:, :4] = (255, 0, 0)
    pixels[:, 4:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = data.read_image(str(tmp_path / "phone.jpg"), load_size=8)
    assert image[0, :, 0].min() > 200 and image[0, :, 2].max() < 60   # top row red
    assert image[-1, :, 2].min() > 200 and image[-1, :, 0].max() < 60  # bottom row blue


def test_folder_without_readable_images_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG but truncated")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(ValueError, match="no readable"):
        data.load_folder(str(tmp_path), 8)
    with pytest.raises(FileNotFoundError, match="trainA"):
        data.load_folder(str(tmp_path / "missing"), 8)


def test_model_range_round_trip():
    images = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3) * 3
    x = data.to_model_range(images)
    assert x.shape == (2, 3, 3, 4) and x.dtype == np.float32
    assert x[0, 1, 2, 3] == pytest.approx(images[0, 2, 3, 1] / 127.5 - 1, abs=1e-7)
    full = data.to_model_range(np.array([[[[0, 255, 128]]]], np.uint8))
    np.testing.assert_allclose(full.ravel(), [-1, 1, 128 / 127.5 - 1], atol=1e-7)
    np.testing.assert_array_equal(data.to_uint8(x), images)


# --- the unaligned sampler ------------------------------------------------------------------

def _constant_images(values, size=6):
    """uint8 (len(values), size, size, 3), image i filled with values[i]: crops and flips keep
    the value, so each batch item tells which image it came from."""
    return np.broadcast_to(np.array(values, np.uint8)[:, None, None, None],
                           (len(values), size, size, 3)).copy()


def _indices(batch, values):
    first = data.to_uint8(batch)[:, 0, 0, 0]
    return [values.index(v) for v in first]


def test_epoch_sampling_rule():
    values_A, values_B = [10, 20, 30], [40, 50, 60, 70, 80]
    loader = data.UnalignedLoader(_constant_images(values_A), _constant_images(values_B),
                                  crop_size=4, batch_size=2, seed=0)
    assert loader.epoch_size == 5 and len(loader) == 3  # max(|A|, |B|) items, last batch of 1
    seen_B = []
    for _ in range(20):
        a_idx, b_idx, sizes = [], [], []
        for real_A, real_B in loader.epoch():
            assert real_A.shape == real_B.shape == (len(real_A), 3, 4, 4)
            assert real_A.dtype == real_B.dtype == np.float32
            sizes.append(len(real_A))
            a_idx += _indices(real_A, values_A)
            b_idx += _indices(real_B, values_B)
        assert sizes == [2, 2, 1]
        # A: a permutation of 0..4 taken modulo |A|, so 0 and 1 twice, 2 once.
        assert sorted(a_idx) == [0, 0, 1, 1, 2]
        seen_B.append(b_idx)
    # B: drawn at random with replacement, not one permutation per epoch.
    assert any(len(set(b)) < 5 for b in seen_B)
    counts = np.bincount(np.ravel(seen_B), minlength=5)
    assert counts.min() > 8 and counts.sum() == 100
    assert len({tuple(a) for a in seen_B}) > 10  # the order changes from epoch to epoch


def test_crops_and_flips():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    loader = data.UnalignedLoader(image, image.copy(), crop_size=5, batch_size=4, seed=3)
    windows = {(y, x, f): np.ascontiguousarray(image[0, y:y + 5, x:x + 5][:, ::-1 if f else 1])
               for y in range(4) for x in range(4) for f in (0, 1)}
    found = {"A": set(), "B": set()}
    for _ in range(25):
        for real_A, real_B in loader.epoch():
            for domain, batch in (("A", real_A), ("B", real_B)):
                assert batch.min() >= -1 and batch.max() <= 1
                for crop in data.to_uint8(batch):
                    keys = [k for k, w in windows.items() if np.array_equal(w, crop)]
                    assert len(keys) == 1, "every crop is one window of the image, maybe mirrored"
                    found[domain].add(keys[0])
    for domain in "AB":
        assert {k[2] for k in found[domain]} == {0, 1}   # both flipped and not
        assert len(found[domain]) > 16                    # many different corners
    # A and B are augmented independently, although here they are the same image.
    plan = loader.plan_epoch()
    assert not np.array_equal(plan["A_y"], plan["B_y"]) or not np.array_equal(plan["A_x"],
                                                                               plan["B_x"])


def test_loader_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    A = rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    B = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    reference = data.UnalignedLoader(A, B, crop_size=6, batch_size=2, seed=5)
    full = [list(reference.epoch()) for _ in range(2)]

    # Stop after 2 batches of the second epoch, save through nn.save, resume in a new loader.
    first = data.UnalignedLoader(A, B, crop_size=6, batch_size=2, seed=5)
    list(first.epoch())
    partial = first.epoch()
    for _ in range(2):
        next(partial)
    nn.save(tmp_path / "loader.npz", first.state_dict())
    resumed = data.UnalignedLoader(A, B, crop_size=6, batch_size=2, seed=999)
    resumed.load_state_dict(nn.load(tmp_path / "loader.npz"))
    rest = list(resumed.epoch(start=2))
    assert len(rest) == len(full[1]) - 2
    for (a, b), (ra, rb) in zip(rest, full[1][2:]):
        np.testing.assert_array_equal(a, ra)
        np.testing.assert_array_equal(b, rb)
    # A state saved between epochs continues with the next epoch.
    between = data.UnalignedLoader(A, B, crop_size=6, batch_size=2, seed=5)
    list(between.epoch())
    again = data.UnalignedLoader(A, B, crop_size=6, batch_size=2, seed=0)
    again.load_state_dict(between.state_dict())
    np.testing.assert_array_equal(next(again.epoch())[0], full[1][0][0])


def test_loader_rejects_bad_input():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="larger than"):
        data.UnalignedLoader(images, images, crop_size=9)
    with pytest.raises(ValueError, match="uint8"):
        data.UnalignedLoader(images.astype(np.float32), images, crop_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        data.UnalignedLoader(images, images, crop_size=4, batch_size=0)


# --- the built-in dataset -------------------------------------------------------------------

def test_builtin_dataset_is_deterministic():
    a = builtin_data.make_dataset(size=16, n_train=3, n_test=2, seed=0)
    b = builtin_data.make_dataset(size=16, n_train=3, n_test=2, seed=0)
    c = builtin_data.make_dataset(size=16, n_train=3, n_test=2, seed=1)
    for split in ("trainA", "trainB", "testA", "testB"):
        assert a[split].shape == (3 if split.startswith("train") else 2, 16, 16, 3)
        assert a[split].dtype == np.uint8
        np.testing.assert_array_equal(a[split], b[split])
        assert not np.array_equal(a[split], c[split])
    # Scene i does not depend on how many scenes are drawn.
    more = builtin_data.make_dataset(size=16, n_train=5, n_test=2, seed=0)
    np.testing.assert_array_equal(more["trainA"][:3], a["trainA"])
    # The two training domains show different scenes (unpaired data).
    night_of_A = builtin_data.render_scenes(0, "trainA", 3, "night", 16)
    assert all(np.abs(night_of_A[i].astype(int) - a["trainB"][i]).mean() > 5 for i in range(3))


def _edges(image):
    grey = image.astype(float).mean(axis=2)
    return np.hypot(np.diff(grey, axis=0)[:, :-1], np.diff(grey, axis=1)[:-1])


def test_builtin_ground_truth_is_the_same_scene_by_night():
    size = 32
    d = builtin_data.make_dataset(size=size, n_train=1, n_test=3, seed=4)
    for i in range(3):
        scene = builtin_data.random_scene(np.random.default_rng([4, 2, i]))
        np.testing.assert_array_equal(d["testA"][i], builtin_data.render(scene, "day", size))
        np.testing.assert_array_equal(d["testB"][i], builtin_data.render(scene, "night", size))
    # Same geometry: the edges of a day image line up with those of its night image, far
    # better than with another scene's; while the colours differ a lot.
    corr = lambda u, v: np.corrcoef(_edges(u).ravel(), _edges(v).ravel())[0, 1]  # noqa: E731
    for i in range(3):
        same, other = corr(d["testA"][i], d["testB"][i]), corr(d["testA"][i], d["testB"][i - 1])
        assert same > 0.6 and same > other + 0.3
    identity = builtin_data.translation_error(data.to_model_range(d["testA"]),
                                              data.to_model_range(d["testB"]))
    assert identity > 0.5
    with pytest.raises(ValueError, match="style"):
        builtin_data.render(scene, "dusk", 8)


def test_translation_error():
    x = np.zeros((1, 3, 2, 2), np.float32)
    assert builtin_data.translation_error(x, x) == 0
    assert builtin_data.translation_error(x, x + 0.5) == pytest.approx(0.5)
    assert builtin_data.translation_error(x - 1, x + 1) == pytest.approx(2.0)


# --- the downloader -------------------------------------------------------------------------

def _png_bytes(tmp_path, seed):
    path = tmp_path / f"img{seed}.png"
    Image.fromarray(_rgb(seed, 8, 8)).save(path)
    return path.read_bytes()


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return path


def test_download_and_unpack_a_local_zip(tmp_path):
    served = tmp_path / "server"
    served.mkdir()
    png = _png_bytes(tmp_path, 0)
    _zip(served / "facades.zip", {f"facades/{s}/{i}.png": png
                                  for s in ("trainA", "trainB", "testA", "testB") for i in (1, 2)})
    root = tmp_path / "datasets"
    log = open(tmp_path / "log.txt", "w")
    folder = download.download_dataset("facades", str(root), base_url=served.as_uri(), stream=log)
    log.close()
    assert folder == os.path.join(str(root), "facades")
    assert sorted(os.listdir(folder)) == ["testA", "testB", "trainA", "trainB"]
    images, _ = data.load_folder(os.path.join(folder, "trainB"), 8)
    np.testing.assert_array_equal(images[0], _rgb(0, 8, 8))
    assert not os.path.exists(root / "facades.zip")  # the zip is removed after unpacking
    assert sorted(os.listdir(root)) == ["facades"]     # no temporary folder left behind
    assert "%" in (tmp_path / "log.txt").read_text()  # a progress display was shown


def test_bad_zips_are_refused(tmp_path):
    png = _png_bytes(tmp_path, 1)
    cases = {
        "not a zip": (tmp_path / "junk.zip", "not a zip"),
        "traversal": (_zip(tmp_path / "evil.zip", {"facades/trainA/ok.png": png,
                                                    "facades/../../escape.png": png}), "outside"),
        "absolute": (_zip(tmp_path / "abs.zip", {"/etc/facades.png": png}), "outside"),
        "layout": (_zip(tmp_path / "other.zip", {"maps/trainA/a.png": png}), "outside"),
    }
    (tmp_path / "junk.zip").write_bytes(b"PK but not really a zip file")
    # A zip whose payload was damaged after it was written: the CRC check catches it.
    damaged = _zip(tmp_path / "crc.zip", {"facades/trainA/a.png": png})
    raw = bytearray(damaged.read_bytes())
    at = raw.index(png[20:40])
    raw[at:at + 4] = b"XXXX"
    damaged.write_bytes(bytes(raw))
    cases["crc"] = (damaged, "damaged")
    for what, (path, message) in cases.items():
        root = tmp_path / f"out-{what.replace(' ', '_')}"
        with pytest.raises(download.DownloadError, match=message):
            download.extract(str(path), "facades", str(root))
        assert not (root / "facades").exists()
    assert not (tmp_path / "escape.png").exists() and not (tmp_path.parent / "escape.png").exists()


def test_unreachable_address_and_unknown_name(tmp_path):
    with pytest.raises(download.DownloadError, match="cannot download .*network"):
        download.download_dataset("maps", str(tmp_path), base_url=(tmp_path / "nowhere").as_uri(),
                                  stream=open(os.devnull, "w"))
    assert os.listdir(tmp_path) == []  # no partial file left
    with pytest.raises(download.DownloadError, match="horse2zebra"):
        download.dataset_url("horses")
    assert download.dataset_url("horse2zebra").endswith("/CycleGAN/datasets/horse2zebra.zip")

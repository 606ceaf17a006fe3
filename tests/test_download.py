"""download.py when things go wrong: an address that is none, a --root that is a file, no
network, a full disk while downloading or unpacking, a zip that would unpack to far more than
its size, and a downloaded .pth that makes the reader fail in any way. Each ends in one message
that points the right way, and leaves no partial file. Nothing here touches the network: the
files are served from file:// addresses, and failures are made by patching the opener or the
disk writes.
"""
import errno
import io
import os
import shutil
import socket
import urllib.error
import zipfile

import numpy as np
import pytest
from PIL import Image

from cli import assert_clean_error, run_main
import download

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
WEIGHTS = os.path.join(FIXTURES, "tiny_G.pth")
QUIET = open(os.devnull, "w")


def png_bytes(seed=0):
    buffer = io.BytesIO()
    image = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def serve_dataset(folder, name="facades", members=None):
    """A dataset zip at ``folder/<name>.zip``; returns the folder's file:// address."""
    folder.mkdir(exist_ok=True)
    members = members or {f"{name}/{s}/{i}.png": png_bytes(i)
                          for s in ("trainA", "trainB") for i in (1, 2)}
    with zipfile.ZipFile(folder / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for member, payload in members.items():
            z.writestr(member, payload)
    return folder.as_uri()


def serve_weights(folder, name="horse2zebra"):
    folder.mkdir(exist_ok=True)
    shutil.copy(WEIGHTS, folder / f"{name}.pth")
    return folder.as_uri()


class FullDisk(io.FileIO):
    """A file that takes ``room`` bytes, then fails as a full disk does."""
    room = 100

    def write(self, data):
        if self.tell() + len(data) > self.room:
            super().write(bytes(data[:max(0, self.room - self.tell())]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def full_disk_open(path, mode="r", *args, **kwargs):
    return FullDisk(path, mode.replace("b", "")) if "w" in mode else open(path, mode, *args,
                                                                         **kwargs)


# --- bad options ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["facades"], ["--pretrained", "horse2zebra"]])
def test_a_base_url_that_is_no_address_is_a_message(tmp_path, capsys, argv):
    status, _, err = run_main(download.main, argv + ["--base-url", "notaurl", "--root",
                                                     str(tmp_path / "r")], capsys)
    assert_clean_error(status, err, "--base-url 'notaurl' is not an address", "https://")
    assert not (tmp_path / "r").exists()
    with pytest.raises(download.DownloadError, match="notaurl/facades.zip: it is not an address"):
        download.download_dataset("facades", str(tmp_path / "r"), base_url="notaurl",
                                  stream=QUIET)
    assert os.listdir(tmp_path / "r") == []  # no .part file left


@pytest.mark.parametrize("argv", [["facades"], ["--pretrained", "horse2zebra"]])
def test_a_root_that_is_a_file_is_a_message(tmp_path, capsys, argv):
    (tmp_path / "notes").write_text("mine")
    status, _, err = run_main(download.main, argv + ["--root", str(tmp_path / "notes"),
                                                     "--base-url", tmp_path.as_uri()], capsys)
    assert_clean_error(status, err, "--root", "is a file, not a folder")
    assert (tmp_path / "notes").read_text() == "mine"
    with pytest.raises(download.DownloadError, match="cannot create the folder .*another --root"):
        download.download_dataset("facades", str(tmp_path / "notes" / "sub"), stream=QUIET)


# --- messages that point the right way ------------------------------------------------------

def no_network(url, timeout=None):
    raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))


def test_no_network_for_a_pretrained_model_does_not_speak_of_datasets(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)
    root = tmp_path / "models"
    status, _, err = run_main(download.main, ["--pretrained", "horse2zebra", "--root",
                                              str(root)], capsys)
    assert_clean_error(status, err, "Temporary failure in name resolution",
                       "Check the network connection", f"horse2zebra.pth by hand into {root}",
                       code=1)
    assert "datasets" not in err and "unpack" not in err
    assert os.listdir(root) == []
    status, _, err = run_main(download.main, ["facades", "--root", str(tmp_path / "d")], capsys)
    assert_clean_error(status, err, "Check the network connection",
                       f"facades.zip by hand and unpack it into {tmp_path / 'd'}", code=1)


@pytest.mark.parametrize("argv", [["facades"], ["--pretrained", "horse2zebra"]])
def test_a_full_disk_while_downloading_is_not_the_network(tmp_path, capsys, monkeypatch, argv):
    served = tmp_path / "served"
    base = serve_dataset(served) if argv == ["facades"] else serve_weights(served)
    monkeypatch.setattr(download, "open", full_disk_open, raising=False)
    root = tmp_path / "root"
    status, _, err = run_main(download.main, argv + ["--root", str(root), "--base-url", base],
                              capsys)
    assert_clean_error(status, err, "cannot write", "No space left on device",
                       "free some disk space", code=1)
    assert "network" not in err
    assert os.listdir(root) == []  # no .part file left


# --- unpacking a dataset --------------------------------------------------------------------

def test_a_zip_that_would_unpack_to_far_more_than_its_size_is_refused_unread(tmp_path,
                                                                             monkeypatch):
    served = tmp_path / "served"
    zeros = b"\0" * (4 << 20)  # 4 MB that deflate to a few KB
    serve_dataset(served, members={"facades/trainA/a.png": zeros, "facades/trainB/b.png": zeros})
    tested = []
    monkeypatch.setattr(zipfile.ZipFile, "testzip", lambda self: tested.append(self))
    with pytest.raises(download.DownloadError, match=r"would unpack to 8.0 MB from .* KB, more "
                       r"than 20 times its size"):
        download.extract(str(served / "facades.zip"), "facades", str(tmp_path / "root"))
    assert not tested  # refused before anything was inflated
    assert not (tmp_path / "root").exists()


def test_a_disk_without_room_for_the_dataset_is_a_message_before_unpacking(tmp_path, capsys,
                                                                          monkeypatch):
    base = serve_dataset(tmp_path / "served")
    real_usage = shutil.disk_usage
    monkeypatch.setattr(download.shutil, "disk_usage",
                        lambda path: real_usage(path)._replace(free=100))
    root = tmp_path / "root"
    status, _, err = run_main(download.main, ["facades", "--root", str(root), "--base-url", base],
                              capsys)
    assert_clean_error(status, err, "facades unpacks to", f"{root} has 100 B free",
                       "free some disk space", code=1)
    assert os.listdir(root) == []  # no zip, no temporary folder, no half dataset


def test_a_disk_that_fills_up_while_unpacking_leaves_nothing_behind(tmp_path, capsys,
                                                                    monkeypatch):
    base = serve_dataset(tmp_path / "served")
    real_copy = shutil.copyfileobj
    copies = []

    def fills_up(src, dst):
        copies.append(dst.name)
        if len(copies) == 3:  # the third image finds the disk full
            dst.write(src.read(10))
            raise OSError(errno.ENOSPC, "No space left on device")
        real_copy(src, dst)

    monkeypatch.setattr(download.shutil, "copyfileobj", fills_up)
    root = tmp_path / "root"
    status, _, err = run_main(download.main, ["facades", "--root", str(root), "--base-url", base],
                              capsys)
    assert_clean_error(status, err, "cannot unpack facades into", "No space left on device",
                       "free some disk space", code=1)
    assert len(copies) == 3 and os.listdir(root) == []


# --- a downloaded .pth that the reader cannot read ------------------------------------------

@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"),
                                   KeyError("storages"), MemoryError("Unable to allocate"),
                                   NotImplementedError("compression method 99"),
                                   zipfile.BadZipFile("Bad magic number"),
                                   TypeError("'NoneType' object is not subscriptable")])
def test_a_pretrained_file_the_reader_fails_on_is_deleted_with_a_message(tmp_path, capsys,
                                                                         monkeypatch, error):
    def reader_fails(path, stream):
        assert os.path.exists(path)
        raise error

    monkeypatch.setattr(download, "_check_generator", reader_fails)
    root = tmp_path / "models"
    status, _, err = run_main(download.main, ["--pretrained", "horse2zebra", "--root", str(root),
                                              "--base-url", serve_weights(tmp_path / "s")],
                              capsys)
    assert_clean_error(status, err, "horse2zebra.pth is not a usable generator, deleted",
                       type(error).__name__, str(error.args[0]), code=1)
    assert os.listdir(root) == []  # no .unchecked.pth left


def test_an_interrupted_check_leaves_no_unchecked_file(tmp_path, monkeypatch):
    def interrupted(path, stream):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_check_generator", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.download_pretrained("horse2zebra", str(tmp_path / "m"),
                                     base_url=serve_weights(tmp_path / "s"), stream=QUIET)
    assert os.listdir(tmp_path / "m") == []

"""nn.save / nn.load: round trips, refusal of pickled objects, atomic replacement."""
import os
import struct
import zipfile

import numpy as np
import pytest

import handmade
from handmade import npz_declaring
import nn


def network():
    return nn.Sequential(nn.Conv2d(3, 4, 3, rng=np.random.default_rng(0)),
                         nn.InstanceNorm2d(4, affine=True), nn.ReLU(),
                         nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1,
                                            rng=np.random.default_rng(1)))


def test_state_dict_round_trip_through_a_file(xp, tmp_path):
    source = network().to(xp)
    for p in source.parameters():
        p.data += 0.5  # differ from a fresh network's init
    path = tmp_path / "model.npz"
    nn.save(path, source.state_dict())
    loaded = nn.load(path)
    assert list(loaded) == list(source.state_dict())          # keys in order
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in loaded.values())
    target = network().to(xp)
    target.load_state_dict(loaded)
    x = nn.Tensor(xp.asarray(np.random.default_rng(2).standard_normal((1, 3, 5, 5))
                             .astype(np.float32)))
    with nn.no_grad():
        np.testing.assert_array_equal(nn.to_host(target(x).data), nn.to_host(source(x).data))


def test_numbers_and_integer_arrays_survive(tmp_path):
    path = str(tmp_path / "state.npz")  # str and Path both work
    nn.save(path, {"t": 7, "lr": 2e-4, "ids": np.arange(3, dtype=np.int32)})
    state = nn.load(path)
    assert int(state["t"]) == 7 and float(state["lr"]) == 2e-4
    assert state["ids"].dtype == np.int32 and state["ids"].tolist() == [0, 1, 2]


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="'bad' is an object array"):
        nn.save(tmp_path / "x.npz", {"good": np.ones(2), "bad": np.array([{"a": 1}], dtype=object)})
    assert not os.listdir(tmp_path)


def test_load_refuses_pickled_objects_naming_the_file(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([{"run": "code"}], dtype=object))  # pickled inside
    with pytest.raises(ValueError, match=rf"{path}.*pickled"):
        nn.load(path)


def test_load_refuses_truncated_files_naming_them(tmp_path):
    path = tmp_path / "cut.npz"
    nn.save(path, {"w": np.ones((64, 64))})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{path}"):
        nn.load(path)
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "absent.npz")


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    nn.save(path, {"w": np.zeros(3)})
    old_bytes = path.read_bytes()

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half of an archive")  # some bytes reach the disk, then...
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        nn.save(path, {"w": np.ones(3)})
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert nn.load(path)["w"].tolist() == [0, 0, 0]
    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # no temporary file left behind


# --- files that declare more than they hold --------------------------------------------------

def refused_without_allocating(path, match):
    """nn.load refuses ``path`` with ``match``, before allocating what it declares."""
    handmade.refused_without_allocating(nn.load, path, ValueError, match)


@pytest.mark.parametrize("count", (10 ** 12, 50 * 2 ** 20))  # 3.6 TiB, and 200 MiB: allocatable
@pytest.mark.parametrize("compression", (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
def test_load_refuses_arrays_larger_than_their_member(tmp_path, count, compression):
    path = npz_declaring(tmp_path / "big.npz", (count,), compression=compression)
    assert os.path.getsize(path) < 1024
    refused_without_allocating(path, rf"{path}: array 'w' declares shape \({count},\) of "
                                     rf"float32 \({4 * count} bytes\) but its member holds 16")


def test_load_refuses_a_zip_directory_that_overstates_a_member(tmp_path):
    path = npz_declaring(tmp_path / "big.npz", (50 * 2 ** 20,), data=b"\x00" * 16)
    data = bytearray(path.read_bytes())
    directory = data.rindex(b"PK\x01\x02")  # sizes at bytes 20-27 of the directory entry
    data[directory + 20: directory + 28] = struct.pack("<II", 200 * 2 ** 20 + 128,
                                                       200 * 2 ** 20 + 128)
    path.write_bytes(bytes(data))
    refused_without_allocating(path, r"member 'w.npy' declares 209715328 stored bytes past "
                                     "the end of the file; the file is truncated")


@pytest.mark.parametrize("descr", ("|V8", "<M8[s]", "|S4", [("a", "<f4"), ("b", "<i4")]))
def test_load_refuses_types_that_are_not_plain_numbers(tmp_path, descr):
    itemsize = np.dtype(descr).itemsize
    path = npz_declaring(tmp_path / "odd.npz", (2,), descr=descr, data=b"\x00" * 2 * itemsize)
    with pytest.raises(ValueError, match="not a plain number type"):
        nn.load(path)


def test_load_still_reads_compressed_files_and_text(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, w=np.zeros((256, 256), np.float32), config=np.array('{"a": 1}'))
    state = nn.load(path)
    assert state["w"].shape == (256, 256) and str(state["config"]) == '{"a": 1}'

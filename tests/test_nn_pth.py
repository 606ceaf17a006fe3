"""nn.load_pth / nn.save_pth: PyTorch files read without PyTorch and without running code.

The fixtures in tests/fixtures/ were written once by PyTorch (tests/fixtures/make_fixtures.py);
PyTorch is not needed here.
"""
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import handmade
from handmade import calling, legacy_pth, zip_pth
import nn
from nn.pth import _pickle_state, skip_instance_norm_statistics
from cyclegan import ResnetGenerator

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FORMATS = ("tiny_G.pth", "tiny_G_legacy.pth")


def fixture(name):
    return os.path.join(FIXTURES, name)


def tiny_generator(path):
    state = nn.load_pth(path)
    generator = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    skipped = skip_instance_norm_statistics(state, generator)
    generator.load_state_dict(state)
    return generator.eval(), skipped


# --- the fixtures PyTorch wrote ------------------------------------------------------------

@pytest.mark.parametrize("name", FORMATS)
def test_pytorch_generator_gives_pytorchs_outputs(name):
    generator, _ = tiny_generator(fixture(name))
    outputs = np.load(fixture("tiny_G_outputs.npz"))
    with nn.no_grad():
        y = generator(nn.Tensor(outputs["x"])).data
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, outputs["y"], rtol=0, atol=1e-6)    # PyTorch in float32
    np.testing.assert_allclose(y, outputs["y64"], rtol=0, atol=1e-6)  # PyTorch in float64
    generator.to(dtype=np.float64)  # the same function, without float32 rounding
    with nn.no_grad():
        y = generator(nn.Tensor(outputs["x"].astype(np.float64))).data
    np.testing.assert_allclose(y, outputs["y64"], rtol=0, atol=1e-12)


def test_both_formats_hold_the_same_arrays_and_old_instance_norm_statistics_are_skipped():
    zipped, legacy = nn.load_pth(fixture(FORMATS[0])), nn.load_pth(fixture(FORMATS[1]))
    skipped = skip_instance_norm_statistics(legacy, ResnetGenerator(3, 3, ngf=4, n_blocks=2))
    # every InstanceNorm of the generator: 3 before the blocks, 2 per block, 2 after
    assert len(skipped) == 2 * (3 + 2 * 2 + 2)
    assert all(k.endswith((".running_mean", ".running_var")) for k in skipped)
    assert list(zipped) == list(legacy)
    for key in zipped:
        assert zipped[key].dtype == np.float32
        np.testing.assert_array_equal(zipped[key], legacy[key])


@pytest.mark.parametrize("name", ("views.pth", "views_legacy.pth"))
def test_strided_views_offsets_and_element_types(name):
    expected = np.load(fixture("views.npz"))
    loaded = nn.load_pth(fixture(name))
    assert list(loaded) == list(expected.files)
    for key in expected.files:
        assert loaded[key].dtype == expected[key].dtype, key
        assert loaded[key].shape == expected[key].shape, key
        np.testing.assert_array_equal(loaded[key], expected[key], err_msg=key)
    assert loaded["oihw"].flags.writeable and loaded["oihw"].flags.c_contiguous


# --- writing ----------------------------------------------------------------------------

def test_write_then_read_gives_identical_arrays(tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "transposed": rng.standard_normal((5, 6)).T,               # non-contiguous float64
        "big_endian": np.arange(4, dtype=">i4"),
        "half": np.array([0.5, -1.5], dtype=np.float16),
        "flags": np.array([True, False, True]),
        "bytes": np.arange(250, 256, dtype=np.uint8),
        "small": np.array([-128, 127], dtype=np.int8),
        "short": np.array([-3], dtype=np.int16),
        "long": np.array([2 ** 40, -(2 ** 40)], dtype=np.int64),
        "scalar": np.float32(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    path = tmp_path / "model.pth"
    nn.save_pth(path, state)
    loaded = nn.load_pth(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        value = np.asarray(value)
        assert loaded[key].dtype == value.dtype.newbyteorder("="), key
        assert loaded[key].shape == value.shape, key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    with zipfile.ZipFile(path) as archive:  # the layout PyTorch reads; data 64-byte aligned
        assert {"archive/data.pkl", "archive/byteorder", "archive/version"} <= set(
            archive.namelist())
        for info in archive.infolist():
            start = info.header_offset + 30 + len(info.filename) + len(info.extra)
            assert start % 64 == 0, info.filename


def test_write_round_trips_a_generator(tmp_path):
    generator, _ = tiny_generator(fixture(FORMATS[0]))
    path = tmp_path / "G.pth"
    nn.save_pth(path, generator.state_dict())
    again = nn.load_pth(path)
    for key, value in generator.state_dict().items():
        np.testing.assert_array_equal(again[key], nn.to_host(value))


def test_save_refuses_types_pytorch_has_no_storage_for(tmp_path):
    with pytest.raises(TypeError, match="'text'.*no PyTorch storage"):
        nn.save_pth(tmp_path / "x.pth", {"text": np.array("hello")})
    assert not os.listdir(tmp_path)


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "G.pth"
    nn.save_pth(path, {"w": np.zeros(3, dtype=np.float32)})
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    with pytest.raises(OSError, match="disk full"):
        nn.save_pth(path, {"w": np.ones(3, dtype=np.float32)})
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["G.pth"]


# --- files that would run code ------------------------------------------------------------

PAYLOADS = [("os", "system", "touch {marker}"),
            ("builtins", "eval", "open({marker!r}, 'w').close()"),
            ("posix", "system", "touch {marker}")]


@pytest.mark.parametrize("module, name, command", PAYLOADS)
@pytest.mark.parametrize("layout", ("zip", "legacy", "legacy magic"))
def test_a_pickle_that_names_a_function_is_refused_without_running(tmp_path, layout, module,
                                                                   name, command):
    marker = tmp_path / "ran"
    payload = calling(module, name, command.format(marker=str(marker)))
    assert not marker.exists()
    path = tmp_path / "evil.pth"
    if layout == "zip":
        zip_pth(path, payload)
    elif layout == "legacy":
        legacy_pth(path, payload)
    else:  # the payload where the magic number belongs
        legacy_pth(path, pickle.dumps({}, protocol=2), first=payload)
    with pytest.raises(nn.PthError, match=rf"names {module}\.{name}.*refused"):
        nn.load_pth(path)
    assert not marker.exists()


def test_a_pickle_wrapped_as_a_tensor_is_refused_too(tmp_path):
    # the dangerous global nested inside an allowed call, as real attacks hide it
    marker = tmp_path / "ran"
    inner = calling("os", "system", f"touch {marker}")[:-1]  # without STOP
    payload = b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00w" + inner + b"u."
    zip_pth(tmp_path / "evil.pth", payload)
    with pytest.raises(nn.PthError, match=r"names os\.system"):
        nn.load_pth(tmp_path / "evil.pth")
    assert not marker.exists()


def test_a_pickle_cannot_change_a_tensor_it_built(tmp_path):
    tensor = _pickle_state([("w", "FloatStorage", 4, (4,))])
    # BUILD (b) right after the tensor's REDUCE: set its storage to a number
    changed = tensor.replace(b"tR", b"tRN}X\x07\x00\x00\x00storageK\x05s\x86b", 1)
    assert changed != tensor
    path = zip_pth(tmp_path / "changed.pth", changed, [("0", b"\x00" * 16)])
    with pytest.raises(nn.PthError, match="changes a Tensor"):
        nn.load_pth(path)


def test_a_pickled_module_is_refused(tmp_path):
    # the legacy format could pickle a whole module with its source as a persistent id
    payload = b"\x80\x02(X\x06\x00\x00\x00moduleX\x03\x00\x00\x00netX\x04\x00\x00\x00codetQ."
    legacy_pth(tmp_path / "net.pth", payload)
    with pytest.raises(nn.PthError, match="pickled module"):
        nn.load_pth(tmp_path / "net.pth")


# --- damaged files ----------------------------------------------------------------------

def test_truncated_files_are_refused_naming_them(tmp_path):
    for name in FORMATS:
        data = open(fixture(name), "rb").read()
        for cut in (len(data) // 3, len(data) - 10):
            path = tmp_path / f"cut_{cut}_{name}"
            path.write_bytes(data[:cut])
            with pytest.raises(nn.PthError, match=str(path)):
                nn.load_pth(path)


def test_a_corrupted_zip_is_refused(tmp_path):
    data = bytearray(open(fixture(FORMATS[0]), "rb").read())
    with zipfile.ZipFile(fixture(FORMATS[0])) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename),
                   key=lambda i: i.file_size)
    start = info.header_offset + 30 + len(info.filename) + 64  # inside the storage's bytes
    data[start] ^= 0xFF
    path = tmp_path / "flipped.pth"
    path.write_bytes(bytes(data))
    with pytest.raises(nn.PthError, match="damaged"):
        nn.load_pth(path)
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(nn.PthError, match="damaged or truncated zip"):
        nn.load_pth(path)


def test_wrong_magic_number_and_other_files_are_refused(tmp_path):
    path = legacy_pth(tmp_path / "old.pth", pickle.dumps({}, protocol=2),
                      first=pickle.dumps(0x1950a86a20f9469cfc6d, protocol=2))
    with pytest.raises(nn.PthError, match="wrong magic number"):
        nn.load_pth(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(nn.PthError, match="wrong magic number"):
        nn.load_pth(path)
    path.write_bytes(b"")
    with pytest.raises(nn.PthError, match="empty"):
        nn.load_pth(path)
    nn.save(tmp_path / "weights.npz", {"w": np.ones(2)})  # an .npz is a zip, not a .pth
    with pytest.raises(nn.PthError, match="not a PyTorch file"):
        nn.load_pth(tmp_path / "weights.npz")
    with pytest.raises(FileNotFoundError):
        nn.load_pth(tmp_path / "absent.pth")


# --- files that declare more than they hold -------------------------------------------------

def refused_without_allocating(path, match):
    """nn.load_pth refuses ``path`` with ``match``, before allocating what it declares."""
    handmade.refused_without_allocating(nn.load_pth, path, nn.PthError, match)


@pytest.mark.parametrize("numel", (10 ** 12, 50 * 2 ** 20))  # 3.6 TiB, and 200 MiB: allocatable
def test_zip_storage_declaring_more_than_its_member_holds(tmp_path, numel):
    pickled = _pickle_state([("w", "FloatStorage", numel, (numel,))])
    path = zip_pth(tmp_path / "big.pth", pickled, [("0", b"\x00" * 16)])
    refused_without_allocating(path, rf"data/0 does not hold what is declared \({4 * numel} bytes")


def test_zip_directory_declaring_more_than_the_file_holds(tmp_path):
    path = zip_pth(tmp_path / "big.pth", _pickle_state([("w", "FloatStorage", 4, (4,))]),
                   [("0", b"\x00" * 16)])
    data = bytearray(path.read_bytes())
    directory = data.rindex(b"PK\x01\x02")
    # the last central directory entry is archive/data/0: set its sizes to 200 MiB
    data[directory + 20: directory + 28] = struct.pack("<II", 50 * 2 ** 22, 50 * 2 ** 22)
    path.write_bytes(bytes(data))
    refused_without_allocating(path, "declares 209715200 stored bytes past the end of the file")


def test_a_tensor_reaching_past_its_storage(tmp_path):
    pickled = _pickle_state([("w", "FloatStorage", 4, (10 ** 6, 10 ** 6))])
    path = zip_pth(tmp_path / "big.pth", pickled, [("0", b"\x00" * 16)])
    refused_without_allocating(path, r"reaches element 999999999999 of storage 0, which declares 4")


def test_a_broadcast_view_larger_than_its_storage(tmp_path):
    # stride 0 repeats one element: 10^12 of them from a 4-byte storage
    pickled = _pickle_state([("w", "FloatStorage", 1, (10 ** 6, 10 ** 6))])
    pickled = pickled.replace(b"(J@B\x0f\x00J\x01\x00\x00\x00t", b"(J\x00\x00\x00\x00J\x00"
                              b"\x00\x00\x00t")  # strides (10^6, 1) -> (0, 0)
    path = zip_pth(tmp_path / "broadcast.pth", pickled, [("0", b"\x00" * 4)])
    refused_without_allocating(path, "has 1000000000000 elements, more than the 1 of its storage")


def test_one_storage_declared_with_two_types(tmp_path):
    # tensor b names storage "0" (4 floats) as 16 bytes: it must not read past the floats
    pickled = _pickle_state([("a", "FloatStorage", 4, (4,)), ("b", "ByteStorage", 64, (64,))])
    pickled = pickled.replace(b"X\x01\x00\x00\x001", b"X\x01\x00\x00\x000")
    path = zip_pth(tmp_path / "two.pth", pickled, [("0", b"\x00" * 16)])
    with pytest.raises(nn.PthError, match="storage 0 is declared twice, differently"):
        nn.load_pth(path)


def test_many_views_of_one_storage(tmp_path):
    numel = 2 ** 20  # 4 MiB, viewed under 100 keys: 400 MiB of arrays from a 4 MiB file
    pickled = _pickle_state([(f"w{i}", "FloatStorage", numel, (numel,)) for i in range(100)])
    for i in range(1, 100):  # every tensor on storage "0"
        pickled = pickled.replace(b"X\x01\x00\x00\x00" + str(i).encode() if i < 10 else
                                  b"X\x02\x00\x00\x00" + str(i).encode(), b"X\x01\x00\x00\x000")
    path = zip_pth(tmp_path / "shared.pth", pickled, [("0", b"\x00" * 4 * numel)])
    refused_without_allocating(path, "more than 4 views of the same data are refused")


@pytest.mark.parametrize("numel", (10 ** 12, 50 * 2 ** 20))
def test_legacy_storage_declaring_more_than_the_file_holds(tmp_path, numel):
    pickled = _pickle_state([("w", "FloatStorage", numel, (numel,))], legacy=True)
    path = legacy_pth(tmp_path / "big.pth", pickled, ["0"], [(numel, b"\x00" * 16)])
    refused_without_allocating(path, rf"storage 0 declares {numel} elements .* 16 bytes are left")


def test_legacy_count_disagreeing_with_the_pickle(tmp_path):
    pickled = _pickle_state([("w", "FloatStorage", 4, (4,))], legacy=True)
    path = legacy_pth(tmp_path / "bad.pth", pickled, ["0"], [(10 ** 12, b"\x00" * 16)])
    refused_without_allocating(path, f"declares 4 elements in the pickle and {10 ** 12}")
    path = legacy_pth(tmp_path / "good.pth", pickled, ["0"], [(4, np.arange(4, dtype="<f4")
                                                                .tobytes())])
    assert nn.load_pth(path)["w"].tolist() == [0, 1, 2, 3]  # the same file, told the truth

"""Weights files built to hurt: each is refused with one message, costs no more memory than the
file justifies (measured with tracemalloc, which sees NumPy's allocations and the unpickler's),
and never runs code. The records a file keeps about itself (a generator's architecture, a
checkpoint's configuration) are checked before any model is built from them."""
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

import nn
import train
import translate
from cli import assert_clean_error, run_main
from cyclegan import ResnetGenerator
from cyclegan_support import records
from cyclegan_support.generator_file import save_generator
from handmade import (encrypted, memo_put, nested_dicts, npz_declaring, refused_without_allocating,
                      zip_pth, legacy_pth)
from nn.pth import _pickle_state

MIB = 2 ** 20


def generator_file(path, seed=0, **architecture):
    architecture = {"ngf": 4, "n_blocks": 1, **architecture}
    generator = ResnetGenerator(**architecture, rng=np.random.default_rng(seed))
    save_generator(path, generator)
    return path


def forge_record(path, **changes):
    """The generator file ``path`` with its architecture record changed (None deletes)."""
    state = nn.load(path)
    record = json.loads(str(state["architecture"]))
    record.update(changes)
    state["architecture"] = np.array(json.dumps({k: v for k, v in record.items()
                                                 if v is not None}))
    nn.save(path, state)
    return path


def translate_refuses(capsys, tmp_path, weights, *words):
    """translate.py with ``weights`` exits 2 with a message holding ``words``, writes nothing,
    and holds less than 64 MiB meanwhile."""
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    import tracemalloc
    tracemalloc.start()
    try:
        status, _, err = run_main(translate.main, ["--checkpoint", str(weights),
                                                   str(tmp_path / "p.png"), "--out",
                                                   str(tmp_path / "out")], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_clean_error(status, err, *words)
    assert not (tmp_path / "out").exists()
    assert peak < 64 * MIB, f"{peak / MIB:.0f} MiB"
    return err


# --- non-finite weights ------------------------------------------------------------------------

@pytest.mark.parametrize("kind, bad", [("npz", np.nan), ("pth", np.inf), ("pth", -np.inf)])
def test_a_non_finite_weight_is_refused_by_name(tmp_path, capsys, kind, bad):
    path = generator_file(tmp_path / "G.npz")
    state = nn.load(path)
    state["model.4.weight"][1, 2, 0, 0] = bad
    if kind == "npz":
        nn.save(path, state)
    else:
        del state["architecture"]
        path = tmp_path / "G.pth"
        nn.save_pth(path, state)
    translate_refuses(capsys, tmp_path, path, "'model.4.weight' holds 1 non-finite value")


def test_check_finite_counts_and_skips_integers_and_text():
    with pytest.raises(ValueError, match=r"'b' holds 2 non-finite values \(NaN or infinity\) "
                                         "among its 3"):
        nn.state.check_finite({"a": np.ones(2), "b": np.array([np.nan, 1, np.inf]),
                               "c": np.array([1, 2])}, "f")
    nn.state.check_finite({"n": np.array([1, 2]), "t": np.array("nan"), "x": np.ones(3)}, "f")


# --- a generator's architecture record ---------------------------------------------------------

@pytest.mark.parametrize("changes, words", [
    ({"ngf": 10 ** 6}, ["asks for", "weights, and the file holds"]),
    ({"n_blocks": 10 ** 9}, ["asks for", "nothing was built"]),
    ({"ngf": 0}, ["ngf 0; it must be a whole number >= 1"]),
    ({"n_blocks": -1}, ["n_blocks -1; it must be a whole number >= 0"]),
    ({"ngf": "4"}, ["ngf '4'; it must be a whole number"]),
    ({"ngf": 4.0}, ["ngf 4.0; it must be a whole number"]),
    ({"input_nc": True}, ["input_nc True; it must be a whole number"]),
    ({"norm": "batch"}, ["(unknown: norm)"]),
    ({"ngf": None}, ["(missing: ngf)"]),
])
def test_a_forged_architecture_record_is_one_message(tmp_path, capsys, changes, words):
    path = forge_record(generator_file(tmp_path / "G.npz"), **changes)
    translate_refuses(capsys, tmp_path, path, *words)


@pytest.mark.parametrize("entry", ["architecture", "train.config"])
def test_a_record_nested_100000_deep_is_one_message(tmp_path, capsys, entry):
    path = generator_file(tmp_path / "G.npz")
    state = nn.load(path)
    state[entry] = np.array("[" * 100_000 + "]" * 100_000)
    if entry == "train.config":
        state.update({"train.epoch": np.int64(1), "train.iteration": np.int64(0)})
    nn.save(path, state)
    translate_refuses(capsys, tmp_path, path, "has a damaged")


def test_weight_counts_are_those_of_the_built_networks():
    from cyclegan import NLayerDiscriminator
    for args in ((3, 3, 4, 1), (1, 2, 3, 0), (3, 1, 2, 3)):
        generator = ResnetGenerator(*args)
        assert records.generator_weight_count(*args) == sum(
            p.data.size for p in generator.parameters())
    for args in ((3, 4), (1, 2), (2, 3, 2)):
        discriminator = NLayerDiscriminator(*args)
        assert records.discriminator_weight_count(*args) == sum(
            p.data.size for p in discriminator.parameters())


# --- a checkpoint's configuration ----------------------------------------------------------------

@pytest.fixture
def checkpoint(finished_run):
    """A tiny run's checkpoint (tests/conftest.py)."""
    return finished_run / "checkpoint.npz"


@pytest.mark.parametrize("changes, words", [
    ({"crop_size": 7}, ["crop_size 7, which --crop-size refuses: must be >= 24"]),
    ({"n_train": 10 ** 9}, ["n_train 1000000000, which --n-train refuses: must be <= 10000"]),
    ({"ngf": 10 ** 6}, ["asks for", "weights in G_A, and the file holds"]),
    ({"n_blocks": 10 ** 9}, ["asks for", "weights in G_A"]),
    ({"ndf": 10 ** 5}, ["weights in D_A"]),
    ({"colour": "blue"}, ["entries train.py does not know (colour)"]),
    ({"lr": "fast"}, ["lr 'fast', not a finite number"]),
    ({"lr": float("nan")}, ["lr nan, not a finite number"]),
    ({"lr": 0.0}, ["lr 0.0, which --lr refuses: must be > 0"]),
    ({"batch_size": 2.5}, ["batch_size 2.5, not a whole number"]),
    ({"load_size": 24, "crop_size": 28}, ["the crop must fit inside the image"]),
    ({"out": 3}, ["out 3, not a folder name"]),
])
def test_a_forged_checkpoint_configuration_is_one_message(checkpoint, tmp_path, capsys,
                                                          changes, words):
    out = tmp_path / "run"
    out.mkdir()
    state = nn.load(checkpoint)
    config = json.loads(str(state["train.config"]))
    config.update(changes)
    state["train.config"] = np.array(json.dumps(config))
    nn.save(out / "checkpoint.npz", state)
    before = (out / "checkpoint.npz").read_bytes()
    import tracemalloc
    tracemalloc.start()
    try:
        status, _, err = run_main(train.main, ["--resume", "--out", str(out)], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_clean_error(status, err, "cannot read the checkpoint", *words)
    assert (out / "checkpoint.npz").read_bytes() == before
    assert peak < 64 * MIB, f"{peak / MIB:.0f} MiB"


def test_a_checkpoint_with_a_nan_weight_is_refused_by_name(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    state = nn.load(checkpoint)
    state["D_B.model.0.bias"][0] = np.nan
    nn.save(out / "checkpoint.npz", state)
    status, _, err = run_main(train.main, ["--resume", "--out", str(out)], capsys)
    assert_clean_error(status, err, "'D_B.model.0.bias' holds 1 non-finite value")


# --- zip features ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method, name", [(zipfile.ZIP_BZIP2, "12"), (zipfile.ZIP_LZMA, "14")])
def test_zip_methods_other_than_deflate_are_refused(tmp_path, capsys, method, name):
    path = npz_declaring(tmp_path / "G.npz", (4,), compression=method)
    with pytest.raises(ValueError, match=f"member 'w.npy' is compressed with zip method {name}; "
                                         "only stored and deflated members are read"):
        nn.load(path)
    pth = zip_pth(tmp_path / "G.pth", _pickle_state([("w", "FloatStorage", 4, (4,))]),
                  [("0", b"\x00" * 16)], compression=method)
    with pytest.raises(nn.PthError, match=f"compressed with zip method {name}"):
        nn.load_pth(pth)
    translate_refuses(capsys, tmp_path, path, f"compressed with zip method {name}")


def test_an_encrypted_zip_is_refused(tmp_path, capsys):
    path = encrypted(generator_file(tmp_path / "G.npz"))
    with pytest.raises(ValueError, match="is encrypted"):
        nn.load(path)
    pth = encrypted(zip_pth(tmp_path / "G.pth", _pickle_state([("w", "FloatStorage", 4, (4,))]),
                            [("0", b"\x00" * 16)]))
    with pytest.raises(nn.PthError, match="is encrypted"):
        nn.load_pth(pth)
    translate_refuses(capsys, tmp_path, path, "is encrypted (a password-protected zip)")


@pytest.mark.parametrize("load, suffix", [(nn.load, "npz"), (nn.load_pth, "pth")])
def test_a_member_expanding_far_beyond_the_file_is_refused_unexpanded(tmp_path, load, suffix):
    """64 MiB of zeros deflate to 64 KiB, a ratio deflate allows (1032 at most): refused
    before 64 MiB are spent on it."""
    size = 64 * MIB
    if suffix == "npz":
        path = npz_declaring(tmp_path / "z.npz", (size // 4,), data=bytes(size),
                             compression=zipfile.ZIP_DEFLATED)
    else:
        path = zip_pth(tmp_path / "z.pth", _pickle_state([("w", "FloatStorage", size // 4,
                                                           (size // 4,))]),
                       [("0", bytes(size))], compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < MIB
    refused_without_allocating(load, path, ValueError, "more than 16 times as many; refused "
                                                       "before expanding them")


def test_a_member_compressed_as_weights_compress_is_read(tmp_path):
    state = {"w": np.random.default_rng(0).standard_normal(10 ** 5).astype(np.float32)}
    np.savez_compressed(tmp_path / "c.npz", **state)
    np.testing.assert_array_equal(nn.load(tmp_path / "c.npz")["w"], state["w"])


# --- pickles built to cost memory or stack --------------------------------------------------------

def test_100000_nested_dicts_are_refused_without_recursion(tmp_path):
    path = zip_pth(tmp_path / "deep.pth", nested_dicts(100_000))
    with pytest.raises(nn.PthError, match="nests dicts more than 16 deep"):
        nn.load_pth(path)


def test_a_dict_holding_itself_is_refused(tmp_path):
    # {} stored in memo 0; its key "a" set to memo 0: d["a"] is d
    path = zip_pth(tmp_path / "loop.pth", b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.")
    with pytest.raises(nn.PthError, match="nests dicts more than 16 deep"):
        nn.load_pth(path)


def test_dicts_nested_a_few_deep_give_dotted_keys_in_the_file_order(tmp_path):
    entries = [("w", "FloatStorage", 2, (2,)), ("v", "FloatStorage", 1, (1,))]
    inner = _pickle_state(entries)
    # {"a": <state>, "b": <state>}: the inner OrderedDict pickles are opcode lists, so nest
    # them by hand between MARK ... SETITEMS
    body = inner[2:-1]  # without PROTO and STOP
    outer = (b"\x80\x02}(X\x01\x00\x00\x00a" + body + b"X\x01\x00\x00\x00b" + body + b"u.")
    storages = [("0", struct.pack("<2f", 1, 2)), ("1", struct.pack("<f", 3))]
    state = nn.load_pth(zip_pth(tmp_path / "n.pth", outer, storages))
    assert list(state) == ["a.w", "a.v", "b.w", "b.v"]
    np.testing.assert_array_equal(state["b.w"], [1, 2])


def test_a_memo_index_of_2_to_the_25_costs_nothing(tmp_path):
    """C's unpickler would grow its memo to 2^26 slots (512 MiB) for this 1-byte store; the
    file loads, and right."""
    entries = [("w", "FloatStorage", 3, (3,))]
    path = zip_pth(tmp_path / "memo.pth", memo_put(2 ** 25, _pickle_state(entries)),
                   [("0", struct.pack("<3f", 1, 2, 3))])
    import tracemalloc
    tracemalloc.start()
    try:
        state = nn.load_pth(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(state["w"], [1, 2, 3])
    assert peak < 16 * MIB, f"{peak / MIB:.0f} MiB"


def test_a_legacy_header_with_a_huge_memo_index_is_refused_cheaply(tmp_path):
    path = legacy_pth(tmp_path / "memo.pth", pickle.dumps({}, protocol=2),
                      first=memo_put(2 ** 25, pickle.dumps(None, protocol=2)))
    assert len(memo_put(2 ** 25, pickle.dumps(None, protocol=2))) < 17
    refused_without_allocating(nn.load_pth, path, nn.PthError, "wrong magic number")


def test_a_string_longer_than_the_file_is_not_allocated(tmp_path):
    # BINUNICODE declaring 2^31 bytes, in a legacy file read from disk
    path = legacy_pth(tmp_path / "long.pth", b"\x80\x02X\xff\xff\xff\x7fab.")
    refused_without_allocating(nn.load_pth, path, nn.PthError, "truncated or corrupt")


def test_many_empty_blocks_build_no_model(tmp_path, capsys):
    """2000 zero-size 'residual blocks' in a 300 KB .pth: the architecture read from its keys
    asks for a model of 37 million weights (148 MB); refused before it is built."""
    state = ResnetGenerator(ngf=8, n_blocks=1).state_dict()
    for i in range(2000):
        state[f"model.{100 + i}.conv_block.1.weight"] = np.zeros((0, 32, 3, 3), np.float32)
    nn.save_pth(tmp_path / "blocks.pth", state)
    assert (tmp_path / "blocks.pth").stat().st_size < MIB
    translate_refuses(capsys, tmp_path, tmp_path / "blocks.pth", "2001 residual blocks", "asks for")


@pytest.mark.parametrize("shape, words", [((0, 3, 7, 7), "ngf 0"),
                                          ((10 ** 6, 0, 7, 7), "input_nc 0")])
def test_a_zero_size_first_weight_is_a_message(tmp_path, capsys, shape, words):
    state = ResnetGenerator(ngf=4, n_blocks=1).state_dict()
    state["model.1.weight"] = np.zeros(shape, np.float32)
    nn.save_pth(tmp_path / "zero.pth", state)
    translate_refuses(capsys, tmp_path, tmp_path / "zero.pth", words,
                      "it must be a whole number >= 1")


# --- byte order and the allow-list ----------------------------------------------------------------

def test_a_big_endian_pth_loads_right(tmp_path):
    entries = [("f", "FloatStorage", 3, (3,)), ("d", "DoubleStorage", 2, (2,)),
               ("i", "LongStorage", 2, (2,)), ("h", "HalfStorage", 2, (2,))]
    storages = [("0", struct.pack(">3f", 1, 2, 3)), ("1", struct.pack(">2d", -0.5, 1e300)),
                ("2", struct.pack(">2q", 7, -2 ** 40)), ("3", struct.pack(">2e", 1.5, -2))]
    state = nn.load_pth(zip_pth(tmp_path / "big.pth", _pickle_state(entries), storages,
                                byteorder="big"))
    np.testing.assert_array_equal(state["f"], np.array([1, 2, 3], np.float32))
    np.testing.assert_array_equal(state["d"], [-0.5, 1e300])
    np.testing.assert_array_equal(state["i"], [7, -2 ** 40])
    np.testing.assert_array_equal(state["h"], np.array([1.5, -2], np.float16))
    assert all(a.dtype.isnative for a in state.values())


@pytest.mark.parametrize("module", ["torchevil", "torch.evil", "torch._utils.evil", "torch_"])
def test_a_module_merely_named_like_torch_is_refused(tmp_path, monkeypatch, module):
    """An allow-list by prefix would import and call these."""
    package = tmp_path / "lib"
    for part in module.split(".")[:-1]:
        package = package / part
    package.mkdir(parents=True)
    parts = module.split(".")
    folder = tmp_path / "lib" / "/".join(parts[:-1])
    for i in range(1, len(parts)):
        (tmp_path / "lib" / "/".join(parts[:i]) / "__init__.py").write_text("")
    (folder / f"{parts[-1]}.py").write_text(
        "def run(path):\n    open(path, 'w').write('ran')\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    marker = tmp_path / "ran"
    path = zip_pth(tmp_path / "evil.pth",
                   f"c{module}\nrun\n(V{marker}\ntR.".encode())
    with pytest.raises(nn.PthError, match=rf"names {module}\.run, which a state dict never "
                                          "holds; refused unread"):
        nn.load_pth(path)
    assert not marker.exists()


@pytest.mark.parametrize("argv, message", [
    (["--n-train", "10001"], "--n-train: must be <= 10000"),
    (["--crop-size", "2052"], "--crop-size: must be <= 2048"),
    (["--load-size", "4096"], "--load-size: must be <= 2048"),
])
def test_the_command_line_has_the_ranges_a_checkpoint_is_held_to(argv, message, capsys):
    with pytest.raises(SystemExit):
        train.build_parser().parse_args(argv)
    assert message in capsys.readouterr().err

"""train.py and translate.py on tiny configurations: exact resume through the checkpoint code,
an end-to-end run whose checkpoint translate.py uses, the command line's checks, the progress
display."""
import csv
import io
import os
import signal

import numpy as np
import pytest
from PIL import Image

from cli import Terminal, record_steps
from cyclegan_support import data
from cyclegan_support.checkpoint import load_checkpoint, save_checkpoint
from cyclegan_support.generator_file import save_generator
from cyclegan_support.progress import Progress
import nn
import train
from training.options import resolve_config
from training.outputs import LossTable
import translate

# Two epochs trained (factors 1 and 1/2; the schedule's third has rate 0 and is skipped), of
# ceil(5 / 2) = 3 batches each.
TINY = ["--crop-size", "24", "--load-size", "28", "--ngf", "4", "--ndf", "4", "--n-blocks", "1",
        "--n-train", "5", "--n-epochs", "2", "--n-epochs-decay", "1", "--batch-size", "2",
        "--pool-size", "2", "--seed", "3"]


def tiny_argv(out):
    return TINY + ["--out", str(out)]


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    """The uninterrupted run that every split run is compared with (trained once): its
    output folder and every step's losses."""
    out = tmp_path_factory.mktemp("whole") / "run"
    with pytest.MonkeyPatch.context() as patch:
        history = record_steps(patch)
        assert train.main(tiny_argv(out)) == 0
    assert len(history) == 6  # 2 epochs of 3 batches
    return out, history


@pytest.mark.parametrize("k", [2, 4])  # stop inside epoch 1, or inside epoch 2
def test_resume_continues_exactly(whole_run, tmp_path, monkeypatch, k):
    """Stopped after step k as Ctrl-C stops it, then resumed: identical losses, step by step,
    and identical weights, optimizer states and pools at the end."""
    whole, whole_history = whole_run
    out = tmp_path / "split"
    history = record_steps(monkeypatch, stop_after=k)
    assert train.main(tiny_argv(out)) == 128 + signal.SIGINT
    assert load_checkpoint(str(out / "checkpoint.npz")).iteration == k - 3 * (k > 3)
    assert train.main(["--resume", "--out", str(out)]) == 0
    assert history == whole_history
    end_whole = load_checkpoint(str(whole / "checkpoint.npz")).state
    end_split = load_checkpoint(str(out / "checkpoint.npz")).state
    assert end_whole.keys() == end_split.keys()
    for name in end_whole:
        np.testing.assert_array_equal(end_split[name], end_whole[name], err_msg=name)
    rows = LossTable(str(out / "losses.csv"), []).read()
    assert [r["epoch"] for r in rows] == ["1", "2"]


def test_end_to_end_run_then_translate(tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(TINY + ["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "translation error of G_A" in printed and str(out) in printed
    for name in ("samples/epoch_001.png", "samples/epoch_002.png", "losses.png",
                 "checkpoint.npz", "G_A.npz", "G_B.npz"):
        assert (out / name).is_file(), name
    grid = np.asarray(Image.open(out / "samples" / "epoch_002.png"))
    assert grid.shape[0] == 6 * (72 + 2)  # six rows of 24-pixel tiles enlarged 3 times
    with open(out / "losses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for r in rows:
        assert 0 < float(r["error_AtoB"]) < 2 and float(r["error_identity"]) > 0.5
        assert all(np.isfinite(float(r[k])) for k in train.LOSSES)
    # The official schedule steps at each epoch's start: factors 1, then 1/2 (then 0, skipped).
    assert [float(r["lr"]) for r in rows] == [2e-4, 1e-4]

    # translate.py with the checkpoint equals the model's own G_A on a 28x28 test scene ...
    ckpt = load_checkpoint(str(out / "checkpoint.npz"))
    state, epoch, iteration, config = ckpt.state, ckpt.epoch, ckpt.iteration, ckpt.config
    assert (epoch, iteration) == (3, 0)
    model = train.build_model(config, "cpu")
    model.load_state_dict(state)
    scene = data.to_uint8(train.load_data({**config, "crop_size": 28})[2][:1])[0]
    Image.fromarray(scene).save(tmp_path / "scene.png")
    assert translate.main(["--checkpoint", str(out / "checkpoint.npz"), str(tmp_path / "scene.png"),
                           "--out", str(tmp_path / "AtoB")]) == 0
    expected = data.to_uint8(nn.to_host(model.translate(data.to_model_range(scene[None]))))[0]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "AtoB" / "scene.png")), expected)

    # ... and a folder of odd-sized images keeps each size (padded to a multiple of 4, cropped
    # back); BtoA from the checkpoint is the same as G_B.npz alone.
    folder = tmp_path / "odd"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (21, 30), "b.jpg": (28, 17)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)
    translate.main(["--checkpoint", str(out / "checkpoint.npz"), "--direction", "BtoA",
                    str(folder), "--out", str(tmp_path / "ckpt")])
    translate.main(["--checkpoint", str(out / "G_B.npz"), str(folder), "--out", str(tmp_path / "gb")])
    for name, size in (("a.png", (30, 21)), ("b.png", (17, 28))):
        one, two = Image.open(tmp_path / "ckpt" / name), Image.open(tmp_path / "gb" / name)
        assert one.size == size
        np.testing.assert_array_equal(np.asarray(one), np.asarray(two))

    # --resume of a finished run trains nothing more and keeps the table as it is.
    assert train.main(["--resume", "--out", str(out)]) == 0
    with open(out / "losses.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_the_schedules_last_epoch_is_skipped_and_would_change_no_weight(whole_run):
    """The official schedule trains its last epoch at rate 0: the run stops before it (2 of
    the schedule's 3 epochs, 6 steps), and that epoch, trained from the run's checkpoint,
    leaves every weight of the four networks as it was, to the bit."""
    out, history = whole_run
    assert len(history) == 6
    ckpt = load_checkpoint(str(out / "checkpoint.npz"))
    assert (ckpt.epoch, ckpt.iteration) == (3, 0)
    model = train.build_model(ckpt.config, "cpu")
    model.load_state_dict(ckpt.state)
    assert model.update_learning_rate() == 0.0  # the rate epoch 3 would train with
    before = {k: v.copy() for k, v in model.state_dict().items() if ".model." in k}
    images = train.load_data(ckpt.config)[:2]
    loader = data.UnalignedLoader(*images, ckpt.config["crop_size"], 2, seed=[3, 1])
    loader.load_state_dict(ckpt.loader)
    for real_A, real_B in loader.epoch():
        model.train_step(real_A, real_B)
    after = model.state_dict()
    networks = (model.G_A, model.G_B, model.D_A, model.D_B)
    assert len(before) == sum(len(net.parameters()) for net in networks)  # every weight
    assert model.optimizer_G.t == model.optimizer_D.t == 9  # 3 more steps were taken
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.mark.parametrize("epochs", [["--n-epochs", "1", "--n-epochs-decay", "0"],
                                    ["--n-epochs", "0", "--n-epochs-decay", "1"]])
def test_a_schedule_of_one_epoch_is_refused(epochs, tmp_path, capsys):
    """One epoch is the schedule's last, at rate 0: it would train nothing, so it is refused
    with the schedule's formula rather than reported as a finished run."""
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit:
        train.main(TINY + epochs + ["--out", str(out)])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err
    assert "nothing to train" in err and "rate 0" in err and "--n-epochs-decay 1" in err
    assert not out.exists()


def test_a_generator_file_records_its_architecture(tmp_path, monkeypatch):
    from cyclegan import ResnetGenerator
    generator = ResnetGenerator(input_nc=3, output_nc=1, ngf=3, n_blocks=2,
                                rng=np.random.default_rng(0))
    save_generator(str(tmp_path / "G_A.npz"), generator)
    assert nn.load(str(tmp_path / "G_A.npz"))["architecture"].shape == ()
    reads = []
    load = nn.load
    monkeypatch.setattr(nn, "load", lambda path: reads.append(path) or load(path))
    loaded = translate.load_generator(str(tmp_path / "G_A.npz"))
    assert reads == [str(tmp_path / "G_A.npz")]  # the file is read once
    assert loaded.architecture == generator.architecture
    x = nn.Tensor(np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32))
    with nn.no_grad():
        np.testing.assert_array_equal(loaded(x).data, generator.eval()(x).data)


def test_translate_reads_a_checkpoint_once_and_takes_its_architecture(tmp_path, monkeypatch):
    from cyclegan import CycleGAN
    model = CycleGAN(ngf=3, ndf=2, n_blocks=2, seed=0)
    images = np.zeros((2, 8, 8, 3), np.uint8)
    path = str(tmp_path / "checkpoint.npz")
    save_checkpoint(path, model, data.UnalignedLoader(images, images, 8), 1, 0,
                    {"ngf": 3, "n_blocks": 2})
    reads = []
    load = nn.load
    monkeypatch.setattr(nn, "load", lambda path: reads.append(path) or load(path))
    for direction, name in (("AtoB", "G_A"), ("BtoA", "G_B")):
        reads.clear()
        generator = translate.load_generator(path, direction)
        assert reads == [path]  # the file is read once
        assert generator.architecture == getattr(model, name).architecture
        for key, value in getattr(model, name).state_dict().items():
            np.testing.assert_array_equal(generator.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("argv, message", [
    (["--n-epochs", "-1"], "must be >= 0"),
    (["--n-epochs-decay", "-2"], "must be >= 0"),
    (["--beta1", "5"], "--beta1: must be below 1"),
    (["--beta1", "1"], "--beta1: must be below 1"),
    (["--beta1", "-3"], "--beta1: must be >= 0"),
    (["--beta1", "nan"], "--beta1: must be a finite number"),
    (["--lr", "nan"], "--lr: must be a finite number"),
    (["--lr", "inf"], "--lr: must be a finite number"),
    (["--lambda-A", "nan"], "--lambda-A: must be a finite number"),
    (["--lr", "0"], "must be > 0"),
    (["--batch-size", "0"], "must be >= 1"),
    (["--pool-size", "-1"], "must be >= 0"),
    (["--crop-size", "30"], "multiple of 4"),
    (["--crop-size", "16"], "must be >= 24"),
    (["--lr", "fast"], "not a float"),
])
def test_command_line_checks(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        train.build_parser().parse_args(argv)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_load_size_smaller_than_crop_is_refused():
    with pytest.raises(ValueError, match="smaller than --crop-size"):
        resolve_config(train.build_parser().parse_args(["--crop-size", "64",
                                                              "--load-size", "60"]))


def test_defaults():
    builtin = resolve_config(train.build_parser().parse_args([]))
    assert builtin["crop_size"] == 64 and builtin["load_size"] == 72
    assert builtin["out"] == os.path.join("runs", "day2night")
    user = resolve_config(train.build_parser().parse_args(["--dataroot", "x/horse2zebra/"]))
    assert (user["crop_size"], user["load_size"], user["n_blocks"]) == (64, 72, 6)
    assert (user["ngf"], user["n_epochs"], user["n_epochs_decay"]) == (64, 100, 100)
    assert user["out"] == os.path.join("runs", "horse2zebra")
    big = resolve_config(train.build_parser().parse_args(["--dataroot", "d",
                                                                "--crop-size", "256"]))
    assert (big["load_size"], big["n_blocks"]) == (286, 9)  # the official 286 -> 256


def test_gpu_without_cupy_exits_with_a_message(capsys, monkeypatch):
    def missing():
        raise RuntimeError("--gpu needs CuPy, which is not installed.")
    monkeypatch.setattr(nn.backend, "load_cupy", missing)
    with pytest.raises(SystemExit) as exit:
        train.main(["--gpu"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "CuPy" in err and "Traceback" not in err


def test_progress_is_a_bar_on_a_terminal_and_sparse_lines_in_a_log():
    losses = {"D_A": 0.5, "G_A": 1.0}
    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        bar = Progress(total_epochs=2, per_epoch=50, stream=stream, log_every=3600)
        for epoch in (1, 2):
            for i in range(1, 51):
                bar.update(epoch, i, losses, images=1)
            bar.end_epoch()
    lines = log.getvalue().splitlines()
    # The first iteration (training has started), then one line per epoch end.
    assert len(lines) == 3 and "\r" not in log.getvalue()
    assert lines[0].startswith("epoch 1/2 [....................] 1/50")
    assert lines[-1].startswith("epoch 2/2 [####################] 50/50")
    assert "img/s" in lines[-1] and "ETA 0:00" in lines[-1] and "G_A 1.000" in lines[-1]
    assert tty.getvalue().count("\r") >= 2 and tty.getvalue().endswith("\n")

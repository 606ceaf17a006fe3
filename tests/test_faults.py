"""Faults during training: a save killed midway, Ctrl-C and SIGTERM, a loss that blows up, a
full disk. Each leaves a checkpoint that resumes, and a resumed run continues exactly (the same
losses and weights as a run never interrupted)."""
import errno
import os
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest

from cli import ROOT, TINY, assert_clean_error, record_steps, run_main
import cyclegan
from cyclegan_support.checkpoint import load_checkpoint
import nn
import train
from training.outputs import LossTable

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def final_weights(out):
    state = load_checkpoint(os.path.join(out, "checkpoint.npz")).state
    return {k: v for k, v in state.items() if ".model." in k}


def assert_same_weights(one, two):
    assert one.keys() == two.keys()
    for k in one:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)


def leftovers(out):
    """Every file under ``out`` with ".tmp" in its name, hidden ones included (glob would
    skip the ".tmp-*" files of replace_atomically)."""
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(out)
                  for name in names if ".tmp" in name)


def test_a_checkpoint_save_killed_midway_leaves_the_previous_one(finished_run, tmp_path, capsys,
                                                                 monkeypatch):
    out = tmp_path / "run"
    real_save, real_write = nn.save, np.lib.format.write_array
    saves, kept = [], {}

    def save(path, arrays):
        saves.append(os.path.basename(path))
        if saves.count("checkpoint.npz") == 2:  # the end of epoch 2: fail partway through
            kept["bytes"] = (out / "checkpoint.npz").read_bytes()
            written = []

            def write_array(fp, array, *args, **kwargs):
                if len(written) == 5:
                    fp.write(b"\0" * 100)
                    raise ENOSPC
                written.append(1)
                return real_write(fp, array, *args, **kwargs)
            monkeypatch.setattr(np.lib.format, "write_array", write_array)
        return real_save(path, arrays)
    monkeypatch.setattr(nn, "save", save)
    status, _, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert_clean_error(status, err, "could not write the checkpoint", "No space left on device",
                       "epoch 2, iteration 0", f"--resume --out {out}", code=1)
    assert (out / "checkpoint.npz").read_bytes() == kept["bytes"] and not leftovers(out)

    monkeypatch.undo()
    status, printed, err = run_main(train.main, ["--resume", "--out", str(out)], capsys)
    assert status == 0 and "resuming at epoch 2 iteration 0" in printed, err
    assert_same_weights(final_weights(out), final_weights(finished_run))


def test_resume_removes_what_a_save_killed_midway_left_behind(run_copy, capsys):
    """A SIGKILL mid-save leaves replace_atomically's temporary file; --resume deletes such
    files in the run folder and its samples, and nothing else."""
    out = run_copy
    (out / ".tmp-k1ll3d.npz").write_bytes(b"\0" * 3 * 2**20)
    (out / "samples" / ".tmp-x7.png").write_bytes(b"\0" * 2**19)
    (out / "notes.tmp").write_text("the user's own file")
    before = leftovers(out)
    status, printed, err = run_main(train.main, ["--resume", "--out", str(out)], capsys)
    assert status == 0, err
    assert f"removed 3.5 MiB of temporary files that a save killed midway left in {out}" in printed
    assert len(before) == 3 and leftovers(out) == [str(out / "notes.tmp")]
    assert (out / "notes.tmp").read_text() == "the user's own file"


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys,
                                                                    monkeypatch):
    out = tmp_path / "run"
    real_step, calls, kept = cyclegan.CycleGAN.train_step, [], {}

    def train_step(self, real_A, real_B):
        calls.append(1)
        losses = real_step(self, real_A, real_B)
        if len(calls) == 3:  # epoch 2 (of two batches each), iteration 1
            kept.update({name: (out / name).read_bytes()
                         for name in ("checkpoint.npz", "G_A.npz", "losses.csv")})
            losses["cycle_B"] = float("nan")
        return losses
    monkeypatch.setattr(cyclegan.CycleGAN, "train_step", train_step)
    status, _, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert_clean_error(status, err, "the cycle_B loss is nan at epoch 2, iteration 1",
                       "epoch 2, iteration 0", "--lr", code=1)
    assert {name: (out / name).read_bytes() for name in kept} == kept


def test_resume_after_any_iteration_continues_exactly(tmp_path, monkeypatch):
    """Stopped after each of the run's iterations (inside an epoch and at its very end) as
    Ctrl-C stops it, then resumed: every later loss, the end weights and the loss table equal
    the whole run's."""
    argv = TINY + ["--n-epochs", "3"]
    whole_history = record_steps(monkeypatch)
    assert train.main(argv + ["--out", str(tmp_path / "whole")]) == 0
    steps = len(whole_history)
    assert steps == 6  # 3 epochs of 2 batches (the schedule's fourth, at rate 0, skipped)

    def table(out):
        return [{k: v for k, v in r.items() if k != "seconds"}
                for r in LossTable(os.path.join(out, "losses.csv"), []).read()]
    for k in range(1, steps):
        split = str(tmp_path / f"split{k}")
        monkeypatch.undo()  # one recording at a time
        history = record_steps(monkeypatch, stop_after=k)
        assert train.main(argv + ["--out", split]) == 128 + signal.SIGINT, k
        assert train.main(["--resume", "--out", split]) == 0, k
        assert history == whole_history, k
        assert_same_weights(final_weights(split), final_weights(tmp_path / "whole"))
        assert table(split) == table(tmp_path / "whole"), k


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_after_the_step_saves_and_says_how_to_resume(tmp_path, signum):
    """A real signal to a real train.py once it iterates; the command it prints resumes it."""
    out = str(tmp_path / "run")
    argv = TINY + ["--crop-size", "48", "--load-size", "52", "--n-train", "8",
                   "--batch-size", "1", "--out", out]
    child = subprocess.Popen([sys.executable, "train.py", *argv], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in child.stderr:  # the progress line after the first iteration
            if line.startswith("epoch 1/2"):
                break
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err
    saved = load_checkpoint(os.path.join(out, "checkpoint.npz"))
    epoch, iteration = saved.epoch, saved.iteration
    assert epoch == 1 and 1 <= iteration < 8  # stopped inside the first epoch
    command = err.split("continue with: ")[1].strip()
    assert command == f"python train.py --resume --out {out}"
    if signum != signal.SIGINT:
        return
    done = subprocess.run([sys.executable] + shlex.split(command)[1:], cwd=ROOT, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"resuming at epoch 1 iteration {iteration}" in done.stdout
    whole = str(tmp_path / "whole")
    assert train.main(argv[:-1] + [whole]) == 0
    assert_same_weights(final_weights(out), final_weights(whole))


def test_a_full_disk_for_samples_and_plots_is_a_warning(tmp_path, capsys, monkeypatch):
    from PIL import Image
    from matplotlib.figure import Figure

    def full_disk(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")  # some bytes made it, then the disk was full
        raise ENOSPC
    monkeypatch.setattr(Image.Image, "save", full_disk)
    monkeypatch.setattr(Figure, "savefig", full_disk)
    out = tmp_path / "run"
    status, _, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert status == 0, err
    for name in ("samples/epoch_001.png", "samples/epoch_002.png", "losses.png"):
        assert f"warning: could not write {out / name} ([Errno {errno.ENOSPC}] No space left" \
            in err, name
        assert not (out / name).exists()
    assert not leftovers(out)
    monkeypatch.undo()
    saved = load_checkpoint(str(out / "checkpoint.npz"))
    epoch, iteration = saved.epoch, saved.iteration
    assert (epoch, iteration) == (3, 0)
    assert len(LossTable(str(out / "losses.csv"), []).read()) == 2

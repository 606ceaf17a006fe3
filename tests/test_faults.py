"""Faults during training: a save killed midway, Ctrl-C and SIGTERM, a loss that blows up, a
full disk. Each leaves a checkpoint that resumes, and a resumed run continues exactly (the same
losses and weights as a run never interrupted)."""
import errno
import os
import shlex
import signal
import socket
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


def test_a_second_run_into_a_folder_in_use_stops_at_once(tmp_path):
    """Two real train.py processes into one --out: while the first writes there, the second
    stops at once with a message naming the first's process; the first finishes as if alone
    (its table, checkpoint and samples are its own) and removes its lock."""
    out = str(tmp_path / "run")
    argv = TINY + ["--out", out]
    first = subprocess.Popen([sys.executable, "train.py", *argv], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in first.stderr:  # the first has started training, before its checkpoint
            if line.startswith("epoch 1/2"):
                break
        first.send_signal(signal.SIGSTOP)  # held mid-run, however slow the second is to start
        second = subprocess.run([sys.executable, "train.py", *argv], cwd=ROOT, text=True,
                                capture_output=True, timeout=120)
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert_clean_error(second.returncode, second.stderr, "is in use",
                       f"process {first.pid} on this machine", "another --out")
    assert first.returncode == 0, err
    rows = LossTable(os.path.join(out, "losses.csv"), []).read()
    assert [(r["epoch"], r["iterations"]) for r in rows] == [("1", "2"), ("2", "2")]
    assert load_checkpoint(os.path.join(out, "checkpoint.npz")).epoch == 3
    assert not os.path.exists(os.path.join(out, ".lock"))


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid names no running process now
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{ended.pid} {socket.gethostname()}\n")
    status, _, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert status == 0, err
    assert f"taking over the lock {out / '.lock'} of process {ended.pid}" in err
    assert not (out / ".lock").exists() and (out / "checkpoint.npz").is_file()


@pytest.mark.parametrize("holder, words", [
    ("{pid} elsewhere", ["is in use", "process {pid} on the host elsewhere", "delete"]),
    ("{parent} {host}", ["is in use", "process {parent} on this machine"]),
    ("", ["names no process yet", "delete"]),
])
def test_a_lock_that_cannot_be_taken_over_is_refused(tmp_path, capsys, holder, words):
    """A lock from another host (its process cannot be checked), one of a process running
    here, and one whose holder has not written its name yet: refused, nothing written."""
    names = {"pid": os.getpid(), "parent": os.getppid(), "host": socket.gethostname()}
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(holder.format(**names))
    status, _, err = run_main(train.main, TINY + ["--out", str(out)], capsys)
    assert_clean_error(status, err, *(w.format(**names) for w in words))
    assert sorted(os.listdir(out)) == [".lock", "samples"]
    assert (out / ".lock").read_text() == holder.format(**names)


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

"""What keeps a training run safe, wrapped around train.py's loop so that the loop reads plainly
(``with Guard(...) as run:``).

- Before anything slow or anything written: the command line, the dataset folder, the output
  folder, and for --resume the checkpoint and its configuration (``prepare``).
- While training: Ctrl-C or SIGTERM lets the current step finish, then the run is saved and
  the command that continues it is printed; a second signal stops at once (``StopSignals``).
- Faults: a loss that is not finite, or a checkpoint that cannot be written, stops the run with
  the last good checkpoint kept.

Every mistake and every fault ends in one paragraph saying what is wrong and what to do, never
a traceback: ``RunError`` carries it out of the loop, and the guard prints it and exits with
its status (2 for bad input, 1 for a run that had to stop; 128 + the signal's number when
interrupted).
"""
import contextlib
import math
import os
import shlex
import signal
import socket
import sys
import warnings

import nn
from cyclegan import LOSS_NAMES
from cyclegan_support import data
from cyclegan_support.checkpoint import load_checkpoint, save_checkpoint
from cyclegan_support.device import select_device
from training.options import given_options, resolve_config
from training.outputs import SAMPLES, checkpoint_path

__all__ = ["RunError", "Guard", "FolderLock", "StopSignals", "prepare", "resume_command"]

LOCK = ".lock"  # in the run folder while a run writes there: "pid host"


class RunError(Exception):
    """A problem the user can fix: the guard prints it as one paragraph, without a traceback,
    and exits with ``status`` (2 for bad input, 1 for a run that had to stop)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


class Guard:
    """``with Guard(parser, argv, script) as run:`` around train.py's loop.

    Entering parses the command line and checks everything that can be checked before
    anything slow or anything written (``prepare``): ``run.config``, ``run.device`` and, for
    --resume, the checkpoint are then known. ``run.start(model, loader)`` puts the checkpoint
    into the model and the loader and says where training starts; the loop calls
    ``run.check_losses`` after each step, ``run.save`` at each epoch's end, and, once
    ``run.stop_requested`` (Ctrl-C or SIGTERM), ``run.stop``. Leaving turns a mistake or a
    fault into one paragraph (exit status 2 or 1); ``run.status`` is the exit status of a run
    that ended otherwise (0 finished, 128 + the signal's number interrupted). ``script`` is
    the path of the training script, for the command that resumes the run.
    """

    def __init__(self, parser, argv, script):
        self.parser, self.argv, self.script = parser, argv, script
        self.status, self.model, self.loader, self.saved_at = 0, None, None, None
        self.steps = 0  # the steps trained in this process

    def __enter__(self):
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(warnings.catch_warnings())
        warnings.showwarning = _print_warning  # one line naming the file, not a source excerpt
        try:
            self.config, self.device, self.checkpoint, gpu = prepare(self.parser, self.argv,
                                                                     self.script)
            # From here on, this process alone writes in the run folder.
            self.stack.enter_context(FolderLock(self.config["out"]))
        except RunError as e:
            self.stack.close()
            self.parser.exit(e.status, f"error: {e}\n")
        self.path = checkpoint_path(self.config["out"])
        self.again = resume_command(self.config["out"], gpu, self.script)
        if self.checkpoint is not None:
            _clean_up_killed_saves(self.config["out"])
        # Installed before the (slow) data loading, so an early signal is a clean stop too.
        self.signals = self.stack.enter_context(StopSignals())
        return self

    def __exit__(self, kind, error, traceback):
        try:
            return self._handled(error)
        except RunError as e:
            self.parser.exit(e.status, f"error: {e}\n")
        finally:
            self.stack.close()

    def _handled(self, error):
        """True for an exception answered here (a second signal); raises RunError for one
        that ends in a message; False for none, or for a bug (its traceback is wanted)."""
        if isinstance(error, KeyboardInterrupt):
            print(f"\nstopped at once by a second signal: {self._kept()}; continue with: "
                  f"{self.again}", file=sys.stderr)
            self.status = self.signals.status(last=True)
            return True
        if isinstance(error, RunError):
            raise error
        if self.model is None and isinstance(error, (ValueError, FileNotFoundError, KeyError)):
            # While the data and the model are loaded: a folder without images, and the like.
            raise RunError(str(error.args[0] if error.args else error)) from error
        if isinstance(error, OSError):  # e.g. a file where the samples folder should be
            raise _unwritable(self.config["out"], error) from error
        return False

    @property
    def stop_requested(self):
        """Ctrl-C or SIGTERM came: the loop should stop after its current step."""
        return bool(self.signals.received)

    def start(self, model, loader):
        """(epoch, iteration, sums): where training starts, and the sums of that epoch's losses
        so far. For --resume, the checkpoint's, after its state is put into ``model`` and
        ``loader``; for a new run (1, 0, zeros)."""
        os.makedirs(os.path.join(self.config["out"], SAMPLES), exist_ok=True)  # still a folder?
        sums = dict.fromkeys(LOSS_NAMES, 0.0)
        if self.checkpoint is not None:
            try:
                model.load_state_dict(self.checkpoint.state)
                loader.load_state_dict(self.checkpoint.loader)
            except (ValueError, KeyError) as e:
                raise RunError(f"the checkpoint {self.path} does not fit the model its "
                               "configuration describes: "
                               f"{e.args[0] if e.args else e}") from e
            self.saved_at = (self.checkpoint.epoch, self.checkpoint.iteration)
            sums.update(self.checkpoint.sums)
        self.model, self.loader = model, loader
        return (*(self.saved_at or (1, 0)), sums)

    def check_losses(self, losses, epoch, iteration):
        """Stop the run at a loss that is not finite; the weights that produced it are not
        worth saving, so the last good checkpoint is kept."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad and self.checkpoint is not None and not self.steps:
            # The run that wrote the checkpoint had finite losses up to it: what is not
            # finite came with the checkpoint, not from the learning rate.
            raise RunError(f"--resume: the first step from the checkpoint {self.path} gives a "
                           f"{bad[0]} loss of {losses[bad[0]]}: the checkpoint holds non-finite "
                           "weights or optimizer state, so it cannot continue the run. Nothing "
                           "was saved; start a new run with another --out")
        if bad:
            raise RunError(f"training stopped: the {bad[0]} loss is {losses[bad[0]]} at epoch "
                           f"{epoch}, iteration {iteration}. Nothing was saved after it: "
                           f"{self._kept()}. A loss that blows up usually means the learning "
                           "rate is too high for this data; start a new run with a smaller "
                           "--lr (another --out).", status=1)
        self.steps += 1

    def save(self, epoch, iteration, sums):
        """Write the checkpoint that continues the run ``iteration`` batches into ``epoch``; one
        that cannot be written (a full disk) stops the run, the previous one kept whole."""
        try:
            save_checkpoint(self.path, self.model, self.loader, epoch, iteration, self.config,
                            sums)
        except OSError as e:
            raise RunError(f"training stopped: could not write the checkpoint "
                           f"{e.filename or self.path} ({e.strerror or e}); {self._kept()}. "
                           f"Free some space, then continue with: {self.again}",
                           status=1) from e
        self.saved_at = (epoch, iteration)

    def stop(self, epoch, iteration, sums):
        """Save where the loop stopped, say how to continue; returns the exit status."""
        self.save(epoch, iteration, sums)
        print(f"\ninterrupted: saved {self.path} at epoch {epoch} iteration {iteration}; "
              f"continue with: {self.again}", file=sys.stderr)
        self.status = self.signals.status()
        return self.status

    def _kept(self):
        if self.saved_at is None:
            return "no checkpoint had been written yet"
        return (f"{self.path} keeps the last good state (epoch {self.saved_at[0]}, "
                f"iteration {self.saved_at[1]})")


class FolderLock:
    """While active, the run folder ``out`` holds the file ``LOCK``, created only if absent
    (O_EXCL, atomic) and holding "pid host": a second run into the same folder, started at the
    same moment or later, finds it and stops with a message naming the first. A lock left by
    a process killed outright (SIGKILL, a power cut) names a process that no longer runs: on
    the same host it is taken over, with a note; from another host it cannot be checked, so
    the message says what to delete."""

    def __init__(self, out):
        self.path, self.mine = os.path.join(out, LOCK), f"{os.getpid()} {socket.gethostname()}"

    def __enter__(self):
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                self._take_over_or_refuse()
        with os.fdopen(fd, "w") as f:
            f.write(self.mine + "\n")
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            if _read(self.path) == self.mine:  # never remove another process's lock
                os.remove(self.path)

    def _take_over_or_refuse(self):
        holder = _read(self.path)
        pid, _, host = (holder or "").partition(" ")
        folder = os.path.dirname(self.path)
        if not pid.isdigit() or not host:  # a run between creating the file and writing it
            raise RunError(f"the run folder {folder} is locked by {self.path}, which names no "
                           "process yet (a run starting there right now, or a crash): choose "
                           f"another --out, or delete {self.path} if no train.py writes there")
        if host == socket.gethostname() and (int(pid) == os.getpid() or not _running(int(pid))):
            print(f"note: taking over the lock {self.path} of process {pid}, which is no "
                  "longer running (stopped without cleaning up)", file=sys.stderr, flush=True)
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
            return
        where = "this machine" if host == socket.gethostname() else f"the host {host}"
        raise RunError(f"the run folder {folder} is in use: process {pid} on {where} is "
                       f"writing a run there ({self.path}); wait for it to finish, or choose "
                       f"another --out. If that process is gone (a crash on {where}), delete "
                       f"{self.path}")


def _read(path):
    try:
        with open(path) as f:
            return f.read(200).strip()
    except (OSError, UnicodeDecodeError):
        return None


def _running(pid):
    """Whether a process ``pid`` runs on this machine (perhaps another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class StopSignals:
    """While active, Ctrl-C (SIGINT) or SIGTERM is recorded in ``received`` (the loop asks
    ``Guard.stop_requested`` after each step); a second signal raises KeyboardInterrupt at
    once. A step interrupted halfway (generators updated, discriminators not) could not be
    resumed exactly, hence the wait."""

    def __enter__(self):
        self.received = []
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        self.received.append(signum)
        if len(self.received) > 1:
            raise KeyboardInterrupt

    def status(self, last=False):
        """The exit status of a run stopped by the first (or the last) signal: 128 + its
        number, or 130 (as for Ctrl-C) when the stop came another way."""
        if not self.received:
            return 130
        return 128 + self.received[-1 if last else 0]


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr, flush=True)


# --- the checks before a run starts ----------------------------------------------------------

def resume_command(out, gpu, script):
    """The exact command that continues the run in ``out``."""
    script = os.path.relpath(os.path.abspath(script))
    return f"python {shlex.quote(script)} --resume --out {shlex.quote(out)}" + (
        " --gpu" if gpu else "")


def prepare(parser, argv, script):
    """Everything checked before training: (config, device, Checkpoint or None, gpu)."""
    args = parser.parse_args(argv)
    try:
        device = select_device(args.gpu)
        config = resolve_config(args)
    except (RuntimeError, ValueError) as e:
        raise RunError(str(e)) from e
    checkpoint = None
    if args.resume:
        checkpoint, config = _load_resumed(config, given_options(argv))
    else:
        path = checkpoint_path(config["out"])
        if os.path.exists(path):
            raise RunError(f"{config['out']} already holds a run ({path}); continue it with "
                           f"{resume_command(config['out'], args.gpu, script)}, or start a new "
                           "one with another --out (or after deleting that folder)")
        if config["dataroot"] is not None:
            try:
                data.check_dataroot(config["dataroot"])
            except FileNotFoundError as e:
                raise RunError(str(e)) from e
    _check_writable(config["out"])
    return config, device, checkpoint, args.gpu


def _unwritable(out, e):
    where = f"; {e.filename} is in the way" if isinstance(e, FileExistsError) else ""
    return RunError(f"cannot write to the output folder --out {out!r} ({e.strerror or e}"
                    f"{where}); choose a folder you can write to with --out")


def _check_writable(out):
    """Create ``out`` and its samples folder and write a file in it, so that a bad --out fails
    now, not after an epoch."""
    try:
        os.makedirs(os.path.join(out, SAMPLES), exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise _unwritable(out, e) from e


def _load_resumed(config, given):
    """The checkpoint of ``--resume`` (loaded, checked) and the run's own configuration."""
    path = checkpoint_path(config["out"])
    if not os.path.exists(path):
        raise RunError(f"--resume: there is no checkpoint at {path}; pass the --out of the "
                       "run to continue, or start a new run without --resume")
    try:
        checkpoint = load_checkpoint(path)
    except (OSError, ValueError) as e:
        raise RunError(f"--resume: cannot read the checkpoint {path}: {e}. Nothing was "
                       "changed. If a crash damaged it, start a new run with another --out; "
                       "copy the folder first if you want to keep its samples.") from e
    saved = checkpoint.config
    if not set(saved) >= set(config) - {"out"}:
        raise RunError(f"--resume: {path} lacks configuration entries "
                       f"({', '.join(sorted(set(config) - set(saved) - {'out'}))}); it was "
                       "written by another version of train.py")
    for key in sorted(given - {"out", "resume", "gpu"}):
        if saved[key] != config[key]:
            raise RunError(f"--resume continues a run exactly as it was configured, but the "
                           f"checkpoint {path} says --{key.replace('_', '-')} {saved[key]} and "
                           f"the command line {config[key]}; drop the option, or start a new "
                           "run with another --out")
    return checkpoint, {**saved, "out": config["out"]}


def _clean_up_killed_saves(out):
    """A save killed midway (SIGKILL, power loss) leaves its temporary file behind, as large
    as a checkpoint; the run it belonged to is the one being resumed, so nothing else is
    writing there now."""
    freed = 0
    for folder in (out, os.path.join(out, SAMPLES)):
        if os.path.isdir(folder):
            freed += nn.serialization.remove_interrupted_writes(folder)
    if freed:
        print(f"removed {freed / 2**20:.1f} MiB of temporary files that a save killed midway "
              f"left in {out}", flush=True)

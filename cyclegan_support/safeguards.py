"""What keeps a training run safe, kept out of the training loop so that the loop reads plainly.

- Before anything slow or anything written: the command line, the dataset folder, the output
  folder, and for --resume the checkpoint and its configuration (``prepare``).
- While training: Ctrl-C or SIGTERM lets the current step finish, then the run is saved and
  the command that continues it is printed; a second signal stops at once (``StopSignals``).
- Faults: a loss that is not finite, or a checkpoint that cannot be written, stops the run with
  the last good checkpoint kept.

Every mistake and every fault ends in one paragraph saying what is wrong and what to do, never
a traceback: ``RunError`` carries it to ``main``, which prints it and exits with its status
(2 for bad input, 1 for a run that had to stop; 128 + the signal's number when interrupted).
"""
import os
import shlex
import signal
import sys
import warnings

import nn
from cyclegan_support import data, training_io as io
from cyclegan_support.device import select_device
from cyclegan_support.options import given_options, resolve_config

__all__ = ["RunError", "NonFiniteLoss", "StopSignals", "main", "prepare", "resume_command"]


class RunError(Exception):
    """A problem the user can fix: ``main`` prints it as one paragraph, without a traceback,
    and exits with ``status`` (2 for bad input, 1 for a run that had to stop)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


class NonFiniteLoss(RuntimeError):
    """A loss became inf or NaN; the weights that produced it are not worth saving."""


def main(parser, argv, make_run, train, script):
    """Run a training from the command line; returns the exit status.

    ``make_run(config, device, checkpoint)`` builds the run (loads the data and the model),
    ``train(run)`` trains it and returns True when it finished, False when a stop was
    requested; ``script`` is the path of the training script, for the resume command.
    """
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning  # one line naming the file, not a source excerpt
        try:
            return _supervise(parser, argv, make_run, train, script)
        except RunError as e:
            parser.exit(e.status, f"error: {e}\n")


def _supervise(parser, argv, make_run, train, script):
    config, device, checkpoint, gpu = prepare(parser, argv, script)
    again = resume_command(config["out"], gpu, script)
    run = None
    # Installed before the (slow) data loading, so an early signal is a clean stop too.
    with StopSignals() as signals:
        try:
            run = _build(make_run, config, device, checkpoint)
            signals.watch(run)
            finished = train(run)
            if not finished:
                run.checkpoint()
        except KeyboardInterrupt:
            print(f"\nstopped at once by a second signal: {_kept(run)}; continue with: {again}",
                  file=sys.stderr)
            return signals.status(last=True)
        except NonFiniteLoss as e:
            raise RunError(f"training stopped: {e}. Nothing was saved after it: {_kept(run)}. "
                           "A loss that blows up usually means the learning rate is too high "
                           "for this data; start a new run with a smaller --lr (another --out).",
                           status=1) from e
        except OSError as e:
            raise RunError(f"training stopped: could not write the checkpoint "
                           f"{e.filename or run.checkpoint_path} ({e.strerror or e}); "
                           f"{_kept(run)}. Free some space, then continue with: {again}",
                           status=1) from e
    if not finished:
        print(f"\ninterrupted: saved {run.checkpoint_path} at epoch {run.epoch} iteration "
              f"{run.iteration}; continue with: {again}", file=sys.stderr)
        return signals.status()
    return 0


def _build(make_run, config, device, checkpoint):
    """``make_run(...)``, with what can go wrong while the data and the model are loaded (a
    checkpoint of another architecture, an output folder that cannot take a file) said in one
    paragraph."""
    try:
        return make_run(config, device, checkpoint)
    except (ValueError, FileNotFoundError, KeyError) as e:
        what = (f"the checkpoint {io.checkpoint_path(config['out'])} does not fit the model "
                "its configuration describes: " if checkpoint else "")
        raise RunError(what + str(e.args[0] if e.args else e)) from e
    except OSError as e:  # e.g. a file where the samples folder should be
        raise _unwritable(config["out"], e) from e


def _kept(run):
    if run is None or run.saved_at is None:
        return "no checkpoint had been written yet"
    return (f"{run.checkpoint_path} keeps the last good state (epoch {run.saved_at[0]}, "
            f"iteration {run.saved_at[1]})")


class StopSignals:
    """While active, Ctrl-C (SIGINT) or SIGTERM asks the watched run to stop after its current
    step; a second signal raises KeyboardInterrupt at once. A step interrupted halfway
    (generators updated, discriminators not) could not be resumed exactly, hence the wait."""

    def __enter__(self):
        self.received, self.run = [], None
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        self.received.append(signum)
        if len(self.received) > 1:
            raise KeyboardInterrupt
        if self.run is not None:
            self.run.stop_requested = True

    def watch(self, run):
        """Ask ``run`` to stop on a signal (at once, if one came while it was being built)."""
        self.run = run
        run.stop_requested = bool(self.received)

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
        _clean_up_killed_saves(config["out"])
    else:
        path = io.checkpoint_path(config["out"])
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
        os.makedirs(os.path.join(out, io.SAMPLES), exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise _unwritable(out, e) from e


def _load_resumed(config, given):
    """The checkpoint of ``--resume`` (loaded, checked) and the run's own configuration."""
    path = io.checkpoint_path(config["out"])
    if not os.path.exists(path):
        raise RunError(f"--resume: there is no checkpoint at {path}; pass the --out of the "
                       "run to continue, or start a new run without --resume")
    try:
        checkpoint = io.load_checkpoint(path)
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
    for folder in (out, os.path.join(out, io.SAMPLES)):
        if os.path.isdir(folder):
            freed += nn.serialization.remove_interrupted_writes(folder)
    if freed:
        print(f"removed {freed / 2**20:.1f} MiB of temporary files that a save killed midway "
              f"left in {out}", flush=True)

"""The command-line programs as the tests run them: the options of a tiny training run, a
program's exit status and output, the check that a failure is a clean message, and a
stream that is a terminal, and the training steps of a run recorded (and stopped as Ctrl-C
would stop them)."""
import io
import os
import signal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A tiny run of train.py: ngf = ndf = 2, one residual block, 24-pixel crops, three images,
# two epochs trained (one at the full rate, one at half of it; the schedule's third, at rate 0,
# is skipped), batches of two.
TINY = ["--crop-size", "24", "--load-size", "28", "--ngf", "2", "--ndf", "2", "--n-blocks", "1",
        "--n-train", "3", "--n-epochs", "2", "--n-epochs-decay", "1", "--batch-size", "2",
        "--pool-size", "2", "--seed", "5"]


def run_main(main, argv, capsys):
    """(exit status, stdout, stderr) of ``main(argv)``, whether it returns or exits."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_clean_error(status, err, *words, code=2):
    """The program exited with ``code`` and an "error: " message holding every one of
    ``words``, without a traceback."""
    assert status == code, err
    assert "Traceback" not in err and "error: " in err
    for word in words:
        assert word in err, (word, err)


class Terminal(io.StringIO):
    """An output stream that says it is a terminal, where the programs draw progress bars."""

    def isatty(self):
        return True


def record_steps(monkeypatch, stop_after=None):
    """From now on, every CycleGAN.train_step appends its losses to the returned list; after
    the ``stop_after``-th step recorded, it sends this process SIGINT, as Ctrl-C would, so
    that train.main stops after that step and saves."""
    import cyclegan
    real_step, history = cyclegan.CycleGAN.train_step, []

    def train_step(self, real_A, real_B):
        losses = real_step(self, real_A, real_B)
        history.append(losses)
        if len(history) == stop_after:
            os.kill(os.getpid(), signal.SIGINT)
        return losses
    monkeypatch.setattr(cyclegan.CycleGAN, "train_step", train_step)
    return history

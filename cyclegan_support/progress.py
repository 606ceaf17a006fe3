"""Plain-text progress bars for training and for translation, on stderr, with no dependency.

On a terminal one line is redrawn in place (at most 5 times a second). When stderr is not a
terminal (a CI log, a file), carriage returns would pile up into one enormous line, so a full
line is printed after the first iteration (training has started, and how fast), then only
every ``log_every`` seconds and at the end of each epoch.
"""
import sys
import time

__all__ = ["Progress", "Bar", "format_seconds"]


def format_seconds(s):
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Track iterations over a run of ``total_epochs`` epochs of ``per_epoch`` iterations.

    ``update(epoch, iteration, losses, images)`` after each batch; ``end_epoch()`` after each
    epoch. Losses are shown as a running average (decay 0.9) to keep the numbers readable.
    """

    def __init__(self, total_epochs, per_epoch, done=0, stream=None, log_every=30.0, width=20):
        self.total_epochs, self.per_epoch = total_epochs, per_epoch
        self.remaining = total_epochs * per_epoch - done
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log_every, self.width = log_every, width
        self.start = time.monotonic()
        self.last_draw = self.start
        self.done, self.images = 0, 0
        self.average = {}
        self.line = ""

    def update(self, epoch, iteration, losses, images):
        """Record one finished batch of ``images`` images: ``iteration`` of ``epoch`` (1-based)."""
        self.done += 1
        self.images += images
        for k, v in losses.items():
            self.average[k] = v if k not in self.average else 0.9 * self.average[k] + 0.1 * v
        now = time.monotonic()
        elapsed = now - self.start
        rate = self.images / max(elapsed, 1e-9)
        eta = elapsed / self.done * (self.remaining - self.done)
        filled = round(self.width * iteration / self.per_epoch)
        bar = "#" * filled + "." * (self.width - filled)
        numbers = " ".join(f"{k} {v:.3f}" for k, v in self.average.items())
        self.line = (f"epoch {epoch}/{self.total_epochs} [{bar}] {iteration}/{self.per_epoch} "
                     f"{rate:.1f} img/s ETA {format_seconds(eta)} | {numbers}")
        interval = 0.2 if self.tty else self.log_every
        if now - self.last_draw >= interval or iteration == self.per_epoch or self.done == 1:
            self.last_draw = now
            self._draw()

    def _draw(self):
        if self.tty:
            self.stream.write("\r" + self.line + "\x1b[K")  # \x1b[K clears a longer old line
        else:
            self.stream.write(self.line + "\n")
        self.stream.flush()

    def end_epoch(self):
        if self.tty and self.line:
            self.stream.write("\n")
            self.stream.flush()


class Bar:
    """A bar for one job of ``total`` units of work (translate.py: the arithmetic of the
    generator's layers over every image): ``advance(units, label)`` after each piece,
    ``close()`` at the end. On a terminal the line is redrawn in place at most 5 times a
    second; elsewhere a line is printed every ``log_every`` seconds. Nothing at all is shown
    for a job that ends within ``delay`` seconds, so that quick ones stay quiet.
    """

    def __init__(self, total, stream=None, delay=1.0, log_every=30.0, width=20):
        self.total, self.done = max(total, 1e-9), 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.delay, self.log_every, self.width = delay, log_every, width
        self.start = time.monotonic()
        self.last_draw, self.drawn, self.line, self.shown = None, False, "", ""

    def advance(self, units, label=""):
        self.done = min(self.total, self.done + units)
        now = time.monotonic()
        elapsed = now - self.start
        share = self.done / self.total
        eta = elapsed / share * (1 - share) if share > 0 else 0.0
        filled = round(self.width * share)
        self.line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * share:3.0f}% "
                     f"{format_seconds(elapsed)} elapsed, ETA {format_seconds(eta)}  {label}")
        interval = 0.2 if self.tty else self.log_every
        if elapsed >= self.delay and (self.last_draw is None or now - self.last_draw >= interval):
            self.last_draw = now
            self._draw()

    def _draw(self):
        self.drawn, self.shown = True, self.line
        self.stream.write(("\r" + self.line + "\x1b[K") if self.tty else self.line + "\n")
        self.stream.flush()

    def clear(self):
        """On a terminal, blank the bar's line (before other output); the next advance
        redraws it."""
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.last_draw = None

    def close(self):
        """Show the final state (when anything was shown) and end the line."""
        if self.drawn:
            if self.tty or self.line != self.shown:
                self._draw()
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()

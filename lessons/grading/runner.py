"""Grading that always finishes: every exercise file is graded in a process of its own.

A student's code may loop forever, at import or inside one exercise, print without end, or
end the process (``os._exit``). A thread cannot be stopped; a process can. So the command
(lessons/grade.py) grades each exercise file in a child process, ``python -c`` running
``child`` below, which

1. imports the grader (numpy, nn, the checks) and says "ready";
2. imports the student's file and says "imported", with what the file printed on import;
3. grades the file's chosen exercises one by one, and after each says "result" with the
   exercise's status, message and what the student's code printed meanwhile.

Each message is one JSON line on the child's own channel (a copy of its first stdout); the
student's prints (its stdout and stderr, at the file-descriptor level) go to a capture file
the parent names, emptied before each exercise, so 20,000 printed lines never mix with the
report: they come back trimmed to their first and last lines. The parent waits for each line at
most ``timeout`` seconds; when one does not come, it kills the child, reports that exercise as
"did not finish in 10 s" (or, at import, every exercise of the file), and starts a fresh child
for the exercises after it. A child that dies without a word is reported the same way, with its
exit status. Ctrl-C is the parent's to handle (the child ignores it): the parent kills the child
and raises KeyboardInterrupt with the results so far kept by its caller.

Grading the 35 reference solutions this way costs one interpreter start and one import of the
grader per exercise file (11), a few seconds of CPU in all.
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading

from .core import Result, WRONG

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READY_TIMEOUT = 120          # seconds for a child to import the grader (numpy, nn): no student code
OUTPUT_LIMIT = 10 * 2 ** 20  # bytes a student's code may print per child (Unix), then writes fail
HEAD, TAIL, WIDTH = 8, 8, 160   # lines of printed output shown, and characters per line


def trimmed(text, head=HEAD, tail=TAIL, width=WIDTH):
    """What a student's code printed, short enough to read under its result: the first ``head``
    and last ``tail`` lines (a line saying how many were left out between them), each cut to
    ``width`` characters; '' when nothing was printed."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    lines = [l if len(l) <= width else l[:width] + " ..." for l in lines]
    if len(lines) > head + tail:
        lines = (lines[:head] + [f"... ({len(lines) - head - tail} more lines) ..."]
                 + lines[-tail:])
    return "\n".join(lines)


def with_output(message, printed, when="meanwhile"):
    """``message`` followed by the trimmed ``printed`` text, each line marked with '|'."""
    shown = trimmed(printed)
    if not shown:
        return message
    count = printed.rstrip("\n").count("\n") + 1
    block = "\n".join("    | " + l for l in shown.split("\n"))
    head = f"your code printed {count} line{'s' * (count != 1)} {when}:"
    return f"{message}\n    {head}\n{block}" if message else f"{head}\n{block}"


# --- the child -------------------------------------------------------------------------------

def child(argv=None):
    """The child's side: argv = [capture file, "solutions" | "exercises" | folder, IDs...]."""
    import signal
    capture, source, *ids = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's to handle
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sink = os.open(capture, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    _limit_output()

    def say(event, **fields):
        channel.write(json.dumps({"event": event, **fields}) + "\n")
        channel.flush()

    def printed():
        """What fds 1 and 2 received since the last call, and empty the capture file."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.lseek(sink, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(sink, 1 << 20):
            data += chunk
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
        return data.decode("utf-8", "replace")

    from lessons.grading import EXERCISES, grade, load_handed_in
    import importlib
    solutions = source == "solutions"
    folder = None if source in ("solutions", "exercises") else source
    say("ready")
    module_name = EXERCISES[ids[0]][0]
    try:                          # import once here, so that a loop at import is told apart;
        if folder is not None:    # an import that raises is reported by grade(), per exercise
            load_handed_in(folder, module_name)
        else:
            package = "lessons.solutions" if solutions else "lessons.exercises"
            importlib.import_module(f"{package}.{module_name}")
    except BaseException:
        pass
    say("imported", printed=printed())
    for exercise in ids:
        result = grade(exercise, solutions=solutions, folder=folder)
        say("result", exercise=exercise, status=result.status, message=result.message,
            printed=printed())


def _limit_output():
    """Cap what the child may write (its capture file) at OUTPUT_LIMIT bytes, where the system
    allows: a print loop then fails with OSError instead of filling the disk."""
    try:
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the cap raises, not kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))
    except (ImportError, AttributeError, ValueError, OSError):
        pass


# --- the parent ------------------------------------------------------------------------------

def _command(capture, source, ids):
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); "
            "from lessons.grading.runner import child; child()")
    return [sys.executable, "-c", code, capture, source, *ids]


def _lines(stream, into):
    for line in stream:
        into.put(line)
    into.put(None)                # the child's channel closed: it ended


def _read_capture(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def grade_file(ids, source, timeout):
    """Grade ``ids`` (exercises of one file) in child processes; yield a Result per exercise,
    in order, as each is known. source: "solutions", "exercises" or a student's folder."""
    from . import EXERCISES
    module_name = EXERCISES[ids[0]][0]
    where = (os.path.join(source, f"{module_name}.py")
             if source not in ("solutions", "exercises") else f"{module_name}.py")
    left = list(ids)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        capture = os.path.join(tmp, "printed.txt")
        shown = False             # the file's import output has been shown
        while left:
            process = subprocess.Popen(_command(capture, source, left), stdout=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                                       errors="replace", cwd=os.getcwd())
            events = queue.Queue()
            reader = threading.Thread(target=_lines, args=(process.stdout, events), daemon=True)
            reader.start()
            try:
                stage, imported_output = "ready", ""
                while left:
                    limit = READY_TIMEOUT if stage == "ready" else timeout
                    try:
                        line = events.get(timeout=limit)
                    except queue.Empty:
                        line = "timeout"
                    if line in ("timeout", None):
                        _stop(process)
                        printed = imported_output + _read_capture(capture)
                        if stage in ("ready", "imported"):
                            if stage == "ready":
                                why = (f"the grader could not start to grade {where} (exit "
                                       f"status {process.returncode}): is this project's "
                                       "numpy installed?")
                            elif line == "timeout":
                                why = (f"{where} did not finish importing in {timeout:g} s: "
                                       "code outside any function runs on import, and a loop "
                                       "there never ended")
                            else:
                                why = (f"{where} ended the grader's process while it was "
                                       f"imported (exit status {process.returncode}), for "
                                       "instance with os._exit at the top of the file")
                            for k, exercise in enumerate(left):
                                yield Result(exercise, WRONG, with_output(
                                    why, printed if k == 0 else "", "while importing"))
                            left = []
                            break
                        why = (f"did not finish in {timeout:g} s: a loop that never ends, or "
                               "far more work than the exercise needs (--timeout sets the "
                               "limit)" if line == "timeout" else
                               f"your code ended the grader's process (exit status "
                               f"{process.returncode}), for instance with os._exit or by "
                               "running out of memory")
                        yield Result(left.pop(0), WRONG, with_output(why, printed))
                        break                       # a fresh child for the rest
                    try:
                        event = json.loads(line)
                    except ValueError:              # not the child's line: ignore it
                        continue
                    if event["event"] == "ready":
                        stage = "imported"
                    elif event["event"] == "imported":   # shown once, not per fresh child
                        stage, imported_output = "grading", "" if shown else event["printed"]
                        shown = True
                    else:
                        assert event["exercise"] == left[0], (event, left)
                        message = with_output(event["message"], imported_output,
                                              "while importing")
                        message = with_output(message, event["printed"])
                        imported_output = ""
                        left.pop(0)
                        yield Result(event["exercise"], event["status"], message)
            finally:
                _stop(process)
                reader.join(5)
                process.stdout.close()


def _stop(process):
    """Kill the child if it still runs, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait()

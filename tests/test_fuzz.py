"""Hundreds of damaged and forged weights files, generated from a seed, through every reader.

Four valid files are the seeds: a finished tiny run's checkpoint.npz and G_A.npz, and the
fixtures tiny_G.pth (zip format) and tiny_G_legacy.pth (legacy format). Each is damaged in
several ways (``MUTATIONS``): bytes flipped, cut short, inserted, overwritten with extreme
integers; zip headers given other compression methods, the encryption flag or huge sizes;
the pickle inside a .pth given extreme numbers, a huge memo index or deep nesting; the JSON
records (architecture, train.config) given forged values; weights made NaN or infinite.

Every file goes through its loader (nn.load or nn.load_pth) and the reading of translate.py
(``translate.load_generator``) and of train.py --resume (``cyclegan_support.checkpoint.load_checkpoint``),
in this process; a sample of them goes through the scripts themselves, as subprocesses. For
each: a result, or one message (ValueError, OSError or KeyError in process; exit status 2
with one "error:" paragraph from a script), never another exception or a traceback; less
than 1 GiB at the peak (VmHWM); no more than a
time limit; and no file outside the script's --out touched. In process, the peak is the
growth of this process's peak resident memory (VmHWM, reset before each reader through
/proc/self/clear_refs): NumPy's buffers and Python's objects alike.

Run it alone with ``python -m pytest -q tests/test_fuzz.py``; the counts are in README.md.
"""
import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from collections import Counter

import numpy as np

import nn
import translate
from cyclegan_support.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
GIB = 2 ** 30
SEED = 19
PER_SEED = 80          # damaged files per seed file (4 seeds)
SCRIPT_EVERY = 25      # every 25th file also goes through its script, as a subprocess
TIME_LIMIT = 30        # seconds for one file in process (a hang raises), 120 for a script
EXTREMES = (0, 1, 0x7FFFFFFF, 0x3FFFFFFF, 0xFFFFFFFF, 2 ** 31, 2 ** 63 - 1)
FORGED = (10 ** 6, 10 ** 9, 10 ** 30, -1, 0, 7, 2.5, "x", None, True, [1], {"a": 1}, 1e308,
          float("nan"))


# --- damaging a file --------------------------------------------------------------------------

def flip(rng, data, path):
    data = bytearray(data)
    for at in rng.integers(0, len(data), rng.integers(1, 5)):
        data[at] ^= 1 << int(rng.integers(8))
    return bytes(data)


def truncate(rng, data, path):
    return data[:int(rng.integers(0, len(data)))]


def insert(rng, data, path):
    at = int(rng.integers(0, len(data)))
    return data[:at] + rng.bytes(int(rng.integers(1, 65))) + data[at:]


def extreme(rng, data, path):
    """An extreme integer over 4 or 8 bytes, where a header keeps its sizes and offsets."""
    data = bytearray(data)
    headers = [m.start() for m in re.finditer(rb"PK\x01\x02|PK\x03\x04|PK\x05\x06|J|\x8a", data)]
    at = int(rng.choice(headers)) + int(rng.integers(1, 30)) if headers else 0
    value = int(rng.choice(EXTREMES))
    width = 8 if value >= 2 ** 32 else 4
    data[at:at + width] = value.to_bytes(width, "little")[:len(data[at:at + width])]
    return bytes(data)


def zip_header(rng, data, path):
    """A member of a zip given another compression method, the encryption flag, or sizes."""
    data = bytearray(data)
    starts = [m.start() for m in re.finditer(rb"PK\x01\x02|PK\x03\x04", data)]
    if not starts:
        return flip(rng, bytes(data), path)
    at = int(rng.choice(starts))
    central = data[at:at + 4] == b"PK\x01\x02"
    kind = int(rng.integers(3))
    if kind == 0:    # compression method: bzip2, lzma, or one nobody knows
        data[at + (10 if central else 8): at + (12 if central else 10)] = struct.pack(
            "<H", int(rng.choice((1, 12, 14, 99))))
    elif kind == 1:  # general purpose flags: encrypted
        data[at + (8 if central else 6)] |= 1
    else:            # uncompressed size
        data[at + (24 if central else 22): at + (28 if central else 26)] = struct.pack(
            "<I", int(rng.choice(EXTREMES[1:5])))
    return bytes(data)


def _rezip(data, change):
    """The zip ``data`` with each member's bytes passed through ``change(name, bytes)``."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info.filename, change(info.filename, source.read(info)))
    return target.getvalue()


def pickle_numbers(rng, data, path):
    """In a .pth, numbers of the pickle made extreme (sizes, strides, offsets, lengths), a
    memo index made huge, or the pickle nested deep; the zip stays valid around it."""
    def change(name, member):
        if not name.endswith("data.pkl"):
            return member
        member = bytearray(member)
        kind = int(rng.integers(3))
        if kind == 0:
            spots = [m.start() for m in re.finditer(rb"[JX]", member)]
            for at in rng.choice(spots, min(len(spots), int(rng.integers(1, 4))), replace=False):
                member[at + 1:at + 5] = struct.pack("<I", int(rng.choice(EXTREMES[:5])))
        elif kind == 1:  # None, stored in a huge memo slot, popped
            member[2:2] = b"Nr" + struct.pack("<I", int(rng.choice(EXTREMES[2:5]))) + b"0"
        else:            # the state dict wrapped in many dicts
            depth = int(rng.choice((20, 1000, 100_000)))
            member[2:2] = b"}X\x01\x00\x00\x00a" * depth
            member[-1:] = b"s" * depth + b"."
        return bytes(member)
    if data[:2] != b"PK":
        return extreme(rng, data, path)
    return _rezip(data, change)


def record(rng, data, path):
    """In an .npz: the architecture record or train.config given a forged value or key."""
    def change(name, member):
        if name not in ("architecture.npy", "train.config.npy"):
            return member
        array = np.load(io.BytesIO(member))
        value = json.loads(str(array))
        key = str(rng.choice(sorted(value) + ["unknown_key"]))
        value[key] = FORGED[int(rng.integers(len(FORGED)))]
        out = io.BytesIO()
        np.save(out, np.array(json.dumps(value)))
        return out.getvalue()
    if data[:2] != b"PK" or b"architecture.npy" not in data and b"train.config.npy" not in data:
        return flip(rng, data, path)
    return _rezip(data, change)


def weights(rng, data, path):
    """In an .npz: one float array given a NaN or an infinity."""
    def change(name, member):
        array = np.load(io.BytesIO(member))
        if array.dtype.kind != "f" or array.size == 0 or name in chosen[1:]:
            return member
        chosen.append(name)
        array = array.copy()
        array.flat[int(rng.integers(array.size))] = rng.choice((np.nan, np.inf, -np.inf))
        out = io.BytesIO()
        np.save(out, array)
        return out.getvalue()
    chosen = [None]
    if not path.endswith(".npz"):
        return pickle_numbers(rng, data, path)
    return _rezip(data, change)


MUTATIONS = {f.__name__: f for f in (flip, truncate, insert, extreme, zip_header,
                                     pickle_numbers, record, weights)}


def seed_files(finished_run):
    return {"checkpoint.npz": finished_run / "checkpoint.npz",
            "G_A.npz": finished_run / "G_A.npz",
            "G.pth": os.path.join(FIXTURES, "tiny_G.pth"),
            "G_legacy.pth": os.path.join(FIXTURES, "tiny_G_legacy.pth")}


def damaged_files(finished_run, folder):
    """[(path, seed name, mutation name)], PER_SEED per seed, the mutations taken in turn."""
    rng = np.random.default_rng(SEED)
    files, names = [], sorted(MUTATIONS)
    for seed, source in seed_files(finished_run).items():
        with open(source, "rb") as f:
            original = f.read()
        for i in range(PER_SEED):
            name = names[i % len(names)]
            path = os.path.join(folder, f"{i:03d}-{name}-{seed}")
            with open(path, "wb") as f:
                f.write(MUTATIONS[name](rng, original, path))
            files.append((path, seed, name))
    return files


# --- the checks -----------------------------------------------------------------------------

class TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit()


def readers(path, seed):
    """The readers a file of ``seed``'s kind goes through, in process."""
    chosen = [("translate", lambda: translate.load_generator(path, stream=io.StringIO()))]
    if seed == "checkpoint.npz":  # both read it with nn.load first
        return chosen + [("resume", lambda: load_checkpoint(path))]
    return chosen + [("load", lambda: (nn.load_pth if seed.endswith(".pth") else nn.load)(path))]


def _resident():
    """(resident, peak resident) bytes of this process, from /proc/self/status."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return tuple(int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM"))


def _reset_peak():
    """Reset this process's peak resident memory (VmHWM) to what it holds now (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def check_in_process(path, seed):
    """Run every reader on ``path``; returns a list of what went wrong (empty: all well)."""
    problems = []
    for reader, call in readers(path, seed):
        _reset_peak()
        resident = _resident()[0]
        signal.alarm(TIME_LIMIT)
        try:
            call()
        except (ValueError, OSError, KeyError) as e:
            message = str(e.args[0] if isinstance(e, KeyError) and e.args else e)
            if not message or "\n" in message:
                problems.append(f"{reader}: a message that is not one paragraph: {message!r}")
        except TimeLimit:
            problems.append(f"{reader}: still running after {TIME_LIMIT} s")
        except BaseException as e:  # anything else would be a traceback for the user
            problems.append(f"{reader}: {type(e).__name__}: {str(e)[:200]}")
        finally:
            signal.alarm(0)
        peak = _resident()[1] - resident
        if peak > GIB:
            problems.append(f"{reader}: took {peak / GIB:.1f} GiB more memory at its peak")
    return problems


# the child's peak resident memory, written to a file whatever way the script ends
_PEAK = ("import runpy, sys\n"
         "peak_file, sys.argv = sys.argv[1], sys.argv[2:]\n"
         "try:\n"
         "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
         "finally:\n"
         "    with open('/proc/self/status') as f:\n"
         "        peak = [line.split()[1] for line in f if line.startswith('VmHWM')]\n"
         "    with open(peak_file, 'w') as f:\n"
         "        f.write(peak[0] if peak else '0')\n")


def snapshot(folder, skip):
    """{relative path: sha1} of every file under ``folder``, outside ``skip``."""
    seen = {}
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.join(top, d) != skip]
        for name in files:
            path = os.path.join(top, name)
            with open(path, "rb") as f:
                seen[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return seen


def check_script(argv, workspace, out):
    """Run ``python <argv>`` in ``workspace``; returns (problems, exit status)."""
    peak_file = os.path.join(workspace, "peak.txt")
    before = snapshot(workspace, out)
    try:
        done = subprocess.run([sys.executable, "-c", _PEAK, peak_file] + argv, cwd=workspace,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": ROOT})
    except subprocess.TimeoutExpired:
        return [f"{argv[0]}: still running after 120 s"], None
    problems = []
    if done.returncode not in (0, 2):
        problems.append(f"exit status {done.returncode}: {done.stderr[-300:]}")
    if "Traceback" in done.stderr:
        problems.append(f"a traceback: {done.stderr[-300:]}")
    if done.returncode == 2:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        if len(errors) != 1:
            problems.append(f"not one error paragraph: {done.stderr[-300:]}")
    with open(peak_file) as f:
        peak = int(f.read() or 0) * 1024
    if peak > GIB:
        problems.append(f"peak resident memory {peak / GIB:.1f} GiB")
    os.remove(peak_file)
    if snapshot(workspace, out) != before:
        problems.append("a file outside --out changed")
    return problems, done.returncode


# --- the test -------------------------------------------------------------------------------

def test_damaged_and_forged_files_end_in_a_result_or_one_message(finished_run, tmp_path):
    from PIL import Image

    started = time.monotonic()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = damaged_files(finished_run, str(inputs))
    assert len(files) == 4 * PER_SEED
    assert len({name for _, _, name in files}) == len(MUTATIONS)

    failures = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for path, seed, name in files:
            problems = check_in_process(path, seed)
            failures += [f"{os.path.basename(path)}: {p}" for p in problems]
    finally:
        signal.signal(signal.SIGALRM, previous)
    in_process = time.monotonic() - started

    # a sample through the scripts: translate.py for every file, train.py --resume for the
    # checkpoints (copied into a run folder of their own)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(workspace / "photo.png")
    scripts = Counter()
    for path, seed, name in files[::SCRIPT_EVERY]:
        out = str(workspace / "out")
        argv = [os.path.join(ROOT, "translate.py"), "--checkpoint", path, "photo.png",
                "--out", out]
        problems, status = check_script(argv, str(workspace), out)
        failures += [f"translate.py {os.path.basename(path)}: {p}" for p in problems]
        scripts["translate.py", status] += 1
        if seed == "checkpoint.npz":
            run = workspace / "run"
            run.mkdir()
            shutil.copy(path, run / "checkpoint.npz")
            problems, status = check_script([os.path.join(ROOT, "train.py"), "--resume",
                                             "--out", str(run)], str(workspace), str(run))
            failures += [f"train.py --resume {os.path.basename(path)}: {p}" for p in problems]
            scripts["train.py --resume", status] += 1
            shutil.rmtree(run)
        shutil.rmtree(out, ignore_errors=True)
    seeds = ", ".join(f"{PER_SEED} of {s}" for s in seed_files(finished_run))
    print(f"\n{len(files)} damaged files ({seeds}; "
          f"{len(files) // len(MUTATIONS)} per mutation) through the readers in "
          f"{in_process:.0f} s; scripts: {dict(scripts)}; "
          f"{time.monotonic() - started:.0f} s in all")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])

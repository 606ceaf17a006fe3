"""Save and load dictionaries of arrays as ``.npz`` files, atomically and without pickle.

``save`` writes to a temporary file beside the target and renames it over the target, an
atomic step on POSIX and Windows: a crash mid-save leaves the previous file intact.
``load`` refuses object arrays (``allow_pickle=False``), so a file can never run code.
"""
import os
import tempfile
import zipfile

from .backend import to_host, numpy as _host

__all__ = ["save", "load"]


def save(path, arrays):
    """Write {name: array or number} to ``path`` (.npz). Device arrays are copied to the host."""
    path = os.fspath(path)
    host = {}
    for name, value in arrays.items():
        value = to_host(value) if hasattr(value, "shape") else _host.asarray(value)
        if value.dtype == object:
            raise TypeError(f"nn.save: {name!r} is an object array; only numeric arrays are saved")
        host[name] = value
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _host.savez(f, **host)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a file written by ``save``: {name: NumPy array}.

    Raises ValueError naming the file when it is truncated, corrupt or holds pickled objects.
    """
    path = os.fspath(path)
    try:
        with _host.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise ValueError(f"{path} holds pickled Python objects, which are refused "
                             "(loading them could run code)") from e
        raise ValueError(f"{path} is not a readable .npz file ({e})") from e
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise ValueError(f"{path} is truncated or corrupt and cannot be read ({e})") from e

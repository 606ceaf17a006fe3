"""Save and load dictionaries of arrays as ``.npz`` files, atomically and without pickle.

``save`` writes to a temporary file beside the target and renames it over the target, an
atomic step on POSIX and Windows: a crash mid-save leaves the previous file intact.
``load`` refuses object arrays (``allow_pickle=False``), so a file can never run code.
"""
import os
import tempfile
import zipfile

from .backend import to_host, numpy as _host

__all__ = ["save", "load", "replace_atomically", "remove_interrupted_writes"]

_TEMPORARY = ".tmp-"  # the prefix of replace_atomically's temporary files


def replace_atomically(path, write):
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, flush it to disk, then
    rename it over ``path``. On any failure the temporary file is removed and ``path`` is left
    as it was. ``tmp`` ends like ``path`` (libraries that pick a format from the extension
    still do), and the file gets the permissions a plain ``open`` would give it.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=_TEMPORARY, suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private (0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_interrupted_writes(folder):
    """Delete the temporary files that ``replace_atomically`` left in ``folder`` when its
    process was killed mid-write (SIGKILL, power loss: no chance to clean up). Each can be as
    large as a checkpoint. Call it only while nothing else writes into ``folder``.
    Returns the number of bytes freed."""
    freed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(_TEMPORARY) and entry.is_file(follow_symlinks=False):
                freed += entry.stat().st_size
                os.remove(entry.path)
    return freed


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(path, arrays):
    """Write {name: array or number} to ``path`` (.npz), atomically (``replace_atomically``).
    Device arrays are copied to the host."""
    host = {}
    for name, value in arrays.items():
        value = to_host(value) if hasattr(value, "shape") else _host.asarray(value)
        if value.dtype == object:
            raise TypeError(f"nn.save: {name!r} is an object array; only numeric arrays are saved")
        host[name] = value

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: savez would append ".npz" to a name
            _host.savez(f, **host)

    replace_atomically(path, write)


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

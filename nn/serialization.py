"""Save and load dictionaries of arrays as ``.npz`` files, atomically and without pickle.

``save`` writes to a temporary file beside the target and renames it over the target, an
atomic step on POSIX and Windows: a crash mid-save leaves the previous file intact.
``load`` refuses object arrays (``allow_pickle=False``), so a file can never run code, and
it compares every array's declared shape and dtype with the bytes its zip member holds before
NumPy allocates anything: a 1 KB file that declares 10^12 floats is refused, not allocated.
"""
import os
import tempfile
import zipfile

from .backend import to_host, numpy as _host

__all__ = ["save", "load", "replace_atomically", "remove_interrupted_writes",
           "zip_problem", "Refused", "check_npz"]

_TEMPORARY = ".tmp-"  # the prefix of replace_atomically's temporary files

# A zip's members may expand to at most this many times the file, plus _SMALL bytes: trained
# weights hardly compress (about 1.1 times), and deflate alone would allow 1032 (a 3 MB file
# could then ask for 3 GB).
_MAX_EXPANSION, _SMALL = 16, 2 ** 20

# element kinds an array may declare: bool, integers, floats, complex numbers, and text
# (train.py keeps its configuration as a JSON string); never objects, records or raw bytes
_PLAIN_KINDS = "biufcU"


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


def zip_problem(archive, file_size):
    """What makes the zip ``archive`` (a ZipFile of a file of ``file_size`` bytes) unreadable
    (a phrase to follow the file's name in a message), or None. A member is refused when it is
    encrypted, compressed other than by deflate, its stored bytes lie outside the file, or it
    is stored but not as long as it says; the archive, when its members together claim to
    expand to more than ``_MAX_EXPANSION`` times the file (weights hardly compress: such a
    file would cost memory it does not justify)."""
    expanded = 0
    for info in archive.infolist():
        name = f"member {info.filename!r}"
        if info.flag_bits & 0x1:
            return f"{name} is encrypted (a password-protected zip); save it without a password"
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return (f"{name} is compressed with zip method {info.compress_type}; only stored "
                    "and deflated members are read (save it again with numpy.savez or nn.save)")
        if info.header_offset + info.compress_size > file_size:
            return (f"{name} declares {info.compress_size} stored bytes past the end of the "
                    "file; the file is truncated or corrupt")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            return (f"{name} declares {info.file_size} bytes but {info.compress_size} are "
                    "stored; the file is truncated or corrupt")
        expanded += info.file_size
    if expanded > _MAX_EXPANSION * file_size + _SMALL:
        return (f"its members declare {expanded} bytes in a file of {file_size}, more than "
                f"{_MAX_EXPANSION} times as many; refused before expanding them (save it again "
                "uncompressed)")
    return None


class Refused(ValueError):
    """A file refused before it is read further; its message is complete (names the file and
    what is wrong with it)."""


def check_npz(path):
    """Raise ValueError unless every member of the .npz ``path`` is an .npy array of a plain
    number type (or text) whose declared shape and dtype take exactly the bytes the member
    holds. Only the zip directory and each member's header are read."""
    from numpy.lib import format as npy

    file_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        problem = zip_problem(archive, file_size)
        if problem:
            raise Refused(f"{path}: {problem}")
        for info in archive.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise Refused(f"{path}: member {name!r} is not an array (.npy)")
            with archive.open(info) as f:
                version = npy.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise Refused(f"{path}: member {name!r} has .npy version {version}")
                read_header = (npy.read_array_header_1_0 if version == (1, 0)
                               else npy.read_array_header_2_0)
                shape, _, dtype = read_header(f)
                header = f.tell()
            if dtype.hasobject:
                raise Refused(f"{path} holds pickled Python objects, which are refused "
                              "(loading them could run code)")
            if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None:
                raise Refused(f"{path}: array {name[:-4]!r} declares dtype {dtype.str!r}, "
                              "which is not a plain number type; refused unread")
            count = 1
            for n in shape:
                count *= n
            declared = count * dtype.itemsize
            if declared != info.file_size - header:
                raise Refused(f"{path}: array {name[:-4]!r} declares shape {shape} of "
                              f"{dtype} ({declared} bytes) but its member holds "
                              f"{info.file_size - header} bytes; refused before allocating "
                              "(the file is truncated or corrupt)")


def load(path):
    """Read a file written by ``save``: {name: NumPy array}.

    Raises ValueError naming the file when it is truncated, corrupt, holds pickled objects,
    or declares arrays larger than the bytes it holds (checked before allocating).
    """
    path = os.fspath(path)
    try:
        check_npz(path)
        with _host.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (FileNotFoundError, Refused):
        raise
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise ValueError(f"{path} holds pickled Python objects, which are refused "
                             "(loading them could run code)") from e
        raise ValueError(f"{path} is not a readable .npz file ({e})") from e
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise ValueError(f"{path} is truncated or corrupt and cannot be read ({e})") from e

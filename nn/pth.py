"""Read and write PyTorch ``.pth`` state dicts without PyTorch, and without running code.

A ``.pth`` file is a Python pickle, and a pickle is a small program: its GLOBAL opcode names
any function in any module and REDUCE calls it, so ``torch.load`` without ``weights_only``
runs whatever a file asks (``os.system``, ``builtins.eval``, ...). ``load_pth`` unpickles with
a ``find_class`` that knows only what a state dict holds:

    collections.OrderedDict                       the dict (and a tensor's empty hook dict)
    torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter
    torch.FloatStorage, torch.LongStorage, ...    a storage's element type

and refuses every other name at once, before any array exists. The unpickler is Python's own
(``pickle._Unpickler``), not the C one: its memo is a dict, so a memo index of 10^9 costs one
entry, not an array of 10^9 slots, and no read asks for more bytes than the file has left;
what it builds is bounded by the file's size. Tensors are placeholders
while the pickle runs; the arrays are built afterwards, once every declared size has been
compared with the bytes the file holds.

A tensor is a view of a flat storage: element ``[i0, i1, ...]`` of a tensor with storage
offset ``o`` and strides ``(s0, s1, ...)`` is ``storage[o + i0*s0 + i1*s1 + ...]``. Several
tensors may share one storage, and a tensor may be non-contiguous (a transposed weight).

The two file formats (both read):

- zip (PyTorch >= 1.6): ``<prefix>/data.pkl`` is the pickle, ``<prefix>/data/<key>`` the
  raw little-endian bytes of storage ``<key>`` (``<prefix>/byteorder`` may say "big");
- legacy (before 1.6, the official pretrained CycleGANs): five things one after another,
  the magic number 0x1950a86a20f9469cfc6c (a pickled int), the protocol version 1001, a
  dict of system information, the object pickle, the list of storage keys; then each
  storage in that order as an 8-byte little-endian element count and the raw bytes.

``save_pth`` writes the zip format, which ``torch.load(path, weights_only=True)`` accepts.
"""
import collections
import io
import os
import pickle
import reprlib
import struct
import zipfile

from .backend import numpy as np, to_host
from .serialization import replace_atomically, zip_problem

__all__ = ["load_pth", "save_pth", "PthError", "skip_instance_norm_statistics"]

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001

# storage type name -> element dtype (little-endian); bfloat16 is widened to float32 on load
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "|i1", "ByteStorage": "|u1", "BoolStorage": "|b1",
}
_DTYPE_STORAGES = {np.dtype(v).str: k for k, v in _STORAGE_DTYPES.items() if k != "BFloat16Storage"}


class PthError(ValueError):
    """A ``.pth`` file that cannot be read safely; the message names the file and the reason."""


class _RefusedFile(PthError):
    """The file names a global outside the vocabulary (refused as soon as it is named)."""


# a value read from a file, in a message: short, however large or deep the value
_short = reprlib.Repr()
_short.maxlevel, _short.maxstring, _short.maxother = 3, 60, 60

# The deepest a state dict nests dicts in dicts (an official checkpoint wraps the state dict
# at most once or twice); deeper is a forgery, or a dict that holds itself.
_MAX_DEPTH = 16
# NumPy's limit on an array's number of dimensions (32 before NumPy 2, 64 since)
_MAX_NDIM = 32


# --- placeholders built while the pickle runs ----------------------------------------------

class _Sealed:
    """A placeholder the pickle cannot change (its BUILD opcode would set any attribute)."""
    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"the pickle changes a {type(self).__name__[1:]}")


class _StorageType(_Sealed):
    """What ``torch.FloatStorage`` and its kin unpickle to: an element type, nothing callable."""
    __slots__ = ("name", "dtype")

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage(_Sealed):
    """A storage named by the pickle (a persistent id): ``numel`` elements of ``dtype`` under
    ``key``, read later. ``base`` is the element offset of a legacy storage view."""
    __slots__ = ("key", "stype", "numel", "base")

    def __init__(self, key, stype, numel, base=0):
        self.key, self.stype, self.numel, self.base = key, stype, numel, base


class _Tensor(_Sealed):
    """A tensor to rebuild: ``size`` elements of ``storage`` from ``offset`` with ``stride``."""
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    # _rebuild_tensor_v2 adds (requires_grad, backward_hooks[, metadata]); none matter here
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor whose storage is not a storage")
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *unused):
    # (data, requires_grad, backward_hooks): a Parameter is its data
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError("a parameter whose data is not a tensor")
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
_ALLOWED.update({("torch", name): _StorageType(name) for name in _STORAGE_DTYPES})


class _Unpickler(pickle._Unpickler):
    """An unpickler whose ``find_class`` answers only from ``_ALLOWED``. ``storages`` is
    called with each persistent id; ``None`` means the pickle may name no storage.
    Python's own unpickler (see the module's docstring): its memo is a dict."""

    def __init__(self, file, path, storages=None):
        super().__init__(file)
        self.path, self.storages = path, storages

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise _RefusedFile(
                f"{self.path} names {f'{module}.{name}'[:200]}, which a state "
                "dict never holds; refused unread (a pickle that names a function can run "
                "code on loading). Only tensors and dicts of tensors are read.") from None

    def persistent_load(self, pid):
        if self.storages is None:
            raise pickle.UnpicklingError("a persistent id where none belongs")
        return self.storages(pid)


class _Bounded:
    """A file's ``read`` and ``readline`` that never ask for more bytes than the file has
    left: a pickle that declares a 4 GB string in a small file gets what the file holds (and
    fails as truncated), not a 4 GB buffer."""

    def __init__(self, file):
        self.file, self.size = file, os.fstat(file.fileno()).st_size

    def read(self, n=-1):
        left = max(0, self.size - self.file.tell())
        return self.file.read(left if n is None or n < 0 else min(n, left))

    def readline(self):
        return self.file.readline()


def _unpickle(path, data, storages=None):
    """Run the restricted unpickler over bytes or an open file ``data``."""
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else _Bounded(data)
    try:
        return _Unpickler(file, path, storages).load()
    except PthError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, MemoryError, RecursionError) as e:
        raise PthError(f"{path} is truncated or corrupt: its pickle cannot be read "
                       f"({type(e).__name__}: {_short.repr(str(e))[1:-1]})") from None


def _check_int(path, value, what):
    if type(value) is not int or value < 0:
        raise PthError(f"{path} is corrupt: {what} is {_short.repr(value)}, not a whole "
                       "number >= 0")
    return value


def _storage_from_pid(path, pid, legacy):
    """Check a persistent id ('storage', type, key, location, numel[, view]) -> _Storage."""
    if not isinstance(pid, tuple) or not pid:
        raise PthError(f"{path} is corrupt: persistent id {_short.repr(pid)} is not a "
                       "storage")
    if pid[0] == "module":
        raise PthError(f"{path} holds a pickled module (source code), refused unread; only "
                       "state dicts are read (save model.state_dict(), not the model)")
    if pid[0] != "storage" or len(pid) != (6 if legacy else 5):
        raise PthError(f"{path} is corrupt: persistent id {_short.repr(pid[:1])} is not a "
                       "storage")
    stype, key, numel = pid[1], pid[2], pid[4]
    if not isinstance(stype, _StorageType) or not isinstance(key, str):
        raise PthError(f"{path} is corrupt: a storage of type {_short.repr(stype)} under key "
                       f"{_short.repr(key)}")
    storage = _Storage(key, stype, _check_int(path, numel, f"storage {key}'s size"))
    if legacy and pid[5] is not None:  # a view of root storage `key`: (view_key, offset, size)
        view = pid[5]
        if not (isinstance(view, tuple) and len(view) == 3):
            raise PthError(f"{path} is corrupt: storage view {_short.repr(view)}")
        base = _check_int(path, view[1], "a storage view's offset")
        size = _check_int(path, view[2], "a storage view's size")
        if base + size > storage.numel:
            raise PthError(f"{path} is corrupt: a view of storage {key} reaches element "
                           f"{base + size}, past its {storage.numel}")
        storage = _Storage(key, stype, storage.numel, base)
    return storage


def _namer(path, storages, legacy):
    """The unpickler's persistent_load: each id checked, and every id of one storage key
    declaring the same element type and count (the data is read once per key)."""
    def named(pid):
        s = _storage_from_pid(path, pid, legacy)
        known = storages.setdefault(s.key, s)
        if known.numel != s.numel or known.stype.dtype != s.stype.dtype:
            raise PthError(f"{path} is corrupt: storage {s.key} is declared twice, differently")
        return s
    return named


# --- checking what the pickle declared, then building arrays ------------------------------

def _flatten(path, obj):
    """{dotted key: _Tensor} from the unpickled dict; a dict nested in it (an official
    checkpoint sometimes wraps the state dict) gives dotted keys, ``_MAX_DEPTH`` levels at
    most (walked with a list, not by recursion: a file may nest 100,000 dicts)."""
    if not isinstance(obj, dict):
        raise PthError(f"{path} holds a {type(obj).__name__}, not a state dict "
                       "(a dict of tensors)")
    flat, stack = {}, [("", iter(obj.items()))]  # the dicts being walked, outermost first
    while stack:
        prefix, items = stack[-1]
        for key, value in items:
            if not isinstance(key, str):
                raise PthError(f"{path}: key {_short.repr(key)} is not a string")
            name = prefix + key
            if isinstance(value, dict):
                if len(stack) == _MAX_DEPTH:
                    raise PthError(f"{path} nests dicts more than {_MAX_DEPTH} deep (at "
                                   f"{_short.repr(name)}); a state dict is a dict of tensors, "
                                   "refused")
                stack.append((name + ".", iter(value.items())))
                break  # walk the inner dict first: the keys keep the file's order
            if not isinstance(value, _Tensor):
                raise PthError(f"{path}: entry {_short.repr(name)} is a "
                               f"{type(value).__name__}, not a tensor")
            flat[name] = value
        else:
            stack.pop()
    return flat


def _check_tensor(path, name, t):
    """Every size and stride a whole number, every element inside the storage, and no more
    elements than the storage has (a stride of 0 repeats elements: a 1-element storage could
    otherwise ask for a tensor of any size). Returns the tensor's element count."""
    if not (isinstance(t.size, tuple) and isinstance(t.stride, tuple)
            and len(t.size) == len(t.stride) <= _MAX_NDIM):
        raise PthError(f"{path}: tensor {_short.repr(name)} has size {_short.repr(t.size)} and "
                       f"stride {_short.repr(t.stride)}")
    offset = _check_int(path, t.offset, f"tensor {name!r}'s storage offset")
    size = [_check_int(path, n, f"a dimension of tensor {name!r}") for n in t.size]
    stride = [_check_int(path, s, f"a stride of tensor {name!r}") for s in t.stride]
    count = 1
    for n in size:
        count *= n
    if count == 0:
        return 0
    last = t.storage.base + offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= t.storage.numel:
        raise PthError(f"{path}: tensor {name!r} (size {tuple(size)}, stride {tuple(stride)}, "
                       f"offset {offset}) reaches element {last} of storage {t.storage.key}, "
                       f"which declares {t.storage.numel}; the file is corrupt")
    if count > t.storage.numel:
        raise PthError(f"{path}: tensor {name!r} (size {tuple(size)}, stride {tuple(stride)}) "
                       f"has {count} elements, more than the {t.storage.numel} of its storage "
                       f"{t.storage.key}; refused (repeated elements are not read)")
    return count


# Views may share a storage (tied weights under several keys), so the arrays built can
# exceed the data; by this factor at most, so that a small file cannot ask for much more.
_MAX_SHARING = 4


def _build(path, tensors, read_storage):
    """{name: NumPy array}: each storage read once (``read_storage(_Storage)`` gives its
    flat array), each tensor copied out of it as the strided view it is."""
    flat, cache = {}, {}
    built = sum(_check_tensor(path, name, t) * t.storage.stype.dtype.itemsize
                for name, t in tensors.items())
    held = sum(s.numel * s.stype.dtype.itemsize
               for s in {t.storage.key: t.storage for t in tensors.values()}.values())
    if built > _MAX_SHARING * held + 2 ** 20:
        raise PthError(f"{path}: its tensors view {built} bytes of storages that hold {held}; "
                       f"more than {_MAX_SHARING} views of the same data are refused")
    for name, t in tensors.items():
        s = t.storage
        if s.key not in cache:
            cache[s.key] = read_storage(s)
        storage = cache[s.key]
        itemsize = storage.itemsize
        if 0 in t.size:
            array = np.zeros(t.size, dtype=storage.dtype)
        else:
            start = s.base + t.offset
            array = np.lib.stride_tricks.as_strided(
                storage[start:], shape=t.size, strides=[k * itemsize for k in t.stride]).copy()
        if s.stype.name == "BFloat16Storage":  # the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        flat[name] = array.astype(array.dtype.type, copy=False)  # native byte order
    return flat


# --- the zip format ----------------------------------------------------------------------

def _load_zip(path):
    file_size = os.path.getsize(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise PthError(f"{path} is a damaged or truncated zip archive ({e})") from None
    with archive:
        problem = zip_problem(archive, file_size)
        if problem:
            raise PthError(f"{path}: {problem}")
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise PthError(f"{path} is a zip archive but not a PyTorch file (it has no "
                           "<name>/data.pkl member)")
        prefix = pickles[0][: -len("data.pkl")]
        infos = {info.filename: info for info in archive.infolist()}

        def read(name, expected=None):
            info = infos.get(name)
            if info is None:
                raise PthError(f"{path} is corrupt: it has no member {name}")
            if expected is not None and info.file_size != expected:
                raise PthError(f"{path}: member {name} does not hold what is declared "
                               f"({expected} bytes declared by the pickle, {info.file_size} "
                               "bytes in the zip directory); the file is truncated or corrupt")
            try:
                return archive.read(name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise PthError(f"{path}: member {name} is damaged ({e})") from None

        order = "<"
        if prefix + "byteorder" in infos:
            text = read(prefix + "byteorder", None)[:16]
            if text not in (b"little", b"big"):
                raise PthError(f"{path} is corrupt: byteorder {text!r}")
            order = "<" if text == b"little" else ">"
        obj = _unpickle(path, read(prefix + "data.pkl"),
                        _namer(path, {}, legacy=False))
        tensors = _flatten(path, obj)

        def read_storage(s):
            dtype = s.stype.dtype.newbyteorder(order)
            return np.frombuffer(read(f"{prefix}data/{s.key}", s.numel * dtype.itemsize), dtype)

        return _build(path, tensors, read_storage)


# --- the legacy format -------------------------------------------------------------------

def _load_legacy(path, f):
    try:
        magic = _unpickle(path, f)
    except _RefusedFile:
        raise
    except PthError:  # not a pickle at all: say "wrong magic", not "corrupt pickle"
        magic = None
    if type(magic) is not int or magic != LEGACY_MAGIC:
        raise PthError(f"{path} is neither a zip archive nor a legacy PyTorch file "
                       "(wrong magic number); is it a .pth file at all?")
    protocol = _unpickle(path, f)
    if protocol != LEGACY_PROTOCOL:
        raise PthError(f"{path} has legacy protocol version {protocol!r}, not "
                       f"{LEGACY_PROTOCOL}; it cannot be read")
    info = _unpickle(path, f)
    if isinstance(info, dict) and info.get("little_endian") is False:
        raise PthError(f"{path} was written on a big-endian machine; it cannot be read")
    storages = {}

    tensors = _flatten(path, _unpickle(path, f, _namer(path, storages, legacy=True)))
    keys = _unpickle(path, f)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)
            and set(keys) == set(storages)):
        raise PthError(f"{path} is corrupt: its storage list does not match its tensors")
    # The raw storages follow in the listed order; check every length against the pickle and
    # against the bytes left in the file before reading any.
    left = os.fstat(f.fileno()).st_size - f.tell()
    positions = {}
    for key in keys:
        s = storages[key]
        header = f.read(8)
        if len(header) < 8:
            raise PthError(f"{path} is truncated: storage {key} is missing")
        (count,) = struct.unpack("<q", header)
        nbytes = s.numel * s.stype.dtype.itemsize
        left -= 8
        if count != s.numel or nbytes > left:
            raise PthError(f"{path}: storage {key} declares {s.numel} elements in the pickle "
                           f"and {count} before its data, and {left} bytes are left in the "
                           "file; the file is truncated or corrupt")
        positions[key] = f.tell()
        f.seek(nbytes, os.SEEK_CUR)
        left -= nbytes

    def read_storage(s):
        f.seek(positions[s.key])
        return np.frombuffer(f.read(s.numel * s.stype.dtype.itemsize), s.stype.dtype)

    return _build(path, tensors, read_storage)


# --- public functions --------------------------------------------------------------------

def load_pth(path):
    """{key: NumPy array} from a PyTorch state dict file (zip or legacy format).

    Nothing in the file is run: any name outside a state dict's vocabulary (tensors, storages,
    dicts) is refused, naming it. Every size the file declares is checked against the bytes it
    holds before anything is allocated. Raises FileNotFoundError, or PthError (a ValueError)
    naming the file and what is wrong with it.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head[:2] == b"PK":
            f.close()
            return _load_zip(path)
        if not head:
            raise PthError(f"{path} is empty")
        f.seek(0)
        return _load_legacy(path, f)


def skip_instance_norm_statistics(state, module):
    """Drop the ``running_mean``, ``running_var`` and ``num_batches_tracked`` entries that
    PyTorch < 0.4 wrote for InstanceNorm layers, which keep no statistics (the official
    loader drops them the same way). Returns the list of dropped keys; ``state`` is changed."""
    from .modules import InstanceNorm2d

    dropped = []
    for prefix, sub in module.named_modules():
        if isinstance(sub, InstanceNorm2d):
            for stat in ("running_mean", "running_var", "num_batches_tracked"):
                key = f"{prefix}.{stat}" if prefix else stat
                if key in state:
                    del state[key]
                    dropped.append(key)
    return dropped


def _pickle_state(entries, legacy=False):
    """The pickle of an OrderedDict of tensors, as PyTorch writes it (protocol 2), opcode by
    opcode: ``entries`` is [(key, storage type name, numel, shape)], storage i holding
    tensor i contiguously. ``legacy`` writes the persistent ids of the legacy format (one
    more field: the storage view, None)."""
    out = [b"\x80\x02", b"ccollections\nOrderedDict\n", b")R", b"("]

    def text(s):
        raw = s.encode("utf-8")
        return b"X" + struct.pack("<I", len(raw)) + raw           # BINUNICODE

    def integer(n):
        if 0 <= n < 2 ** 31:
            return b"J" + struct.pack("<i", n)                    # BININT
        raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw                  # LONG1

    def ints(values):
        return b"(" + b"".join(integer(v) for v in values) + b"t"  # MARK ... TUPLE

    for i, (key, stype, numel, shape) in enumerate(entries):
        strides = [1] * len(shape)
        for d in range(len(shape) - 2, -1, -1):
            strides[d] = strides[d + 1] * shape[d + 1]
        out += [text(key), b"ctorch._utils\n_rebuild_tensor_v2\n", b"(",
                b"(", text("storage"), f"ctorch\n{stype}\n".encode(), text(str(i)), text("cpu"),
                integer(numel), b"N" if legacy else b"", b"tQ",    # TUPLE, BINPERSID
                integer(0), ints(shape), ints(strides), b"\x89",   # offset, size, stride, False
                b"ccollections\nOrderedDict\n)R",                  # backward hooks: empty
                b"tR"]
    out += [b"u."]                                                 # SETITEMS, STOP
    return b"".join(out)


def save_pth(path, state):
    """Write {key: array} as a zip-format ``.pth`` that ``torch.load`` reads (also with
    ``weights_only=True``), atomically like ``nn.save``. Arrays are copied to the host and
    written contiguous, little-endian; each storage starts on a 64-byte boundary, as
    PyTorch aligns them."""
    path = os.fspath(path)
    arrays, entries = [], []
    for key, value in state.items():
        a = np.asarray(to_host(value) if hasattr(value, "shape") else value, order="C")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        stype = _DTYPE_STORAGES.get(a.dtype.str)
        if stype is None:
            raise TypeError(f"nn.save_pth: {key!r} has dtype {a.dtype}, which has no PyTorch "
                            "storage type")
        arrays.append(a)
        entries.append((key, stype, a.size, a.shape))
    prefix = "archive/"
    records = [("data.pkl", _pickle_state(entries)), ("byteorder", b"little")]
    records += [(f"data/{i}", a.tobytes()) for i, a in enumerate(arrays)]
    records += [("version", b"3\n")]

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            for name, data in records:
                info = zipfile.ZipInfo(prefix + name, date_time=(1980, 1, 1, 0, 0, 0))
                # pad the local header's extra field so that the data starts 64-aligned
                start = archive.fp.tell() + 30 + len(info.filename.encode())
                pad = -(start + 4) % 64
                info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
                archive.writestr(info, data)

    replace_atomically(path, write)

"""Files written by hand for the tests of what a user hands in: weights files that declare
more than they hold or would run code when read, PNGs that Pillow does not write; and the
check that such a file is refused before anything it declares is allocated."""
import io
import pickle
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from nn.pth import LEGACY_MAGIC, LEGACY_PROTOCOL


def refused_without_allocating(load, path, error, match, budget=16 * 2 ** 20):
    """``load(path)`` raises ``error`` matching ``match``, never holding more than ``budget``
    bytes meanwhile (a file that declares terabytes must not get them)."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < budget, f"{peak / 2 ** 20:.0f} MiB allocated"


# --- .npz ---------------------------------------------------------------------------------

def npz_declaring(path, shape, descr="<f4", data=b"\x00" * 16, compression=zipfile.ZIP_STORED,
                  name="w"):
    """An .npz whose one member ``name``.npy declares ``shape`` of ``descr`` but holds
    ``data``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr(f"{name}.npy", header.getvalue() + data)
    return path


# --- PyTorch's .pth -----------------------------------------------------------------------

def zip_pth(path, pickle_bytes, storages=(), byteorder=None, compression=zipfile.ZIP_STORED):
    """A zip-format .pth holding ``pickle_bytes`` as archive/data.pkl and raw storages
    (``storages`` is [(key, bytes)]), and an archive/byteorder member when ``byteorder``
    ("little" or "big") is given."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        if byteorder is not None:
            archive.writestr("archive/byteorder", byteorder)
        for key, data in storages:
            archive.writestr(f"archive/data/{key}", data)
    return path


def legacy_pth(path, pickle_bytes, keys=(), storages=(), first=None):
    """A legacy .pth: magic, protocol, system info, ``pickle_bytes``, the storage keys, then
    each storage as an 8-byte count and its bytes (``storages`` is [(count, bytes)])."""
    head = first if first is not None else pickle.dumps(LEGACY_MAGIC, protocol=2)
    parts = [head, pickle.dumps(LEGACY_PROTOCOL, protocol=2),
             pickle.dumps({"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
                           "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2),
             pickle_bytes, pickle.dumps(list(keys), protocol=2)]
    parts += [struct.pack("<q", count) + data for count, data in storages]
    path.write_bytes(b"".join(parts))
    return path


def calling(module, name, argument):
    """A protocol-0 pickle that calls module.name(argument) when loaded (GLOBAL, REDUCE)."""
    return f"c{module}\n{name}\n(V{argument}\ntR.".encode()


# --- PNG ----------------------------------------------------------------------------------

def png(path, width, height, bit_depth, color_type, compressed_rows):
    """A PNG of ``compressed_rows`` (the zlib stream of the filtered rows) as one IDAT chunk;
    color_type 0 grey, 2 RGB."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed_rows)
                + chunk(b"IEND", b""))
    return path


# --- zip features the loaders refuse, and pickles built to cost memory -----------------------

def encrypted(path):
    """Set the "encrypted" flag (bit 0 of the general purpose flags) of every member of the
    zip ``path``, in its local headers and its central directory, as a password-protected
    zip has it."""
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + at] |= 1
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    return path


def nested_dicts(depth):
    """A protocol-2 pickle of ``depth`` dicts, each the only value of the one outside it:
    {"a": {"a": ... {} ...}}, built without recursion."""
    return (b"\x80\x02" + b"}X\x01\x00\x00\x00a" * depth + b"}" + b"s" * depth + b".")


def memo_put(index, pickle_bytes=b"\x80\x02}."):
    """``pickle_bytes`` (protocol 2) with None pushed, stored in memo slot ``index``
    (LONG_BINPUT) and popped first: the same object, but C's unpickler grows its memo array
    to 2 * ``index`` slots (8 bytes each) on reading it."""
    return pickle_bytes[:2] + b"Nr" + struct.pack("<I", index) + b"0" + pickle_bytes[2:]

"""A stand-in for CuPy 14 on a machine without a GPU: device arrays that behave as CuPy's do,
and count what a GPU would pay for.

Code that runs on NumPy may still fail on CuPy, and no GPU is needed to find out why. A
``DeviceArray`` wraps a NumPy array (the "device memory") and behaves like ``cupy.ndarray``
where the difference matters, in both directions (tests/test_fake_cupy.py holds each case):

Refused, as by CuPy:
- implicit conversion to NumPy: ``numpy.asarray(d)``, ``numpy.array(d)``, and with them
  matplotlib and Pillow raise TypeError; ``d.get()`` (or ``asnumpy(d)``) copies to the host;
- mixing a NumPy array with a device array in one operation, in either order, and a Python
  list as an operand of an elementwise operation (TypeError);
  ``d[...] = host_array`` raises ValueError, as CuPy's ``fill`` does; NumPy arrays reach the
  device through ``asarray`` (as ``cupy.asarray``), which copies;
- keyword arguments CuPy's functions and methods do not take: every function and method here
  has CuPy 14's signature (``SIGNATURES``, compared with the installed CuPy by the tests), so
  ``a.sum(where=...)``, ``a.max(initial=...)`` and ``einsum(..., out=...)`` raise TypeError;
- ``ufunc.at`` for any ufunc but add, subtract, maximum, minimum (and the bitwise and, or,
  xor, which are not exposed here): NotImplementedError, as CuPy has no scatter kernel for it;
- names CuPy lacks: only names CuPy 14 has are exposed (``EXPOSED``), and the random
  Generator has ``standard_normal``, ``random``, ``integers``, ``uniform`` but not ``normal``
  or ``permutation``, with a stream different from NumPy's for the same seed (as CuPy's).

Accepted, as by CuPy:
- NumPy functions and ufuncs called on device arrays are dispatched to this module
  (``__array_function__``, ``__array_ufunc__``): ``numpy.exp(d)`` and ``numpy.sum(d)`` return
  device arrays (a NumPy function this module does not expose raises TypeError here, where
  CuPy, which has many more, would run it);
- a NumPy index array, ``d[numpy.array([0, 1])]`` (copied to the device for the gather);
- Python and NumPy scalars as operands; every result is a DeviceArray, reductions included
  (0-d arrays, not scalars); ``float()``, ``int()``, ``bool()``, ``.item()`` give Python values.

CuPy 14 arrays have no ``__array_namespace__``, and neither have these: ``nn.get_array_module``
finds both through their type, the ``ndarray`` of the module that defines it.

**Cost accounting.** Inside ``with counting() as c:`` every event is added to ``c``:
host-to-device and device-to-host copies (``c.to_device``, ``c.to_host``), synchronisations
(``float``, ``int``, ``bool``, ``.item()``, ``.get()``, printing: Python waits for the device),
device allocations (``c.allocations``, one per new array, views excluded), and kernel
launches by operation name (``c.launches``: one per ufunc, reduction, matmul, einsum, copy,
fill, gather or scatter; none for a view). On a GPU, a step on small images costs about one
launch per array operation whatever the array's size, so ``c.total_launches`` is a proxy for
its time there.

Arithmetic is NumPy's, so results and type promotion are NumPy's (CuPy 14 follows the same
NEP 50 rules).

Where each behaviour comes from. The names and signatures are read from the installed CuPy
(tests/test_fake_cupy.py). The behaviours that need a device to observe are CuPy's source, v14:
the refusal of implicit conversion, the dispatch of NumPy's functions and ufuncs, and
``fill``'s ValueError for a non-scalar NumPy array, in ``cupy/_core/core.pyx``
(https://github.com/cupy/cupy/blob/v14.0.0/cupy/_core/core.pyx); "Unsupported type" for a
NumPy array operand and ``ufunc.at`` raising NotImplementedError without a scatter kernel, in
``cupy/_core/_kernel.pyx`` (https://github.com/cupy/cupy/blob/v14.0.0/cupy/_core/_kernel.pyx);
``einsum``'s refusal of ``out`` in ``cupy/linalg/_einsum.py``, whose source ships with CuPy.
"""
# This module defines sum, all, max, ... as CuPy does: Python's own are _builtins.sum etc.
import builtins as _builtins
import collections as _collections
import contextlib as _contextlib
import inspect as _inspect
import sys as _sys
import types as _types

import numpy as _np

__all__ = ["DeviceArray", "EXPOSED", "SIGNATURES", "Counts", "counting"]

_this = _sys.modules[__name__]


# --- cost accounting --------------------------------------------------------------------------

class Counts:
    """What the code inside one ``counting()`` block cost the (pretend) device."""

    def __init__(self):
        self.to_device = 0           # host-to-device copies
        self.to_host = 0             # device-to-host copies
        self.synchronizations = 0    # times Python waited for the device
        self.allocations = 0         # new device arrays (views are not)
        self.launches = _collections.Counter()   # kernel launches by operation name

    @property
    def total_launches(self):
        return _builtins.sum(self.launches.values())

    def __repr__(self):
        return (f"Counts(to_device={self.to_device}, to_host={self.to_host}, "
                f"synchronizations={self.synchronizations}, allocations={self.allocations}, "
                f"launches={self.total_launches})")


_active = []  # the Counts of every open counting() block


@_contextlib.contextmanager
def counting():
    """``with counting() as c:`` counts the block's transfers, syncs, allocations, launches."""
    counts = Counts()
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.remove(counts)


def _note(field, n=1):
    for counts in _active:
        setattr(counts, field, getattr(counts, field) + n)


def _launch(operation):
    for counts in _active:
        counts.launches[operation] += 1


def _to_host():
    """A device-to-host copy, which waits for the device to finish first."""
    _note("to_host")
    _note("synchronizations")


# --- signatures: CuPy 14.2's, as inspect.signature (or the first docstring line) reads them ----

# Regenerate from the installed CuPy with: python tests/test_fake_cupy.py --signatures
SIGNATURES = {
    # ufuncs (the first line of each ufunc's docstring)
    **{name: "x, /, out=None, *, casting='same_kind', dtype=None" for name in (
        "abs", "absolute", "ceil", "exp", "expm1", "floor", "isfinite", "isnan", "log", "log1p",
        "logical_not", "negative", "sign", "sqrt", "square", "tanh")},
    **{name: "x1, x2, /, out=None, *, casting='same_kind', dtype=None" for name in (
        "add", "divide", "equal", "greater", "greater_equal", "less", "less_equal",
        "logical_and", "logical_or", "maximum", "minimum", "multiply", "not_equal", "power",
        "subtract", "true_divide")},
    **{f"{name}.at": "self, a, indices, b=None" for name in (
        "add", "subtract", "maximum", "minimum", "multiply", "exp")},
    # functions (inspect.signature; einsum's from its docstring, its signature being **kwargs)
    "all": "a, axis=None, out=None, keepdims=False",
    "allclose": "a, b, rtol=1e-05, atol=1e-08, equal_nan=False",
    "amax": "a, axis=None, out=None, keepdims=False",
    "amin": "a, axis=None, out=None, keepdims=False",
    "any": "a, axis=None, out=None, keepdims=False",
    "arange": "start, stop=None, step=1, dtype=None",
    "argmax": "a, axis=None, dtype=None, out=None, keepdims=False",
    "argmin": "a, axis=None, dtype=None, out=None, keepdims=False",
    "array": "obj, dtype=None, copy=True, order='K', subok=False, ndmin=0, *, blocking=False",
    "array_equal": "a1, a2, equal_nan=False",
    "asarray": "a, dtype=None, order=None, *, copy=None, blocking=False",
    "ascontiguousarray": "a, dtype=None",
    "asnumpy": "a, stream=None, order='C', out=None, *, blocking=True",
    "broadcast_to": "array, shape",
    "clip": "a, a_min, a_max, out=None",
    "concatenate": "tup, axis=0, out=None, *, dtype=None, casting='same_kind'",
    "count_nonzero": "a, axis=None",
    "cumsum": "a, axis=None, dtype=None, out=None",
    "dot": "a, b, out=None",
    "einsum": "subscripts, *operands, dtype=None, optimize=False",
    "empty": "shape, dtype=float, order='C'",
    "empty_like": "prototype, dtype=None, order='K', subok=None, shape=None",
    "expand_dims": "a, axis",
    "eye": "N, M=None, k=0, dtype=float, order='C'",
    "flip": "a, axis=None",
    "full": "shape, fill_value, dtype=None, order='C'",
    "full_like": "a, fill_value, dtype=None, order='K', subok=None, shape=None",
    "isclose": "a, b, rtol=1e-05, atol=1e-08, equal_nan=False",
    "lib.stride_tricks.as_strided": "x, shape=None, strides=None",
    "linspace": "start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0",
    "matmul": "*args, axes=None, axis=None, keepdims=False, casting='same_kind', dtype=None, "
              "signature=None, order='K', out=None",
    "max": "a, axis=None, out=None, keepdims=False",
    "mean": "a, axis=None, dtype=None, out=None, keepdims=False",
    "min": "a, axis=None, out=None, keepdims=False",
    "moveaxis": "a, source, destination",
    "nonzero": "a",
    "ones": "shape, dtype=float, order='C'",
    "ones_like": "a, dtype=None, order='K', subok=None, shape=None",
    "outer": "a, b, out=None",
    "pad": "array, pad_width, mode='constant', **kwargs",
    "prod": "a, axis=None, dtype=None, out=None, keepdims=False",
    "ravel": "a, order='C'",
    "repeat": "a, repeats, axis=None",
    "reshape": "a, newshape, order='C', *, copy=None",
    "round": "a, decimals=0, out=None",
    "squeeze": "a, axis=None",
    "stack": "tup, axis=0, out=None, *, dtype=None, casting='same_kind'",
    "std": "a, axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "sum": "a, axis=None, dtype=None, out=None, keepdims=False",
    "swapaxes": "a, axis1, axis2",
    "tensordot": "a, b, axes=2",
    "tile": "A, reps",
    "transpose": "a, axes=None",
    "unravel_index": "indices, dims, order='C'",
    "var": "a, axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "where": "condition, x=None, y=None",
    "zeros": "shape, dtype=float, order='C'",
    "zeros_like": "a, dtype=None, order='K', subok=None, shape=None",
    "random.default_rng": "seed=None",
    "random.Generator.integers": "self, low, high=None, size=None, dtype=numpy.int64, "
                                 "endpoint=False",
    "random.Generator.random": "self, size=None, dtype=numpy.float64, out=None",
    "random.Generator.standard_normal": "self, size=None, dtype=numpy.float64, out=None",
    "random.Generator.uniform": "self, low=0.0, high=1.0, size=None, dtype=numpy.float64",
    # ndarray methods (Cython embeds each one's signature in the first docstring line)
    "ndarray.all": "self, axis=None, out=None, keepdims=False",
    "ndarray.any": "self, axis=None, out=None, keepdims=False",
    "ndarray.argmax": "self, axis=None, out=None, dtype=None, keepdims=False",
    "ndarray.argmin": "self, axis=None, out=None, dtype=None, keepdims=False",
    "ndarray.astype": "self, dtype, order='K', casting=None, subok=None, copy=True",
    "ndarray.clip": "self, min=None, max=None, out=None",
    "ndarray.copy": "self, order='C'",
    "ndarray.cumsum": "self, axis=None, dtype=None, out=None",
    "ndarray.dot": "self, b, out=None",
    "ndarray.fill": "self, value",
    "ndarray.flatten": "self, order='C'",
    "ndarray.get": "self, stream=None, order='C', out=None, blocking=True",
    "ndarray.item": "self",
    "ndarray.max": "self, axis=None, out=None, keepdims=False",
    "ndarray.mean": "self, axis=None, dtype=None, out=None, keepdims=False",
    "ndarray.min": "self, axis=None, out=None, keepdims=False",
    "ndarray.nonzero": "self",
    "ndarray.prod": "self, axis=None, dtype=None, out=None, keepdims=None",
    "ndarray.ravel": "self, order='C'",
    "ndarray.repeat": "self, repeats, axis=None",
    "ndarray.reshape": "self, *shape, order='C', copy=None",
    "ndarray.round": "self, decimals=0, out=None",
    "ndarray.squeeze": "self, axis=None",
    "ndarray.std": "self, axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "ndarray.sum": "self, axis=None, dtype=None, out=None, keepdims=False",
    "ndarray.swapaxes": "self, axis1, axis2",
    "ndarray.take": "self, indices, axis=None, out=None",
    "ndarray.tolist": "self",
    "ndarray.transpose": "self, *axes",
    "ndarray.var": "self, axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "ndarray.view": "self, dtype=None, type=None",
}


def _signature(name):
    """SIGNATURES[name] as an inspect.Signature."""
    scope = {"numpy": _np, "float": float}
    exec(f"def f({SIGNATURES[name]}): pass", scope)  # noqa: S102 (our own literal text)
    return _inspect.signature(scope["f"])


def _checked(name, function):
    """``function`` behind CuPy's signature for ``name``: arguments CuPy refuses raise
    TypeError before anything runs, with CuPy's signature in the message. A method's
    signature starts with ``self``, which binds as any other argument."""
    signature = _signature(name)

    def checked(*args, **kwargs):
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{name}(): {e}; CuPy 14's signature is "
                            f"{name}({SIGNATURES[name]})") from None
        return function(*args, **kwargs)
    checked.__name__ = checked.__qualname__ = name.rsplit(".", 1)[-1]
    checked.__doc__ = f"{name}({SIGNATURES[name]}), as in CuPy 14, on device arrays."
    checked.__signature__ = signature
    return checked


# --- moving between NumPy arrays and device arrays --------------------------------------------

def _mixing_error(value):
    return TypeError(
        f"Unsupported type {type(value)}: a NumPy array (shape {value.shape}) cannot be used "
        "with a device array, as in CuPy. Move it to the device first with "
        "xp.asarray(host_array), or bring the device array to the host with .get()")


def _unwrap(value, inputs=None):
    """The NumPy array inside a DeviceArray (recorded in ``inputs``); scalars, dtypes, slices
    and shapes pass through; a NumPy array is refused."""
    if isinstance(value, DeviceArray):
        if inputs is not None:
            inputs.append(value._array)
        return value._array
    if isinstance(value, _np.ndarray):
        raise _mixing_error(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, inputs) for v in value)
    return value


def _root(array):
    """The array that owns the memory ``array`` looks at."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def _wrap(result, inputs=(), operation=None):
    """NumPy results as DeviceArrays (scalars become 0-d arrays, as CuPy returns them).

    A result that does not look at the memory of one of ``inputs`` is a new allocation.
    ``operation`` names the kernel launched; None means one runs only if a copy was made
    (reshape, transpose and friends are views when they can be).
    """
    if isinstance(result, tuple):
        if operation is not None:
            _launch(operation)
        return tuple(_wrap(r, inputs) for r in result)
    if isinstance(result, _np.generic):
        result = _np.asarray(result)
    if not isinstance(result, _np.ndarray):
        return result
    fresh = _builtins.all(_root(result) is not _root(a) for a in inputs)
    if fresh:
        _note("allocations")
    if operation is not None:
        _launch(operation)
    elif fresh:
        _launch("copy")
    return DeviceArray(result)


def _forward(numpy_function, operation, args, kwargs):
    """numpy_function on the unwrapped arguments; the result wrapped, ``out=`` returned as is."""
    inputs = []
    result = numpy_function(*_unwrap(args, inputs),
                            **{k: _unwrap(v, inputs) for k, v in kwargs.items()})
    out = kwargs.get("out")
    if isinstance(out, DeviceArray):
        if operation is not None:
            _launch(operation)
        return out
    return _wrap(result, inputs, operation)


def _device_function(numpy_function, operation=None):
    """A function of this namespace: NumPy's, on device arrays. ``operation``: the kernel it
    launches (None: a copy only when it cannot return a view)."""
    return lambda *args, **kwargs: _forward(numpy_function, operation, args, kwargs)


class _Ufunc:
    """An elementwise function, with CuPy's ``.at`` (an unbuffered in-place scatter) for the
    ufuncs CuPy has a scatter kernel for (``_scatter_op`` in CuPy 14: these four and the
    bitwise and, or, xor); ``.at`` of any other raises NotImplementedError."""

    _SCATTER = ("add", "subtract", "maximum", "minimum")

    def __init__(self, name):
        self._ufunc = getattr(_np, name)
        self.__name__ = name
        self.nin, self.nout = self._ufunc.nin, self._ufunc.nout
        self._call = _checked(name, _device_function(self._ufunc, name))
        self.__signature__ = self._call.__signature__

    def __call__(self, *args, **kwargs):
        if len(args) > self.nin and "out" not in kwargs:  # out given by position
            args, kwargs = args[:self.nin], dict(kwargs, out=args[self.nin])
        _refuse_sequences(args)
        return self._call(*args, **kwargs)

    def at(self, a, indices, b=None):
        if self.__name__ not in self._SCATTER:
            raise NotImplementedError(f"`{self.__name__}.at` is not supported yet (CuPy has "
                                      "ufunc.at for add, subtract, maximum, minimum and the "
                                      "bitwise and, or, xor only)")
        if not isinstance(a, DeviceArray):
            raise TypeError(f"{self.__name__}.at needs a device array to update, got {type(a)}")
        args = (_index(indices),) if b is None else (_index(indices), _unwrap(b))
        self._ufunc.at(a._array, *args)
        _launch(f"{self.__name__}.at")

    def __repr__(self):
        return f"<fake_cupy ufunc {self.__name__}>"


def _refuse_sequences(operands):
    """CuPy's elementwise kernels take arrays and scalars only: a list is refused, where NumPy
    would make an array of it."""
    for value in operands:
        if isinstance(value, (list, tuple)):
            raise TypeError(f"Unsupported type {type(value)}: an elementwise operation on a "
                            "device array takes device arrays and scalars; make the list a "
                            "device array first with xp.asarray(...)")


def _index(index):
    """An index for the array inside: NumPy index arrays and lists are copied to the device
    (CuPy accepts them, and copies them), DeviceArrays unwrapped."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, DeviceArray):
        return index._array
    if isinstance(index, (_np.ndarray, list)):
        _note("to_device")
        _note("allocations")
        return _np.asarray(index)
    return index


def _is_gather(index):
    """Whether ``index`` (unwrapped) selects by arrays (a gather kernel), not by slices and
    integers (a view)."""
    parts = index if isinstance(index, tuple) else (index,)
    return _builtins.any(isinstance(p, (_np.ndarray, list)) for p in parts)


# --- the device array -------------------------------------------------------------------------

class DeviceArray:
    """An array in (pretend) device memory: the NumPy array inside is never handed out.

    Create one with ``asarray`` (or zeros, empty, ...), not with this constructor.
    """

    __slots__ = ("_array",)
    __hash__ = None

    def __init__(self, array):
        if not isinstance(array, _np.ndarray):
            raise TypeError("DeviceArray wraps a NumPy array; use fake_cupy.asarray(...)")
        self._array = array

    # --- NumPy's protocols: dispatched to this module, never converted --------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly (as with CuPy).")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy.exp(d), numpy.add(d, 1), host + d: as CuPy, call this module's ufunc of
        that name, which refuses NumPy array operands; other methods (reduce, ...) are
        refused."""
        if "out" in kwargs:
            (kwargs["out"],) = kwargs["out"]
        function = getattr(_this, ufunc.__name__, None)
        if method != "__call__" or not callable(function):
            return NotImplemented
        return function(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """numpy.sum(d), numpy.stack([d, d]): as CuPy, call this module's function of that
        name; NumPy functions it lacks raise TypeError."""
        function = getattr(_this, func.__name__, None)
        if func.__module__ != "numpy" or not callable(function):
            return NotImplemented
        return function(*args, **kwargs)

    # --- facts --------------------------------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    strides = property(lambda self: self._array.strides)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    T = property(lambda self: DeviceArray(self._array.T))

    def __len__(self):
        return len(self._array)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (DeviceArray(row) for row in self._array)  # views, as CuPy's self[i]

    # --- to the host: each one waits for the device ---------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A NumPy copy on the host (CuPy's device-to-host transfer)."""
        _to_host()
        return self._array.copy()

    def item(self):
        _to_host()
        return self._array.item()

    def tolist(self):
        _to_host()
        return self._array.tolist()

    def __float__(self):
        _to_host()
        return float(self._array.copy())   # CuPy's float(self.get()): NumPy's rules

    def __int__(self):
        _to_host()
        return int(self._array.copy())

    def __bool__(self):
        _to_host()
        return bool(self._array.copy())

    def __repr__(self):
        _to_host()
        return f"DeviceArray({self._array!r})"

    def __format__(self, spec):
        _to_host()
        return format(self._array.item() if self.ndim == 0 else self._array, spec)

    # --- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index):
        inputs = [self._array]
        index = _index(_unwrap_index_values(index, inputs))
        if not _is_gather(index):
            # NumPy gives a scalar for a single element, CuPy a 0-d view: Ellipsis gives that.
            parts = index if isinstance(index, tuple) else (index,)
            if not _builtins.any(p is Ellipsis for p in parts):
                index = parts + (Ellipsis,)
            return DeviceArray(self._array[index])
        return _wrap(self._array[index], inputs, "take")

    def __setitem__(self, index, value):
        if isinstance(value, _np.ndarray):
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill "
                                 "(as in CuPy: move it to the device with xp.asarray first)")
            value = value.item()
        self._array[_index(_unwrap_index_values(index, []))] = _unwrap(value)
        _launch("setitem")

    # --- methods that are not NumPy's ------------------------------------------------------
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        options = {} if casting is None else {"casting": casting}
        result = self._array.astype(dtype, order=order, copy=copy, **options)
        return self if result is self._array else _wrap(result, [self._array], "copy")

    def copy(self, order="C"):
        return _wrap(self._array.copy(order=order), [self._array], "copy")

    def fill(self, value):
        self.__setitem__(Ellipsis, value)

    def view(self, dtype=None, type=None):
        return DeviceArray(self._array.view() if dtype is None else self._array.view(dtype))


def _unwrap_index_values(index, inputs):
    """Device arrays inside an index unwrapped (NumPy ones are left for ``_index``)."""
    if isinstance(index, tuple):
        return tuple(_unwrap_index_values(i, inputs) for i in index)
    if isinstance(index, DeviceArray):
        inputs.append(index._array)
    return index


# Methods that forward to NumPy's: (name, kernel launched, or None for view-or-copy).
_METHODS = {"all": "all", "any": "any", "argmax": "argmax", "argmin": "argmin", "clip": "clip",
            "cumsum": "cumsum", "dot": "matmul", "flatten": None, "max": "max", "mean": "mean",
            "min": "min", "nonzero": "nonzero", "prod": "prod", "ravel": None,
            "repeat": "repeat", "reshape": None, "round": "round", "squeeze": None,
            "std": "std", "sum": "sum", "swapaxes": None, "take": "take", "transpose": None,
            "var": "var"}


def _method(name, operation):
    numpy_method = getattr(_np.ndarray, name)

    def method(self, *args, **kwargs):
        return _forward(numpy_method, operation, (self,) + args, kwargs)
    return method


for _name, _operation in _METHODS.items():
    setattr(DeviceArray, _name, _method(_name, _operation))

# Operators, each the ufunc CuPy calls for it.
_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
              "floordiv": "floor_divide", "mod": "remainder", "pow": "power",
              "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
              "lshift": "left_shift", "rshift": "right_shift"}


def _binary(name, operation):
    operator = getattr(_np.ndarray, name)

    def method(self, other):
        if other is None:
            return NotImplemented
        _refuse_sequences((other,))
        return _forward(operator, operation, (self, other), {})
    method.__name__ = name
    return method


def _inplace(name, operation):
    operator = getattr(_np.ndarray, name)

    def method(self, other):
        operator(self._array, _unwrap(other))
        _launch(operation)
        return self
    method.__name__ = name
    return method


for _op, _operation in _OPERATORS.items():
    setattr(DeviceArray, f"__{_op}__", _binary(f"__{_op}__", _operation))
    setattr(DeviceArray, f"__r{_op}__", _binary(f"__r{_op}__", _operation))
    setattr(DeviceArray, f"__i{_op}__", _inplace(f"__i{_op}__", _operation))
setattr(DeviceArray, "__matmul__", _binary("__matmul__", "matmul"))
setattr(DeviceArray, "__rmatmul__", _binary("__rmatmul__", "matmul"))
for _op, _operation in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                        ("ge", "greater_equal"), ("eq", "equal"), ("ne", "not_equal")):
    setattr(DeviceArray, f"__{_op}__", _binary(f"__{_op}__", _operation))


def _unary(name, operation):
    operator = getattr(_np.ndarray, name)

    def method(self):
        return _forward(operator, operation, (self,), {})
    method.__name__ = name
    return method


for _op, _operation in (("neg", "negative"), ("pos", "positive"), ("abs", "absolute"),
                        ("invert", "invert")):
    setattr(DeviceArray, f"__{_op}__", _unary(f"__{_op}__", _operation))


# --- host <-> device --------------------------------------------------------------------------

def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """A device array of ``a``: NumPy arrays, scalars and lists are copied to the device;
    a DeviceArray is returned as it is (cast when ``dtype`` differs), as ``cupy.asarray``."""
    if isinstance(a, DeviceArray):
        return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    host = a if isinstance(a, (_np.ndarray, _np.generic)) else _unwrap(a)
    _note("to_device")
    _note("allocations")
    return DeviceArray(_np.array(host, dtype=dtype, copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """As ``asarray``, but a DeviceArray is copied unless ``copy=False``."""
    if isinstance(obj, DeviceArray) and copy:
        return obj.astype(dtype or obj.dtype, copy=True)
    return asarray(obj, dtype)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """A NumPy copy of a device array (a NumPy array or scalar is returned as NumPy)."""
    return a.get() if isinstance(a, DeviceArray) else _np.asarray(a)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, DeviceArray):
        _unwrap(a)  # a NumPy array is refused
        return asarray(a, dtype)
    return _wrap(_np.ascontiguousarray(a._array, dtype=dtype), [a._array])


def _as_strided(x, shape=None, strides=None):
    if not isinstance(x, DeviceArray):
        raise TypeError("cupy.lib.stride_tricks.as_strided needs a device array; "
                        f"got {type(x).__name__}")
    return DeviceArray(_np.lib.stride_tricks.as_strided(x._array, shape=shape, strides=strides))


def einsum(subscripts, *operands, dtype=None, optimize=False):
    options = {} if dtype is None else {"dtype": dtype}
    return _forward(_np.einsum, "einsum", (subscripts,) + operands, options)


def _creation(numpy_function, operation):
    """zeros, ones, empty, ...: host-free creation on the device (a fill kernel, or none)."""
    def create(*args, **kwargs):
        inputs = []
        result = numpy_function(*_unwrap(args, inputs),
                                **{k: _unwrap(v, inputs) for k, v in kwargs.items()})
        _note("allocations")
        if operation is not None:
            _launch(operation)
        return DeviceArray(result)
    return create


class _Generator:
    """CuPy's random Generator: ``standard_normal``, ``random``, ``integers``, ``uniform``.

    CuPy's Generator has no ``normal`` or ``permutation`` (neither has this one), and its
    stream differs from NumPy's for the same seed: this one is seeded with (seed, 0xC0DA) so
    that code relying on equal host and device streams fails here too.
    """

    def __init__(self, seed=None):
        self._rng = _np.random.default_rng(None if seed is None else [int(seed), 0xC0DA])

    def _draw(self, values, dtype):
        _note("allocations")
        _launch("random")
        return DeviceArray(_np.asarray(values).astype(dtype, copy=False))

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        return self._draw(self._rng.standard_normal(size, dtype=dtype), dtype)

    def random(self, size=None, dtype=_np.float64, out=None):
        return self._draw(self._rng.random(size, dtype=dtype), dtype)

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return self._draw(self._rng.integers(low, high, size, dtype=dtype, endpoint=endpoint),
                          dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        return self._draw(self._rng.uniform(_unwrap(low), _unwrap(high), size), dtype)


# --- the namespace ---------------------------------------------------------------------------

_UFUNCS = tuple(name for name, text in SIGNATURES.items() if text.startswith(("x, /", "x1, x2, /")))
# Functions that forward to NumPy's: name -> the kernel launched (None: view, or a copy).
_FUNCTIONS = {
    "all": "all", "allclose": "allclose", "amax": "amax", "amin": "amin", "any": "any",
    "argmax": "argmax", "argmin": "argmin", "array_equal": "array_equal",
    "broadcast_to": None, "clip": "clip", "concatenate": "concatenate",
    "count_nonzero": "count_nonzero", "cumsum": "cumsum", "dot": "dot",
    "expand_dims": None, "flip": None, "isclose": "isclose", "matmul": "matmul",
    "max": "max", "mean": "mean", "min": "min", "moveaxis": None, "nonzero": "nonzero",
    "outer": "outer", "pad": "pad", "prod": "prod", "ravel": None, "repeat": "repeat",
    "reshape": None, "round": "round", "squeeze": None, "stack": "stack", "std": "std",
    "sum": "sum", "swapaxes": None, "tensordot": "tensordot", "tile": "tile", "transpose": None,
    "unravel_index": "unravel_index", "var": "var", "where": "where"}
_CREATION = {"zeros": "fill", "ones": "fill", "full": "fill", "zeros_like": "fill",
             "ones_like": "fill", "full_like": "fill", "arange": "arange",
             "linspace": "linspace", "eye": "fill", "empty": None, "empty_like": None}
_CONSTANTS = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool_",
              "dtype", "newaxis", "pi", "e", "inf", "nan")

for _name in _UFUNCS:
    setattr(_this, _name, _Ufunc(_name))
for _name, _operation in _FUNCTIONS.items():
    setattr(_this, _name, _device_function(getattr(_np, _name), _operation))
for _name, _operation in _CREATION.items():
    setattr(_this, _name, _creation(getattr(_np, _name), _operation))
for _name in _CONSTANTS:
    setattr(_this, _name, getattr(_np, _name))
ndarray = DeviceArray
lib = _types.SimpleNamespace(stride_tricks=_types.SimpleNamespace(as_strided=_as_strided))
random = _types.SimpleNamespace(default_rng=_Generator, Generator=_Generator)


def _sign(name):
    """The callable at the dotted ``name`` of this namespace put behind CuPy's signature."""
    *path, attribute = name.split(".")
    owner = _this
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, attribute, _checked(name, getattr(owner, attribute)))


# Every function and method in SIGNATURES gets its signature here; a ufunc carries its own
# (the _Ufunc above), and a ufunc's .at is a plain method whose signature Python checks.
for _name in SIGNATURES:
    if _name not in _UFUNCS and not _name.endswith(".at"):
        _sign(_name)
del _name, _op, _operation

# Every public name of this namespace, dotted into its submodules and classes. Each must exist
# in CuPy 14 (tests/test_fake_cupy.py checks this against the real cupy when it is installed).
EXPOSED = tuple(sorted(
    set(SIGNATURES) | set(_CONSTANTS)
    | {"ndarray", "random.Generator"}
    | {f"ndarray.{m}" for m in ("shape", "dtype", "ndim", "size", "strides", "itemsize",
                                "nbytes", "T")}))

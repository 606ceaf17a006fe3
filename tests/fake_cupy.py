"""A stand-in for CuPy on a machine without a GPU: device arrays that are strict where CuPy is.

Code that runs on NumPy may still fail on CuPy, and no GPU is needed to find out why. A
``DeviceArray`` wraps a NumPy array (the "device memory") and behaves like ``cupy.ndarray``
where the difference matters:

- it refuses to become a NumPy array implicitly: ``numpy.asarray(d)``, ``numpy.exp(d)``,
  matplotlib and Pillow raise TypeError; ``d.get()`` (or ``asnumpy(d)``) copies it to the host;
- it refuses to be mixed with NumPy arrays in one operation, in either order (TypeError);
  NumPy arrays reach the device only through ``asarray`` (as ``cupy.asarray``), which copies;
- every result is a DeviceArray, reductions and indexing included (0-d arrays, not scalars);
  ``float()``, ``int()``, ``bool()`` and ``.item()`` of a one-element array give Python values;
- this module exposes only names that CuPy 14 has (``EXPOSED``; a test walks the real
  ``cupy`` namespace when it is installed), so a call CuPy lacks fails here too;
- its random Generator has CuPy's methods (``standard_normal``, ``random``, ``integers``,
  ``uniform``) and not NumPy's ``normal`` or ``permutation``, and a stream different from
  NumPy's for the same seed (as CuPy's is).

The module itself is the array namespace: ``import fake_cupy as xp; xp.zeros(3)``, and
``d.__array_namespace__()`` returns it, which is how ``nn.get_array_module`` finds it.
Arithmetic is NumPy's, so results and type promotion are NumPy's (CuPy 14 follows the same
NEP 50 rules).
"""
import sys as _sys
import types as _types

import numpy as _np

__all__ = ["DeviceArray", "EXPOSED"]

_this = _sys.modules[__name__]


def _mixing_error(value):
    return TypeError(
        f"a NumPy array (shape {value.shape}) cannot be used with a device array: CuPy refuses "
        "to mix them. Move it to the device first with xp.asarray(host_array), or bring the "
        "device array to the host with .get()")


def _unwrap(value):
    """The NumPy array inside a DeviceArray; scalars, dtypes, slices and shapes pass through."""
    if isinstance(value, DeviceArray):
        return value._array
    if isinstance(value, _np.ndarray):
        raise _mixing_error(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    return value


def _wrap(result):
    """NumPy results as DeviceArrays (scalars become 0-d arrays, as CuPy returns them)."""
    if isinstance(result, _np.ndarray):
        return DeviceArray(result)
    if isinstance(result, _np.generic):
        return DeviceArray(_np.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    return result


def _device_function(name, numpy_function):
    """A function of this namespace: NumPy's, on unwrapped arguments, with wrapped results."""
    def function(*args, **kwargs):
        out = kwargs.get("out")
        result = numpy_function(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
        return out if isinstance(out, DeviceArray) else _wrap(result)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"numpy.{name} on device arrays."
    return function


class _Ufunc:
    """An elementwise function with CuPy's ``.at`` (unbuffered in-place scatter)."""

    def __init__(self, name):
        self._ufunc = getattr(_np, name)
        self.__name__ = name
        self._call = _device_function(name, self._ufunc)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def at(self, a, indices, values=None):
        if not isinstance(a, DeviceArray):
            raise TypeError(f"{self.__name__}.at needs a device array to update, got {type(a)}")
        args = (_unwrap(indices),) if values is None else (_unwrap(indices), _unwrap(values))
        self._ufunc.at(a._array, *args)

    def __repr__(self):
        return f"<fake_cupy ufunc {self.__name__}>"


class DeviceArray:
    """An array in (pretend) device memory: the NumPy array inside is never handed out.

    Create one with ``asarray`` (or zeros, empty, ...), not with this constructor.
    """

    __slots__ = ("_array",)
    __array_ufunc__ = None   # numpy ufuncs and ndarray operators defer to us, and we refuse
    __hash__ = None

    def __init__(self, array):
        if not isinstance(array, _np.ndarray):
            raise TypeError("DeviceArray wraps a NumPy array; use fake_cupy.asarray(...)")
        self._array = array

    # --- no implicit conversion to NumPy ----------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed (as with CuPy). "
            "Use .get() or xp.asnumpy(a) to copy a device array to the host explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # numpy.sum(d), numpy.concatenate([d]), ...: TypeError

    def __array_namespace__(self, api_version=None):
        return _this

    def get(self):
        """A NumPy copy on the host (CuPy's device-to-host transfer)."""
        return self._array.copy()

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
        return (_wrap(row) for row in self._array)

    def __repr__(self):
        return f"DeviceArray({self._array!r})"

    def __format__(self, spec):
        return format(self._array.item() if self.ndim == 0 else self._array, spec)

    # --- to Python scalars: only one-element arrays, explicitly ------------------------------
    def _scalar(self):
        if self._array.size != 1:
            raise TypeError(f"only one-element arrays can be converted to Python scalars; "
                            f"this one has shape {self.shape}")
        return self._array.reshape(()).item()

    def item(self):
        return self._scalar()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __bool__(self):
        if self._array.size != 1:
            raise ValueError(f"the truth value of an array of shape {self.shape} is ambiguous")
        return bool(self._scalar())

    # --- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index):
        return _wrap(self._array[_unwrap(index)])

    def __setitem__(self, index, value):
        self._array[_unwrap(index)] = _unwrap(value)

    # --- methods, each returning DeviceArrays ----------------------------------------------
    def astype(self, dtype, copy=True):
        return DeviceArray(self._array.astype(dtype, copy=copy))

    def copy(self):
        return DeviceArray(self._array.copy())

    def fill(self, value):
        self._array.fill(_unwrap(value))

    def tolist(self):
        return self._array.tolist()

    def view(self, dtype=None):
        return DeviceArray(self._array.view() if dtype is None else self._array.view(dtype))


def _method(name):
    numpy_method = getattr(_np.ndarray, name)

    def method(self, *args, **kwargs):
        return _wrap(numpy_method(self._array, *_unwrap(args),
                                  **{k: _unwrap(v) for k, v in kwargs.items()}))
    method.__name__ = method.__qualname__ = name
    return method


_METHODS = ("all", "any", "argmax", "argmin", "clip", "cumsum", "dot", "flatten", "max",
            "mean", "min", "nonzero", "prod", "ravel", "repeat", "reshape", "round", "squeeze",
            "std", "sum", "swapaxes", "take", "transpose", "var")
for _name in _METHODS:
    setattr(DeviceArray, _name, _method(_name))


def _binary(name):
    operator = getattr(_np.ndarray, name)

    def method(self, other):
        if other is None:
            return NotImplemented
        return _wrap(operator(self._array, _unwrap(other)))
    method.__name__ = name
    return method


def _inplace(name):
    operator = getattr(_np.ndarray, name)

    def method(self, other):
        operator(self._array, _unwrap(other))
        return self
    method.__name__ = name
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
            "and", "or", "xor", "lshift", "rshift"):
    setattr(DeviceArray, f"__{_op}__", _binary(f"__{_op}__"))
    setattr(DeviceArray, f"__r{_op}__", _binary(f"__r{_op}__"))
    setattr(DeviceArray, f"__i{_op}__", _inplace(f"__i{_op}__"))
for _op in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(DeviceArray, f"__{_op}__", _binary(f"__{_op}__"))


def _unary(name):
    operator = getattr(_np.ndarray, name)

    def method(self):
        return DeviceArray(operator(self._array))
    method.__name__ = name
    return method


for _op in ("neg", "pos", "abs", "invert"):
    setattr(DeviceArray, f"__{_op}__", _unary(f"__{_op}__"))


# --- host <-> device --------------------------------------------------------------------------

def asarray(a, dtype=None):
    """A device array of ``a``: NumPy arrays, scalars and lists are copied to the device;
    a DeviceArray is returned as it is (cast when ``dtype`` differs), as ``cupy.asarray``."""
    if isinstance(a, DeviceArray):
        return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    host = a if isinstance(a, (_np.ndarray, _np.generic)) else _unwrap(a)
    return DeviceArray(_np.array(host, dtype=dtype, copy=True))


def array(a, dtype=None, copy=True):
    """As ``asarray``, but a DeviceArray is copied unless ``copy=False``."""
    if isinstance(a, DeviceArray) and copy:
        return DeviceArray(a._array.astype(dtype or a.dtype, copy=True))
    return asarray(a, dtype)


def asnumpy(a):
    """A NumPy copy of a device array (a NumPy array or scalar is returned as NumPy)."""
    return a.get() if isinstance(a, DeviceArray) else _np.asarray(a)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, DeviceArray):
        _unwrap(a)  # a NumPy array is refused
        return asarray(a, dtype)
    return DeviceArray(_np.ascontiguousarray(a._array, dtype=dtype))


def clip(a, a_min, a_max, out=None):
    """Positional bounds only, as in CuPy (NumPy 2.1's ``min=``/``max=`` keywords are absent)."""
    return _device_function("clip", _np.clip)(a, a_min, a_max, out=out)


def _as_strided(x, shape=None, strides=None):
    if not isinstance(x, DeviceArray):
        raise TypeError("cupy.lib.stride_tricks.as_strided needs a device array; "
                        f"got {type(x).__name__}")
    return DeviceArray(_np.lib.stride_tricks.as_strided(x._array, shape=shape, strides=strides))


class _Generator:
    """CuPy's random Generator: ``standard_normal``, ``random``, ``integers``, ``uniform``.

    CuPy's Generator has no ``normal`` or ``permutation`` (neither has this one), and its
    stream differs from NumPy's for the same seed: this one is seeded with (seed, 0xC0DA) so
    that code relying on equal host and device streams fails here too.
    """

    def __init__(self, seed=None):
        self._rng = _np.random.default_rng(None if seed is None else [int(seed), 0xC0DA])

    def standard_normal(self, size=None, dtype=_np.float64):
        return DeviceArray(_np.asarray(self._rng.standard_normal(size, dtype=dtype)))

    def random(self, size=None, dtype=_np.float64):
        return DeviceArray(_np.asarray(self._rng.random(size, dtype=dtype)))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return DeviceArray(_np.asarray(self._rng.integers(low, high, size, dtype=dtype,
                                                          endpoint=endpoint)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        draws = self._rng.uniform(_unwrap(low), _unwrap(high), size)
        return DeviceArray(_np.asarray(draws).astype(dtype, copy=False))


def _default_rng(seed=None):
    """A random Generator seeded with ``seed``, as ``cupy.random.default_rng``."""
    return _Generator(seed)


# --- the namespace ---------------------------------------------------------------------------

_UFUNCS = ("add", "subtract", "multiply", "divide", "true_divide", "power", "maximum",
           "minimum", "negative", "exp", "log", "log1p", "expm1", "sqrt", "square", "abs",
           "absolute", "sign", "tanh", "floor", "ceil", "isfinite", "isnan", "equal",
           "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
           "logical_or", "logical_not")
_FUNCTIONS = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
              "full_like", "arange", "linspace", "eye", "where", "round", "sum", "mean", "max",
              "min", "amax", "amin", "argmax", "argmin", "prod", "var", "std", "all", "any",
              "cumsum", "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
              "broadcast_to", "concatenate", "stack", "flip", "ravel", "tile", "repeat", "pad",
              "matmul", "dot", "einsum", "tensordot", "outer", "allclose", "isclose",
              "array_equal", "unravel_index", "count_nonzero", "nonzero")
_CONSTANTS = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool_",
              "dtype", "newaxis", "pi", "e", "inf", "nan")

for _name in _UFUNCS:
    setattr(_this, _name, _Ufunc(_name))
for _name in _FUNCTIONS:
    setattr(_this, _name, _device_function(_name, getattr(_np, _name)))
for _name in _CONSTANTS:
    setattr(_this, _name, getattr(_np, _name))
ndarray = DeviceArray
lib = _types.SimpleNamespace(stride_tricks=_types.SimpleNamespace(as_strided=_as_strided))
random = _types.SimpleNamespace(default_rng=_default_rng, Generator=_Generator)
del _name, _op

# Every public name of this namespace, dotted into its submodules and classes. Each must exist
# in CuPy 14 (tests/test_nn_device.py checks this against the real cupy when it is installed).
EXPOSED = tuple(sorted(
    _UFUNCS + _FUNCTIONS + _CONSTANTS
    + ("asarray", "array", "asnumpy", "ascontiguousarray", "clip", "ndarray",
       "lib.stride_tricks.as_strided", "random.default_rng", "random.Generator")
    + ("add.at", "subtract.at", "maximum.at", "minimum.at")
    + tuple(f"random.Generator.{m}" for m in ("standard_normal", "random", "integers", "uniform"))
    + tuple(f"ndarray.{m}" for m in _METHODS + (
        "get", "astype", "copy", "fill", "tolist", "view", "item", "shape", "dtype", "ndim",
        "size", "strides", "itemsize", "nbytes", "T"))))

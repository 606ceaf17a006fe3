"""The CuPy stand-in behaves as CuPy 14 does, in both directions: it refuses what CuPy
refuses, with the same exception types, and accepts what CuPy accepts; its names and the
parameters of its functions and methods are CuPy's, compared here with the installed CuPy
(which imports without a GPU; CI installs it).

    python tests/test_fake_cupy.py --signatures    # SIGNATURES as read from the installed CuPy
"""
import inspect
import re
import sys
import types

import numpy as np
import pytest

from nn import fake_cupy
from nn.backend import get_array_module


def device(a):
    return fake_cupy.asarray(np.asarray(a, dtype=np.float64))


# --- refused, as by CuPy -----------------------------------------------------------------------

@pytest.mark.parametrize("convert", [
    np.asarray, np.array, lambda d: np.ones(3)[...].__setitem__(Ellipsis, d)],
    ids=["asarray", "array", "assign_into_numpy"])
def test_implicit_conversion_to_numpy_is_refused(convert):
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        convert(device([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("mix", [
    lambda d, h: d + h, lambda d, h: h + d, lambda d, h: d * h, lambda d, h: h - d,
    lambda d, h: d @ h, lambda d, h: h @ d, lambda d, h: d < h,
    lambda d, h: fake_cupy.maximum(d, h), lambda d, h: np.maximum(h, d),
    lambda d, h: fake_cupy.where(d > 0, d, h), lambda d, h: fake_cupy.stack([d, h]),
    lambda d, h: np.stack([d, h]), lambda d, h: d + np.array(2.0)],
    ids=["add", "radd", "mul", "rsub", "matmul", "rmatmul", "compare", "maximum",
         "numpy_maximum", "where", "stack", "numpy_stack", "zero_d_numpy_array"])
def test_mixing_device_and_numpy_arrays_is_refused_with_type_error(mix):
    with pytest.raises(TypeError, match="NumPy array"):
        mix(device([1.0, 2.0, 3.0]), np.ones(3))


@pytest.mark.parametrize("call", [lambda d: d + [1.0, 2.0, 3.0], lambda d: [1.0] * 3 - d,
                                  lambda d: fake_cupy.maximum(d, [0.0, 0.0, 0.0]),
                                  lambda d: np.maximum(d, [0.0, 0.0, 0.0])],
                         ids=["add", "rsub", "maximum", "numpy_maximum"])
def test_a_list_operand_is_refused(call):
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        call(device([1.0, 2.0, 3.0]))


def test_numpy_in_place_update_from_a_device_array_is_refused():
    host = np.ones(3)
    with pytest.raises(TypeError):
        host += device([1.0, 2.0, 3.0])


def test_assigning_a_host_array_into_a_device_array_is_a_value_error():
    # CuPy routes d[...] = value through fill, which refuses a non-scalar NumPy array.
    d = device([1.0, 2.0, 3.0])
    for index in (Ellipsis, slice(None), slice(0, 2)):
        with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
            d[index] = np.ones(3)[:2] if index == slice(0, 2) else np.ones(3)
    d[...] = np.array(5.0)          # a 0-d NumPy array is a scalar: accepted
    d[0] = np.float32(7.0)
    np.testing.assert_array_equal(d.get(), [7.0, 5.0, 5.0])


@pytest.mark.parametrize("call, name", [
    (lambda d: d.sum(where=d > 0), "where"),
    (lambda d: fake_cupy.sum(d, where=d > 0), "where"),
    (lambda d: np.sum(d, where=d > 0), "where"),     # dispatched to the stand-in's sum
    (lambda d: d.max(initial=0.0), "initial"),
    (lambda d: d.min(initial=0.0), "initial"),
    (lambda d: fake_cupy.einsum("i->", d, out=fake_cupy.zeros(())), "out"),
    (lambda d: fake_cupy.einsum("i->", d, casting="unsafe"), "casting"),
    (lambda d: fake_cupy.clip(d, min=0.0, max=1.0), "a_min"),
    (lambda d: d.reshape(3, newshape=3), "newshape"),
    (lambda d: fake_cupy.exp(d, where=d > 0), "where")],
    ids=["sum_where", "cupy_sum_where", "numpy_sum_where", "max_initial", "min_initial",
         "einsum_out", "einsum_casting", "clip_keywords", "reshape_newshape", "ufunc_where"])
def test_keywords_cupy_refuses_are_refused(call, name):
    with pytest.raises(TypeError, match=name):
        call(device([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("name", ["multiply", "exp", "divide", "power"])
def test_ufunc_at_exists_only_for_cupys_scatter_kernels(name):
    # Every CuPy ufunc has .at, but only those with a scatter kernel implement it.
    d = device([1.0, 2.0, 3.0])
    with pytest.raises(NotImplementedError, match=f"`{name}.at` is not supported"):
        getattr(fake_cupy, name).at(d, 0, 2.0)


def test_the_scatter_kernels_are_cupys():
    cupy = pytest.importorskip("cupy")
    with_scatter = {name for name in dir(cupy) if isinstance(getattr(cupy, name), cupy.ufunc)
                    and getattr(getattr(cupy, name), "_scatter_op", None) is not None}
    exposed = {name for name in fake_cupy.EXPOSED if isinstance(getattr(fake_cupy, name, None),
                                                                  type(fake_cupy.add))}
    assert with_scatter & exposed == set(fake_cupy.add._SCATTER)


def test_ufunc_at_of_the_scatter_kernels_works():
    d = fake_cupy.zeros(3)
    fake_cupy.add.at(d, fake_cupy.asarray(np.array([0, 0, 2])), 1.0)
    fake_cupy.subtract.at(d, np.array([1]), 1.0)       # a NumPy index array is accepted
    fake_cupy.maximum.at(d, 2, 5.0)
    fake_cupy.minimum.at(d, 0, 1.5)
    np.testing.assert_array_equal(d.get(), [1.5, -1.0, 5.0])


def test_random_generator_has_cupys_methods_only():
    rng = fake_cupy.random.default_rng(0)
    for name in ("normal", "permutation", "choice", "shuffle"):
        assert not hasattr(rng, name), name
    draws = [rng.standard_normal((2, 3), dtype=np.float32), rng.random(4),
             rng.integers(0, 5, size=3), rng.uniform(-1, 1, size=(2,))]
    assert all(isinstance(a, fake_cupy.DeviceArray) for a in draws)
    assert draws[0].dtype == np.float32 and draws[2].dtype == np.int64
    # Same seed, same stream; but not NumPy's stream (CuPy's differs too).
    again = fake_cupy.random.default_rng(0).standard_normal((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(again.get(), draws[0].get())
    assert not np.allclose(np.random.default_rng(0).standard_normal((2, 3)), draws[0].get())


# --- accepted, as by CuPy ----------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda d: np.exp(d), lambda d: np.sum(d), lambda d: np.sum(d, axis=0, keepdims=True),
    lambda d: np.maximum(d, 0.5), lambda d: np.add(1.0, d), lambda d: np.stack([d, d]),
    lambda d: np.concatenate([d, d]), lambda d: np.where(d > 1, d, 0.0),
    lambda d: np.float32(2.0) * d, lambda d: d * np.float64(2.0), lambda d: d + 1,
    lambda d: np.mean(d), lambda d: np.reshape(d, (3, 1))],
    ids=["exp", "sum", "sum_axis", "maximum", "add_scalar_first", "stack", "concatenate",
         "where", "numpy_scalar_first", "numpy_scalar", "python_scalar", "mean", "reshape"])
def test_numpy_functions_and_ufuncs_are_dispatched_to_the_device(call):
    d = device([1.0, 2.0, 3.0])
    result = call(d)
    assert isinstance(result, fake_cupy.DeviceArray)
    host = d.get()
    np.testing.assert_allclose(result.get(), call(host))


def test_a_numpy_index_array_is_accepted():
    d = device([10.0, 20.0, 30.0])
    picked = d[np.array([0, 2])]
    assert isinstance(picked, fake_cupy.DeviceArray)
    np.testing.assert_array_equal(picked.get(), [10.0, 30.0])
    np.testing.assert_array_equal(d[np.array([True, False, True])].get(), [10.0, 30.0])
    np.testing.assert_array_equal(d[[1, 1]].get(), [20.0, 20.0])
    d[np.array([1])] = 0.0
    np.testing.assert_array_equal(d.get(), [10.0, 0.0, 30.0])


def test_results_stay_on_the_device_and_transfers_copy():
    host = np.arange(6.0).reshape(2, 3)
    d = fake_cupy.asarray(host)
    host[0, 0] = 100.0                       # asarray copied: the device does not see this
    assert float(d[0, 0]) == 0.0
    back = d.get()
    back[0, 1] = 100.0                       # get copied: the device does not see this either
    assert float(d[0, 1]) == 1.0
    assert isinstance(back, np.ndarray) and fake_cupy.asarray(d) is d
    for result in (d.sum(), d[1, 2], d.max(axis=0), d.T, d.reshape(3, 2), d.astype(np.float32),
                   d.swapaxes(0, 1), d.copy(), d.mean(), fake_cupy.exp(d), d * 2, 1 - d, -d,
                   fake_cupy.lib.stride_tricks.as_strided(d, (2, 2), d.strides)):
        assert isinstance(result, fake_cupy.DeviceArray)
        assert get_array_module(result) is fake_cupy
    assert d.sum().shape == () and float(d.sum()) == 15.0 and int(d[1, 1]) == 4
    assert d[1, 2].item() == 5.0 and f"{d[0, 2]:.1f}" == "2.0"
    with pytest.raises(TypeError):
        float(d)


def test_in_place_updates_write_through_views():
    d = fake_cupy.zeros((2, 4))
    d[:, 1:3] += 1.0
    view = d[1]
    view *= 3.0
    d[0, 3] = 7.0
    np.testing.assert_array_equal(d.get(), [[0, 1, 1, 7], [0, 3, 3, 0]])
    element = d[0, 3]                        # a 0-d view, as in CuPy, not a copy
    element += 1.0
    assert float(d[0, 3]) == 8.0


# --- the same road as CuPy through nn.backend --------------------------------------------------

def test_the_stand_in_arrives_through_cupys_branch_of_get_array_module(monkeypatch):
    d = device([1.0])
    assert not hasattr(d, "__array_namespace__")   # as CuPy 14's arrays
    assert get_array_module(d) is fake_cupy
    assert get_array_module(np.ones(1), None, 2.0, d) is fake_cupy
    # A real cupy.ndarray takes the same branch: its type is the ndarray of module "cupy".
    cupy = types.ModuleType("cupy")
    cupy.ndarray = type("ndarray", (), {"__module__": "cupy"})
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert get_array_module(cupy.ndarray()) is cupy


def test_the_branch_finds_the_stand_in_under_any_import_name(monkeypatch):
    # The same file loaded as a second module (a notebook that put the repository on
    # sys.path, say): each module is recognised as the module of its own arrays.
    import importlib.util
    spec = importlib.util.spec_from_file_location("another_fake_cupy", fake_cupy.__file__)
    other = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "another_fake_cupy", other)   # the module finds itself
    spec.loader.exec_module(other)
    assert other is not fake_cupy
    assert get_array_module(other.asarray(np.ones(1))) is other


def test_real_cupy_arrays_have_no_array_namespace():
    cupy = pytest.importorskip("cupy")
    assert not hasattr(cupy.ndarray, "__array_namespace__")
    assert cupy.ndarray.__module__ == "cupy" and cupy.ndarray is getattr(cupy, "ndarray")
    # and they dispatch NumPy's functions and ufuncs to themselves, as the stand-in does
    assert hasattr(cupy.ndarray, "__array_ufunc__") and hasattr(cupy.ndarray, "__array_function__")


# --- names and signatures: the stand-in's against the installed CuPy's -------------------------

def _lookup(root, dotted):
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def test_the_stand_in_exposes_exactly_its_list():
    public = {name for name in dir(fake_cupy) if not name.startswith("_")}
    exported = {"DeviceArray", "EXPOSED", "SIGNATURES", "Counts", "counting"}
    assert public - exported == {name.split(".")[0] for name in fake_cupy.EXPOSED}
    for name in fake_cupy.EXPOSED:
        _lookup(fake_cupy, name)  # AttributeError if the list names something absent


def test_every_exposed_name_exists_in_cupy():
    cupy = pytest.importorskip("cupy")  # imports without a GPU
    missing = [name for name in fake_cupy.EXPOSED if not _has(cupy, name)]
    assert not missing, f"fake_cupy exposes names that CuPy {cupy.__version__} lacks: {missing}"


def _has(root, dotted):
    try:
        _lookup(root, dotted)
        return True
    except AttributeError:
        return False


_DOC_SIGNATURE = re.compile(r"^[\w.]+\((.*)\)(\s*->.*)?$")


def cupy_parameters(cupy, name):
    """The parameter list of CuPy's ``name`` as text, read without a device:
    ``inspect.signature`` for Python functions, else the signature that Cython and CuPy's
    ufuncs write on the first line of the docstring (C types such as ``Py_ssize_t`` dropped);
    also the docstring when ``inspect`` sees only ``**kwargs`` (einsum)."""
    obj = _lookup(cupy, name)
    doc = _DOC_SIGNATURE.match((obj.__doc__ or "").lstrip().split("\n")[0])
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and not (doc and any(
            p.kind is p.VAR_KEYWORD for p in signature.parameters.values())):
        return _as_text(signature)
    if doc is None:
        raise LookupError(f"CuPy's {name} has neither a signature nor a docstring one")
    text = doc.group(1).replace("\\*", "*")
    return re.sub(r"\b(?:Py_ssize_t|_ndarray_base|int|bint|str|object)\s+(?=\w)", "", text)


def _as_text(signature):
    """A Signature as the parameter text SIGNATURES holds: no annotations, defaults by name."""
    def default(value):
        if isinstance(value, type):
            module = "" if value.__module__ == "builtins" else value.__module__ + "."
            return module + value.__name__
        return repr(value)
    parts, star_done = [], False
    params = list(signature.parameters.values())
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            parts.append(p.name if p.default is p.empty else f"{p.name}={default(p.default)}")
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(params)
                                            or params[i + 1].kind is not p.POSITIONAL_ONLY):
            parts.append("/")
    return ", ".join(parts)


def _canonical(text):
    """Parameters as (name, kind, default) with ``self`` dropped, from parameter text."""
    scope = {"numpy": np, "float": float}
    exec(f"def f({text}): pass", scope)  # noqa: S102 (CuPy's own signature text)
    params = list(inspect.signature(scope["f"]).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind.name, p.default if p.default is not p.empty else "<required>")
            for p in params]


SIGNED = sorted(fake_cupy.SIGNATURES)


@pytest.mark.parametrize("name", SIGNED)
def test_the_stand_in_has_cupys_signature(name):
    """Every function and method of the stand-in (and so every one nn, cyclegan.py and the
    training code can call) takes exactly CuPy's parameters: the same names, kinds and
    defaults, read from the installed CuPy."""
    cupy = pytest.importorskip("cupy")
    assert _canonical(fake_cupy.SIGNATURES[name]) == _canonical(cupy_parameters(cupy, name)), (
        f"{name}: the stand-in says ({fake_cupy.SIGNATURES[name]}), CuPy {cupy.__version__} "
        f"says ({cupy_parameters(cupy, name)})")


@pytest.mark.parametrize("name", SIGNED)
def test_the_stand_in_enforces_its_signature(name):
    """The signature is not only declared: the stand-in's callable has it (inspect.signature)."""
    obj = _lookup(fake_cupy, name)
    parameters = [(p.name, p.kind.name, p.default if p.default is not p.empty else "<required>")
                  for p in inspect.signature(obj).parameters.values() if p.name != "self"]
    assert parameters == _canonical(fake_cupy.SIGNATURES[name])


def test_every_array_function_and_method_nn_uses_is_signed():
    """What nn, cyclegan.py and the training code call on an array module or an array has a
    signature in the stand-in (and so is compared with CuPy's above)."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parent.parent
    sources = [p.read_text() for p in sorted(root.glob("nn/*.py"))
               + sorted(root.glob("cyclegan_support/*.py")) + sorted(root.glob("training/*.py"))
               + sorted(root.glob("*.py"))]
    text = "\n".join(sources)
    called = set(re.findall(r"\bxp\.((?:lib\.stride_tricks\.)?[a-z_]+)\(", text))
    called |= set(re.findall(r"get_array_module\([^)]*\)\.([a-z_]+)\(", text))
    unsigned = sorted(n for n in called if n not in fake_cupy.SIGNATURES)
    assert not unsigned, f"called on an array module but not signed in fake_cupy: {unsigned}"
    for method in ("sum", "max", "mean", "reshape", "transpose", "astype", "copy", "swapaxes",
                   "get", "item", "argmax"):
        assert f"ndarray.{method}" in fake_cupy.SIGNATURES


def test_every_callable_of_the_stand_in_is_signed():
    """By construction, then, whatever function or method nn calls on the stand-in (any other
    raises AttributeError there) has CuPy's parameters."""
    methods = {f"ndarray.{name}" for name, member in vars(fake_cupy.DeviceArray).items()
               if callable(member) and not name.startswith("_")}
    functions = {name for name in fake_cupy.EXPOSED if "." not in name
                 and callable(getattr(fake_cupy, name))
                 and not isinstance(getattr(fake_cupy, name), type)}
    generator = {f"random.Generator.{name}" for name in vars(fake_cupy.random.Generator)
                 if not name.startswith("_")}
    unsigned = sorted((methods | functions | generator | {"random.default_rng"})
                      - set(fake_cupy.SIGNATURES))
    assert not unsigned, unsigned


def print_signatures():
    """SIGNATURES as the installed CuPy has them, to paste into fake_cupy.py."""
    import cupy
    print(f"# CuPy {cupy.__version__}")
    for name in SIGNED:
        print(f'    "{name}": "{cupy_parameters(cupy, name)}",')


if __name__ == "__main__":  # python tests/test_fake_cupy.py --signatures
    print_signatures()

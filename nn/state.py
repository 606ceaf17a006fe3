"""State dicts: checking one before it is loaded, taking one owner's part, random states.

A state dict is a flat ``{dotted name: array}``: a module's parameters ("model.1.weight"),
an optimizer's moments ("m.0"), or a whole model's, whose parts are told apart by a prefix
("G_A.model.1.weight"). Loading one is all or nothing: every key and shape is checked
before anything is copied, so that a wrong file leaves the model as it was.
"""
import json

from .backend import numpy as _host

__all__ = ["check_state_dict", "check_finite", "strip_prefix", "rng_state", "set_rng_state"]


def check_state_dict(state, expected, owner, hint="", name=repr, is_own=None):
    """Raise unless ``state`` has exactly the keys of ``expected`` with their shapes.

    ``expected`` is {key: shape}, a shape of None accepting any. Reported, in this order: the
    first expected key that ``state`` lacks (KeyError), the first key of ``state`` that is not
    expected (KeyError; only keys for which ``is_own(key)`` is true count, when given, so a
    caller can leave other owners' entries in the dict), the first key whose shape differs
    (ValueError). ``owner`` starts the message, ``hint`` ends the unexpected-key and shape
    messages (what probably differs), and ``name(key)`` writes a key in it.
    """
    for key, shape in expected.items():
        if key not in state:
            wanted = "" if shape is None else f"; expected shape {tuple(shape)}"
            raise KeyError(f"{owner}: missing key {name(key)} (the state lacks it{wanted})")
    for key in state:
        if key not in expected and (is_own is None or is_own(key)):
            raise KeyError(f"{owner}: unexpected key {name(key)}{hint}")
    for key, shape in expected.items():
        given = tuple(getattr(state[key], "shape", ()))  # a Python number is a scalar
        if shape is not None and given != tuple(shape):
            raise ValueError(f"{owner}: {name(key)} has shape {given} in the state but "
                             f"{tuple(shape)} in the model{hint}")


def check_finite(state, owner):
    """Raise ValueError naming the first floating-point entry of ``state`` that holds a NaN or
    an infinity (and how many), with ``owner`` first in the message. Such weights compute
    NaN everywhere: a generator would draw a black image, an optimizer would go on from
    nothing. Other entries (integers, text) are not looked at."""
    for key, value in state.items():
        array = _host.asarray(value) if not hasattr(value, "dtype") else value
        if array.dtype.kind in "fc":
            bad = int(array.size - _host.count_nonzero(_host.isfinite(array)))
            if bad:
                raise ValueError(f"{owner}: {key!r} holds {bad} non-finite value"
                                 f"{'s' if bad > 1 else ''} (NaN or infinity) among its "
                                 f"{array.size}; such weights give NaN everywhere, so the file "
                                 "is refused (the training that wrote it diverged, or the file "
                                 "is damaged)")


def strip_prefix(state, prefix):
    """The entries of ``state`` whose keys start with ``prefix``, without it."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def rng_state(rng):
    """A ``numpy.random.Generator``'s state as a 0-d string array (JSON), which ``nn.save``
    stores without pickling."""
    return _host.array(json.dumps(rng.bit_generator.state))


def set_rng_state(rng, array):
    """Put the state that ``rng_state`` wrote (as saved, or as loaded back) into ``rng``."""
    rng.bit_generator.state = json.loads(str(_host.asarray(array).item()))

"""The ladder: the smallest case that breaks a wrong answer, named by the knob that broke it.

A teacher handed a wrong answer does not say "wrong at 12 of 12 elements"; they try it on the
simplest case, then change one thing at a time: "right for one image, wrong for two: the batch
is not summed". A ``Ladder`` does that. Its rungs go from the simplest case up, each turning
one knob of the one before (batch 1 -> 2, channels 1 -> 3, a 1x1 kernel -> 3x3, stride 1 -> 2,
padding 0 -> 1, a non-square image, dilation, step 1 -> 2 -> 3 of an optimizer, a node used
twice, float64 -> float32, NumPy -> the CuPy stand-in). The first rung whose answer is wrong
names the knob. Where a rung's answer is several arrays (the gradients of each input), the
message names the input whose gradient is wrong, and tries the usual relations on that one: a
constant factor, a flipped sign, a transpose, a sum over an axis left out.

Where even the first rung is wrong, there is nothing simpler to point at: the message says so
and shows that case's inputs, the expected answer and the student's, small enough to check by
hand.

``with_ladders`` joins a lesson's checks to their ladders. The check, with its catalogue of
named mistakes, runs first; a wrong answer it names keeps its words. A wrong answer it can only
locate (``core.Unexplained``) or a crash goes to the ladder; and an answer the check passes is
climbed too, because a ladder also holds the cases a check's own examples miss (a node used
twice, the device).
"""
import dataclasses
import functools

import numpy as np

import nn

from . import device
from .core import Unexplained, Wrong, _where, as_host

FLOAT32_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Rung:
    """One case. label: the case named by its knob ("for two images", "with stride 2"); hint:
    what an answer that breaks here, right on the rung before, most likely does wrong."""
    label: str
    hint: str = ""
    case: dict = dataclasses.field(default_factory=dict)


def rung(label, hint="", **case):
    return Rung(label, hint, case)


def float32_rung(hint="keep the input's dtype: every array you create takes x's dtype", **case):
    return rung("in float32", hint, dtype=np.float32, **case)


def device_rung(hint="create every array with xp = nn.get_array_module(x), never with np",
                **case):
    return rung("on the CuPy stand-in (a GPU's arrays)", hint, device=True, **case)


def put(array, case):
    """``array`` as this case wants its inputs: in its dtype (float64 unless the case says
    float32), on the CuPy stand-in when the case is a device case."""
    a = np.array(array, dtype=case.get("dtype", np.float64))
    return device.device_module().asarray(a) if case.get("device") else a


class Ladder:
    """what: the call being graded, in words ("col2im_dilated(cols, h, w, stride, dilation)").
    rungs: Rungs, simplest first. got(module, case): the student's answer for the case (an
    array or number, or a tuple of them when ``names`` is given); expected(case): the right
    answer, in the same form, on the host. names: one name per array of a tuple answer ("x",
    "weight"). show(case): the case's inputs in words, for a case checked by hand.
    to_host: the answer of a device case must be a NumPy array (it leaves the device), not a
    device array.
    after_a_pass: climb also when the check passed (False where the check's own cases hold
    every rung's, so that climbing would only cost time)."""

    def __init__(self, what, rungs, got, expected, names=None, show=None, atol=1e-8,
                 rtol=1e-6, after_a_pass=True, to_host=False):
        self.what, self.rungs, self.got, self.expected = what, list(rungs), got, expected
        self.names, self.show, self.atol, self.rtol = names, show, atol, rtol
        self.after_a_pass = after_a_pass   # False: the check's own cases cover every rung
        self.to_host = to_host             # True: the answer belongs on the host, as a picture

    def climb(self, module):
        """Return quietly when every rung is right; else raise Wrong naming the first that is
        not."""
        for k, r in enumerate(self.rungs):
            problem = self._problem(module, r, first=k == 0)
            if problem is None:
                continue
            if k == 0:
                raise Wrong(f"{self.what} is wrong already in the simplest case ({r.label}), so "
                            f"there is nothing simpler to point at. {problem}")
            hint = f": {r.hint}" if r.hint else ""
            stop = "" if hint.endswith(("?", ".")) else "."
            raise Wrong(f"{self.what} is right {self.rungs[k - 1].label}, wrong {r.label}{hint}{stop} "
                        f"{problem}")

    # --- one rung ----------------------------------------------------------------------------

    def _problem(self, module, r, first):
        """None when the student's answer for this rung is right, else what is wrong, in words."""
        case = r.case
        try:
            with np.errstate(all="ignore"):   # an overflow shows in the values compared below
                got = self.got(module, case)
        except NotImplementedError:
            raise
        except Exception as e:  # the student's code crashed on this case
            text = f"There your code raised {type(e).__name__}: {e}{_where(e)}"
            if case.get("device") and isinstance(e, (TypeError, ValueError)):
                text += (". On the CuPy stand-in a NumPy array may not meet a device array: an "
                         "np.zeros, np.arange or np.asarray in your code makes one")
            return text
        expected = self.expected(case)
        names = self.names or (None,)
        gots = got if self.names else (got,)
        if self.names and isinstance(got, list):
            got = tuple(got)
        if self.names and (not isinstance(got, tuple) or len(got) != len(names)):
            count = len(got) if isinstance(got, tuple) else 1
            return f"There it returned {count} results, expected {len(names)} ({', '.join(names)})"
        expecteds = expected if self.names else (expected,)
        for name, g, e in zip(names, gots, expecteds):
            problem = self._compare(_called(name), g, e, case, first)
            if problem is not None:
                right = [_called(n) for n in names if n != name]
                if name is not None and right and all(
                        self._compare("", g2, e2, case, first) is None
                        for n2, g2, e2 in zip(names, gots, expecteds) if n2 != name):
                    verb = "is" if len(right) == 1 else "are"
                    problem += f" ({' and '.join(right)} {verb} right)"
                if first and self.show is not None:
                    problem = f"The inputs: {self.show(case)}. {problem}"
                return problem
        return None

    def _compare(self, what, got, expected, case, first):
        if isinstance(expected, list) and all(isinstance(e, str) for e in expected):
            got = list(got) if isinstance(got, (list, tuple)) else got
            return None if got == expected else f"There {what} should be {expected}; yours is {got}"
        if got is None:
            return f"There {what} is None: did you forget `return`?"
        if isinstance(got, (list, tuple)):
            try:
                got = np.array(got, dtype=np.float64)
            except (TypeError, ValueError):
                return f"There {what} is a {type(got).__name__} of things that are not numbers"
        if not hasattr(got, "shape") and not isinstance(got, (int, float, np.number)):
            return f"There {what} is a {type(got).__name__}, not an array or a number"
        if case.get("device") and self.to_host and not isinstance(got, np.ndarray):
            return (f"There {what} is a {type(got).__name__}, not a NumPy array: move it to the "
                    "host with nn.to_host at the end")
        if case.get("device") and not self.to_host and hasattr(got, "shape") and \
                nn.get_array_module(got) is not device.device_module():
            return (f"There {what} is a {type(got).__name__}, not an array of the device its "
                    "input came on: it must stay there")
        if case.get("dtype") == np.float32 and hasattr(got, "dtype") and got.dtype != np.float32:
            return (f"There {what} is {got.dtype}, not float32: a float64 array created inside "
                    "upcasts everything it touches")
        try:
            got_h = np.asarray(as_host(got), dtype=np.float64)
        except (TypeError, ValueError):
            return f"There {what} is not a plain array or number ({type(got).__name__})"
        exp_h = np.asarray(as_host(expected), dtype=np.float64)
        atol, rtol = self.atol, self.rtol
        if case.get("dtype") == np.float32:
            atol, rtol = max(atol, FLOAT32_TOLERANCE), max(rtol, FLOAT32_TOLERANCE)
        if got_h.shape == exp_h.shape and np.allclose(got_h, exp_h, atol=atol, rtol=rtol):
            return None
        why = relation(got_h, exp_h, atol, rtol)
        if got_h.shape != exp_h.shape:
            text = f"There {what} has shape {got_h.shape}, expected {exp_h.shape}"
        elif first or got_h.size <= 6:
            text = f"There {what} should be {shown(exp_h)}; yours is {shown(got_h)}"
        else:
            worst = np.unravel_index(int(np.abs(got_h - exp_h).argmax()), exp_h.shape)
            index = tuple(int(i) for i in worst)
            bad = int((~np.isclose(got_h, exp_h, atol=atol, rtol=rtol)).sum())
            text = (f"There {what} is wrong at {bad} "
                    f"of {exp_h.size} elements; at index {index} yours is {got_h[worst]:.6g}, "
                    f"expected {exp_h[worst]:.6g}")
        return f"{text}{': ' + why if why else ''}"


def _called(name):
    """How a message names one part of a tuple answer: "x" is "the gradient with respect to
    x"; a name of several words ("the returned m") is used as it is."""
    if name is None:
        return "the result"
    return name if " " in name else f"the gradient with respect to {name}"


def shown(a):
    """A small array or a number as text, 4 significant digits."""
    a = np.asarray(a)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return np.array2string(a, precision=4, separator=", ", threshold=24, edgeitems=3,
                           suppress_small=True).replace("\n", "")


def relation(got, expected, atol=1e-8, rtol=1e-6):
    """How ``got`` relates to ``expected`` when it is wrong, in words, or "": zero, a flipped
    sign, a constant factor, a transpose, or a sum over an axis left out (or added)."""
    close = functools.partial(np.allclose, atol=atol, rtol=rtol)
    if got.shape == expected.shape:
        if close(got, 0) and not close(expected, 0):
            return "it is all zeros, as if nothing reached it"
        if close(got, -expected):
            return "it has the opposite sign of the right answer"
        scale = float((got * expected).sum() / (expected * expected).sum()) \
            if (expected * expected).sum() > 0 else 0.0
        if got.size > 1 and scale != 0 and close(got, scale * expected):
            return f"it is the right answer times {scale:.4g}, a constant factor"
        if got.ndim >= 2 and got.shape[-1] == got.shape[-2] and \
                close(got, np.swapaxes(expected, -1, -2)):
            return "it is the transpose of the right answer (its last two axes swapped)"
        for axis in range(got.ndim):
            if got.shape[axis] > 1 and close(got.sum(axis=axis, keepdims=True),
                                            expected.sum(axis=axis, keepdims=True)) \
                    and close(expected, expected.mean(axis=axis, keepdims=True)):
                return (f"its sum over axis {axis} is right but it is spread unevenly; every "
                        f"entry along axis {axis} should get the same share")
    elif got.ndim == expected.ndim and got.shape[::-1] == expected.shape and got.ndim == 2 and \
            close(got, expected.T):
        return "it is the transpose of the right answer"
    else:
        for axis in range(got.ndim):
            for keep in (True, False):
                summed = got.sum(axis=axis, keepdims=keep)
                if summed.shape == expected.shape and close(summed, expected):
                    return (f"summed over axis {axis} it would be right: a sum over that axis "
                            "(one term per use) is missing")
        if got.size == expected.size and close(got.reshape(expected.shape), expected):
            return f"the numbers are right but arranged as {got.shape}; reshape to {expected.shape}"
    return ""


def with_ladders(checks, ladders):
    """{exercise: check} with each check joined to its ladder (``ladders[exercise]``, a Ladder
    or a function ``climb(module)``): see the module docstring."""
    joined = dict(checks)
    for exercise, ladder in ladders.items():
        joined[exercise] = _joined(checks[exercise], ladder)
    return joined


def _joined(check, ladder):
    climb = ladder.climb if isinstance(ladder, Ladder) else ladder

    @functools.wraps(check)
    def graded(module):
        try:
            check(module)
        except NotImplementedError:
            raise
        except Unexplained:
            climb(module)   # a Wrong that names the first rung that breaks
            raise           # every rung is right: the check's own case is the smallest
        except Wrong:
            raise           # a mistake the catalogue names keeps its words
        except Exception as crash:   # a ladder that finds a simpler breaking case says so
            try:
                climb(module)
            except Wrong as found:
                if "your code raised" in str(found):
                    raise
                raise Wrong(f"{found} (On a larger case your code raised "
                            f"{type(crash).__name__}: {crash}{_where(crash)})") from None
            raise
        if getattr(ladder, "after_a_pass", True):
            climb(module)
    graded.ladder = ladder
    return graded


# --- a Function's gradients, through the autograd engine ---------------------------------------

def standard_normal(rng, shape):
    return rng.standard_normal(shape)


def away_from_zero(rng, shape):
    """Values in +-[0.5, 1.5]: far from a kink or a pole at 0."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def autograd_ladder(what, rungs, make, reference, names, draw=standard_normal, atol=1e-7,
                    rtol=1e-6):
    """A Ladder of the gradients of a student's Function, one per input (``names``).

    Each rung's case holds ``shapes``, the inputs' shapes (and whatever ``make`` and
    ``reference`` read: a stride, a factor). The inputs and a random upstream gradient are
    drawn from a seed, so every rung is the same case each time. make(module, case): the
    student's Function object, called on Tensors; reference(case, *tensors): the same
    operation built from nn's own, as a Tensor. The student's gradients are what
    Tensor.backward leaves in each input's .grad, as in training.
    """
    def draw_case(case):
        rng = np.random.default_rng(case.get("seed", 7))
        xs = [draw(rng, shape) for shape in case["shapes"]]
        out = reference(case, *[nn.Tensor(x) for x in xs])
        return xs, rng.standard_normal(out.shape)

    def got(module, case):
        xs, g = draw_case(case)
        leaves = [nn.Tensor(put(x, case), requires_grad=True) for x in xs]
        make(module, case)(*leaves).backward(put(g, case))
        return tuple(leaf.grad for leaf in leaves)

    def expected(case):
        xs, g = draw_case(case)
        leaves = [nn.Tensor(x, requires_grad=True) for x in xs]
        reference(case, *leaves).backward(g)
        return tuple(leaf.grad for leaf in leaves)

    def show(case):
        xs, g = draw_case(case)
        inputs = "; ".join(f"{name} = {shown(x)}" for name, x in zip(names, xs))
        return f"{inputs}; the upstream gradient g = {shown(g)}"

    return Ladder(what, rungs, got, expected, names=tuple(names), show=show, atol=atol,
                  rtol=rtol)

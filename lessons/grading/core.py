"""The grader's vocabulary: what a check may conclude, and how it says what is wrong.

A check is a function ``check(module)`` that calls the student's functions from ``module`` and
returns quietly when everything is right, or raises ``Wrong`` with a sentence a student can act
on. ``run`` turns that into a Result: "not attempted" when the exercise's own stub raised
``NotImplementedError("Exercise X.Y")``, "correct", or "wrong" with the reason.
"""
import dataclasses
import os
import traceback

import numpy as np

import nn

CORRECT, WRONG, NOT_ATTEMPTED = "correct", "wrong", "not attempted"


class Wrong(Exception):
    """Raised by a check with the reason, in words a student understands."""


class Unexplained(Wrong):
    """A Wrong that says where an answer is wrong but not why ("wrong at 12 of 12 elements"):
    the ladder (ladder.py) then looks for the smallest case that breaks it."""


@dataclasses.dataclass
class Result:
    exercise: str
    status: str
    message: str = ""

    def __str__(self):
        text = f"Exercise {self.exercise}: {self.status}"
        return f"{text}\n    {self.message}" if self.message else text


def run(exercise, check, module):
    """Grade one exercise: call ``check(module)`` and classify how it ends."""
    try:
        check(module)
    except NotImplementedError as e:
        if str(e) == f"Exercise {exercise}":
            return Result(exercise, NOT_ATTEMPTED)
        return Result(exercise, WRONG, f"your code stopped at NotImplementedError({str(e)!r}); "
                                       "finish that one first, this exercise uses it")
    except Wrong as e:
        return Result(exercise, WRONG, str(e))
    except (Exception, SystemExit) as e:  # the student's code crashed: say where, in their file
        return Result(exercise, WRONG, f"your code raised {type(e).__name__}: {e}{_where(e)}")
    return Result(exercise, CORRECT)


# The folders of the grader, nn, the standard library and NumPy, by their real place (a student's
# folder may well be called "grading").
_NOT_THE_STUDENT = tuple(os.path.dirname(os.path.abspath(f)) + os.sep
                         for f in (__file__, nn.__file__, os.__file__, np.__file__))


def _is_student_file(filename):
    """False for the grader, nn, the CuPy stand-in, the standard library and NumPy."""
    path = os.path.abspath(filename)
    return not (path.startswith(_NOT_THE_STUDENT) or os.path.basename(path) == "fake_cupy.py")


def _where(error):
    """' (at ex05_convolution.py line 31)' for the deepest frame in an exercise file, else ''."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_student_file(f.filename)]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.basename(f.filename)} line {f.lineno}: {f.line})"


def later_part(done, name, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` for the second function of a two-part exercise; if it is still
    the stub, say that ``done`` is right and ``name`` is missing (not "not attempted")."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise Wrong(f"{done} is right, but {name} still raises NotImplementedError: "
                    "finish it too") from None


# --- comparing results ---------------------------------------------------------------------

def as_host(a):
    """A NumPy array of ``a`` (a Tensor, a NumPy array, a number, or a device array)."""
    if isinstance(a, nn.Tensor):
        a = a.data
    return np.asarray(nn.to_host(a) if hasattr(a, "shape") else a)


def check_array(what, got, expected, atol=1e-8, rtol=1e-6, mistakes=()):
    """Raise Wrong unless ``got`` is an array of ``expected``'s shape with close values.

    The message names ``what``, the number of wrong elements, the worst one, and both values;
    or, when ``got`` is what one of ``mistakes`` produces, that mistake's own words (see
    name_the_mistake; the same tolerances decide both).
    """
    name_the_mistake(got, expected, mistakes, atol=atol, rtol=rtol)
    if got is None:
        raise Wrong(f"{what}: your function returned None; did you forget `return`?")
    if not hasattr(got, "shape"):
        raise Wrong(f"{what}: expected an array of shape {tuple(expected.shape)}, "
                    f"got {type(got).__name__}")
    got_h, exp_h = as_host(got), as_host(expected)
    if got_h.shape != exp_h.shape:
        raise Unexplained(f"{what} has shape {got_h.shape}, expected {exp_h.shape}")
    if not np.all(np.isfinite(got_h)):
        raise Unexplained(f"{what} contains NaN or infinity at index "
                    f"{_index(np.argwhere(~np.isfinite(got_h))[0])}")
    excess = np.abs(got_h - exp_h) - (atol + rtol * np.abs(exp_h))
    if excess.size and excess.max() > 0:
        worst = np.unravel_index(int(excess.argmax()), excess.shape)
        bad = int((excess > 0).sum())
        raise Unexplained(f"{what} is wrong at {bad} of {excess.size} elements; worst at index "
                    f"{_index(worst)}: {yours_expected(got_h[worst], exp_h[worst])}")


def check_loss_tensor(what, loss, reaches="the networks"):
    """Raise Wrong unless ``loss`` is a one-element Tensor that is still part of the graph."""
    if not isinstance(loss, nn.Tensor):
        raise Wrong(f"{what} returned {type(loss).__name__}: return a Tensor built from Tensor "
                    f"operations, so that backward reaches {reaches}")
    if loss.data.size != 1:
        raise Wrong(f"{what} returned a Tensor of shape {tuple(loss.shape)}: a loss is one "
                    "number; take the mean")
    if not loss.requires_grad:
        raise Wrong(f"{what} is cut from the graph (it does not require grad): compute it from "
                    "the Tensors themselves, not from their .data")


def check_tuple(result, count, what, of="arrays"):
    """``result`` itself when it is a tuple of ``count`` items, else Wrong saying what came."""
    if not isinstance(result, tuple) or len(result) != count:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise Wrong(f"{what} must return a tuple of {count} {of}; it returned {got}")
    return result


def check_number(what, got, expected, atol=1e-8, rtol=1e-6, mistakes=()):
    """Raise Wrong unless ``got`` is a number within tolerance of ``expected``; with
    ``mistakes``, as check_array (a one-element array counts as its number)."""
    try:
        value = float(as_host(got))
    except (TypeError, ValueError):
        raise Wrong(f"{what}: expected a number, got {type(got).__name__}") from None
    name_the_mistake(value, expected, mistakes, atol=atol, rtol=rtol)
    if not abs(value - expected) <= atol + rtol * abs(expected):
        raise Unexplained(f"{what}: {yours_expected(value, expected, digits=10)}")


def distinct_digits(a, b, digits=6):
    """``a`` and ``b`` as text, each with the same number of significant digits: ``digits``, or
    more when that many would print two different numbers alike.

    eps inside the square root of Adam changes -0.6937354 into -0.6937346: at 6 digits both are
    -0.693735. The digits needed grow with how small the difference is against the numbers,
    about log10(|a| / |a - b|) + 1; the loop makes sure (up to 17, where every float64 differs).
    """
    a, b = float(a), float(b)
    if a != b and np.isfinite(a) and np.isfinite(b):
        scale = max(abs(a), abs(b))
        digits = max(digits, min(17, int(np.ceil(np.log10(scale / abs(a - b)))) + 1))
    while digits < 17 and a != b and f"{a:.{digits}g}" == f"{b:.{digits}g}":
        digits += 1
    return f"{a:.{digits}g}", f"{b:.{digits}g}"


def yours_expected(got, expected, digits=6):
    """'yours 0.5, expected 0.25 (error 0.25)', with enough digits to show the two differ."""
    yours, theirs = distinct_digits(got, expected, digits)
    return f"yours {yours}, expected {theirs} (error {abs(float(got) - float(expected)):.3g})"


def _index(index):
    return tuple(int(i) for i in index)


def check_gradients(fn, inputs, names, **tolerances):
    """nn.gradcheck of ``fn(*inputs)`` (float64 Tensors), its report reworded with input names.

    names: one name per input, e.g. ("a", "b"): "gradient of input 1" becomes "gradient with
    respect to b".
    """
    # The checks draw their inputs from small seeds; an upstream gradient drawn from the same
    # seed would repeat the input's numbers, and for instance norm a g that is an affine
    # function of x has a zero gradient: a backward missing a term would pass.
    tolerances.setdefault("seed", 20171)
    try:
        nn.gradcheck(fn, inputs, **tolerances)
    except nn.GradcheckError as e:
        message = str(e)
        for i, name in enumerate(names):
            message = message.replace(f"gradient of input {i} ", f"the gradient with respect to "
                                                                 f"{name} ")
        raise Unexplained(f"{message}. 'analytic' is what your backward returned, 'numeric' the "
                    "central difference of the forward pass") from None


def check_backward_tuple(grads, names):
    """``grads``, what a backward of several inputs returned, when it is a tuple of one gradient
    per name ("x", "weight"), else Wrong saying how many came back."""
    if not isinstance(grads, tuple) or len(grads) != len(names):
        count = len(grads) if isinstance(grads, tuple) else 1
        raise Wrong(f"backward must return a tuple of {len(names)} gradients "
                    f"({', '.join(names)}), one per input of forward; it returned {count}")
    return grads


def name_the_mistake(got, expected, mistakes, atol=1e-8, rtol=1e-6):
    """Raise Wrong with a mistake's own words when ``got`` is wrong and is what that mistake
    produces.

    mistakes: (what the mistake computes, the words that name it) pairs, each computed by the
    check from the same inputs: "the kernel is not flipped", "eps is inside the sqrt".
    check_array and check_number call this (with their ``mistakes``) before their general
    comparison, so a student reads the likely cause, not only "wrong at 92 of 140 elements".
    A right ``got`` (close to ``expected``), or a wrong one that
    matches no mistake, passes through quietly to that comparison.
    """
    try:
        got_h = as_host(got).astype(np.float64)
    except (TypeError, ValueError, AttributeError):
        return
    expected_h = np.asarray(as_host(expected), dtype=np.float64)
    if got_h.shape == expected_h.shape and np.allclose(got_h, expected_h, atol=atol, rtol=rtol):
        return
    for produced, words in mistakes:
        produced_h = np.asarray(as_host(produced), dtype=np.float64)
        if got_h.shape == produced_h.shape and np.allclose(got_h, produced_h, atol=atol,
                                                            rtol=rtol):
            raise Wrong(words)

"""Check an analytic gradient against central finite differences.

For a random upstream gradient g (of the output's shape) the scalar L = sum(fn(*inputs) * g)
is differentiated two ways: by ``backward``, and numerically, one element at a time,

    dL/dx[i] ~ (L(x + eps*e_i) - L(x - eps*e_i)) / (2*eps).

A random g matters: with g all ones, a backward that forgets to flip a kernel or to transpose
a matrix often still sums to the right numbers. float64 matters: with eps = 1e-6 the
differences of float32 values are mostly rounding noise.
"""
from .backend import get_array_module, to_host, numpy as _host
from .modules import Module
from .tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError"]


_UPSTREAM_STREAM = 0x6772616463686B  # "gradchk": separates g's stream from the inputs'


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` with the input, the worst element, both values and the error."""


def _targets(fn, inputs):
    """(description, tensor) for every input that requires grad and every Module parameter."""
    targets = []
    if isinstance(fn, Module):
        targets += [(f"parameter {name!r}", p) for name, p in fn.named_parameters()
                    if p.requires_grad]
    for i, x in enumerate(inputs):
        if isinstance(x, Module):
            targets += [(f"parameter {name!r} of input {i}", p)
                        for name, p in x.named_parameters() if p.requires_grad]
        elif isinstance(x, Tensor) and x.requires_grad:
            targets.append((f"input {i}", x))
    return targets


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare backward with finite differences for every input that requires grad.

    fn: a callable (or Module) taking ``*inputs`` and returning one Tensor.
    inputs: Tensors (float64; those with requires_grad are checked) and Modules (their
    parameters are checked). An element passes when |analytic - numeric| <= atol + rtol*|numeric|.
    Returns True, or raises GradcheckError describing the worst element of the first failure.
    """
    inputs = list(inputs)
    targets = _targets(fn, inputs)
    if not targets:
        raise ValueError("gradcheck: nothing to check; give an input with requires_grad=True "
                         "or a Module with parameters")
    for name, t in targets:
        if t.dtype != _host.float64:
            raise TypeError(f"gradcheck needs float64 values; {name} is {t.dtype}. Convert it "
                            "first (Tensor(x.astype('float64'), ...) or module.to(dtype='float64'))")

    out = fn(*inputs)
    xp = get_array_module(out.data)
    # A stream of its own, never default_rng(seed) itself: inputs drawn from default_rng(0) with
    # the output's shape would otherwise make g equal to x, and for some ops (instance norm)
    # the gradient along such a g is exactly zero, which hides a missing term.
    rng = _host.random.default_rng([_UPSTREAM_STREAM, seed])
    g = xp.asarray(rng.standard_normal(out.shape))
    for _, t in targets:
        t.grad = None
    (out * Tensor(g)).sum().backward()
    analytic = [to_host(t.grad) if t.grad is not None else _host.zeros(t.shape)
                for _, t in targets]

    def objective():
        with no_grad():
            return float((fn(*inputs).data * g).sum())

    for (name, t), exact in zip(targets, analytic):
        numeric = _host.zeros(t.shape)
        for index in _host.ndindex(*t.shape):
            original = float(t.data[index])
            t.data[index] = original + eps
            plus = objective()
            t.data[index] = original - eps
            minus = objective()
            t.data[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        excess = _host.abs(exact - numeric) - (atol + rtol * _host.abs(numeric))
        if excess.size and excess.max() > 0:
            worst = _host.unravel_index(int(excess.argmax()), excess.shape)
            a, n = exact[worst], numeric[worst]
            bad = int((excess > 0).sum())
            raise GradcheckError(
                f"gradient of {name} (shape {tuple(t.shape)}) is wrong at {bad} of {excess.size} "
                f"elements; worst at index {tuple(int(i) for i in worst)}: analytic {a:.6g}, "
                f"numeric {n:.6g}, error {abs(a - n):.3g} > allowed {atol + rtol * abs(n):.3g} "
                f"(atol={atol}, rtol={rtol})")
    return True

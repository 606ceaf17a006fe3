"""Exercises of lesson 11: code that runs on any device, and moving data at the edges.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 11.1    (and 11.2, 11.3, 11.4). The grader runs your code
on NumPy and on the tests' CuPy stand-in (nn/fake_cupy.py), a device array that, like CuPy,
refuses to be mixed with NumPy arrays or converted to one implicitly, and counts the copies
between host and device and the waits for the device that your code makes.
"""
import nn


def normalize(x, mean, std):
    """Exercise 11.1: a device-agnostic op, per-channel normalization.

    x: (N, C, H, W) array on any device (NumPy, CuPy, ...), any float dtype; mean, std:
    sequences of C Python floats -> (N, C, H, W), on x's device and with x's dtype:

        y[n, c] = (x[n, c] - mean[c]) / std[c]

    Never name NumPy: ``np.asarray(mean)`` is a host array, which a device array refuses to
    be combined with, and a float64 one, which would turn a float32 batch into float64.
    Hint: ``xp = nn.get_array_module(x)``, then ``xp.asarray(mean, dtype=x.dtype)`` reshaped
    to (1, C, 1, 1) so that it broadcasts.
    """
    raise NotImplementedError("Exercise 11.1")


def image_grid(batch, ncols):
    """Exercise 11.2: a batch on any device -> one host image, at the edge where it is saved.

    batch: (N, C, H, W) array on any device, values in [-1, 1] (a generator's tanh output);
    ncols: images per row -> a NumPy uint8 array (rows*H, ncols*W, C), rows = ceil(N / ncols):
    image k sits in row k // ncols, column k % ncols; unused cells stay 0 (black), and

        pixel = round(clip((x + 1) * 127.5, 0, 255))

    Pillow and matplotlib take NumPy arrays only, and a device array refuses np.asarray.
    Hint: build the grid where it is cheap, then move it once with ``nn.to_host``; only
    (N, C, H, W) -> (H, W, C) needs a transpose.
    """
    raise NotImplementedError("Exercise 11.2")


def move_parameters(module, xp):
    """Exercise 11.3: move a Module's parameters to the array module ``xp``, in place.

    module: an nn.Module whose parameters live on any device; xp: an array module (numpy,
    cupy, the tests' stand-in) -> module itself, every parameter's ``data`` now an array of
    xp with the same dtype and values, and every gradient cleared (None): a gradient left on
    the old device would meet the moved data in the next optimizer step.

    Keep the Parameter objects and change only their ``data``: an optimizer made before the
    move holds those very objects. A parameter already on xp stays as it is (copying it would
    be a transfer for nothing); any other is copied explicitly, to the host with
    ``nn.to_host`` (a device array refuses np.asarray) and from there with ``xp.asarray``.
    Hint: ``module.parameters()`` lists them; ``nn.get_array_module(p.data)`` says where
    each one lives.
    """
    raise NotImplementedError("Exercise 11.3")


def losses_to_host(losses):
    """Exercise 11.4: the losses of a step as Python floats, with one copy and one wait.

    losses: a dict {name: 0-d array}, all on one device (a step's losses, still on the GPU)
    -> {name: float}, the same names in the same order, each value a Python float.

    Every float(), .item() or .get() of a device array makes Python wait until the GPU has
    finished all the work queued so far, then copies: eight losses converted one by one are
    eight waits and eight copies. Gather them on the device first, copy that once, and read
    the floats on the host.
    Hint: ``xp.stack`` of 0-d arrays is a (L,) array on their device; ``nn.to_host`` copies
    it to the host in one go.
    """
    raise NotImplementedError("Exercise 11.4")

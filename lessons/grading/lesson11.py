"""Checks of lesson 11: device-agnostic code, run on NumPy and on the tests' CuPy stand-in.

nn/fake_cupy.py wraps NumPy arrays in a device array that refuses, as CuPy does, to be
mixed with NumPy arrays or converted to one implicitly, and counts copies between host and
device and waits for the device.
"""

import numpy as np

import nn

from .core import Unexplained, Wrong, check_array, check_number, _where
from .device import device_module
from .ladder import Ladder, put, rung, with_ladders

MODULE = "ex11_devices"


def _on_device(what, fn, *args):
    """fn(*args) with device arrays; a refusal to mix arrays becomes a Wrong that says so."""
    try:
        return fn(*args)
    except TypeError as e:
        raise Wrong(f"{what} on a device array (the CuPy stand-in) raised TypeError: {e}"
                    f"{_where(e)}. Create helper arrays with xp = nn.get_array_module(x), never "
                    "with np") from None


MEAN, STD = [0.5, -0.2, 0.1], [0.5, 2.0, 0.25]


def check_normalize(module):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    expected = (x - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))
    check_array("normalize(x, mean, std) for a float64 x", module.normalize(x.copy(), MEAN, STD),
                expected, atol=1e-12)
    y = module.normalize(x.astype(np.float32), MEAN, STD)
    if getattr(y, "dtype", None) != np.float32:
        raise Wrong(f"normalize of a float32 x returned {getattr(y, 'dtype', type(y))}: keep "
                    "x's dtype (xp.asarray(mean, dtype=x.dtype); a float64 array of mean "
                    "upcasts the whole batch)")
    check_array("normalize(x, mean, std) for a float32 x", y, expected, atol=1e-5, rtol=1e-5)
    device = device_module()
    y = _on_device("normalize", module.normalize, device.asarray(x.astype(np.float32)), MEAN, STD)
    if nn.get_array_module(y) is not device:
        raise Wrong(f"normalize of a device array returned {type(y).__name__}, not a device "
                    "array: the result must stay on x's device")
    if y.dtype != np.float32:
        raise Wrong(f"normalize of a float32 device array returned {y.dtype}: keep x's dtype")
    check_array("normalize(x, mean, std) on the device", y, expected, atol=1e-5, rtol=1e-5)


def _grid_loops(batch, ncols, clip=True):
    n, c, h, w = batch.shape
    rows = -(-n // ncols)
    grid = np.zeros((rows * h, ncols * w, c))
    for k in range(n):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    value = (batch[k, ch, y, x] + 1) * 127.5
                    value = np.clip(value, 0, 255) if clip else value
                    grid[(k // ncols) * h + y, (k % ncols) * w + x, ch] = np.round(value)
    return grid


def _check_grid(what, grid, expected, unclipped=None):
    if not isinstance(grid, np.ndarray):
        raise Wrong(f"{what} returned {type(grid).__name__}, not a NumPy array: move the grid "
                    "to the host with nn.to_host(...) before returning it")
    if grid.dtype != np.uint8:
        raise Wrong(f"{what} returned dtype {grid.dtype}: an image is uint8 (0 to 255)")
    if unclipped is not None and grid.shape == expected.shape:
        outside = unclipped != expected          # the pixels of values outside [-1, 1]
        wrong = grid != expected
        if wrong.any() and not (wrong & ~outside).any():
            raise Wrong(f"{what} is wrong only where the batch holds values outside [-1, 1] "
                        "(yours there: " + ", ".join(str(v) for v in grid[wrong][:4]) + "): "
                        "clip to [0, 255] before the cast to uint8, or 256 wraps around to 0")
    check_array(what, grid.astype(np.float64), expected, atol=0, rtol=0)


def check_image_grid(module):
    rng = np.random.default_rng(0)
    # Pixel values away from the .5 rounding ties, plus a few just outside [-1, 1] (clip).
    levels = rng.integers(0, 255, (5, 3, 4, 6)) + rng.choice([0.2, 0.7], (5, 3, 4, 6))
    batch = (levels / 127.5 - 1).astype(np.float32)
    batch[0, 0, 0, :2] = [1.01, -1.01]
    for n, ncols in [(5, 2), (4, 4), (3, 1)]:
        expected = _grid_loops(batch[:n].astype(np.float64), ncols)
        _check_grid(f"image_grid(batch of shape {batch[:n].shape}, ncols={ncols})",
                    module.image_grid(batch[:n].copy(), ncols), expected,
                    _grid_loops(batch[:n].astype(np.float64), ncols, clip=False))
    device = device_module()
    if device is not None:
        grid = _on_device("image_grid", module.image_grid, device.asarray(batch), 2)
        _check_grid("image_grid of a device batch", grid, _grid_loops(batch.astype(np.float64), 2))


# --- 11.3: a module's move to another array module ------------------------------------------

def _small_model():
    """Two layers in float32 with every gradient set, as after a backward pass."""
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.InstanceNorm2d(3, affine=True))
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    return model


def _move(module, model, xp, where):
    """module.move_parameters(model, xp), an implicit conversion to NumPy named as such."""
    try:
        return module.move_parameters(model, xp)
    except TypeError as e:
        if "Implicit conversion" in str(e):
            raise Wrong(f"move_parameters {where} converted a device array with np.asarray (or "
                        f"np.array){_where(e)}: a device array refuses to become a NumPy array "
                        "implicitly; copy it to the host explicitly with nn.to_host") from None
        raise


def _check_moved(what, model, before, originals, xp):
    for (name, p), original, value in zip(model.named_parameters(), originals, before):
        if p is not original:
            raise Wrong(f"{what}: the parameter {name!r} is a new Parameter object: you replaced "
                        "the Parameter objects, so an optimizer built before the move still "
                        "updates the old ones. Assign p.data and keep each Parameter")
        if nn.get_array_module(p.data) is not xp:
            raise Unexplained(f"{what}: {name!r} is a {type(p.data).__name__}, not an array of "
                        f"{xp.__name__}")
        if p.data.dtype != value.dtype:
            raise Wrong(f"{what}: {name!r} became {p.data.dtype}; keep its dtype ({value.dtype})")
        check_array(f"{what}: the values of {name!r}", p.data, value, atol=0, rtol=0)
        if p.grad is not None:
            raise Wrong(f"{what}: {name!r} still has a gradient ({type(p.grad).__name__}): you "
                        "left the gradients where they were; set every p.grad to None, or the "
                        "next optimizer step mixes the old device's gradient with moved data")


def check_move_parameters(module):
    model = _small_model()
    originals = model.parameters()
    before = [p.data.copy() for p in originals]
    data_before = [p.data for p in originals]
    returned = _move(module, model, np, "from NumPy to NumPy")
    if returned is not model:
        raise Wrong("move_parameters must return the module it was given (as Module.to does), "
                    f"got {type(returned).__name__}")
    _check_moved("move_parameters(model, numpy) of a model on NumPy", model, before, originals, np)
    if any(p.data is not d for p, d in zip(model.parameters(), data_before)):
        raise Wrong("move_parameters(model, numpy) of a model already on NumPy made new arrays: "
                    "you copied parameters that were already on xp; leave those as they are "
                    "(on a GPU each copy is a transfer for nothing)")
    device = device_module()
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    with device.counting() as cost:
        _move(module, model, device, "from NumPy to the device")
    _check_moved("move_parameters(model, the CuPy stand-in)", model, before, originals, device)
    if cost.to_device != len(originals):
        raise Wrong(f"moving {len(originals)} parameters to the device made {cost.to_device} "
                    "host-to-device copies; make one per parameter")
    with device.counting() as cost:
        _move(module, model, device, "from the device to the same device")
    if cost.to_device or cost.to_host:
        raise Wrong(f"move_parameters(model, xp) of a model already on xp made {cost.to_host} "
                    f"device-to-host and {cost.to_device} host-to-device copies: you copied "
                    "parameters that were already on xp; leave those as they are")
    _move(module, model, np, "from the device back to NumPy")
    _check_moved("move_parameters(model, numpy) of a model on the device", model, before,
                 originals, np)


# --- 11.4: the losses to the host with one copy and one wait ---------------------------------

_LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


def _losses(xp):
    values = np.linspace(0.25, 3.75, len(_LOSS_NAMES)).astype(np.float32)
    return {name: xp.asarray(values[i]) for i, name in enumerate(_LOSS_NAMES)}, values


def _check_floats(what, got, values):
    if not isinstance(got, dict) or list(got) != list(_LOSS_NAMES):
        keys = list(got) if isinstance(got, dict) else type(got).__name__
        raise Wrong(f"{what} returned {keys}; return a dict with the same names in the same "
                    f"order: {list(_LOSS_NAMES)}")
    for (name, value), expected in zip(got.items(), values):
        if type(value) is not float:
            raise Wrong(f"{what}: the value of {name!r} is a {type(value).__name__}, not a "
                        "Python float: convert each value with float() once it is on the host")
        check_number(f"{what}: {name!r}", value, float(expected), atol=0, rtol=0)


def check_losses_to_host(module):
    losses, values = _losses(np)
    _check_floats("losses_to_host of NumPy losses", module.losses_to_host(losses), values)
    device = device_module()
    losses, values = _losses(device)
    with device.counting() as cost:
        try:
            got = module.losses_to_host(losses)
        except TypeError as e:
            if "Implicit conversion" not in str(e):
                raise
            raise Wrong(f"losses_to_host on device losses raised TypeError{_where(e)}: np.array "
                        "(or np.asarray) of device arrays is an implicit conversion, which CuPy "
                        "refuses; stack them on their device with xp.stack, then copy once with "
                        "nn.to_host") from None
    _check_floats("losses_to_host of device losses", got, values)
    if cost.synchronizations > 1:
        raise Wrong(f"losses_to_host waited for the device {cost.synchronizations} times (and "
                    f"made {cost.to_host} device-to-host copies): float(), .item() or .get() of "
                    "each loss is one wait each; stack the losses on the device and copy them "
                    "once")


# --- the ladders ------------------------------------------------------------------------------

def _normalize_inputs(case):
    c = case["channels"]
    x = np.arange(1.0, 2 * c * 2 * 3 + 1).reshape(2, c, 2, 3)
    return x, MEAN[:c], STD[:c]


def _normalize_expected(case):
    x, mean, std = _normalize_inputs(case)
    return (x - np.reshape(mean, (1, -1, 1, 1))) / np.reshape(std, (1, -1, 1, 1))


NORMALIZE_LADDER = Ladder(
    "normalize", [
        rung("for one channel", channels=1),
        rung("with three channels", "mean[c] and std[c] belong to channel c, axis 1 of x: "
             "shape them so that they line up with it", channels=3)],
    got=lambda module, case: module.normalize(put(_normalize_inputs(case)[0], case),
                                              *_normalize_inputs(case)[1:]),
    expected=_normalize_expected, atol=1e-12,
    show=lambda case: "x = 1, 2, 3, ... in shape {}, mean = {}, std = {}".format(
        _normalize_inputs(case)[0].shape, *_normalize_inputs(case)[1:]))


def _batch(n):
    levels = np.arange(n * 3 * 2 * 2).reshape(n, 3, 2, 2) * 5 % 251 + 0.2
    return levels / 127.5 - 1


GRID_LADDER = Ladder(
    "image_grid", [
        rung("for one image, ncols 1", n=1, ncols=1),
        rung("for two images side by side, ncols 2", "image k goes to row k // ncols and column "
             "k % ncols of the grid", n=2, ncols=2),
        rung("for five images in rows of two, the last row not full", "the number of rows "
             "rounds up, and the cells no image fills stay black", n=5, ncols=2)],
    got=lambda module, case: module.image_grid(put(_batch(case["n"]), case), case["ncols"]),
    expected=lambda case: _grid_loops(_batch(case["n"]), case["ncols"]), atol=0, rtol=0,
    show=lambda case: f"a batch of {case['n']} 3x2x2 images, ncols = "
                                    f"{case['ncols']}")


MODELS = {"layer": lambda: nn.Linear(2, 3),
          "tree": lambda: nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1)))}


def _moved(module, case):
    model = MODELS[case["model"]]()
    module.move_parameters(model, device_module())
    values = [p.data for p in model.parameters()]
    xp = nn.get_array_module(values[0])
    return (xp.concatenate([xp.ravel(v) for v in values]),)


MOVE_LADDER = Ladder(
    "move_parameters", [
        rung("for one layer (nn.Linear)", model="layer", device=True),
        rung("for a tree of modules (a Sequential within a Sequential)", "every parameter of "
             "the tree moves, the children's and the grandchildren's too", model="tree",
             device=True)],
    got=_moved,
    expected=lambda case: (np.concatenate([p.data.ravel() for p in MODELS[case["model"]]()
                                           .parameters()]),), atol=0, rtol=0,
    names=("the parameters' data after the move",),
    show=lambda case: "nn.Linear(2, 3) moved to the CuPy stand-in")


def _losses_of(count, xp):
    return {name: xp.asarray(np.float32(0.5 + k)) for k, name in enumerate(_LOSS_NAMES[:count])}


LOSSES_LADDER = Ladder(
    "losses_to_host", [
        rung("for one loss", count=1, device=True),
        rung("for eight losses", "every name keeps its own value, in the order given",
             count=8, device=True)],
    got=lambda module, case: list(module.losses_to_host(_losses_of(case["count"],
                                                                    device_module())).values()),
    expected=lambda case: [0.5 + k for k in range(case["count"])], atol=0, rtol=0,
    to_host=True, show=lambda case: "{'D_A': 0.5} on the CuPy stand-in")

CHECKS = with_ladders(
    {"11.1": check_normalize, "11.2": check_image_grid, "11.3": check_move_parameters,
     "11.4": check_losses_to_host},
    {"11.1": NORMALIZE_LADDER, "11.2": GRID_LADDER, "11.3": MOVE_LADDER,
     "11.4": LOSSES_LADDER})
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"11.1": 2, "11.2": 2, "11.3": 3, "11.4": 2}

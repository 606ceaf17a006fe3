"""Classic wrong answers to the exercises of lesson 11."""
import numpy as np
import nn

from lessons.solutions import ex11_devices as solution

from . import Mistake, variant


def normalize_float64_constants(x, mean, std):
    return (x - np.reshape(mean, (1, -1, 1, 1))) / np.reshape(std, (1, -1, 1, 1))


def normalize_host_constants(x, mean, std):
    shape = (1, -1, 1, 1)
    return ((x - np.asarray(mean, dtype=x.dtype).reshape(shape))
            / np.asarray(std, dtype=x.dtype).reshape(shape))


def grid_left_on_device(batch, ncols):
    xp = nn.get_array_module(batch)
    grid = solution.image_grid(nn.to_host(batch), ncols)
    return xp.asarray(grid)


def grid_without_clip(batch, ncols):
    n, c, h, w = batch.shape
    pixels = ((batch + 1) * 127.5).round().astype(np.uint8)   # 256 wraps around to 0
    rows = -(-n // ncols)
    grid = np.zeros((rows * h, ncols * w, c), dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = pixels[k].transpose(1, 2, 0)
    return grid


def grid_as_floats(batch, ncols):
    return solution.image_grid(batch, ncols).astype(np.float32)


def move_through_np_asarray(module, xp):
    for p in module.parameters():
        if nn.get_array_module(p.data) is not xp:
            p.data = xp.asarray(np.asarray(p.data))
        p.grad = None
    return module


def move_into_new_parameters(module, xp):
    for _, layer in module.named_modules():
        for name, p in list(layer._parameters.items()):
            setattr(layer, name, nn.Parameter(xp.asarray(nn.to_host(p.data))))
    return module


def move_keeping_gradients(module, xp):
    for p in module.parameters():
        if nn.get_array_module(p.data) is not xp:
            p.data = xp.asarray(nn.to_host(p.data))
    return module


def move_copying_everything(module, xp):
    for p in module.parameters():
        p.data = xp.array(nn.to_host(p.data))
        p.grad = None
    return module


def losses_one_by_one(losses):
    return {name: float(value) for name, value in losses.items()}


def losses_through_np_array(losses):
    values = np.array(list(losses.values()))
    return {name: float(v) for name, v in zip(losses, values)}


def losses_left_as_arrays(losses):
    xp = nn.get_array_module(*losses.values())
    on_host = nn.to_host(xp.stack(list(losses.values())))
    return dict(zip(losses, on_host))


MISTAKES = [
    Mistake('11.1', 'normalize_float64_constants', variant(solution, normalize=normalize_float64_constants),
            "returned float64"),
    Mistake('11.1', 'normalize_host_constants', variant(solution, normalize=normalize_host_constants),
            "on a device array (the CuPy stand-in) raised TypeError"),
    Mistake('11.2', 'grid_left_on_device', variant(solution, image_grid=grid_left_on_device),
            "not a NumPy array"),
    Mistake('11.2', 'grid_without_clip', variant(solution, image_grid=grid_without_clip),
            "clip to [0, 255] before the cast to uint8"),
    Mistake('11.2', 'grid_as_floats', variant(solution, image_grid=grid_as_floats),
            "an image is uint8"),
    Mistake('11.3', 'move_through_np_asarray',
            variant(solution, move_parameters=move_through_np_asarray),
            "converted a device array with np.asarray"),
    Mistake('11.3', 'move_into_new_parameters',
            variant(solution, move_parameters=move_into_new_parameters),
            "you replaced the Parameter objects"),
    Mistake('11.3', 'move_keeping_gradients',
            variant(solution, move_parameters=move_keeping_gradients),
            "you left the gradients where they were"),
    Mistake('11.3', 'move_copying_everything',
            variant(solution, move_parameters=move_copying_everything),
            "you copied parameters that were already on xp"),
    Mistake('11.4', 'losses_one_by_one', variant(solution, losses_to_host=losses_one_by_one),
            "waited for the device 8 times"),
    Mistake('11.4', 'losses_through_np_array',
            variant(solution, losses_to_host=losses_through_np_array),
            "is an implicit conversion, which CuPy refuses"),
    Mistake('11.4', 'losses_left_as_arrays',
            variant(solution, losses_to_host=losses_left_as_arrays),
            "not a Python float"),
]

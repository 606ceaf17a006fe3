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


MISTAKES = [
    Mistake('11.1', 'normalize_float64_constants', variant(solution, normalize=normalize_float64_constants),
            "returned float64"),
    Mistake('11.1', 'normalize_host_constants', variant(solution, normalize=normalize_host_constants),
            "on a device array (the CuPy stand-in) raised TypeError"),
    Mistake('11.2', 'grid_left_on_device', variant(solution, image_grid=grid_left_on_device),
            "not a NumPy array"),
    Mistake('11.2', 'grid_without_clip', variant(solution, image_grid=grid_without_clip),
            "is wrong at"),
    Mistake('11.2', 'grid_as_floats', variant(solution, image_grid=grid_as_floats),
            "an image is uint8"),
]

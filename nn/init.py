"""Weight initialisers that fill a tensor in place and keep its dtype and device."""
from .backend import get_array_module, to_device

__all__ = ["normal_", "zeros_"]


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill ``tensor`` with draws from N(mean, std^2), in its own dtype and on its own device.

    rng: a ``numpy.random.Generator`` (seed it for repeatable weights). The draws are made on
    the host in float64, so the same seed gives the same weights on the CPU and on a GPU.
    """
    if rng is None:
        raise ValueError("normal_ needs rng=numpy.random.default_rng(seed), so that "
                         "initialisation is repeatable")
    host = rng.standard_normal(tensor.shape) * std + mean
    xp = get_array_module(tensor.data)
    tensor.data[...] = to_device(host.astype(tensor.dtype), xp)
    return tensor


def zeros_(tensor):
    """Fill ``tensor`` with zeros."""
    tensor.data[...] = 0
    return tensor

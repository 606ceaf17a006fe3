"""The fast layer: faster roads to the results of nn's plain definitions, all in one place.

The core of ``nn`` defines every operation once, plainly (convolution as im2col and a matmul,
instance norm from means, Adam from its formula, one module call per input). Each entry of
the tables below replaces one of those definitions, on host (NumPy) or device (CuPy) arrays,
by a road to the same result in another order of arithmetic; each is tested equal to the
plain definition in float64. The core asks for a road with ``nn.backend.faster(plain, xp)``.

    plain definition           on NumPy (NUMPY)        on CuPy (CUPY)           files
    F.Conv2dFunction           FastConv2d              DeviceConv2d             layers.py,
    F.ConvTranspose2dFunction  FastConvTranspose2d     DeviceConvTranspose2d    convolution.py,
                                                                                device.py
    F.InstanceNormalize        FastInstanceNormalize   DeviceInstanceNormalize
    F.LeakyReLUFunction        FastLeakyReLU           FastLeakyReLU            layers.py
    F.Pad                      (plain)                 DevicePad                device.py
    nn.optim.Adam.update       adam_update_in_place    adam_update_flat         optim.py, device.py
    nn.call_each               call_batched            call_batched             batching.py

The host's roads are chosen by the bytes they move (on NumPy the time of a convolution
follows them), the device's by kernel launches (on a GPU a step on small images costs about
one launch per array operation, whatever its size).

The layer is on from ``import nn``; ``nn.fast.enabled(False)`` turns it off (every op then
runs its plain definition), and ``with nn.fast.disabled():`` turns it off for a block.
"""
import contextlib

from .. import functional as F
from ..backend import FAST_ROADS
from ..modules import call_each
from ..optim import Adam
from .batching import call_batched
from .device import (DeviceConv2d, DeviceConvTranspose2d, DeviceInstanceNormalize, DevicePad,
                     adam_update_flat)
from .layers import FastConv2d, FastConvTranspose2d, FastInstanceNormalize, FastLeakyReLU
from .optim import adam_update_in_place

__all__ = ["NUMPY", "CUPY", "enabled", "disabled"]

NUMPY = {
    F.Conv2dFunction: FastConv2d,
    F.ConvTranspose2dFunction: FastConvTranspose2d,
    F.InstanceNormalize: FastInstanceNormalize,
    F.LeakyReLUFunction: FastLeakyReLU,
    Adam.update: adam_update_in_place,
    call_each: call_batched,
}
"""The roads taken on NumPy arrays."""

CUPY = dict(NUMPY)
CUPY.update({
    F.Conv2dFunction: DeviceConv2d,
    F.ConvTranspose2dFunction: DeviceConvTranspose2d,
    F.InstanceNormalize: DeviceInstanceNormalize,
    F.Pad: DevicePad,
    Adam.update: adam_update_flat,
})
"""The roads taken on device arrays (CuPy, and the stand-in that counts its launches): on a
GPU a step on small images costs about one kernel launch per array operation, so these are
chosen by launches (nn/fast/device.py)."""

FAST_ROADS["numpy"], FAST_ROADS["device"] = NUMPY, CUPY


def enabled(on=None):
    """Whether the fast layer is on; ``enabled(False)`` turns it off, ``enabled(True)`` on."""
    if on is not None:
        FAST_ROADS["on"] = bool(on)
    return FAST_ROADS["on"]


@contextlib.contextmanager
def disabled():
    """Inside this block every op runs its plain definition."""
    previous = enabled()
    enabled(False)
    try:
        yield
    finally:
        enabled(previous)

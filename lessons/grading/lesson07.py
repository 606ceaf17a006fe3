"""Checks of lesson 7: instance normalization forward (against nn) and backward (gradcheck)."""
import numpy as np

import nn
import nn.functional as F

from .core import Wrong, check_array, check_backward_shapes, check_gradients

MODULE = "ex07_normalization"


def check_instance_norm(module):
    rng = np.random.default_rng(0)
    # A large offset and scale per plane: the output must not depend on either.
    x = rng.standard_normal((2, 3, 5, 4)) * rng.uniform(0.5, 3, (2, 3, 1, 1)) + 4.0
    expected = F.instance_norm(nn.Tensor(x)).data
    check_array(f"instance_norm(x of shape {x.shape}) (float64)", module.instance_norm(x.copy()),
                expected, atol=1e-10)
    check_array("instance_norm(x, eps=0.5): eps belongs inside the sqrt, with the variance",
                module.instance_norm(x.copy(), eps=0.5),
                F.instance_norm(nn.Tensor(x), eps=0.5).data, atol=1e-10)
    y = module.instance_norm(x.astype(np.float32))
    if getattr(y, "dtype", None) != np.float32:
        raise Wrong(f"instance_norm of a float32 input returned {getattr(y, 'dtype', type(y))}: "
                    "keep the input's dtype (a float64 constant or array upcasts the result)")
    check_array("instance_norm of a float32 input", y, expected, atol=1e-4, rtol=1e-4)


def check_instance_norm_backward(module):
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 4, 5), (1, 2, 2, 3)]:
        x = rng.standard_normal(shape) * 2 + 1
        check_backward_shapes(module.InstanceNorm(), (x.copy(),), ("x",))
        t = nn.Tensor(x, requires_grad=True)
        check_gradients(lambda a: module.InstanceNorm()(a), [t], ("x",))


CHECKS = {"7.1": check_instance_norm, "7.2": check_instance_norm_backward}
# What each exercise is worth in a class's total (lessons/exercises/CATALOG.md shows it).
POINTS = {"7.1": 2, "7.2": 2}

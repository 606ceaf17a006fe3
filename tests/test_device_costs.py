"""What a training step costs a GPU, counted on the CuPy stand-in: transfers between host and
device, synchronisations, allocations, and kernel launches (nn/fake_cupy.py, ``counting``).

On a GPU a copy between host and device, and every wait for the device (``float(loss)``),
cost far more than the arithmetic of a small image; and a small-image step costs about one
kernel launch per array operation, whatever the size. These budgets are pinned here.
"""
import numpy as np
import pytest

from nn import fake_cupy
import nn
import nn.functional as F
from cyclegan import CycleGAN, ImagePool


def device(a, dtype=np.float32):
    return fake_cupy.asarray(np.asarray(a, dtype=dtype))


# --- Python numbers stay Python numbers ------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda x: x * 0.5, lambda x: 0.5 * x, lambda x: x + 1, lambda x: 1 - x, lambda x: x - 1.0,
    lambda x: x / 4.0, lambda x: 2.0 / x, lambda x: x.mean(), lambda x: F.mse_loss(x, 1.0),
    lambda x: F.l1_loss(x, 0.0) * 10.0, lambda x: x * np.float64(0.5)],
    ids=["mul", "rmul", "add", "rsub", "sub", "div", "rdiv", "mean", "mse_to_one", "l1_lambda",
         "numpy_scalar"])
def test_a_python_number_costs_no_transfer_and_keeps_the_dtype(op):
    x = nn.Tensor(device([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with fake_cupy.counting() as cost:
        y = op(x)
        y.sum().backward()
    assert (cost.to_device, cost.to_host, cost.synchronizations) == (0, 0, 0), cost
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    host = nn.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
    op(host).sum().backward()
    np.testing.assert_array_equal(y.data.get(), op(host).data)
    np.testing.assert_array_equal(x.grad.get(), host.grad)


# --- a network's forward and backward stay on the device ---------------------------------------

def test_forward_and_backward_never_fall_back_to_the_host():
    # Every op of a small network, forward and backward, on the stand-in: a NumPy array mixed
    # in raises TypeError, an implicit conversion too, and any copy between host and device
    # or wait for the device (float(), .get()) is counted.
    rng = np.random.default_rng(0)
    x = nn.Tensor(fake_cupy.asarray(rng.standard_normal((2, 2, 6, 5)).astype(np.float32)),
                  requires_grad=True)
    w = nn.Tensor(fake_cupy.asarray(rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
                  requires_grad=True)
    with fake_cupy.counting() as cost:
        y = F.pad(x, (1, 1, 2, 1), "reflect")
        y = F.instance_norm(F.conv2d(y, w, stride=2, padding=1))
        y = F.sigmoid(F.tanh(F.leaky_relu(F.relu(y) - 0.1, 0.2)))
        loss = F.l1_loss(y, 0.5) + F.mse_loss(y, y.detach() * 0.5) + (
            y.exp().log().abs() @ y.transpose(0, 1, 3, 2)).mean()
        loss.backward()
    assert (cost.to_device, cost.to_host, cost.synchronizations) == (0, 0, 0), cost
    for t in (x, w):
        assert nn.get_array_module(t.grad) is fake_cupy and t.grad.dtype == np.float32


# --- the image pool moves nothing through the host ----------------------------------------------

def test_the_image_pool_moves_no_image_through_the_host():
    pool = ImagePool(pool_size=2, rng=np.random.default_rng(0))
    batches = [fake_cupy.asarray(np.full((1, 3, 4, 4), k, np.float32)) for k in range(12)]
    with fake_cupy.counting() as cost:
        results = [pool.query(b) for b in batches]
    assert (cost.to_device, cost.to_host, cost.synchronizations) == (0, 0, 0), cost
    # one copy per stored image; what is returned is a view of the batch or of a stored image
    stored = sum(1 for k in range(12) if k < 2) + sum(
        1 for r, b in zip(results[2:], batches[2:]) if r is not b)
    assert cost.launches["copy"] == stored and cost.total_launches == stored
    assert all(isinstance(r, fake_cupy.DeviceArray) for r in results)


# --- one training step --------------------------------------------------------------------------

def tiny_model(**options):
    return CycleGAN(ngf=4, ndf=4, n_blocks=1, device=fake_cupy, seed=0, **options)


def batch(seed, size=32):
    return np.random.default_rng(seed).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)


def step_cost(model, a, b):
    with fake_cupy.counting() as cost:
        model.train_step(a, b)
    return cost


def test_a_training_step_copies_the_batch_in_and_the_eight_losses_out_once():
    model = tiny_model()
    a, b = batch(1), batch(2)
    model.train_step(a, b)                       # the first step creates Adam's scratch space
    cost = step_cost(model, a, b)
    assert cost.to_device == 2, cost             # real_A and real_B, nothing else
    assert cost.to_host == 1 and cost.synchronizations == 1, cost   # the 8 losses together
    on_device = step_cost(model, fake_cupy.asarray(a), fake_cupy.asarray(b))
    assert on_device.to_device == 0 and on_device.to_host == 1, on_device


def test_a_full_image_pool_costs_no_transfer():
    model = tiny_model(pool_size=1)              # full after one step: then it swaps
    a, b = batch(1), batch(2)
    for _ in range(4):
        cost = step_cost(model, a, b)
        assert (cost.to_device, cost.to_host, cost.synchronizations) == (2, 1, 1), cost


# Kernel launches of one step of tiny_model() on 32x32 images, counted on the stand-in. A
# change to nn that moves this by more than the margin is to be seen and explained: on a GPU
# a step on small images takes about this many launches' time (benchmarks/bench_launches.py).
TINY_STEP_LAUNCHES = 1644

# At most as many launches as PyTorch's profiler records top-level operations for the same
# step of the official code (benchmarks/bench_launches.py): the built-in run's model (ngf 16,
# 3 blocks, 64px, batch 1) and config A (64/64/6).
PYTORCH_OPERATIONS = {(16, 3): 2292, (64, 6): 3102}


def test_the_launch_count_of_a_step_is_pinned():
    model = tiny_model()
    a, b = batch(1), batch(2)
    model.train_step(a, b)
    cost = step_cost(model, a, b)
    assert 0.9 * TINY_STEP_LAUNCHES <= cost.total_launches <= 1.1 * TINY_STEP_LAUNCHES, (
        f"one step now launches {cost.total_launches} kernels, pinned at {TINY_STEP_LAUNCHES}: "
        f"{cost.launches.most_common(8)}")
    assert cost.allocations < cost.total_launches
    with nn.fast.disabled():    # the plain road: col2im's loop per kernel offset, Adam per tensor
        plain = step_cost(model, a, b)
    assert plain.total_launches > 2 * cost.total_launches, plain


@pytest.mark.parametrize("ngf, n_blocks", sorted(PYTORCH_OPERATIONS))
def test_a_step_launches_no_more_kernels_than_pytorch_runs_operations(ngf, n_blocks):
    model = CycleGAN(ngf=ngf, ndf=ngf, n_blocks=n_blocks, device=fake_cupy, seed=0)
    a, b = batch(1, size=64), batch(2, size=64)
    model.train_step(a, b)
    cost = step_cost(model, a, b)
    assert cost.total_launches <= PYTORCH_OPERATIONS[ngf, n_blocks], (
        f"{cost.total_launches} launches: {cost.launches.most_common(8)}")
    assert (cost.to_device, cost.to_host, cost.synchronizations) == (2, 1, 1), cost


def test_counting_blocks_nest_and_count_allocations_not_views():
    d = fake_cupy.zeros((2, 3))
    with fake_cupy.counting() as outer:
        d.T.reshape(6)                           # a view, then a copy (not contiguous)
        with fake_cupy.counting() as inner:
            d[0]                                 # a view
            d.sum()
            float(d[0, 0])
    assert (inner.allocations, inner.total_launches, inner.synchronizations) == (1, 1, 1)
    assert (outer.allocations, outer.total_launches, outer.synchronizations) == (2, 2, 1)
    assert outer.launches == {"copy": 1, "sum": 1}

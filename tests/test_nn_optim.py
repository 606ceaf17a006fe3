"""Optimizers against updates computed by hand from their formulas, on every backend; they
minimise a quadratic; their state round-trips; LambdaLR follows its rule."""
import math

import numpy as np
import pytest

import nn

# Three steps of gradients for a two-element parameter. eps is as large as the gradients, so
# that where eps enters the formula (after the bias correction, as in PyTorch) shows.
START = [1.0, -2.0]
GRADS = [[0.02, -0.01], [0.01, 0.03], [-0.03, 0.0]]
LR, B1, B2, EPS = 0.1, 0.9, 0.999, 1e-2


def adam_by_hand():
    """PyTorch's Adam, one scalar at a time:
    m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g^2, p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).
    """
    params, m, v, history = list(START), [0.0, 0.0], [0.0, 0.0], []
    for t, grad in enumerate(GRADS, start=1):
        for i, g in enumerate(grad):
            m[i] = B1 * m[i] + (1 - B1) * g
            v[i] = B2 * v[i] + (1 - B2) * g * g
            m_hat, v_hat = m[i] / (1 - B1 ** t), v[i] / (1 - B2 ** t)
            params[i] -= LR * m_hat / (math.sqrt(v_hat) + EPS)
        history.append(list(params))
    return history


def run(optimizer_class, xp, to_xp, dtype=np.float64, **options):
    p = nn.Parameter(to_xp(START, dtype))
    opt = optimizer_class([p], lr=LR, **options)
    history = []
    for grad in GRADS:
        p.grad = to_xp(grad, dtype)
        opt.step()
        history.append(nn.to_host(p.data).copy())
    return history, p


def test_adam_first_step_by_hand():
    # At t = 1 the bias corrections give m_hat = g and v_hat = g^2: p -= lr * g / (|g| + eps).
    first = adam_by_hand()[0]
    assert first == pytest.approx([1.0 - 0.1 * 0.02 / 0.03, -2.0 + 0.1 * 0.01 / 0.02], rel=1e-12)


def test_adam_matches_three_steps_by_hand(xp, to_xp):
    history, p = run(nn.optim.Adam, xp, to_xp, betas=(B1, B2), eps=EPS)
    np.testing.assert_allclose(history, adam_by_hand(), rtol=1e-12, atol=0)
    assert nn.get_array_module(p.data) is xp


def test_adam_keeps_float32(xp, to_xp):
    history, p = run(nn.optim.Adam, xp, to_xp, dtype=np.float32, betas=(B1, B2), eps=EPS)
    assert p.dtype == np.float32
    np.testing.assert_allclose(history, adam_by_hand(), rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_the_formula(momentum, xp, to_xp):
    expected, params, velocity = [], list(START), [0.0, 0.0]
    for grad in GRADS:  # v = momentum*v + g; p -= lr*v
        for i, g in enumerate(grad):
            velocity[i] = momentum * velocity[i] + g
            params[i] -= LR * velocity[i]
        expected.append(list(params))
    history, _ = run(nn.optim.SGD, xp, to_xp, momentum=momentum)
    np.testing.assert_allclose(history, expected, rtol=1e-12, atol=0)


def test_parameters_without_a_gradient_are_left_alone():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = nn.optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    assert b.data.tolist() == [1.0, 1.0] and a.data.tolist() != [1.0, 1.0]


@pytest.mark.parametrize("make, steps", [
    (lambda ps: nn.optim.SGD(ps, lr=0.1), 60),
    (lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.9), 150),
    (lambda ps: nn.optim.Adam(ps, lr=0.1), 150),
], ids=["sgd", "sgd_momentum", "adam"])
def test_optimizers_minimise_a_quadratic(make, steps, xp, to_xp):
    """f(p) = sum(scale * (p - target)^2) has its minimum 0 at target."""
    target = nn.Tensor(to_xp([1.0, -2.0, 0.5]))
    scale = nn.Tensor(to_xp([1.0, 3.0, 0.5]))
    p = nn.Parameter(to_xp([0.0, 0.0, 0.0]))
    opt = make([p])

    def loss():
        diff = p - target
        return (scale * diff * diff).sum()

    start = float(loss().data)
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert float(loss().data) < 1e-3 * start
    np.testing.assert_allclose(nn.to_host(p.data), [1.0, -2.0, 0.5], atol=0.05)


@pytest.mark.parametrize("make", [
    lambda ps: nn.optim.Adam(ps, lr=0.05, betas=(0.5, 0.999)),
    lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.9),
], ids=["adam", "sgd_momentum"])
def test_state_dict_round_trip_continues_exactly(make, xp, to_xp, tmp_path):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((2, 3)) for _ in range(5)]
    p = nn.Parameter(to_xp(np.zeros((2, 3)), np.float32))
    straight = make([p])
    for g in grads:
        p.grad = to_xp(g, np.float32)
        straight.step()

    q = nn.Parameter(to_xp(np.zeros((2, 3)), np.float32))
    first = make([q])
    for g in grads[:2]:
        q.grad = to_xp(g, np.float32)
        first.step()
    nn.save(tmp_path / "opt.npz", first.state_dict())      # through a file, as a checkpoint
    resumed = make([q])
    resumed.load_state_dict(nn.load(tmp_path / "opt.npz"))
    for g in grads[2:]:
        q.grad = to_xp(g, np.float32)
        resumed.step()
    np.testing.assert_array_equal(nn.to_host(q.data), nn.to_host(p.data))
    assert all(nn.get_array_module(a) is xp for k, a in resumed.state_dict().items()
               if hasattr(a, "shape") and a.ndim > 0)


def test_load_state_dict_errors_name_the_entry():
    opt = nn.optim.Adam([nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros(2))])
    state = opt.state_dict()
    with pytest.raises(ValueError, match=r"v.1 has shape \(3,\)"):
        opt.load_state_dict({**state, "v.1": np.zeros(3)})
    del state["m.0"]
    with pytest.raises(KeyError, match="m.0"):
        opt.load_state_dict(state)


def test_lambda_lr_sets_base_lr_times_the_rule_each_epoch():
    opt = nn.optim.Adam([nn.Parameter(np.zeros(1))], lr=0.2)
    rule = lambda epoch: 1.0 if epoch < 2 else 1.0 - (epoch - 1) / 4  # noqa: E731
    schedule = nn.optim.LambdaLR(opt, rule)
    lrs = [opt.lr]
    for _ in range(5):
        schedule.step()
        lrs.append(opt.lr)
    assert lrs == pytest.approx([0.2, 0.2, 0.15, 0.1, 0.05, 0.0])
    state = schedule.state_dict()
    other = nn.optim.Adam([nn.Parameter(np.zeros(1))], lr=0.2)
    resumed = nn.optim.LambdaLR(other, rule)
    resumed.load_state_dict(state)
    assert other.lr == pytest.approx(0.0) and resumed.epoch == 5
    resumed.base_lr = 1.0
    resumed.load_state_dict({"base_lr": 0.4, "epoch": 2})
    assert other.lr == pytest.approx(0.4 * 0.75)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.optim.SGD([], lr=0.1), "no parameters"),
    (lambda: nn.optim.Adam([nn.Parameter(np.zeros(1))], lr=0.0), "learning rate"),
])
def test_bad_optimizer_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()

"""The autograd engine: values of gradients, the backward walk's order, deep graphs, no_grad,
and the errors a user meets."""
import sys

import numpy as np
import pytest

import nn


def test_gradients_have_the_values_of_the_chain_rule(xp, to_xp):
    # y = sum(a * b + a), a: (2, 3), b: (3,) broadcast over rows.
    a_host, b_host = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 0.5])
    a = nn.Tensor(to_xp(a_host), requires_grad=True)
    b = nn.Tensor(to_xp(b_host), requires_grad=True)
    y = (a * b + a).sum()
    y.backward()
    assert float(y.data) == (a_host * b_host + a_host).sum()
    np.testing.assert_array_equal(nn.to_host(a.grad), np.broadcast_to(b_host + 1, (2, 3)))
    np.testing.assert_array_equal(nn.to_host(b.grad), a_host.sum(axis=0))  # summed back to (3,)
    assert b.grad.shape == (3,) and nn.get_array_module(b.grad) is xp


@pytest.mark.parametrize("skip_first", [True, False])
def test_a_skip_connection_is_walked_after_every_use(skip_first):
    # x feeds both the long path f(x) and the skip; its gradient must collect both before
    # flowing further (here into w), which needs a true reverse topological order, whichever
    # operand of the sum comes first.
    w = nn.Tensor(np.array(2.0), requires_grad=True)
    x = w * 3.0
    long_path = ((x * x) * 0.5).exp().log()     # = x^2 / 2 through several nodes
    out = x + long_path if skip_first else long_path + x
    out.backward()                               # d/dw = (x + 1) * 3 with x = 6
    assert float(w.grad) == pytest.approx(21.0, rel=1e-12)


def test_gradients_accumulate_across_backward_calls_on_leaves():
    a = nn.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (a * 3.0).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, [3 + 2, 3 + 4])


def test_only_leaves_keep_their_gradient_and_constants_get_none():
    a = nn.Tensor(np.ones(3), requires_grad=True)
    c = nn.Tensor(np.ones(3))
    hidden = a * 2.0
    (hidden * c).sum().backward()
    assert hidden.grad is None and c.grad is None and a.grad is not None


def test_a_ten_thousand_op_chain_does_not_recurse():
    limit = sys.getrecursionlimit()
    assert limit < 10_000
    x = nn.Tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert float(x.grad[0]) == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_no_grad_records_no_graph_and_restores_the_mode(xp, to_xp):
    x = nn.Tensor(to_xp([1.0, 2.0]), requires_grad=True)
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert nn.is_grad_enabled()
    assert not y.requires_grad and y._creator is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with pytest.raises(ZeroDivisionError):
        with nn.no_grad():
            1 / 0
    assert nn.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = nn.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).detach() * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 4.0])  # x^2 treated as a constant


def test_backward_errors_say_what_to_do():
    x = nn.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element tensor.*grad="):
        (x * 2.0).backward()
    y = (x * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_scalars_take_the_tensors_dtype_and_device(xp, to_xp):
    x = nn.Tensor(to_xp([1.0, 2.0], np.float32), requires_grad=True)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3.0, 3.0 / x, x ** 2):
        assert y.dtype == np.float32 and nn.get_array_module(y.data) is xp


def test_tensor_facts_and_repr():
    t = nn.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float32 and len(t) == 2
    assert "requires_grad=True" in repr(t)
    assert nn.Tensor(np.array([4.0])).item() == 4.0
    p = nn.Parameter(np.ones(2, np.float32))
    assert p.requires_grad and "Parameter(shape=(2,)" in repr(p)

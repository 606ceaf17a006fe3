"""The gradient checker checks itself: backward passes with classic mistakes are caught, the
report names the input and the worst element, and only float64 is accepted."""
import numpy as np
import pytest

import nn
from nn.backend import get_array_module
from nn.convolution import conv2d_plain, conv2d_weight_grad_plain


class Conv3x3(nn.Function):
    """A stride-1, padding-1 convolution whose input gradient may forget the kernel flip.

    The right input gradient is a full convolution of g with the kernel flipped in space and
    its channel axes exchanged: conv2d(g, flip(w).swap(0, 1), padding = K - 1 - P).
    """

    def __init__(self, flip):
        self.flip = flip

    def forward(self, x, w):
        self.x, self.w = x, w
        return conv2d_plain(x, w, (1, 1), (1, 1))

    def backward(self, g):
        w = self.w.transpose(1, 0, 2, 3)
        if self.flip:
            w = w[:, :, ::-1, ::-1]
        gx = conv2d_plain(g, w, (1, 1), (1, 1))
        gw = conv2d_weight_grad_plain(self.x, g, (3, 3), (1, 1), (1, 1))
        return gx, gw


class MatMul(nn.Function):
    """a @ b whose gradient for a may miss the transpose of b: g @ b instead of g @ b^T."""

    def __init__(self, transpose):
        self.transpose = transpose

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        return g @ (self.b.T if self.transpose else self.b), self.a.T @ g


class RowSum(nn.Function):
    """x.sum(axis=1) whose backward may ignore g's values (right only when g is all ones)."""

    def __init__(self, use_g):
        self.use_g = use_g

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=1)

    def backward(self, g):
        xp = get_array_module(g)
        if not self.use_g:
            return xp.ones(self.shape, dtype=g.dtype)
        return xp.broadcast_to(g[:, None], self.shape)


class OneWrongElement(nn.Function):
    """a * b, whose gradient for b is wrong by 0.5 at element (1, 2) only.

    It keeps the last upstream gradient it saw (``OneWrongElement.upstream``), so that a test
    knows the true value without assuming how gradcheck draws g."""

    upstream = None

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        OneWrongElement.upstream = nn.to_host(g).copy()
        gb = g * self.a
        gb[1, 2] += 0.5
        return g * self.b, gb


def tensor(to_xp, shape, seed, dtype=np.float64, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return nn.Tensor(to_xp(data), requires_grad=requires_grad)


def test_a_convolution_that_forgets_the_kernel_flip_is_caught(xp, to_xp):
    x, w = tensor(to_xp, (2, 2, 5, 4), 0), tensor(to_xp, (3, 2, 3, 3), 1)
    assert nn.gradcheck(lambda x, w: Conv3x3(flip=True)(x, w), [x, w])
    with pytest.raises(nn.GradcheckError, match="gradient of input 0 "):
        nn.gradcheck(lambda x, w: Conv3x3(flip=False)(x, w), [x, w])


def test_a_matmul_that_misses_a_transpose_is_caught(xp, to_xp):
    a, b = tensor(to_xp, (3, 3), 2), tensor(to_xp, (3, 3), 3)  # square: the shapes still fit
    assert nn.gradcheck(lambda a, b: MatMul(transpose=True)(a, b), [a, b])
    with pytest.raises(nn.GradcheckError, match="gradient of input 0 "):
        nn.gradcheck(lambda a, b: MatMul(transpose=False)(a, b), [a, b])


def test_a_backward_right_only_for_an_all_ones_gradient_is_caught(xp, to_xp):
    x = tensor(to_xp, (3, 4), 4)
    wrong = RowSum(use_g=False)(x)
    wrong.backward(xp.ones(wrong.shape))
    np.testing.assert_array_equal(nn.to_host(x.grad), np.ones((3, 4)))  # looks right here
    assert nn.gradcheck(lambda x: RowSum(use_g=True)(x), [x])
    with pytest.raises(nn.GradcheckError, match="input 0"):
        nn.gradcheck(lambda x: RowSum(use_g=False)(x), [x])


def test_the_report_names_the_input_the_worst_index_and_both_values(to_xp):
    a, b = tensor(to_xp, (2, 3), 5), tensor(to_xp, (2, 3), 6)
    with pytest.raises(nn.GradcheckError) as error:
        nn.gradcheck(lambda a, b: OneWrongElement()(a, b), [a, b])
    message = str(error.value)
    numeric = OneWrongElement.upstream[1, 2] * nn.to_host(a.data)[1, 2]  # d(sum(g*a*b))/db
    assert "input 1" in message and "shape (2, 3)" in message
    assert "wrong at 1 of 6 elements" in message and "worst at index (1, 2)" in message
    assert f"analytic {numeric + 0.5:.6g}" in message and f"numeric {numeric:.6g}" in message


def test_module_parameters_are_checked_and_named():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            rng = np.random.default_rng(7)
            self.weight = nn.Parameter(rng.standard_normal((3, 3)))

        def forward(self, x):
            return RowSum(use_g=False)(self.weight * x)

    x = nn.Tensor(np.random.default_rng(8).standard_normal((3, 3)))  # no grad: parameters only
    with pytest.raises(nn.GradcheckError, match="parameter 'weight'"):
        nn.gradcheck(Broken(), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_inputs_that_are_not_float64_are_refused(dtype, to_xp):
    x = tensor(to_xp, (2, 2), 9, dtype=dtype)
    with pytest.raises(TypeError, match=rf"float64.*input 0 is {np.dtype(dtype).name}"):
        nn.gradcheck(lambda x: x * 2.0, [x])
    conv = nn.Conv2d(1, 1, 3)  # float32 parameters by default
    with pytest.raises(TypeError, match=r"parameter 'weight' is float32.*to\(dtype='float64'\)"):
        nn.gradcheck(conv, [nn.Tensor(np.ones((1, 1, 4, 4)))])


def test_nothing_to_check_is_an_error():
    with pytest.raises(ValueError, match="requires_grad"):
        nn.gradcheck(lambda x: x * 2.0, [nn.Tensor(np.ones(3))])

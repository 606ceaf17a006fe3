"""Convolutions, instance norm and the CycleGAN networks on shapes whose sizes all differ.

When two axes have the same length (N == C_out, C_in == C_out, H == W), a result computed
along the wrong one has the right shape and no crash says so; on these shapes every axis has
a length of its own, and every result is checked by value: forward against the naive
definitions of test_nn_forward, gradients against finite differences (float64, a random
upstream gradient on every input and parameter).
"""
import numpy as np
import pytest

import nn
from nn import functional as F
from test_nn_forward import naive_conv2d, naive_conv_transpose2d, naive_instance_norm

# N, C_in, H, W, C_out, KH, KW, stride, padding: no two of N, C_in, C_out, H, W equal
CONV = [
    (3, 2, 7, 6, 1, 7, 7, 1, 3),   # few output channels (the stride-1 scatter road)
    (2, 3, 9, 8, 5, 4, 4, 2, 1),   # PatchGAN's 4x4 stride 2
    (3, 1, 6, 5, 4, 3, 2, (2, 1), (1, 0)),
]
# N, C_in, H, W, C_out, KH, KW, stride, padding, output_padding
CONV_T = [
    (3, 4, 5, 6, 2, 3, 3, 2, 1, 1),  # the generator's upsampling
    (2, 1, 4, 5, 3, 3, 3, 1, 1, 0),  # few input channels (the flipped-kernel road)
]


def tensors(rng, *shapes):
    return [nn.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("case", CONV, ids=str)
def test_conv2d_by_value(case):
    n, c_in, h, w, c_out, kh, kw, stride, padding = case
    rng = np.random.default_rng(1)
    x, weight, bias = tensors(rng, (n, c_in, h, w), (c_out, c_in, kh, kw), (c_out,))
    y = F.conv2d(x, weight, bias, stride, padding)
    np.testing.assert_allclose(y.data, naive_conv2d(x.data, weight.data, bias.data, stride,
                                                    padding), rtol=1e-10, atol=1e-12)
    assert nn.gradcheck(lambda a, b, c: F.conv2d(a, b, c, stride, padding), [x, weight, bias],
                        seed=2)


@pytest.mark.parametrize("case", CONV_T, ids=str)
def test_conv_transpose2d_by_value(case):
    n, c_in, h, w, c_out, kh, kw, stride, padding, out_pad = case
    rng = np.random.default_rng(3)
    x, weight, bias = tensors(rng, (n, c_in, h, w), (c_in, c_out, kh, kw), (c_out,))
    y = F.conv_transpose2d(x, weight, bias, stride, padding, out_pad)
    expected = naive_conv_transpose2d(x.data, weight.data, bias.data, stride, padding, out_pad)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    assert nn.gradcheck(lambda a, b, c: F.conv_transpose2d(a, b, c, stride, padding, out_pad),
                        [x, weight, bias], seed=4)


def test_instance_norm_by_value():
    rng = np.random.default_rng(5)
    norm = nn.InstanceNorm2d(2, affine=True)
    norm.to(np, np.float64)
    norm.weight.data[...] = rng.standard_normal(2)
    norm.bias.data[...] = rng.standard_normal(2)
    x = nn.Tensor(rng.standard_normal((3, 2, 5, 4)) * 2 + 1, requires_grad=True)
    np.testing.assert_allclose(norm(x).data, naive_instance_norm(
        x.data, norm.weight.data, norm.bias.data, norm.eps), rtol=1e-10, atol=1e-12)
    assert nn.gradcheck(lambda a, module: norm(a), [x, norm], seed=6)


def test_generator_and_discriminator_on_a_batch_of_three():
    """A batch of 3 images through ngf 2 and ndf 5 networks (3 != 2 != 5 != 1): each image's
    result is the one it gets alone, and so is its gradient (a random upstream gradient)."""
    from cyclegan import NLayerDiscriminator, ResnetGenerator

    rng = np.random.default_rng(7)
    G = ResnetGenerator(3, 1, ngf=2, n_blocks=1, rng=rng)
    D = NLayerDiscriminator(1, ndf=5, n_layers=2, rng=rng)
    for net in (G, D):
        net.to(np, np.float64)
    images = rng.uniform(-1, 1, (3, 3, 12, 16))
    x = nn.Tensor(images, requires_grad=True)
    y = D(G(x))
    upstream = rng.standard_normal(y.shape)
    y.backward(upstream)
    for i in range(3):
        xi = nn.Tensor(images[i:i + 1], requires_grad=True)
        yi = D(G(xi))
        yi.backward(upstream[i:i + 1])
        np.testing.assert_allclose(y.data[i:i + 1], yi.data, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad[i:i + 1], xi.grad, rtol=1e-10, atol=1e-12)

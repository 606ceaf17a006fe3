"""The batched training step against the official call-by-call order.

``CycleGAN.generator_loss`` runs G_A([a, b]) and G_B([b, a]) where the official code runs
G_A(a), G_A(b), G_B(b) and G_B(a) apart, and ``discriminator_loss`` judges D([real, fake]) in
one call. The results must be the same sums in another rounding order: the same losses, the
same gradients and the same updated parameters, compared in float64 so that the tolerance
can be tight.
"""
import numpy as np
import pytest

import nn
from cyclegan import CycleGAN, gan_loss, set_requires_grad
from nn import cat

NETS = ("G_A", "G_B", "D_A", "D_B")


def tiny(seed):
    # pool_size 1: from the second step on the pools swap images at random, so the test also
    # covers fakes that are not the newest ones.
    return CycleGAN(ngf=2, ndf=2, n_blocks=1, n_layers_D=2, pool_size=1, seed=seed,
                    dtype=np.float64)


def official_step(model, real_A, real_B):
    """optimize_parameters of junyanz/pytorch-CycleGAN-and-pix2pix, one call per image set."""
    a, b = nn.Tensor(real_A), nn.Tensor(real_B)
    G_A, G_B, D_A, D_B = (getattr(model, name) for name in NETS)
    set_requires_grad([D_A, D_B], False)
    model.optimizer_G.zero_grad()
    fake_B = G_A(a)
    rec_A = G_B(fake_B)
    fake_A = G_B(b)
    rec_B = G_A(fake_A)
    losses = {"idt_A": nn.functional.l1_loss(G_A(b), b) * 10.0 * 0.5,
              "idt_B": nn.functional.l1_loss(G_B(a), a) * 10.0 * 0.5,
              "G_A": gan_loss(D_A(fake_B), True), "G_B": gan_loss(D_B(fake_A), True),
              "cycle_A": nn.functional.l1_loss(rec_A, a) * 10.0,
              "cycle_B": nn.functional.l1_loss(rec_B, b) * 10.0}
    loss_G = sum(losses.values(), nn.Tensor(np.zeros((), np.float64)))
    loss_G.backward()
    model.optimizer_G.step()
    set_requires_grad([D_A, D_B], True)
    model.optimizer_D.zero_grad()
    for name, D, real, pool, fake in (("D_A", D_A, b, model.fake_B_pool, fake_B),
                                      ("D_B", D_B, a, model.fake_A_pool, fake_A)):
        pooled = pool.query(fake).detach()
        losses[name] = (gan_loss(D(real), True) + gan_loss(D(pooled), False)) * 0.5
        losses[name].backward()
    model.optimizer_D.step()
    return {k: float(v.data) for k, v in losses.items()}


def biases_before_instance_norm(model):
    """Names of the conv biases an InstanceNorm2d follows. The norm subtracts each channel's
    mean, bias included, so their gradient is zero in exact arithmetic and rounding noise
    (~1e-17) in practice; Adam divides that noise by its own size and moves the bias by +-lr
    either way, so their updates are compared through their gradients instead."""
    names = set()
    for net in NETS:
        for prefix, module in getattr(model, net).named_modules():
            if not isinstance(module, nn.Sequential):
                continue
            children = list(module._modules.items())
            for (name, child), (_, after) in zip(children, children[1:]):
                if (isinstance(child, (nn.Conv2d, nn.ConvTranspose2d))
                        and isinstance(after, nn.InstanceNorm2d)):
                    names.add(f"{net}.{prefix}.{name}.bias")
    return names


def parameters(model):
    return {f"{net}.{name}": p for net in NETS
            for name, p in getattr(model, net).named_parameters()}


def test_batched_step_matches_the_official_call_by_call_order():
    batched, official = tiny(seed=3), tiny(seed=3)
    skip = biases_before_instance_norm(batched)
    # Per generator: the 7x7 conv, two downsamplings, two convs per block, two upsamplings;
    # per discriminator the two middle convs.
    assert len(skip) == 2 * (1 + 2 + 2 * 1 + 2) + 2 * 2
    rng = np.random.default_rng(4)
    for step in range(3):
        real_A, real_B = (rng.uniform(-1, 1, (2, 3, 16, 16)) for _ in range(2))
        got = batched.train_step(real_A, real_B)
        want = official_step(official, real_A, real_B)
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-12), (step, key)
        ours, theirs = parameters(batched), parameters(official)
        for name, p in theirs.items():
            q = ours[name]
            scale = np.abs(p.grad).max() + 1e-3
            np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=1e-11 * scale,
                                       err_msg=f"gradient of {name}, step {step}")
            if name not in skip:
                np.testing.assert_allclose(q.data, p.data, rtol=1e-12, atol=1e-13,
                                           err_msg=f"{name} after step {step}")


def test_cat_forward_and_gradient():
    rng = np.random.default_rng(7)
    a = nn.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    b = nn.Tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    np.testing.assert_array_equal(cat([a, b], axis=1).data,
                                  np.concatenate([a.data, b.data], axis=1))
    assert nn.gradcheck(lambda a, b: cat([a, b], axis=1), [a, b], seed=8)
    assert nn.gradcheck(lambda a, b: cat([b, a, b], axis=-2), [a, b], seed=9)

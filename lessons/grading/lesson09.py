"""Checks of lesson 9: the non-saturating GAN loss (value, stability, gradient), the optimal
least-squares discriminator (against the minimiser of the integrand), and the backward of
reflection padding (against autograd through nn.functional.pad, and loops from the
definition that also compute the classic mistakes)."""
import numpy as np

import nn
import nn.functional as F

from .core import (Wrong, check_array, check_gradients, check_loss_tensor, check_number,
                   name_the_mistake)

MODULE = "ex09_gan"
POINTS = {"9.1": 2, "9.2": 2, "9.3": 3}


def _softplus(s):
    return np.logaddexp(0.0, s)           # log(1 + exp(s)), computed without overflow


def check_non_saturating_loss(module):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 1, 3, 3)) * 2
    d_fake = nn.Tensor(scores, requires_grad=True)
    what = "non_saturating_generator_loss(d_fake) = mean(log(1 + exp(-d_fake)))"
    loss = module.non_saturating_generator_loss(d_fake)
    check_loss_tensor(what, loss, reaches="the generator")
    expected = _softplus(-scores).mean()
    name_the_mistake(loss.data.reshape(()), expected, [
        (-_softplus(scores).mean(), f"{what}: yours is mean(log(1 - sigmoid(d_fake))), the "
         "minimax loss that saturates; the non-saturating G minimises -log(sigmoid(d_fake))"),
        (-expected, f"{what}: the sign is flipped; G minimises -log(sigmoid(d_fake)), a "
         "positive number"),
        (_softplus(-scores).sum(), f"{what}: you summed over the scores; take their mean, so "
         "the loss does not grow with the image size"),
        (_softplus(scores).mean(), f"{what}: yours is log(1 + exp(+d_fake)), the loss of a "
         "fake that D should reject (D's loss on fakes), not G's")])
    check_number(what, loss.data, expected, atol=1e-10)
    check_gradients(module.non_saturating_generator_loss, [d_fake], ("d_fake",))
    extreme = np.array([-100.0, -30.0, 30.0, 100.0], dtype=np.float32)
    with np.errstate(over="ignore"):   # an overflow is reported below, in words
        value = module.non_saturating_generator_loss(nn.Tensor(extreme)).data
    if not np.all(np.isfinite(nn.to_host(value))):
        raise Wrong("non_saturating_generator_loss of float32 scores [-100, -30, 30, 100] is "
                    f"{float(nn.to_host(value).ravel()[0])}: exp(100) overflows float32; use "
                    "log(1 + exp(-s)) = max(-s, 0) + log(1 + exp(-|s|))")
    check_number("non_saturating_generator_loss of float32 scores [-100, -30, 30, 100]", value,
                 _softplus(-extreme.astype(np.float64)).mean(), rtol=1e-5)


def check_optimal_discriminator(module):
    rng = np.random.default_rng(1)
    p_real, p_fake = rng.uniform(0.1, 2.0, (3, 5)), rng.uniform(0.1, 2.0, (3, 5))
    for b, a in [(1.0, 0.0), (0.9, 0.2)]:
        what = (f"optimal_lsgan_discriminator(p_real, p_fake, real_label={b}, "
                f"fake_label={a})")
        got = module.optimal_lsgan_discriminator(p_real.copy(), p_fake.copy(), b, a)
        expected = (b * p_real + a * p_fake) / (p_real + p_fake)
        name_the_mistake(got, expected, [
            ((b * p_fake + a * p_real) / (p_real + p_fake), f"{what}: p_real and p_fake are "
             "swapped; where real images are denser, D* must lean towards the real label"),
            (b * p_real + a * p_fake, f"{what}: you did not divide by p_real + p_fake; set "
             "p_real (D - b) + p_fake (D - a) = 0 and solve for D"),
            (p_real / (p_real + p_fake), f"{what}: that is D* for the labels 1 and 0 only; with "
             "labels b and a, D* = (b p_real + a p_fake) / (p_real + p_fake)"),
            (np.full_like(p_real, (a + b) / 2), f"{what}: (a + b) / 2 is D* only where p_fake "
             "equals p_real; elsewhere it depends on both densities")])
        check_array(what, got, expected, atol=1e-12)


def _mirror(k, n):
    return -k if k < 0 else 2 * (n - 1) - k if k >= n else k


def _mirror_repeating_the_edge(k, n):
    return -k - 1 if k < 0 else 2 * n - 1 - k if k >= n else k


def _fold(grad, p, mirror=_mirror, assign=False, corners=True):
    """Loops from the definition: every padded position's gradient goes to the pixel it was
    copied from. assign, corners and mirror let the same loop compute the classic mistakes."""
    n, c, hp, wp = grad.shape
    h, w = hp - 2 * p, wp - 2 * p
    out = np.zeros((n, c, h, w))
    for r in range(hp):
        for q in range(wp):
            in_rows, in_cols = p <= r < p + h, p <= q < p + w
            if not corners and not (in_rows or in_cols):
                continue
            i, j = mirror(r - p, h), mirror(q - p, w)
            if assign:
                out[:, :, i, j] = grad[:, :, r, q]
            else:
                out[:, :, i, j] += grad[:, :, r, q]
    return out


def check_reflect_pad_backward(module):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 4))
    for p in (1, 2, 3, 0):
        t = nn.Tensor(x, requires_grad=True)
        padded = F.pad(t, (p, p, p, p), mode="reflect")
        g = rng.standard_normal(padded.shape)
        (padded * nn.Tensor(g)).sum().backward()
        what = f"reflect_pad_backward(grad of shape {g.shape}, p={p})"
        got = module.reflect_pad_backward(g.copy(), p)
        name_the_mistake(got, t.grad, [
            (g[:, :, p:p + 5, p:p + 4], f"{what} is only the centre of grad: the border's "
             "gradients belong to the pixels they were mirrored from, add them there"),
            (_fold(g, p, assign=True), f"{what}: a pixel used several times kept only one "
             "gradient; that is = where += belongs"),
            (_fold(g, p, _mirror_repeating_the_edge), f"{what} folds the border onto the edge "
             "pixel itself, as NumPy's 'symmetric' padding would; 'reflect' does not repeat the "
             "edge pixel, so the fold lands one pixel further in"),
            (_fold(g, p, corners=False), f"{what} loses the corners of grad: after folding the "
             "rows, fold the columns of the folded result, corners included")])
        check_array(what, got, t.grad, atol=1e-12)
        check_array(what + " against loops from the definition", got, _fold(g, p), atol=1e-12)


CHECKS = {"9.1": check_non_saturating_loss, "9.2": check_optimal_discriminator,
          "9.3": check_reflect_pad_backward}

"""Checks of lesson 9: the non-saturating GAN loss (value, stability, gradient), the optimal
least-squares discriminator (against the minimiser of the integrand), and the backward of
reflection padding (against autograd through nn.functional.pad, and loops from the
definition that also compute the classic mistakes), and both players' losses (their values,
and the gradients each one sends to G and to D: D's loss must stop at the detached fakes,
G's must reach G)."""
import numpy as np

import nn
import nn.functional as F

from .core import (Unexplained, Wrong, check_array, check_gradients, check_loss_tensor,
                   check_number, check_tuple, name_the_mistake)
from .ladder import Ladder, device_rung, put, rung, with_ladders

MODULE = "ex09_gan"
POINTS = {"9.1": 2, "9.2": 2, "9.3": 3, "9.4": 3}


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


# --- 9.4 -------------------------------------------------------------------------------------

def _players(batch=4, last_bias=0.0):
    """A small G (noise (N, 2) -> (N, 1)) and D ((N, 1) -> (N, 1) scores), in float64, with the
    noise and the real samples; last_bias shifts every score of D (to reach large scores)."""
    rng = np.random.default_rng(4)
    G = nn.Sequential(nn.Linear(2, 4, rng=rng), nn.Tanh(), nn.Linear(4, 1, rng=rng))
    D = nn.Sequential(nn.Linear(1, 4, rng=rng), nn.Tanh(), nn.Linear(4, 1, rng=rng))
    for p in G.parameters() + D.parameters():
        p.data = p.data.astype(np.float64)
    D[2].bias.data = D[2].bias.data + last_bias
    z = nn.Tensor(rng.standard_normal((batch, 2)))
    real = nn.Tensor(rng.normal(3.0, 0.5, (batch, 1)))
    return G, D, z, real


def _reference_losses(G, D, z, real, real_sign=1.0, fake_sign=-1.0, detach=True):
    """softplus(-D(real)) and softplus(D(fake)) means (signs and detach varied for mistakes)."""
    def softplus(s):
        return F.relu(s) + (1 + (-s.abs()).exp()).log()
    fake = G(z)
    loss_G = softplus(-D(fake)).mean()
    loss_D = softplus(-real_sign * D(real)).mean() + softplus(
        -fake_sign * D(fake.detach() if detach else fake)).mean()
    return loss_G, loss_D


def _grads(net):
    return np.concatenate([np.zeros(p.data.size) if p.grad is None else
                           nn.to_host(p.grad).ravel() for p in net.parameters()])


def _zero(*nets):
    for net in nets:
        for p in net.parameters():
            p.grad = None


def _player_results(losses_of, batch=4, last_bias=0.0):
    """(loss_G, loss_D, the gradient loss_G sends to G, the one loss_D sends to D, the one
    loss_D sends to G) for the losses computed by losses_of(G, D, z, real)."""
    G, D, z, real = _players(batch, last_bias)
    loss_G, loss_D = losses_of(G, D, z, real)
    values = (float(nn.to_host(loss_G.data).ravel()[0]), float(nn.to_host(loss_D.data).ravel()[0]))
    _zero(G, D)
    loss_D.backward()
    d_from_d, g_from_d = _grads(D), _grads(G)
    _zero(G, D)
    loss_G.backward()
    return values + (_grads(G), d_from_d, g_from_d)


def check_gan_losses(module):
    G, D, z, real = _players()
    result = module.gan_losses(G, D, z, real)
    check_tuple(result, 2, "gan_losses", of="Tensors (loss_G, loss_D)")
    loss_G, loss_D = result
    check_loss_tensor("gan_losses: loss_G", loss_G, reaches="G")
    check_loss_tensor("gan_losses: loss_D", loss_D, reaches="D")
    with nn.no_grad():
        right_G, right_D = (t.item() for t in _reference_losses(G, D, z, real))
        swapped = _reference_losses(G, D, z, real, real_sign=-1.0, fake_sign=1.0)[1].item()
    check_number("gan_losses: loss_G, G's non-saturating loss", loss_G.data, right_G, atol=1e-10)
    check_number("gan_losses: loss_D, D's cross-entropy on real and fake samples", loss_D.data,
                 right_D, atol=1e-10, mistakes=[
        (swapped, f"gan_losses: loss_D = {loss_D.item():.6g} wants real samples called fake "
         "and fakes called real: D's loss is small when D gives real samples high scores and "
         "fakes low ones"),
        (right_D / 2, f"gan_losses: loss_D = {loss_D.item():.6g} is halved; here D's loss is "
         "the sum of the two means (CycleGAN halves its discriminators' loss, the original GAN "
         "does not)")])
    _zero(G, D)
    loss_D.backward()
    if np.abs(_grads(G)).max() > 0:
        raise Wrong("gan_losses: loss_D's backward reaches G's parameters: the fakes are not "
                    "detached in D's loss, so D's update would also push G (towards fakes that "
                    "are easier to reject). Judge fake.detach() in loss_D")
    got = _player_results(module.gan_losses)
    expected = _player_results(_reference_losses)
    if np.abs(got[2]).max() == 0:
        raise Wrong("gan_losses: loss_G's backward does not reach G's parameters: the fakes "
                    "are detached in G's loss too, so G never learns. Only D's loss detaches; "
                    "G's loss must flow back through D into G")
    for k, what in ((2, "the gradient loss_G sends to G's parameters"),
                    (3, "the gradient loss_D sends to D's parameters")):
        check_array(f"gan_losses: {what}", got[k], expected[k], atol=1e-10, rtol=1e-7)


# --- the ladders ------------------------------------------------------------------------------

def _loss_and_gradient(module, case):
    d = nn.Tensor(put(case["scores"], case), requires_grad=True)
    loss = module.non_saturating_generator_loss(d)
    loss.backward()
    return loss.data.reshape(()), d.grad


def _loss_and_gradient_expected(case):
    s = np.asarray(case["scores"], dtype=np.float64)
    return _softplus(-s).mean(), -1 / (1 + np.exp(s)) / s.size


SCORES = np.array([[[[0.5, -1.5, 2.0]], [[1.0, -0.3, 0.7]]]])
NON_SATURATING_LADDER = Ladder(
    "non_saturating_generator_loss", [
        rung("for one score", scores=[0.5]),
        rung("for several scores", "the loss is the mean over all the scores, whatever their "
             "shape", scores=SCORES),
        device_rung(scores=SCORES)],
    got=_loss_and_gradient, expected=_loss_and_gradient_expected,
    names=("the loss's value", "the gradient with respect to d_fake"),
    show=lambda case: f"d_fake = {case['scores']}", atol=1e-10)

DENSITIES = (np.array([0.5, 1.5, 0.2]), np.array([1.0, 0.5, 0.8]))
OPTIMAL_LADDER = Ladder(
    "optimal_lsgan_discriminator", [
        rung("with labels 1 and 0", labels=(1.0, 0.0)),
        rung("with labels b = 0.9 and a = 0.2", "both labels weigh in: each density pulls D* "
             "towards its own label", labels=(0.9, 0.2)),
        device_rung(labels=(0.9, 0.2))],
    got=lambda module, case: module.optimal_lsgan_discriminator(
        put(DENSITIES[0], case), put(DENSITIES[1], case), *case["labels"]),
    expected=lambda case: (case["labels"][0] * DENSITIES[0] + case["labels"][1] * DENSITIES[1])
    / (DENSITIES[0] + DENSITIES[1]),
    show=lambda case: f"p_real = {DENSITIES[0]}, p_fake = {DENSITIES[1]}, real_label, "
                      f"fake_label = {case['labels']}", atol=1e-12)


def _padded_gradient(case):
    n, c, h, w = case["shape"]
    p = case["p"]
    return np.arange(1.0, n * c * (h + 2 * p) * (w + 2 * p) + 1).reshape(n, c, h + 2 * p,
                                                                         w + 2 * p)


PAD_LADDER = Ladder(
    "reflect_pad_backward", [
        rung("for p = 1 on one 3x3 image", shape=(1, 1, 3, 3), p=1),
        rung("with p = 2", "a border strip of p rows folds back onto p rows, reversed: row r "
             "of the strip onto the row r + 1 pixels in from the edge", shape=(1, 1, 4, 4), p=2),
        rung("for a non-square image, 5x4", "rows and columns have their own sizes: H for the "
             "rows, W for the columns", shape=(1, 1, 5, 4), p=2),
        rung("for two images of three channels", "every image and channel folds its own "
             "border", shape=(2, 3, 5, 4), p=2),
        device_rung(shape=(2, 3, 5, 4), p=2)],
    got=lambda module, case: module.reflect_pad_backward(put(_padded_gradient(case), case),
                                                         case["p"]),
    expected=lambda case: _fold(_padded_gradient(case), case["p"]),
    show=lambda case: f"grad = 1, 2, 3, ... in shape {_padded_gradient(case).shape}, "
                      f"p = {case['p']}", atol=1e-12)

PLAYERS_LADDER = Ladder(
    "gan_losses", [
        rung("for a batch of one", batch=1, bias=0.0),
        rung("for a batch of three", "each of the losses' terms is a mean over the batch",
             batch=3, bias=0.0),
        rung("with scores near 800", "exp(800) overflows: write each softplus as exercise 9.1 "
             "does, so that no exp of a large number is taken", batch=3, bias=800.0)],
    got=lambda module, case: _player_results(module.gan_losses, case["batch"], case["bias"]),
    expected=lambda case: _player_results(_reference_losses, case["batch"], case["bias"]),
    names=("loss_G's value", "loss_D's value", "the gradient loss_G sends to G's parameters",
           "the gradient loss_D sends to D's parameters",
           "the gradient loss_D sends to G's parameters"), atol=1e-10, rtol=1e-7,
    show=lambda case: f"a batch of {case['batch']} with D's scores shifted by {case['bias']}")

CHECKS = with_ladders(
    {"9.1": check_non_saturating_loss, "9.2": check_optimal_discriminator,
     "9.3": check_reflect_pad_backward, "9.4": check_gan_losses},
    {"9.1": NON_SATURATING_LADDER, "9.2": OPTIMAL_LADDER, "9.3": PAD_LADDER,
     "9.4": PLAYERS_LADDER})

"""Exercises of lesson 9: a GAN loss the lesson only mentions, the best discriminator of the
least-squares game, and the backward pass of reflection padding.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 9.1    (and 9.2, 9.3, 9.4)
"""
import nn
import nn.functional as F


def non_saturating_generator_loss(d_fake):
    """Exercise 9.1: the generator loss of Goodfellow et al.'s GAN, in its non-saturating form.

    d_fake: Tensor of any shape, D's raw scores (logits) of generated images; D's probability
    that an image is real is sigmoid(score) -> a one-element Tensor, L_G, the mean over the
    scores of -log(sigmoid(score)).

    The minimax game would have G *minimise* mean(log(1 - sigmoid(d_fake))), whose gradient
    vanishes exactly when D rejects the fakes confidently (scores very negative), at the start
    of training. Maximising log(sigmoid(d_fake)) instead gives G a strong gradient there.
    Scores reach +-100: write it so that no exp overflows. Write -log(sigmoid(s)) with exp
    and log first; then, as lesson 4's cross-entropy takes out each row's largest exponent,
    take out of the log the part that grows without bound, so that the exp left inside only
    ever sees an exponent <= 0, for either sign of s.
    Hint: Tensor operations only (``F.relu``, ``.abs()``, ``.exp()``, ``.log()``, ``.mean()``),
    so that gradients reach G.
    """
    softplus = F.relu(-d_fake) + (1 + (-d_fake.abs()).exp()).log()
    return softplus.mean()


def optimal_lsgan_discriminator(p_real, p_fake, real_label=1.0, fake_label=0.0):
    """Exercise 9.2: the best discriminator of the least-squares game, at every point x.

    p_real, p_fake: arrays of one shape, the densities of real and generated images at some
    points x (non-negative, not both 0); real_label, fake_label: the targets b and a
    -> an array of that shape, D*(x):

        D minimises  1/2 E_real[(D(x) - b)^2] + 1/2 E_fake[(D(x) - a)^2]
                   = integral of 1/2 (p_real(x) (D(x) - b)^2 + p_fake(x) (D(x) - a)^2) dx

    Minimise the integrand for each x separately (it is a parabola in the number D(x)).
    Check your formula against the lesson: when G is perfect (p_fake = p_real), D* must be
    (a + b) / 2, the 0.5 that both losses settle around.
    Hint: set the derivative with respect to D(x) to zero and solve.
    """
    # d/dD: p_real (D - b) + p_fake (D - a) = 0
    return (real_label * p_real + fake_label * p_fake) / (p_real + p_fake)


def reflect_pad_backward(grad, p):
    """Exercise 9.3: the backward pass of reflection padding.

    grad: array (N, C, H + 2p, W + 2p), the gradient of the loss with respect to the padded
    image; p: int, 0 <= p < H and p < W -> array (N, C, H, W), the gradient with respect to the
    image before padding.

    Forward copied pixel x[i, j] to every padded position that mirrors onto it (lesson 9's
    ``mirror``): its centre position, and up to three mirror images near an edge or corner. A
    pixel used several times receives the sum of their gradients (lesson 1).
    Hint: start from the centre block, then fold each border strip back onto the rows (and
    columns) it mirrors, with ``+=``; reverse a strip with a step of -1. Fold the rows first,
    then the columns of the result, and the corners take care of themselves.
    """
    h, w = grad.shape[2] - 2 * p, grad.shape[3] - 2 * p
    top, bottom = grad[:, :, :p], grad[:, :, p + h:]
    rows = grad[:, :, p:p + h].copy()                    # (N, C, H, W + 2p)
    rows[:, :, 1:p + 1] += top[:, :, ::-1]               # padded row r came from row p - r
    rows[:, :, h - 1 - p:h - 1] += bottom[:, :, ::-1]    # row p + h + j came from h - 2 - j
    left, right = rows[..., :p], rows[..., p + w:]
    out = rows[..., p:p + w].copy()                      # (N, C, H, W)
    out[..., 1:p + 1] += left[..., ::-1]
    out[..., w - 1 - p:w - 1] += right[..., ::-1]
    return out


def gan_losses(G, D, z, real):
    """Exercise 9.4: both players' losses of the original GAN, from one batch.

    G: an nn.Module, noise (N, Z) -> samples (N, 1); D: an nn.Module, samples (N, 1) -> raw
    scores (N, 1), logits, D's probability that a sample is real being sigmoid(score);
    z: Tensor (N, Z), the noise; real: Tensor (N, 1), real samples -> (loss_G, loss_D), two
    one-element Tensors:

        loss_G: the non-saturating generator loss of exercise 9.1, on D's scores of the fakes;
        loss_D: the discriminator's cross-entropy, the sum of two means over the batch: one
                that is small when D calls the real samples real, one that is small when D
                calls the fakes fake.

    Make the fakes once, G(z). Each loss's backward will fill some parameters' gradients:
    which of the two must reach G, and which must stop at the fakes (lesson 9, "One step of
    each player")? Scores may be in the hundreds: no exp may overflow.
    Hint: the loss of a fake that D should reject is exercise 9.1's loss of the negated score.
    """
    fake = G(z)
    loss_G = non_saturating_generator_loss(D(fake))             # reaches G through D
    loss_D = (non_saturating_generator_loss(D(real))            # real samples called real
              + non_saturating_generator_loss(-D(fake.detach())))   # fakes called fake
    return loss_G, loss_D

"""Classic wrong answers to the exercises of lesson 9."""
import numpy as np

import nn
import nn.functional as F

from lessons.solutions import ex09_gan as solution

from . import Mistake, variant


def minimax_loss(d_fake):
    # log(1 - sigmoid(s)) = -log(1 + exp(s))
    return -(F.relu(d_fake) + (1 + (-d_fake.abs()).exp()).log()).mean()


def sign_flipped(d_fake):
    return -solution.non_saturating_generator_loss(d_fake)


def summed(d_fake):
    return (F.relu(-d_fake) + (1 + (-d_fake.abs()).exp()).log()).sum()


def overflowing(d_fake):
    return (1 + (-d_fake).exp()).log().mean()


def cut_by_data(d_fake):
    return nn.Tensor(solution.non_saturating_generator_loss(d_fake).data)


def densities_swapped(p_real, p_fake, real_label=1.0, fake_label=0.0):
    return solution.optimal_lsgan_discriminator(p_fake, p_real, real_label, fake_label)


def not_normalised(p_real, p_fake, real_label=1.0, fake_label=0.0):
    return real_label * p_real + fake_label * p_fake


def labels_ignored(p_real, p_fake, real_label=1.0, fake_label=0.0):
    return p_real / (p_real + p_fake)


def centre_only(grad, p):
    h, w = grad.shape[2] - 2 * p, grad.shape[3] - 2 * p
    return grad[:, :, p:p + h, p:p + w].copy()


def assigns(grad, p):
    h, w = grad.shape[2] - 2 * p, grad.shape[3] - 2 * p
    out = np.zeros((grad.shape[0], grad.shape[1], h, w))
    for r in range(h + 2 * p):
        for q in range(w + 2 * p):
            i = abs(r - p) if r - p < h else 2 * (h - 1) - (r - p)
            j = abs(q - p) if q - p < w else 2 * (w - 1) - (q - p)
            out[:, :, i, j] = grad[:, :, r, q]
    return out


def repeats_the_edge(grad, p):
    h, w = grad.shape[2] - 2 * p, grad.shape[3] - 2 * p
    rows = grad[:, :, p:p + h].copy()
    rows[:, :, :p] += grad[:, :, p - 1::-1] if p else 0
    rows[:, :, h - p:] += grad[:, :, p + h:][:, :, ::-1]
    out = rows[..., p:p + w].copy()
    out[..., :p] += rows[..., p - 1::-1] if p else 0
    out[..., w - p:] += rows[..., p + w:][..., ::-1]
    return out


def loses_the_corners(grad, p):
    h, w = grad.shape[2] - 2 * p, grad.shape[3] - 2 * p
    out = grad[:, :, p:p + h, p:p + w].copy()
    out[:, :, 1:p + 1] += grad[:, :, :p, p:p + w][:, :, ::-1]
    out[:, :, h - 1 - p:h - 1] += grad[:, :, p + h:, p:p + w][:, :, ::-1]
    out[..., 1:p + 1] += grad[:, :, p:p + h, :p][..., ::-1]
    out[..., w - 1 - p:w - 1] += grad[:, :, p:p + h, p + w:][..., ::-1]
    return out


# --- 9.4 gan_losses --------------------------------------------------------------------------

def _losses(detach_in_D=True, detach_in_G=False, real_sign=1.0, scale_D=1.0):
    def gan_losses(G, D, z, real):
        fake = G(z)
        loss_G = solution.non_saturating_generator_loss(D(fake.detach() if detach_in_G else fake))
        loss_D = (solution.non_saturating_generator_loss(real_sign * D(real))
                  + solution.non_saturating_generator_loss(
                      -real_sign * D(fake.detach() if detach_in_D else fake))) * scale_D
        return loss_G, loss_D
    return gan_losses


MISTAKES = [
    Mistake("9.1", "the minimax loss",
            variant(solution, non_saturating_generator_loss=minimax_loss),
            "the minimax loss that saturates"),
    Mistake("9.1", "the sign flipped",
            variant(solution, non_saturating_generator_loss=sign_flipped),
            "the sign is flipped"),
    Mistake("9.1", "a sum instead of a mean",
            variant(solution, non_saturating_generator_loss=summed),
            "you summed over the scores"),
    Mistake("9.1", "exp overflows",
            variant(solution, non_saturating_generator_loss=overflowing),
            "exp(100) overflows float32"),
    Mistake("9.1", "the graph cut by .data",
            variant(solution, non_saturating_generator_loss=cut_by_data),
            "is cut from the graph"),
    Mistake("9.2", "p_real and p_fake swapped",
            variant(solution, optimal_lsgan_discriminator=densities_swapped),
            "p_real and p_fake are swapped"),
    Mistake("9.2", "not divided by p_real + p_fake",
            variant(solution, optimal_lsgan_discriminator=not_normalised),
            "you did not divide by p_real + p_fake"),
    Mistake("9.2", "the labels ignored",
            variant(solution, optimal_lsgan_discriminator=labels_ignored),
            "that is D* for the labels 1 and 0 only"),
    Mistake("9.3", "only the centre",
            variant(solution, reflect_pad_backward=centre_only),
            "is only the centre of grad"),
    Mistake("9.3", "= where += belongs",
            variant(solution, reflect_pad_backward=assigns),
            "that is = where += belongs"),
    Mistake("9.3", "the edge pixel repeated",
            variant(solution, reflect_pad_backward=repeats_the_edge),
            "as NumPy's 'symmetric' padding would"),
    Mistake("9.3", "the corners lost",
            variant(solution, reflect_pad_backward=loses_the_corners),
            "loses the corners of grad"),
    Mistake("9.4", "the fakes not detached in D's loss",
            variant(solution, gan_losses=_losses(detach_in_D=False)),
            "the fakes are not detached in D's loss"),
    Mistake("9.4", "the fakes detached in G's loss too",
            variant(solution, gan_losses=_losses(detach_in_G=True)),
            "the fakes are detached in G's loss too"),
    Mistake("9.4", "D's targets swapped",
            variant(solution, gan_losses=_losses(real_sign=-1.0)),
            "wants real samples called fake"),
    Mistake("9.4", "D's loss halved",
            variant(solution, gan_losses=_losses(scale_D=0.5)),
            "is halved"),
]

"""Exercises of lesson 9: the least-squares GAN losses, and reflection padding.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 9.1    (and 9.2)
"""
import nn
import nn.functional as F


def lsgan_discriminator_loss(d_real, d_fake):
    """Exercise 9.1, part 1: the LSGAN loss of the discriminator (Mao et al. 2017).

    d_real: Tensor, D's scores of real images, any shape (a PatchGAN gives (N, 1, 30, 30));
    d_fake: Tensor, D's scores of generated images, any shape -> a one-element Tensor:

        L_D = 0.5 * (mean((d_real - 1)^2) + mean(d_fake^2))

    D learns to score real images 1 and fakes 0; the 0.5 slows D down relative to G.
    Hint: build it from Tensor operations (``F.mse_loss`` takes a number as the target) so
    that backward reaches D's parameters; a NumPy number would cut the graph.
    """
    raise NotImplementedError("Exercise 9.1")


def lsgan_generator_loss(d_fake):
    """Exercise 9.1, part 2: the LSGAN loss of the generator.

    d_fake: Tensor, D's scores of generated images, any shape -> a one-element Tensor:

        L_G = mean((d_fake - 1)^2)

    G wins when D scores its images as real (1). There is no 0.5 here.
    Hint: the same building block as part 1, with the other target.
    """
    raise NotImplementedError("Exercise 9.1")


def reflect_pad(x, p):
    """Exercise 9.2: reflection padding, the forward pass (what nn.ReflectionPad2d computes).

    x: (N, C, H, W), p: int with 0 <= p < min(H, W) -> (N, C, H + 2p, W + 2p). The border
    mirrors the image about its edge pixel, without repeating it: a row [a b c d] padded by 2
    becomes [c b a b c d c b]. With r(k, n) = -k for k < 0, 2(n - 1) - k for k >= n, k otherwise:

        out[n, c, i, j] = x[n, c, r(i - p, H), r(j - p, W)]

    The generator pads this way before its 7x7 convolutions, so that the image border does
    not look like a black frame to the kernel.
    Hint: fill the centre, then the left and right columns from x (``x[..., 1:p + 1]``
    reversed with ``[..., ::-1]``), then the top and bottom rows from the padded result
    (which fills the corners too).
    """
    raise NotImplementedError("Exercise 9.2")

"""Exercises of lesson 10: CycleGAN's whole generator objective, its image pool, and the size of
its generator.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 10.1    (and 10.2, 10.3, 10.4)
"""
import nn.functional as F


def generator_objective(G_A, G_B, D_A, D_B, real_A, real_B, lambda_A=10.0, lambda_B=10.0,
                        lambda_identity=0.5):
    """Exercise 10.1: the generators' whole objective L_G, as one Tensor.

    G_A: A -> B and G_B: B -> A (the paper's G and F), D_A judging domain B and D_B judging
    domain A (the paper's D_Y and D_X): nn.Modules; real_A, real_B: Tensors (N, C, H, W) of the
    two domains (unpaired); lambda_A, lambda_B, lambda_identity: floats -> a one-element Tensor.

    L_G is the sum of the three kinds of terms of lesson 10's "The objective": the adversarial
    terms (each generator's fakes, judged by the discriminator of the fakes' domain, as LSGAN
    judges them), the cycle terms (each domain's way there and back), and the identity terms
    (each generator given an image already in its output domain). Read there which distance
    each term uses and how lambda_A, lambda_B and lambda_identity weight them.
    Hint: ``F.mse_loss(prediction, target)`` and ``F.l1_loss(a, b)``; keep everything a
    Tensor, so that backward reaches both generators.
    """
    fake_B, fake_A = G_A(real_A), G_B(real_B)
    adversarial = F.mse_loss(D_A(fake_B), 1.0) + F.mse_loss(D_B(fake_A), 1.0)
    cycle = (F.l1_loss(G_B(fake_B), real_A) * lambda_A
             + F.l1_loss(G_A(fake_A), real_B) * lambda_B)
    identity = (F.l1_loss(G_A(real_B), real_B) * (lambda_B * lambda_identity)
                + F.l1_loss(G_B(real_A), real_A) * (lambda_A * lambda_identity))
    return adversarial + cycle + identity


def pool_query(pool, image, pool_size, rng):
    """Exercise 10.2: the image pool's rule (Shrivastava et al. 2017), for one image.

    pool: a list of the stored images (changed in place); image: an array (C, H, W), a newly
    generated image; pool_size: int >= 0; rng: a ``np.random.Generator``
    -> the array (C, H, W) that the discriminator is shown instead of ``image``.

    Lesson 10's "The image pool" gives the rule: a pool of size 0 is no pool; a pool not yet
    full keeps each new image and shows it; a full pool, with probability one half, swaps the
    new image for a stored one chosen at random and shows the stored one, and otherwise shows
    the new image and stays as it is.
    The grader replays the same seed, so draw from rng in this order and no more: once the
    pool is full, one ``rng.random()`` per query (a swap when it is above 0.5), and for a
    swap one ``rng.integers(pool_size)`` for the position.
    Hint: keep the old image in a variable before you overwrite its place in the pool.
    """
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() > 0.5:
        i = int(rng.integers(pool_size))
        old, pool[i] = pool[i], image
        return old
    return image


def generator_parameter_count(ngf, n_blocks, input_nc=3, output_nc=3):
    """Exercise 10.3: how many numbers the ResNet generator learns, from its architecture.

    ngf, n_blocks, input_nc, output_nc: ints -> int, the total size of all its parameters.

    The layers, in order (lesson 10's diagram): a 7x7 convolution input_nc -> ngf; two 3x3
    stride-2 convolutions ngf -> 2 ngf -> 4 ngf; n_blocks residual blocks at 4 ngf channels;
    two 3x3 transposed convolutions 4 ngf -> 2 ngf -> ngf; a 7x7 convolution ngf -> output_nc.
    A convolution from C_in to C_out channels with a K x K kernel has a weight
    (C_out, C_in, K, K) and a bias (C_out,); a transposed one a weight (C_in, C_out, K, K) and a
    bias (C_out,). Instance norm here has no parameters of its own (affine=False), and padding
    and activations have none. The official model (ngf 64, 9 blocks) has 11,378,179.
    Hint: write a small function for one convolution's count and add up the layers.
    """
    def conv(c_in, c_out, k):
        return c_out * c_in * k * k + c_out

    stem = conv(input_nc, ngf, 7) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
    blocks = n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3)
    head = conv(4 * ngf, 2 * ngf, 3) + conv(2 * ngf, ngf, 3) + conv(ngf, output_nc, 7)
    return stem + blocks + head


def patchgan_receptive_field(n_layers=3):
    """Exercise 10.4: how many pixels wide is the window one PatchGAN score sees?

    n_layers: int >= 1, the depth of ``NLayerDiscriminator(n_layers=...)`` in cyclegan.py ->
    int, the width (and height) in pixels of the input window that one output score is
    computed from, through the convolutions alone.

    The lesson worked it out for the official discriminator (n_layers = 3) by walking from one
    score back to the image, layer by layer. Do it for any depth, from the architecture alone
    (its docstring lists the layers: which are stride 2, which stride 1, and their kernel),
    without building the network.
    Hint: the lesson's walk back needs only each layer's kernel and stride; write down that
    list of layers for n_layers = 1 and check your answer by hand.
    """
    layers = [(4, 2)] * n_layers + [(4, 1), (4, 1)]    # (kernel, stride), image to score
    field = 1                                           # one score
    for kernel, stride in reversed(layers):             # walk back towards the image
        field = (field - 1) * stride + kernel
    return field

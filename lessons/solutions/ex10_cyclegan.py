"""Exercises of lesson 10: CycleGAN's cycle-consistency and identity losses, and its image pool.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 10.1    (and 10.2)
"""
import nn.functional as F


def cycle_loss(real_a, rec_a, real_b, rec_b, lambda_cycle=10.0):
    """Exercise 10.1, part 1: the cycle-consistency loss.

    real_a, rec_a: Tensors (N, C, H, W), an image of domain A and its round trip
    G_BA(G_AB(real_a)); real_b, rec_b likewise for domain B -> a one-element Tensor:

        L_cyc = lambda_cycle * (mean(|rec_a - real_a|) + mean(|rec_b - real_b|))

    An L1 distance (not a squared one): it keeps the round trip sharp.
    Hint: ``F.l1_loss``; a Tensor times a Python number is a Tensor.
    """
    return (F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b)) * lambda_cycle


def identity_loss(real_a, same_a, real_b, same_b, lambda_cycle=10.0, lambda_identity=0.5):
    """Exercise 10.1, part 2: the identity loss.

    real_a, same_a: Tensors (N, C, H, W), an image of domain A and G_BA(real_a), the
    generator *into* A applied to an image already in A (it should change nothing); real_b,
    same_b likewise with G_AB -> a one-element Tensor:

        L_idt = lambda_cycle * lambda_identity * (mean(|same_a - real_a|) + mean(|same_b - real_b|))

    It keeps the colours of an image when there is nothing to translate.
    Hint: the weight is a product of the two lambdas, as in the official implementation.
    """
    weight = lambda_cycle * lambda_identity
    return (F.l1_loss(same_a, real_a) + F.l1_loss(same_b, real_b)) * weight


def pool_query(pool, image, pool_size, rng):
    """Exercise 10.2: the image pool's rule (Shrivastava et al. 2017), for one image.

    pool: a list of the stored images (changed in place); image: an array (C, H, W), a newly
    generated image; pool_size: int >= 0; rng: a ``np.random.Generator``
    -> the array (C, H, W) that the discriminator is shown instead of ``image``:

        pool_size == 0:           return image (no pool)
        len(pool) < pool_size:    append image to pool, return image
        otherwise:                u = rng.random(); if u > 0.5: i = int(rng.integers(pool_size)),
                                  return the old pool[i] and store image at pool[i] in its place;
                                  else return image (the pool is unchanged)

    Draw from rng exactly as written (one ``random()`` per query once the pool is full, one
    ``integers(pool_size)`` per swap): the grader replays the same seed.
    Hint: keep the old image in a variable before you overwrite pool[i].
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

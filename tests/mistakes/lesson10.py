"""Classic wrong answers to the exercises of lesson 10."""
import nn.functional as F

from lessons.solutions import ex10_cyclegan as solution

from . import Mistake, variant


def cycle_loss_squared(real_a, rec_a, real_b, rec_b, lambda_cycle=10.0):
    return (F.mse_loss(rec_a, real_a) + F.mse_loss(rec_b, real_b)) * lambda_cycle


def identity_loss_without_lambda_identity(real_a, same_a, real_b, same_b, lambda_cycle=10.0,
                                          lambda_identity=0.5):
    return (F.l1_loss(same_a, real_a) + F.l1_loss(same_b, real_b)) * lambda_cycle


def pool_swaps_on_the_other_half(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() < 0.5:
        i = int(rng.integers(pool_size))
        old, pool[i] = pool[i], image
        return old
    return image


def pool_forgets_to_store(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() > 0.5:
        return pool[int(rng.integers(pool_size))]
    return image


MISTAKES = [
    Mistake('10.1', 'cycle_loss_squared', variant(solution, cycle_loss=cycle_loss_squared),
            "cycle_loss(real_a, rec_a, real_b, rec_b"),
    Mistake('10.1', 'identity_loss_without_lambda_identity', variant(solution, identity_loss=identity_loss_without_lambda_identity),
            "identity_loss(real_a, same_a, real_b, same_b, lambda_cycle=10.0, lambda_identity=0.5)"),
    Mistake('10.2', 'pool_swaps_on_the_other_half', variant(solution, pool_query=pool_swaps_on_the_other_half),
            "because the pool was full and "
     "rng.random() gave"),
    Mistake('10.2', 'pool_forgets_to_store', variant(solution, pool_query=pool_forgets_to_store),
            "afterwards the pool holds images"),
]

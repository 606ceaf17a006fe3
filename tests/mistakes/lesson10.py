"""Classic wrong answers to the exercises of lesson 10."""
import functools

import nn.functional as F

from lessons.solutions import ex10_cyclegan as solution

from . import Mistake, variant


def _objective(G_A, G_B, D_A, D_B, a, b, lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, *,
               judges_swapped=False, identity_on_own_domain=False, identity_weights=None,
               distance=F.l1_loss):
    """The objective with one part written wrong, as the mistakes below choose."""
    fake_B, fake_A = G_A(a), G_B(b)
    judge_B, judge_A = (D_B, D_A) if judges_swapped else (D_A, D_B)
    adversarial = F.mse_loss(judge_B(fake_B), 1.0) + F.mse_loss(judge_A(fake_A), 1.0)
    cycle = distance(G_B(fake_B), a) * lambda_A + distance(G_A(fake_A), b) * lambda_B
    x_A, x_B = (a, b) if identity_on_own_domain else (b, a)
    w_A, w_B = identity_weights(lambda_A, lambda_B) if identity_weights else (lambda_B, lambda_A)
    identity = (F.l1_loss(G_A(x_A), x_A) * (w_A * lambda_identity)
                + F.l1_loss(G_B(x_B), x_B) * (w_B * lambda_identity))
    return adversarial + cycle + identity


judges_swapped = functools.partial(_objective, judges_swapped=True)
identity_on_own_domain = functools.partial(_objective, identity_on_own_domain=True)
identity_without_lambda = functools.partial(_objective, identity_weights=lambda a, b: (1.0, 1.0))
identity_lambdas_swapped = functools.partial(_objective, identity_weights=lambda a, b: (a, b))
squared_cycle = functools.partial(_objective, distance=F.mse_loss)


class _CoinTheOtherWayRound:
    """A random stream whose random() is 1 - u: testing u > 0.5 on it is testing u < 0.5."""

    def __init__(self, rng):
        self.rng = rng

    def random(self):
        return 1.0 - self.rng.random()

    def integers(self, n):
        return self.rng.integers(n)


def pool_swaps_on_the_other_half(pool, image, pool_size, rng):
    return solution.pool_query(pool, image, pool_size, _CoinTheOtherWayRound(rng))


def pool_forgets_to_store(pool, image, pool_size, rng):
    stored = list(pool)
    shown = solution.pool_query(pool, image, pool_size, rng)
    if len(stored) == pool_size:      # full: a swap returns an old image and forgets the new
        pool[:] = stored
    return shown


def count_without_biases(ngf, n_blocks, input_nc=3, output_nc=3):
    weights = (input_nc * ngf * 49 + ngf * 2 * ngf * 9 + 2 * ngf * 4 * ngf * 9
               + n_blocks * 2 * (4 * ngf) ** 2 * 9 + 4 * ngf * 2 * ngf * 9 + 2 * ngf * ngf * 9
               + ngf * output_nc * 49)
    return weights


def count_one_conv_per_block(ngf, n_blocks, input_nc=3, output_nc=3):
    one_conv = (4 * ngf) ** 2 * 9 + 4 * ngf
    return solution.generator_parameter_count(ngf, n_blocks, input_nc, output_nc) \
        - n_blocks * one_conv


def count_with_norm_parameters(ngf, n_blocks, input_nc=3, output_nc=3):
    norms = 2 * (ngf + 2 * ngf + 4 * ngf + n_blocks * 2 * 4 * ngf + 2 * ngf + ngf)
    return solution.generator_parameter_count(ngf, n_blocks, input_nc, output_nc) + norms


def count_seven_as_three(ngf, n_blocks, input_nc=3, output_nc=3):
    return solution.generator_parameter_count(ngf, n_blocks, input_nc, output_nc) \
        - 40 * ngf * (input_nc + output_nc)


# --- 10.4 patchgan_receptive_field -----------------------------------------------------------

def _field(layers):
    field = 1
    for kernel, stride in reversed(layers):
        field = (field - 1) * stride + kernel
    return field


def field_strided_layers_only(n_layers=3):
    return _field([(4, 2)] * n_layers)


def field_sums_kernels(n_layers=3):
    return 4 * (n_layers + 2)


def field_walks_forward(n_layers=3):
    return _field(([(4, 2)] * n_layers + [(4, 1), (4, 1)])[::-1])


def field_one_stride_one_layer(n_layers=3):
    return _field([(4, 2)] * n_layers + [(4, 1)])


MISTAKES = [
    Mistake("10.1", "the discriminators swapped",
            variant(solution, generator_objective=judges_swapped),
            "the discriminators judge the wrong fakes"),
    Mistake("10.1", "the identity on the generator's own input domain",
            variant(solution, generator_objective=identity_on_own_domain),
            "the identity terms feed each generator its own input domain"),
    Mistake("10.1", "the identity weighted by lambda_identity alone",
            variant(solution, generator_objective=identity_without_lambda),
            "weighted by lambda_identity alone"),
    Mistake("10.1", "the identity lambdas swapped",
            variant(solution, generator_objective=identity_lambdas_swapped),
            "yours has them swapped"),
    Mistake("10.1", "a squared cycle distance",
            variant(solution, generator_objective=squared_cycle),
            "the cycle terms are squared errors"),
    Mistake("10.2", "swaps on the other half",
            variant(solution, pool_query=pool_swaps_on_the_other_half),
            "you swapped although rng.random() gave"),
    Mistake("10.2", "forgets to store the new image",
            variant(solution, pool_query=pool_forgets_to_store),
            "did not put the new image in its place"),
    Mistake("10.3", "no biases", variant(solution, generator_parameter_count=count_without_biases),
            "counts no biases"),
    Mistake("10.3", "one convolution per block",
            variant(solution, generator_parameter_count=count_one_conv_per_block),
            "counts one convolution per residual block"),
    Mistake("10.3", "instance-norm parameters counted",
            variant(solution, generator_parameter_count=count_with_norm_parameters),
            "counts a scale and a shift per instance-norm channel"),
    Mistake("10.3", "7x7 counted as 3x3",
            variant(solution, generator_parameter_count=count_seven_as_three),
            "treats the first and last convolutions as 3x3"),
    Mistake("10.4", "only the stride-2 layers",
            variant(solution, patchgan_receptive_field=field_strided_layers_only),
            "counts only the stride-2 convolutions"),
    Mistake("10.4", "kernel widths added up",
            variant(solution, patchgan_receptive_field=field_sums_kernels),
            "adds up the kernel widths"),
    Mistake("10.4", "walked from the image",
            variant(solution, patchgan_receptive_field=field_walks_forward),
            "walks from the image to the score"),
    Mistake("10.4", "one stride-1 layer left out",
            variant(solution, patchgan_receptive_field=field_one_stride_one_layer),
            "leaves out one stride-1 layer"),
]

"""Classic wrong answers to the exercises of lesson 8."""
import numpy as np

from lessons.solutions import ex08_optimizers as solution

from . import Mistake, variant


def nesterov_as_plain_momentum(param, grad, velocity, lr, momentum):
    velocity = momentum * velocity + grad
    return param - lr * velocity, velocity


def nesterov_uphill(param, grad, velocity, lr, momentum):
    velocity = momentum * velocity + grad
    return param + lr * (grad + momentum * velocity), velocity


def nesterov_returns_old_velocity(param, grad, velocity, lr, momentum):
    new_param, _ = solution.nesterov_step(param, grad, velocity, lr, momentum)
    return new_param, velocity


def rmsprop_eps_inside(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + (1 - alpha) * grad ** 2
    return param - lr * grad / np.sqrt(square_avg + eps), square_avg


def rmsprop_without_one_minus_alpha(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + grad ** 2
    return param - lr * grad / (np.sqrt(square_avg) + eps), square_avg


def rmsprop_without_sqrt(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + (1 - alpha) * grad ** 2
    return param - lr * grad / (square_avg + eps), square_avg


def adamw_as_l2(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    new_param, m, v = solution.adamw_step(param, grad + weight_decay * param, m, v, t, lr, betas,
                                          eps, weight_decay=0.0)
    return new_param, m, v


def adamw_decay_without_lr(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=1e-2):
    # decaying by (1 - weight_decay) is the same as the right rule with weight_decay / lr
    return solution.adamw_step(param, grad, m, v, t, lr, betas, eps, weight_decay / lr)


def adamw_decay_after_the_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=1e-2):
    new_param, m, v = solution.adamw_step(param, grad, m, v, t, lr, betas, eps, 0.0)
    return new_param * (1 - lr * weight_decay), m, v


def adamw_without_bias_correction(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=1e-2):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad ** 2
    return param * (1 - lr * weight_decay) - lr * m / (np.sqrt(v) + eps), m, v


MISTAKES = [
    Mistake("8.1", "plain momentum", variant(solution, nesterov_step=nesterov_as_plain_momentum),
            "moved by the velocity alone: that is plain momentum"),
    Mistake("8.1", "the step goes uphill", variant(solution, nesterov_step=nesterov_uphill),
            "went uphill: the step is subtracted"),
    Mistake("8.1", "the old velocity is returned",
            variant(solution, nesterov_step=nesterov_returns_old_velocity),
            "is the one you were given: return the updated velocity"),
    Mistake("8.2", "eps inside the square root",
            variant(solution, rmsprop_step=rmsprop_eps_inside), "eps is inside the square root"),
    Mistake("8.2", "no (1 - alpha) weight",
            variant(solution, rmsprop_step=rmsprop_without_one_minus_alpha),
            "adds grad^2 at full weight: it is weighted by (1 - alpha)"),
    Mistake("8.2", "no square root", variant(solution, rmsprop_step=rmsprop_without_sqrt),
            "you divided by square_avg itself"),
    Mistake("8.3", "L2 regularisation instead of decoupled decay",
            variant(solution, adamw_step=adamw_as_l2),
            "you added weight_decay * param to the gradient (L2 regularisation"),
    Mistake("8.3", "the decay is not scaled by lr",
            variant(solution, adamw_step=adamw_decay_without_lr),
            "the decay is not scaled by the learning rate"),
    Mistake("8.3", "the decay comes after the step",
            variant(solution, adamw_step=adamw_decay_after_the_step),
            "you decayed the weight after Adam's step"),
    Mistake("8.3", "no bias correction",
            variant(solution, adamw_step=adamw_without_bias_correction),
            "the step has no bias correction"),
]

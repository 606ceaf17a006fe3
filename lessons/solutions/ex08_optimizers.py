"""Exercises of lesson 8: three optimizers the lesson prepared but did not write.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 8.1    (and 8.2, 8.3)
"""
import nn


def nesterov_step(param, grad, velocity, lr, momentum):
    """Exercise 8.1: one step of SGD with Nesterov momentum (PyTorch's ``nesterov=True``).

    param, grad, velocity: arrays of one shape; lr, momentum: floats
    -> (new_param, new_velocity), arrays of that shape. The velocity starts at zeros.

    The velocity is updated as in the lesson's momentum. Plain momentum then steps by the
    velocity; Nesterov's step looks ahead: it steps by the gradient plus the new velocity
    scaled once more by the momentum (where the velocity is about to carry the parameter).
    Hint: update the velocity first, then use the *new* velocity in the step; with
    momentum 0 both must reduce to plain gradient descent.
    """
    velocity = momentum * velocity + grad
    return param - lr * (grad + momentum * velocity), velocity


def rmsprop_step(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    """Exercise 8.2: one step of RMSprop (Hinton's lecture notes; PyTorch's ``RMSprop``).

    param, grad, square_avg: arrays of one shape (square_avg starts at zeros); lr, alpha, eps:
    floats -> (new_param, new_square_avg).

    Adam's second moment (lesson 8), with alpha in the place of beta2, without the first
    moment and without bias correction: square_avg is the running average of the squared
    gradient, and each parameter's step is lr times its gradient divided by that gradient's
    running typical size, the square root of square_avg.
    Hint: ``xp = nn.get_array_module(param)`` for sqrt; eps is added outside the sqrt.
    """
    xp = nn.get_array_module(param)
    square_avg = alpha * square_avg + (1 - alpha) * grad * grad
    return param - lr * grad / (xp.sqrt(square_avg) + eps), square_avg


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """Exercise 8.3: one step of AdamW (Loshchilov and Hutter 2019; PyTorch's ``AdamW``).

    param, grad, m, v: arrays of one shape (m and v start at zeros); t: the number of this step,
    1 for the first; lr, betas = (b1, b2), eps, weight_decay: floats -> (new_param, new_m, new_v).

    First the decoupled weight decay: every weight shrinks by the same factor, the decay one
    plain gradient step of the penalty (weight_decay / 2) * |param|^2 with learning rate lr
    would make. Then one step of the lesson's Adam on the decayed param, with its
    bias-corrected m_hat and v_hat.
    Weight decay pulls every weight towards 0. Adding weight_decay * param to the gradient
    (L2 regularisation) would pass the decay through Adam's division by sqrt(v_hat), so weights
    with large gradients would hardly decay; AdamW decays every weight by the same factor.
    Hint: the gradient that goes into m and v is ``grad`` unchanged.
    """
    xp = nn.get_array_module(param)
    b1, b2 = betas
    decayed = param * (1 - lr * weight_decay)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    corrected_m, corrected_v = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return decayed - lr * corrected_m / (xp.sqrt(corrected_v) + eps), m, v

"""Exercises of lesson 8: three optimizers the lesson prepared but did not write.

Reference solutions: the teacher keeps this file; students get lessons/exercises/.

Grade with: python -m lessons.grade 8.1    (and 8.2, 8.3)
"""
import nn


def nesterov_step(param, grad, velocity, lr, momentum):
    """Exercise 8.1: one step of SGD with Nesterov momentum (PyTorch's ``nesterov=True``).

    param, grad, velocity: arrays of one shape; lr, momentum: floats
    -> (new_param, new_velocity), arrays of that shape:

        velocity = momentum * velocity + grad
        param = param - lr * (grad + momentum * velocity)

    Plain momentum steps by the velocity; Nesterov's step looks ahead: it takes the new
    velocity one more time, scaled by the momentum, on top of the gradient. The velocity starts
    at zeros.
    Hint: update the velocity first, then use the *new* velocity in the step.
    """
    velocity = momentum * velocity + grad
    return param - lr * (grad + momentum * velocity), velocity


def rmsprop_step(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    """Exercise 8.2: one step of RMSprop (Hinton's lecture notes; PyTorch's ``RMSprop``).

    param, grad, square_avg: arrays of one shape (square_avg starts at zeros); lr, alpha, eps:
    floats -> (new_param, new_square_avg):

        square_avg = alpha * square_avg + (1 - alpha) * grad^2
        param = param - lr * grad / (sqrt(square_avg) + eps)

    Adam's second moment without its first moment and without bias correction: each
    parameter's step is its gradient divided by that gradient's running typical size.
    Hint: ``xp = nn.get_array_module(param)`` for sqrt; eps is added outside the sqrt.
    """
    xp = nn.get_array_module(param)
    square_avg = alpha * square_avg + (1 - alpha) * grad * grad
    return param - lr * grad / (xp.sqrt(square_avg) + eps), square_avg


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """Exercise 8.3: one step of AdamW (Loshchilov and Hutter 2019; PyTorch's ``AdamW``).

    param, grad, m, v: arrays of one shape (m and v start at zeros); t: the number of this step,
    1 for the first; lr, betas = (b1, b2), eps, weight_decay: floats -> (new_param, new_m, new_v):

        param = param * (1 - lr * weight_decay)          # decoupled weight decay, first
        then one step of Adam on that param, with the lesson's bias-corrected m_hat and v_hat

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

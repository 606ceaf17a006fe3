"""Exercises of lesson 8: one step of SGD with momentum, and one of Adam.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 8.1    (and 8.2)
"""
import nn


def sgd_momentum_step(param, grad, velocity, lr, momentum):
    """Exercise 8.1: one step of stochastic gradient descent with momentum (PyTorch's rule).

    param, grad, velocity: arrays of one shape; lr, momentum: floats
    -> (new_param, new_velocity), arrays of that shape:

        velocity = momentum * velocity + grad
        param = param - lr * velocity

    The velocity starts at zeros: the first step is then plain gradient descent.
    Hint: two lines; return both arrays.
    """
    raise NotImplementedError("Exercise 8.1")


def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """Exercise 8.2: one step of Adam (Kingma and Ba 2015) with bias correction.

    param, grad, m, v: arrays of one shape (m and v start at zeros); t: the number of this
    step, 1 for the first; lr, betas = (b1, b2), eps: floats -> (new_param, new_m, new_v):

        m = b1*m + (1 - b1)*grad                 v = b2*v + (1 - b2)*grad^2
        m_hat = m / (1 - b1^t)                   v_hat = v / (1 - b2^t)
        param = param - lr * m_hat / (sqrt(v_hat) + eps)

    Without the correction, m and v start near 0 and the first steps are far too small
    (or, for v, too large).
    Hint: ``xp = nn.get_array_module(param)`` for sqrt; eps is added outside the sqrt.
    """
    raise NotImplementedError("Exercise 8.2")

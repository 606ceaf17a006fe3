"""Exercises of lesson 4: a Linear backward, the softmax cross-entropy, the parameter walk
and a step of gradient descent with weight decay.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 4.1    (and 4.2, 4.3, 4.4)
"""
import nn


class LinearFunction(nn.Function):
    """y = x @ weight.T + bias as one Function: x (N, in), weight (out, in), bias (out,)
    -> y (N, out). forward is given; backward is Exercise 4.1."""

    def forward(self, x, weight, bias):
        self.x, self.weight = x, weight          # what backward reads
        return x @ weight.T + bias

    def backward(self, g):
        """Exercise 4.1: the three gradients of y = x W^T + b, by hand.

        g: dL/dy, (N, out) -> a tuple (dL/dx, dL/dW, dL/db) of shapes (N, in), (out, in), (out,):

            dL/dx[n, i] = sum_o g[n, o] * W[o, i]
            dL/dW[o, i] = sum_n g[n, o] * x[n, i]
            dL/db[o]    = sum_n g[n, o]

        Each gradient has the shape of what it is the gradient of: nothing sums it back for
        you when backward is called directly.
        Hint: write each sum as a matmul (lesson 2) or a sum over an axis; check which of g, W
        and x must be transposed for the shapes to fit.
        """
        raise NotImplementedError("Exercise 4.1")


def linear(x, weight, bias):
    """The Function above on Tensors: (N, in), (out, in), (out,) -> (N, out)."""
    return LinearFunction()(x, weight, bias)


class SoftmaxCrossEntropy(nn.Function):
    """The mean cross-entropy of logits (N, C) against integer classes target (N,): one number.
    forward and backward are Exercise 4.2."""

    def __init__(self, target):
        self.target = target                     # (N,) integers in [0, C), on the logits' device

    def forward(self, logits):
        """Exercise 4.2, forward: logits (N, C) float -> a 0-d array (or a number),

            loss = mean over n of ( log sum_c exp(logits[n, c]) - logits[n, target[n]] )

        which is -log softmax(logits[n])[target[n]] averaged over the N rows. exp overflows to
        inf for logits above about 710 (float64): with m the row's maximum,
        log sum_c exp(z_c) = m + log sum_c exp(z_c - m), where every exponent is <= 0.
        Save on self what backward needs (the softmax, exp(z_c) / sum_k exp(z_k), per row).
        Hint: ``xp = nn.get_array_module(logits)``; ``logits[xp.arange(N), self.target]`` picks
        each row's true-class logit; ``keepdims=True`` keeps the row sums broadcastable.
        """
        raise NotImplementedError("Exercise 4.2")

    def backward(self, g):
        """Exercise 4.2, backward: g, the 0-d upstream gradient -> dL/dlogits, (N, C).

        Lesson 4's "A loss" says in words what the gradient of the mean loss with respect to
        the logits is; backward multiplies it by g, as every backward multiplies its local
        derivative by the upstream gradient.
        Hint: start from a copy of the saved softmax, so that forward's stays as it was.
        """
        raise NotImplementedError("Exercise 4.2")


def cross_entropy(logits, target):
    """The Function above on a Tensor: logits (N, C), target (N,) ints -> a one-element Tensor."""
    return SoftmaxCrossEntropy(target)(logits)


def named_parameters(module):
    """Exercise 4.3: the walk behind ``Module.named_parameters()``.

    module: an ``nn.Module`` -> a list of (name, Parameter) pairs, in this order: the module's
    own parameters (``module._parameters``, a dict name -> Parameter, in assignment order),
    then each child's (``module._modules``, name -> Module, in order), recursively, each
    child's names prefixed with the path to it and a dot, for example

        [("offset", ...), ("first.weight", ...), ("body.0.weight", ...), ("body.0.bias", ...)]

    A Parameter assigned twice (shared by two layers, or under two names) is listed once,
    under the first name met; the Parameter objects themselves are returned, not copies.
    Hint: a recursive helper walk(m, prefix) that appends to one list, and a set of the ids
    of the parameters already listed.
    """
    raise NotImplementedError("Exercise 4.3")


def sgd_step(parameters, lr, weight_decay=0.0):
    """Exercise 4.4: one step of gradient descent with weight decay, in place.

    parameters: a list of ``nn.Parameter``, each with ``.grad`` an array of its shape, or None
    (a parameter that received no gradient); lr, weight_decay: floats. Returns nothing.

    Every parameter with a gradient takes one step of gradient descent (lesson 4's "Gradient
    descent") on the loss plus the penalty (weight_decay / 2) * |p|^2, whose gradient you
    add to ``grad``; the step changes ``p.data`` itself (the model holds these very
    Parameters). Parameters whose grad is None are left untouched. The penalty pulls every
    weight towards 0: large weights make the sharp, overconfident boundaries of an overfitted
    model (PyTorch's ``SGD(weight_decay=)``).
    Hint: ``p.data -= ...`` writes into the array; ``p = ...`` only renames.
    """
    raise NotImplementedError("Exercise 4.4")

"""Classic wrong answers to the exercises of lesson 7."""
import numpy as np

from lessons.solutions import ex07_normalization as solution

from . import Mistake, variant


class NormWithoutVarianceTerm(solution.InstanceNorm):
    def backward(self, g):
        return (g - g.mean(axis=(2, 3), keepdims=True)) * self.inv_std


class NormWithoutMeanTerm(solution.InstanceNorm):
    def backward(self, g):
        xhat = self.xhat
        return (g - xhat * (g * xhat).mean(axis=(2, 3), keepdims=True)) * self.inv_std


def instance_norm_unbiased(x, eps=1e-5):
    centered = x - x.mean(axis=(2, 3), keepdims=True)
    var = (centered ** 2).sum(axis=(2, 3), keepdims=True) / (x.shape[2] * x.shape[3] - 1)
    return centered / np.sqrt(var + eps)


def instance_norm_upcasts(x, eps=1e-5):
    centered = x - x.mean(axis=(2, 3), keepdims=True)
    var = (centered * centered).mean(axis=(2, 3), keepdims=True)
    return centered / np.sqrt(var + np.float64(eps))   # a float64 scalar wins over float32


def instance_norm_eps_outside(x, eps=1e-5):
    centered = x - x.mean(axis=(2, 3), keepdims=True)
    return centered / (np.sqrt((centered * centered).mean(axis=(2, 3), keepdims=True)) + eps)


MISTAKES = [
    Mistake('7.1', 'instance_norm_unbiased', variant(solution, instance_norm=instance_norm_unbiased),
            "(float64) is wrong at"),
    Mistake('7.1', 'instance_norm_eps_outside', variant(solution, instance_norm=instance_norm_eps_outside),
            "wrong at 120 of 120 elements"),
    Mistake('7.1', 'instance_norm_upcasts', variant(solution, instance_norm=instance_norm_upcasts),
            "returned float64"),
    Mistake('7.2', 'NormWithoutVarianceTerm', variant(solution, InstanceNorm=NormWithoutVarianceTerm),
            "the gradient with respect to x (shape (2, 3, 4, 5))"),
    Mistake('7.2', 'NormWithoutMeanTerm', variant(solution, InstanceNorm=NormWithoutMeanTerm),
            "is wrong at"),
]

"""Classic wrong answers to the exercises of lesson 7 (the affine instance norm's backward,
batch normalization's forward with running statistics, and its backward)."""
import numpy as np

from lessons.solutions import ex07_normalization as solution

from . import Mistake, variant


# --- 7.1 AffineInstanceNorm.backward ---------------------------------------------------------

def _plane_backward(d, xhat, inv_std, axes=(2, 3), mean_term=True, variance_term=True):
    out = d
    if mean_term:
        out = out - d.mean(axis=axes, keepdims=True)
    if variance_term:
        out = out - xhat * (d * xhat).mean(axis=axes, keepdims=True)
    return out * inv_std


class AffineWithoutGamma(solution.AffineInstanceNorm):
    def backward(self, g):
        _, dgamma, dbeta = super().backward(g)
        return _plane_backward(g, self.xhat, self.inv_std), dgamma, dbeta


class AffineWithoutMeanTerm(solution.AffineInstanceNorm):
    def backward(self, g):
        _, dgamma, dbeta = super().backward(g)
        d = g * self.gamma.reshape(1, -1, 1, 1)
        return _plane_backward(d, self.xhat, self.inv_std, mean_term=False), dgamma, dbeta


class AffineWithoutVarianceTerm(solution.AffineInstanceNorm):
    def backward(self, g):
        _, dgamma, dbeta = super().backward(g)
        d = g * self.gamma.reshape(1, -1, 1, 1)
        return _plane_backward(d, self.xhat, self.inv_std, variance_term=False), dgamma, dbeta


class AffineMeansOverTheBatch(solution.AffineInstanceNorm):
    def backward(self, g):
        _, dgamma, dbeta = super().backward(g)
        d = g * self.gamma.reshape(1, -1, 1, 1)
        return _plane_backward(d, self.xhat, self.inv_std, axes=(0, 2, 3)), dgamma, dbeta


class AffineGammaWithoutXhat(solution.AffineInstanceNorm):
    def backward(self, g):
        dx, _, dbeta = super().backward(g)
        return dx, g.sum(axis=(0, 2, 3)), dbeta


class AffineGammaPerImage(solution.AffineInstanceNorm):
    def backward(self, g):
        dx, _, dbeta = super().backward(g)
        return dx, (g * self.xhat).sum(axis=(2, 3)), dbeta


class AffineBetaPerImage(solution.AffineInstanceNorm):
    def backward(self, g):
        dx, dgamma, _ = super().backward(g)
        return dx, dgamma, g.sum(axis=(2, 3))


class AffineGradientsSwapped(solution.AffineInstanceNorm):
    def backward(self, g):
        dx, dgamma, dbeta = super().backward(g)
        return dx, dbeta, dgamma


# --- 7.2 batch_norm_train ----------------------------------------------------------------------

def _batch_norm(x, running_mean, running_var, momentum, eps, axes=(0, 2, 3), ddof=0,
                running_ddof=1, eps_outside=False, keep=None):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    s = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    m = x.size // x.shape[1]
    batch_mean = x.mean(axis=(0, 2, 3))
    batch_var = x.var(axis=(0, 2, 3)) * m / (m - running_ddof)
    keep = 1 - momentum if keep is None else keep
    return ((x - mean) / s, keep * running_mean + (1 - keep) * batch_mean,
            keep * running_var + (1 - keep) * batch_var)


def bn_unbiased_variance(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, ddof=1)


def bn_eps_outside_the_sqrt(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, eps_outside=True)


def bn_per_image(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, axes=(2, 3))


def bn_over_the_batch_axis_only(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, axes=(0,))


def bn_biased_running_variance(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, running_ddof=0)


def bn_momentum_reversed(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _batch_norm(x, running_mean, running_var, momentum, eps, keep=momentum)


def bn_running_stats_not_updated(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    y, _, _ = _batch_norm(x, running_mean, running_var, momentum, eps)
    return y, running_mean, running_var


def bn_updates_in_place(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    y, new_mean, new_var = _batch_norm(x, running_mean, running_var, momentum, eps)
    running_mean[...] = new_mean
    running_var[...] = new_var
    return y, running_mean, running_var


# --- 7.3 BatchNorm.backward --------------------------------------------------------------------

class BatchNormInstanceAxes(solution.BatchNorm):
    def backward(self, g):
        return _plane_backward(g, self.xhat, self.inv_std, axes=(2, 3))


class BatchNormWithoutMeanTerm(solution.BatchNorm):
    def backward(self, g):
        return _plane_backward(g, self.xhat, self.inv_std, axes=(0, 2, 3), mean_term=False)


class BatchNormWithoutVarianceTerm(solution.BatchNorm):
    def backward(self, g):
        return _plane_backward(g, self.xhat, self.inv_std, axes=(0, 2, 3), variance_term=False)


class BatchNormNotDivided(solution.BatchNorm):
    def backward(self, g):
        return _plane_backward(g, self.xhat, self.inv_std, axes=(0, 2, 3)) / self.inv_std


class BatchNormMMinusOne(solution.BatchNorm):
    def backward(self, g):
        m = g.size // g.shape[1]
        sums = g.sum(axis=(0, 2, 3), keepdims=True) + \
            self.xhat * (g * self.xhat).sum(axis=(0, 2, 3), keepdims=True)
        return (g - sums / (m - 1)) * self.inv_std


def _c(exercise, cls, name, says):
    return Mistake(exercise, cls.__name__, variant(solution, **{name: cls}), says)


def _f(function, says):
    return Mistake("7.2", function.__name__, variant(solution, batch_norm_train=function), says)


MISTAKES = [
    _c("7.1", AffineWithoutGamma, "AffineInstanceNorm", "dL/dx is missing gamma"),
    _c("7.1", AffineWithoutMeanTerm, "AffineInstanceNorm", "dL/dx is missing the mean term"),
    _c("7.1", AffineWithoutVarianceTerm, "AffineInstanceNorm",
       "dL/dx is missing the variance term"),
    _c("7.1", AffineMeansOverTheBatch, "AffineInstanceNorm",
       "dL/dx takes its means over the batch too"),
    _c("7.1", AffineGammaWithoutXhat, "AffineInstanceNorm", "dL/dgamma is the sum of g alone"),
    _c("7.1", AffineGammaPerImage, "AffineInstanceNorm", "dL/dgamma is summed over H and W only"),
    _c("7.1", AffineBetaPerImage, "AffineInstanceNorm", "dL/dbeta is summed over H and W only"),
    _c("7.1", AffineGradientsSwapped, "AffineInstanceNorm", "come back in the wrong order"),
    _f(bn_unbiased_variance, "y uses the unbiased variance (ddof=1"),
    _f(bn_eps_outside_the_sqrt, "eps is outside the square root"),
    _f(bn_per_image, "that is instance norm"),
    _f(bn_over_the_batch_axis_only, "over the batch axis only"),
    _f(bn_biased_running_variance, "the running variance averages the biased variance"),
    _f(bn_momentum_reversed, "the running mean keeps `momentum` of the old value"),
    _f(bn_running_stats_not_updated, "the running mean came back unchanged"),
    _f(bn_updates_in_place, "changed the running_mean or running_var it was given"),
    _c("7.3", BatchNormInstanceAxes, "BatchNorm", "as instance norm's backward does"),
    _c("7.3", BatchNormWithoutMeanTerm, "BatchNorm", "is missing the mean term"),
    _c("7.3", BatchNormWithoutVarianceTerm, "BatchNorm", "is missing the variance term"),
    _c("7.3", BatchNormNotDivided, "BatchNorm", "is not divided by s"),
    _c("7.3", BatchNormMMinusOne, "BatchNorm", "divides by m - 1"),
]

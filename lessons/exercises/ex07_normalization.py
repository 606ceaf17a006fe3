"""Exercises of lesson 7: the affine instance norm's backward, and batch normalization.

Replace each `raise NotImplementedError(...)` with your code; the docstrings say what to do.

Grade with: python -m lessons.grade 7.1    (and 7.2, 7.3)
"""
import nn


class AffineInstanceNorm(nn.Function):
    """Instance normalization with a learned scale and shift per channel (affine=True):
    y = gamma[c] * xhat + beta[c]. forward is given; backward is Exercise 7.1."""

    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, gamma, beta):
        xp = nn.get_array_module(x)
        self.inv_std = 1 / xp.sqrt(x.var(axis=(2, 3), keepdims=True) + self.eps)  # (N, C, 1, 1)
        self.xhat = (x - x.mean(axis=(2, 3), keepdims=True)) * self.inv_std      # (N, C, H, W)
        self.gamma = gamma
        return gamma.reshape(1, -1, 1, 1) * self.xhat + beta.reshape(1, -1, 1, 1)

    def backward(self, g):
        """Exercise 7.1: the three gradients of the affine instance norm.

        g: dL/dy, (N, C, H, W) -> (dL/dx of shape (N, C, H, W), dL/dgamma of shape (C,),
        dL/dbeta of shape (C,)), for forward's

            y[n, c, h, w] = gamma[c] * xhat[n, c, h, w] + beta[c]

        gamma[c] and beta[c] are used by every pixel of channel c, in every sample of the
        batch (lesson 1: a value used several times gets the sum of its gradients). dL/dx
        is the lesson's backward applied to d = dL/dxhat, the upstream gradient of the
        normalization inside (means over H and W, s = sqrt(var + eps)):

            dL/dx = (d - mean(d) - xhat * mean(d * xhat)) / s,    d = ?

        Hint: ``self.xhat``, ``self.inv_std`` (= 1 / s) and ``self.gamma`` are saved by
        forward. Differentiate y with respect to gamma[c], beta[c] and xhat first.
        """
        raise NotImplementedError("Exercise 7.1")


def batch_norm_train(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Exercise 7.2: batch normalization in training mode (no scale and shift), with the
    running statistics it keeps for test time, as PyTorch's BatchNorm2d does.

    x: (N, C, H, W); running_mean, running_var: (C,) -> (y of shape (N, C, H, W), the new
    running_mean (C,), the new running_var (C,)); the arrays given are not modified.

    y is the lesson's normalization with one change: each channel's mean and variance are
    taken over all m = N*H*W of its values in the whole batch, not over one image's plane
    (the biased variance, as the lesson's, with eps inside the square root). The running
    statistics are exponential moving averages: each keeps (1 - momentum) of its old value
    and takes momentum of this batch's statistic. The running variance estimates the
    variance of the data at large, so it takes the unbiased variance of the batch (divided
    by m - 1, not m).
    Hint: which axes does "over the batch and the pixels" name? Statistics reduced over
    them come out with shape (C,); ``.reshape(1, -1, 1, 1)`` lines them up with x's channel
    axis again.
    """
    raise NotImplementedError("Exercise 7.2")


class BatchNorm(nn.Function):
    """Batch normalization in training mode, no scale and shift: statistics per channel over
    the batch and the pixels. forward is given; backward is Exercise 7.3."""

    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x):
        m = x.size // x.shape[1]
        centered = x - x.sum(axis=(0, 2, 3), keepdims=True) / m
        self.inv_std = ((centered ** 2).sum(axis=(0, 2, 3), keepdims=True) / m + self.eps) ** -0.5
        self.xhat = centered * self.inv_std         # self.inv_std: (1, C, 1, 1)
        return self.xhat

    def backward(self, g):
        """Exercise 7.3: the gradient of batch normalization (training mode).

        g: dL/dy, (N, C, H, W) -> dL/dx, (N, C, H, W), for forward's

            y = xhat = (x - mean) / s,    s = sqrt(var + eps),

        mean and (biased) var of each channel over its m = N*H*W values, axes (0, 2, 3).
        Every x of channel c, in every image of the batch, moves that channel's mean and
        variance, and so every output of the channel in the whole batch. Derive dL/dx as
        the lesson derived instance norm's backward.
        Hint: ``self.xhat`` and ``self.inv_std`` (= 1 / s, shape (1, C, 1, 1)) are saved by
        forward. Which step of the lesson's derivation used that the plane was one image?
        """
        raise NotImplementedError("Exercise 7.3")

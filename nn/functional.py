"""Differentiable layers as functions, named as in ``torch.nn.functional``.

All images are (N, C, H, W). Each op is a Function (forward on arrays, backward from the
output gradient) or a composition of Tensor operations, whose gradient then comes for free.
"""
from .backend import faster, get_array_module, to_device, to_host
from .convolution import (pair, output_size, conv2d_plain, conv_transpose2d_plain,
                          conv2d_weight_grad_plain)
from .tensor import Function, Tensor

__all__ = ["linear", "conv2d", "conv_transpose2d", "instance_norm", "pad", "relu", "leaky_relu",
           "tanh", "sigmoid", "mse_loss", "l1_loss", "cross_entropy"]


def _module(x):
    """The array module of a Tensor's or an array's data."""
    return get_array_module(x.data if isinstance(x, Tensor) else x)


def _check_image(x, name, channels=None):
    if x.ndim != 4:
        raise ValueError(f"{name} expects an input of shape (N, C, H, W), got {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: the input has {x.shape[1]} channels but the weight expects "
                         f"{channels}; input shape {tuple(x.shape)}")


# --- fully connected ---------------------------------------------------------------------

def linear(x, weight, bias=None):
    """A fully connected layer, as ``torch.nn.functional.linear``.

    x: (N, in_features), or (..., in_features); weight: (out_features, in_features);
    bias: (out_features,) or None -> (N, out_features), or (..., out_features).
    y = x W^T + b, that is y[n, o] = b[o] + sum_i x[n, i] * W[o, i].
    Built from Tensor operations (matmul, transpose, a broadcast add), so autograd derives
    its backward: dx = g W, dW = g^T x, db = g summed over the batch.
    """
    if weight.ndim != 2:
        raise ValueError(f"linear expects a weight of shape (out_features, in_features), got "
                         f"{tuple(weight.shape)}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: the input has {x.shape[-1] if x.ndim else 0} features (shape "
                         f"{tuple(x.shape)}) but the weight {tuple(weight.shape)} expects "
                         f"{weight.shape[1]} in its last axis")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: the bias has shape {tuple(bias.shape)}, expected "
                         f"({weight.shape[0]},), one per output feature")
    if not isinstance(x, Tensor):
        x = Tensor(x)
    y = x @ weight.T
    return y if bias is None else y + bias


# --- convolution ---------------------------------------------------------------------------

class Conv2dFunction(Function):
    """The autograd Function of ``conv2d``: forward and both backward passes are the plain
    definitions of nn/convolution.py (conv2d's input gradient is conv_transpose2d)."""

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        y = conv2d_plain(x, weight, self.stride, self.padding)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # y is a fresh array: add in place
        return y

    def backward(self, g):
        x, w, needs = self.x, self.weight, self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = conv_transpose2d_plain(g, w, self.stride, self.padding,
                                        lost_rows(x.shape, w.shape, g.shape, self.stride,
                                                  self.padding))
        if needs[1]:
            gw = conv2d_weight_grad_plain(x, g, w.shape[2:], self.stride, self.padding)
        if len(needs) > 2 and needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb


def lost_rows(x_shape, w_shape, y_shape, stride, padding):
    """The rows and columns at the bottom and right of x that no output of conv2d reads (it
    drops what does not fill a whole stride): conv_transpose2d's output_padding restores them."""
    return tuple(size - ((out - 1) * s - 2 * p + k) for size, out, k, s, p in
                 zip(x_shape[2:], y_shape[2:], w_shape[2:], stride, padding))


class ConvTranspose2dFunction(Function):
    """The autograd Function of ``conv_transpose2d``; its input gradient is conv2d."""

    def __init__(self, stride, padding, output_padding):
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        y = conv_transpose2d_plain(x, weight, self.stride, self.padding, self.output_padding)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, g):
        x, w, needs = self.x, self.weight, self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = conv2d_plain(g, w, self.stride, self.padding)
        if needs[1]:
            # conv2d's weight gradient with the two tensors exchanged:
            # gw[c, o, i, j] = sum x[n, c, y, z] * gpad[n, o, y*S + i, z*S + j].
            gw = conv2d_weight_grad_plain(g, x, w.shape[2:], self.stride, self.padding)
        if len(needs) > 2 and needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW), bias: (C_out,) or None
    -> (N, C_out, OH, OW), OH = floor((H + 2*padding - KH) / stride) + 1.
    y[n, o, y, z] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * xpad[n, c, y*stride + i, z*stride + j]
    """
    stride, padding = pair(stride), pair(padding)
    _check_image(x, "conv2d", weight.shape[1])
    for axis, (size, k, s, p) in enumerate(zip(x.shape[2:], weight.shape[2:], stride, padding)):
        if s < 1 or p < 0:
            raise ValueError(f"conv2d needs stride >= 1 and padding >= 0, got {stride}, {padding}")
        if output_size(size, k, s, p) < 1:
            raise ValueError(f"conv2d: input {tuple(x.shape)} padded by {padding} is smaller than "
                             f"the kernel {tuple(weight.shape[2:])}")
    fn = faster(Conv2dFunction, _module(x))(stride, padding)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution (the adjoint of conv2d), as ``torch.nn.functional.conv_transpose2d``.

    x: (N, C_in, H, W), weight: (C_in, C_out, KH, KW), bias: (C_out,) or None
    -> (N, C_out, OH, OW), OH = (H - 1)*stride - 2*padding + KH + output_padding.
    """
    stride, padding, output_padding = pair(stride), pair(padding), pair(output_padding)
    _check_image(x, "conv_transpose2d", weight.shape[0])
    for s, p, op in zip(stride, padding, output_padding):
        if s < 1 or p < 0 or not 0 <= op < s:
            raise ValueError(f"conv_transpose2d needs stride >= 1, padding >= 0 and "
                             f"0 <= output_padding < stride; got {stride}, {padding}, {output_padding}")
    for size, k, s, p, op in zip(x.shape[2:], weight.shape[2:], stride, padding, output_padding):
        if (size - 1) * s - 2 * p + k + op < 1:
            raise ValueError(f"conv_transpose2d: padding {padding} crops the whole output")
    fn = faster(ConvTranspose2dFunction, _module(x))(stride, padding, output_padding)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


# --- normalization and padding -------------------------------------------------------------

class InstanceNormalize(Function):
    """(x - mean) / sqrt(var + eps) per sample and channel, over H and W (biased variance).

    Backward, with xhat the output and s = sqrt(var + eps), averages over H, W:
        dx = (g - mean(g) - xhat * mean(g * xhat)) / s
    """

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x):
        xp = get_array_module(x)
        centred = x - x.mean(axis=(2, 3), keepdims=True)
        var = (centred * centred).mean(axis=(2, 3), keepdims=True)
        self.inv_std = 1.0 / xp.sqrt(var + self.eps)
        self.xhat = centred * self.inv_std
        return self.xhat

    def backward(self, g):
        xhat = self.xhat
        mean_g = g.mean(axis=(2, 3), keepdims=True)
        mean_gx = (g * xhat).mean(axis=(2, 3), keepdims=True)
        return (g - mean_g - xhat * mean_gx) * self.inv_std


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Instance normalization, as ``torch.nn.functional.instance_norm`` without running stats.

    x: (N, C, H, W); weight, bias: (C,) or None -> (N, C, H, W)
    y = (x - mean_{H,W}(x)) / sqrt(var_{H,W}(x) + eps) * weight + bias
    """
    _check_image(x, "instance_norm")
    y = faster(InstanceNormalize, _module(x))(eps)(x)
    channels = (1, x.shape[1], 1, 1)
    if weight is not None:
        y = y * weight.reshape(channels)
    if bias is not None:
        y = y + bias.reshape(channels)
    return y


class Pad(Function):
    """Pad the last two axes by (left, right, top, bottom): zeros, or a mirror image that
    does not repeat the edge pixel ("reflect": ``[a b c d]`` padded by 2 is ``c b a b c d c b``).
    """

    def __init__(self, pads, mode):
        self.pads, self.mode = pads, mode

    def forward(self, x):
        xp = get_array_module(x)
        left, right, top, bottom = self.pads
        n, c, h, w = x.shape
        out = xp.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
        out[:, :, top:top + h, left:left + w] = x
        if self.mode == "reflect":
            # Columns first (from x), then whole rows of out, which fills the corners too.
            # Padded column left-1-k mirrors column left+1+k about the edge column.
            rows = slice(top, top + h)
            out[:, :, rows, :left] = x[:, :, :, 1:left + 1][..., ::-1]
            out[:, :, rows, left + w:] = x[:, :, :, w - 1 - right:w - 1][..., ::-1]
            out[:, :, :top] = out[:, :, top + 1:2 * top + 1][:, :, ::-1]
            out[:, :, top + h:] = out[:, :, top + h - 1 - bottom:top + h - 1][:, :, ::-1]
        return out

    def backward(self, g):
        left, right, top, bottom = self.pads
        h, w = g.shape[2] - top - bottom, g.shape[3] - left - right
        if self.mode == "reflect":
            # Undo forward in reverse order: each mirrored border adds its gradient back onto
            # the pixels it copied; rows first (they were filled last), then columns.
            g = g.copy()
            g[:, :, top + 1:2 * top + 1] += g[:, :, :top][:, :, ::-1]
            g[:, :, top + h - 1 - bottom:top + h - 1] += g[:, :, top + h:][:, :, ::-1]
            g[..., left + 1:2 * left + 1] += g[..., :left][..., ::-1]
            g[..., left + w - 1 - right:left + w - 1] += g[..., left + w:][..., ::-1]
        return g[:, :, top:top + h, left:left + w]


def pad(x, pads, mode="constant"):
    """Pad an image, as ``torch.nn.functional.pad`` for (N, C, H, W) inputs.

    pads: (left, right, top, bottom); mode: "constant" (zeros) or "reflect" (each pad must be
    smaller than that side of the image). (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)
    """
    _check_image(x, "pad")
    if len(pads) != 4 or any(int(p) != p or p < 0 for p in pads):
        raise ValueError(f"pad takes four non-negative ints (left, right, top, bottom), got {pads!r}")
    if mode not in ("constant", "reflect"):
        raise ValueError(f"pad mode must be 'constant' or 'reflect', got {mode!r}")
    left, right, top, bottom = (int(p) for p in pads)
    h, w = x.shape[2:]
    if mode == "reflect" and (max(left, right) >= w or max(top, bottom) >= h):
        raise ValueError(f"reflect padding {tuple(pads)} needs each pad smaller than the image "
                         f"side it mirrors; the image is {h}x{w}")
    return faster(Pad, _module(x))((left, right, top, bottom), mode)(x)


# --- activations ---------------------------------------------------------------------------

class LeakyReLUFunction(Function):
    """y = x for x > 0, slope * x otherwise (slope 0 is ReLU); dy/dx is 1 or slope."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.positive = x > 0
        return get_array_module(x).where(self.positive, x, x * self.slope)

    def backward(self, g):
        return get_array_module(g).where(self.positive, g, g * self.slope)


class TanhFunction(Function):
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class SigmoidFunction(Function):
    def forward(self, x):
        # 1 / (1 + exp(-x)) = e / (1 + e) for x < 0, with e = exp(-|x|): exp cannot overflow,
        # and very negative x keep their full relative precision (0.5 * (tanh(x/2) + 1) loses
        # digits to cancellation and rounds sigmoid(-40) to 0, so that log(sigmoid) is -inf).
        xp = get_array_module(x)
        e = xp.exp(-xp.abs(x))
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)


def relu(x):
    """max(x, 0), elementwise."""
    return leaky_relu(x, 0.0)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope * x otherwise."""
    return faster(LeakyReLUFunction, _module(x))(negative_slope)(x)


def tanh(x):
    return TanhFunction()(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return SigmoidFunction()(x)


# --- losses --------------------------------------------------------------------------------

def mse_loss(input, target):
    """mean((input - target)^2); target may be a Tensor of the same shape or a number."""
    diff = input - target
    return (diff * diff).mean()


def l1_loss(input, target):
    """mean(|input - target|)."""
    return (input - target).abs().mean()


class CrossEntropy(Function):
    """Softmax cross-entropy of logits (N, C) against class indices (N,).

    loss[n] = logsumexp(x[n]) - x[n, target[n]]; backward: d loss[n] / dx[n] = softmax(x[n])
    minus the one-hot row of target[n]. The row maximum is subtracted before exp, so that
    large logits cannot overflow (logsumexp(x) = m + log sum exp(x - m)).
    """

    def __init__(self, target, reduction):
        self.target, self.reduction = target, reduction

    def forward(self, x):
        xp = get_array_module(x)
        rows = xp.arange(x.shape[0])
        target = to_device(self.target, xp)
        shifted = x - x.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        losses = xp.log(total[:, 0]) - shifted[rows, target]
        self.softmax, self.rows, self.target = exp / total, rows, target
        if self.reduction == "none":
            return losses
        return losses.sum() / x.shape[0] if self.reduction == "mean" else losses.sum()

    def backward(self, g):
        grad = self.softmax.copy()
        grad[self.rows, self.target] -= 1
        if self.reduction == "none":
            return grad * g[:, None]
        return grad * (g / grad.shape[0] if self.reduction == "mean" else g)


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy`` for class indices.

    input: (N, C) logits (any real numbers, one row per sample); target: (N,) integers in
    [0, C), a NumPy or device array or an integer Tensor; reduction: "mean", "sum" or "none"
    -> a one-element Tensor, or (N,) for "none".
    loss[n] = -log softmax(input[n])[target[n]] = log sum_c exp(input[n, c]) - input[n, target[n]]
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy expects logits of shape (N, C), got {tuple(input.shape)}")
    target = target.data if isinstance(target, Tensor) else target
    if not hasattr(target, "dtype"):
        target = get_array_module(input.data if isinstance(input, Tensor) else input).asarray(
            target)
    n, c = input.shape
    if tuple(target.shape) != (n,):
        raise ValueError(f"cross_entropy: the target has shape {tuple(target.shape)}, expected "
                         f"({n},): one class index per row of the logits {tuple(input.shape)}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: the target must hold integer class indices, got "
                         f"dtype {target.dtype}")
    if n:
        low, high = int(to_host(target.min())), int(to_host(target.max()))
        if low < 0 or high >= c:
            raise ValueError(f"cross_entropy: class indices must be in [0, {c}) for {c} "
                             f"classes; the target holds {low if low < 0 else high}")
    return CrossEntropy(target, reduction)(input)

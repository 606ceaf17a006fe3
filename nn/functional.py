"""Differentiable layers as functions, named as in ``torch.nn.functional``.

All images are (N, C, H, W). Each op is a Function (forward on arrays, backward from the
output gradient) or a composition of Tensor operations, whose gradient then comes for free.
"""
from .backend import get_array_module, to_device, to_host
from .convolution import (pair, output_size, conv2d_array, conv_transpose2d_array,
                          conv2d_weight_grad)
from .tensor import Function, Tensor

__all__ = ["linear", "conv2d", "conv_transpose2d", "instance_norm", "pad", "relu", "leaky_relu",
           "tanh", "sigmoid", "mse_loss", "l1_loss", "cross_entropy"]


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

class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):
        # Keep only what backward will read: for the weight gradient the im2col columns that
        # forward built anyway (building them again costs a tenth of the layer), else x; the
        # weight for x's gradient.
        saved = {} if self.needs_input_grad[1] else None
        y = conv2d_array(x, weight, self.stride, self.padding, saved)
        self.columns = saved.get("columns") if saved is not None else None
        self.x = x if self.needs_input_grad[1] and self.columns is None else None
        self.weight = weight if self.needs_input_grad[0] else None
        self.shapes = x.shape, weight.shape
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, g):
        x, w, (sh, sw), (ph, pw) = self.x, self.weight, self.stride, self.padding
        (_, _, h, wd), (_, _, kh, kw) = self.shapes
        oh, ow = g.shape[2:]
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            # conv2d drops the rows that do not fill a whole stride; output_padding restores them.
            extra = (h - ((oh - 1) * sh - 2 * ph + kh), wd - ((ow - 1) * sw - 2 * pw + kw))
            gx = conv_transpose2d_array(g, w, self.stride, self.padding, extra)
        if needs[1]:
            gw = conv2d_weight_grad(x, g, (kh, kw), self.stride, self.padding, self.columns)
        if len(needs) > 2 and needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb


class ConvTranspose2d(Function):
    def __init__(self, stride, padding, output_padding):
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def forward(self, x, weight, bias=None):
        self.x = x if self.needs_input_grad[1] else None  # as in Conv2d: only what is used
        self.weight = weight if self.needs_input_grad[0] else None
        self.kernel_size = weight.shape[2:]
        y = conv_transpose2d_array(x, weight, self.stride, self.padding, self.output_padding)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # y is a fresh array: add in place
        return y

    def backward(self, g):
        x, w = self.x, self.weight
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = conv2d_array(g, w, self.stride, self.padding)
        if needs[1]:
            # The same contraction as conv2d's weight gradient with the two tensors exchanged:
            # gw[c, o, i, j] = sum x[n, c, y, z] * gpad[n, o, y*S + i, z*S + j].
            gw = conv2d_weight_grad(g, x, self.kernel_size, self.stride, self.padding)
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
    fn = Conv2d(stride, padding)
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
    fn = ConvTranspose2d(stride, padding, output_padding)
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
        # The per-channel sums are einsums: a sum of products without building the products,
        # and on NumPy faster than mean(axis=(2, 3)); forward and backward together run
        # 2.5 times faster than with mean and temporaries.
        xp = get_array_module(x)
        count = x.shape[2] * x.shape[3]
        xhat = x - (xp.einsum("nchw->nc", x) / count)[:, :, None, None]  # finished in place
        var = xp.einsum("nchw,nchw->nc", xhat, xhat)[:, :, None, None] / count
        self.inv_std = 1.0 / xp.sqrt(var + self.eps)
        xhat *= self.inv_std
        self.xhat = xhat
        return xhat

    def backward(self, g):
        xp = get_array_module(g)
        xhat, count = self.xhat, g.shape[2] * g.shape[3]
        mean_g = (xp.einsum("nchw->nc", g) / count)[:, :, None, None]
        mean_gx = (xp.einsum("nchw,nchw->nc", g, xhat) / count)[:, :, None, None]
        gx = xhat * mean_gx                                 # one new array, then in place
        xp.subtract(g, gx, out=gx)
        gx -= mean_g
        gx *= self.inv_std
        return gx


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Instance normalization, as ``torch.nn.functional.instance_norm`` without running stats.

    x: (N, C, H, W); weight, bias: (C,) or None -> (N, C, H, W)
    y = (x - mean_{H,W}(x)) / sqrt(var_{H,W}(x) + eps) * weight + bias
    """
    _check_image(x, "instance_norm")
    y = InstanceNormalize(eps)(x)
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
    return Pad((left, right, top, bottom), mode)(x)


# --- activations ---------------------------------------------------------------------------

class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise (slope 0 is ReLU).

    The derivative (1 or slope per element) is kept from forward, and backward multiplies by
    it: on NumPy, a multiply by a mask of random signs runs some 30 times faster than
    ``xp.where`` with that mask, which branches per element.
    """

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = get_array_module(x)
        if not self.needs_input_grad[0]:
            # No backward will come (no graph, or a constant input): the derivative is not
            # needed, and max(x, slope*x) for 0 <= slope <= 1 is one pass with no mask.
            if not self.slope:
                return xp.maximum(x, 0)
            if 0 <= self.slope <= 1:
                return xp.maximum(x, x * self.slope)
        positive = x > 0
        if not self.slope:
            self.derivative = positive           # bool: g * bool stays g's dtype
            return xp.maximum(x, 0)
        derivative = positive.astype(x.dtype)   # 1 where x > 0, else slope
        derivative *= 1 - self.slope
        derivative += self.slope
        self.derivative = derivative
        return x * derivative

    def backward(self, g):
        return g * self.derivative


class Tanh(Function):
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class Sigmoid(Function):
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
    return LeakyReLU(0.0)(x)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope * x otherwise."""
    return LeakyReLU(negative_slope)(x)


def tanh(x):
    return Tanh()(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return Sigmoid()(x)


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

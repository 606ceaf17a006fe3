"""The grader finds the smallest case that breaks a wrong answer it has no name for.

Every answer planted here is wrong in one way that the catalogue of named mistakes
(tests/mistakes/) does not hold: right on the simpler cases, wrong once one knob turns (the
batch, the channels, the kernel, the stride, the padding, the dilation, a non-square image, an
optimizer's step, a node used twice, float32, the CuPy stand-in). The grader must call it wrong
and name that knob (lessons/grading/ladder.py). The last tests are the wrong answers the
grader once passed.
"""
import dataclasses
import importlib

import numpy as np
import pytest

from lessons.grading import EXERCISES, WRONG, grade
from mistakes import catalogue, variant

SAYS = {}
for _m in catalogue():
    SAYS.setdefault(_m.exercise, []).append(_m.says)


@dataclasses.dataclass(frozen=True)
class Planted:
    exercise: str    # "5.3"
    knob: str        # "stride": what breaks it
    replaced: dict   # names of the solution module replaced by wrong versions
    says: str        # the words of the grader's message that name the knob


def solution(exercise):
    return importlib.import_module(f"lessons.solutions.{EXERCISES[exercise][0]}")


PLANTED = []


def plant(exercise, knob, says, **replaced):
    PLANTED.append(Planted(exercise, knob, replaced, says))


# --- lesson 1 ----------------------------------------------------------------------------------

def _value_class(exp_grad=None, base_grad=None, exponent_grad=None):
    """The solution's Value with exp's or **'s gradient replaced by a wrong formula."""
    import math
    right = solution("1.1").Value

    class Value(right):
        def exp(self):
            out = Value(math.exp(self.data), (self,))

            def _backward():
                self.grad += (exp_grad or (lambda a, out: out.data * out.grad))(self, out)
            out._backward = _backward
            return out

        def __pow__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data ** other.data, (self, other))

            def _backward():
                self.grad += (base_grad or (lambda a, b, out: b.data * a.data ** (b.data - 1)
                                            * out.grad))(self, other, out)
                other.grad += (exponent_grad or (lambda a, b, out: out.data * math.log(a.data)
                                                 * out.grad))(self, other, out)
            out._backward = _backward
            return out

        def __add__(self, other):
            return right.__add__(self, other if isinstance(other, right) else Value(other))

        def __mul__(self, other):
            return right.__mul__(self, other if isinstance(other, right) else Value(other))
        __radd__, __rmul__ = __add__, __mul__
    return Value


def backward_visiting_twice(root):
    """Each node passes its gradient on once per path to it: no list of visited nodes."""
    root.grad = 1.0

    def visit(node):
        node._backward()
        for parent in node._parents:
            visit(parent)
    visit(root)


plant("1.1", "upstream", "where the upstream gradient is not 1",
      Value=_value_class(exp_grad=lambda a, out: out.data * out.grad ** 2))
plant("1.1", "node used twice", "wrong with a node used twice", backward=backward_visiting_twice)
plant("1.2", "upstream", "where the upstream gradient is not 1",
      Value=_value_class(base_grad=lambda a, b, out: b.data * a.data ** (b.data - 1)
                         * out.grad ** 2))
plant("1.2", "Value exponent", "with a Value exponent b",
      Value=_value_class(exponent_grad=lambda a, b, out: __import__("math").log(a.data)
                         * out.grad))
plant("1.2", "node used twice", "wrong with a node used twice", backward=backward_visiting_twice)


def _error_orders(eps_used=None, exact=None):
    import math

    def error_orders(f, dfdx, x, eps=1e-2):
        eps = eps_used or eps
        right = (exact or dfdx)(x)

        def order(formula):
            return math.log10(abs(formula(eps) - right) / abs(formula(eps / 10) - right))
        return (order(lambda h: (f(x + h) - f(x)) / h),
                order(lambda h: (f(x + h) - f(x - h)) / (2 * h)))
    return error_orders


plant("1.3", "eps", "wrong with eps = 1e-1", error_orders=_error_orders(eps_used=1e-2))
plant("1.3", "function", "wrong for sin", error_orders=_error_orders(
    exact=__import__("math").exp))


# --- lesson 2 ----------------------------------------------------------------------------------

def _sum_to(grad, shape, leading="sum", stretched="sum", zeros=None):
    """grad summed to shape, or with one of the ways to get it wrong."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra))) if leading == "sum" else \
            grad.mean(axis=tuple(range(extra)))
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True) if stretched == "sum" else \
                grad[(slice(None),) * axis + (slice(0, 1),)]
    if zeros is not None:
        out = zeros(shape)
        out += grad
        return out
    return grad


def _matmul(a_sum=_sum_to, b_sum=_sum_to):
    class MatMul(solution("2.1").MatMul):
        def backward(self, g):
            ga = g @ self.b.swapaxes(-1, -2)
            gb = self.a.swapaxes(-1, -2) @ g
            return a_sum(ga, self.a.shape), b_sum(gb, self.b.shape)
    return MatMul


class MatMulInABufferOfBsShape(solution("2.1").MatMul):
    """dL/da written into an array made in b's shape: right while a and b have one shape."""

    def backward(self, g):
        ga = np.zeros_like(self.b)
        ga[...] = g @ self.b.swapaxes(-1, -2)
        return ga, self.a.swapaxes(-1, -2) @ g


plant("2.1", "non-square", "wrong for non-square matrices", MatMul=MatMulInABufferOfBsShape)
plant("2.1", "batch on a", "wrong with a batch axis on a",
      MatMul=_matmul(b_sum=lambda g, shape: _sum_to(g, shape, leading="mean")))
plant("2.1", "batch on b", "wrong with a batch axis on b",
      MatMul=_matmul(a_sum=lambda g, shape: _sum_to(g, shape, leading="mean")))
plant("2.1", "stretched axes", "wrong with axes of length 1 that stretch",
      MatMul=_matmul(a_sum=lambda g, shape: _sum_to(g, shape, stretched="first")))
plant("2.1", "float32", "wrong in float32",
      MatMul=_matmul(b_sum=lambda g, shape: _sum_to(g, shape, zeros=np.zeros)))
plant("2.1", "device", "wrong on the CuPy stand-in", MatMul=_matmul(
    b_sum=lambda g, shape: _sum_to(g, shape, zeros=lambda s: np.zeros(s, dtype=g.dtype))))


def _div(ga, gb):
    class Div(solution("2.2").Div):
        def backward(self, g):
            return ga(g, self.a, self.b), gb(g, self.a, self.b)
    return Div


def _averaged_over_broadcast(g, a, b):
    gb = -g * a / (b * b)
    return gb.mean(axis=0) if gb.shape != b.shape else gb


plant("2.2", "broadcast", "wrong with b broadcast over rows",
      Div=_div(lambda g, a, b: g / b, _averaged_over_broadcast))
plant("2.2", "float32", "wrong in float32",
      Div=_div(lambda g, a, b: g * (np.float64(1.0) / b), lambda g, a, b: -g * a / (b * b)))
plant("2.2", "device", "wrong on the CuPy stand-in",
      Div=_div(lambda g, a, b: g / b, lambda g, a, b: -g * np.asarray(a) / (b * b)))


def _softmax(row_sums):
    class Softmax(solution("2.3").Softmax):
        def backward(self, g):
            return self.y * (g - row_sums(g, self.y))
    return Softmax


plant("2.3", "rows", "wrong for four rows",
      Softmax=_softmax(lambda g, y: (g * y).sum(axis=-1, keepdims=True)[0]))
plant("2.3", "3-d", "wrong for a 3-d x",
      Softmax=_softmax(lambda g, y: (g * y).sum(axis=1, keepdims=True)))
plant("2.3", "float32", "wrong in float32",
      Softmax=_softmax(lambda g, y: (g * y).sum(axis=-1, keepdims=True, dtype=np.float64)))
plant("2.3", "device", "wrong on the CuPy stand-in",
      Softmax=_softmax(lambda g, y: np.asarray(g * y).sum(axis=-1, keepdims=True)))


def order_visiting_twice(root):
    """Depth first, without a set of visited Tensors: a shared Tensor comes once per use."""
    order = []

    def visit(t):
        for i in (t._creator.inputs if t._creator is not None else ()):
            if i.requires_grad:
                visit(i)
        order.append(t)
    visit(root)
    return order[::-1]


def order_breadth_first(root):
    """Breadth first from the root, each Tensor where it is first seen."""
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        t = queue.pop(0)
        order.append(t)
        for i in (t._creator.inputs if t._creator is not None else ()):
            if i.requires_grad and id(i) not in seen:
                seen.add(id(i))
                queue.append(i)
    return order


def order_recursive(root):
    """Right, but one Python call per Tensor."""
    order, seen = [], set()

    def visit(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        for i in (t._creator.inputs if t._creator is not None else ()):
            if i.requires_grad:
                visit(i)
        order.append(t)
    visit(root)
    return order[::-1]


plant("2.4", "node used twice", "wrong with a node used twice",
      backward_order=order_visiting_twice)
plant("2.4", "short and long path", "wrong with a node reached by a short and a long path",
      backward_order=order_breadth_first)
plant("2.4", "deep graph", "wrong for a chain of 5,000 operations",
      backward_order=order_recursive)


# --- lesson 3 ----------------------------------------------------------------------------------

def worst_counting_the_busiest_column(analytic, numeric, atol=1e-5, rtol=1e-3):
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    bad = int((excess > 0).sum(axis=0).max())
    if bad == 0:
        return 0, None
    return bad, tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))


plant("3.1", "2-D", "wrong for 2-D arrays", worst_element=worst_counting_the_busiest_column)


def _jacobian(all_at_once=False, diagonal=False, rows_only=False):
    def numerical_jacobian(f, x, eps=1e-6):
        flat = x.reshape(-1).copy()
        columns = []
        for j in range(x.shape[0] if rows_only else flat.size):
            plus, minus = flat.copy(), flat.copy()
            if all_at_once:
                plus, minus = plus + eps, minus - eps
            else:
                plus[j] += eps
                minus[j] -= eps
            diff = np.ravel(f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * eps)
            columns.append(np.eye(flat.size)[j] * diff[j] if diagonal else diff)
        return np.stack(columns, axis=1)
    return numerical_jacobian


plant("3.2", "three elements", "wrong for x of three elements",
      numerical_jacobian=_jacobian(all_at_once=True))
plant("3.2", "two outputs", "wrong for f with two outputs",
      numerical_jacobian=_jacobian(diagonal=True))
plant("3.2", "2-D", "wrong for a 2-D x", numerical_jacobian=_jacobian(rows_only=True))


def _directional(reduce=None, fixed_eps=None):
    def directional_check(fn, x, g, v, eps=1e-6):
        import nn
        eps = fixed_eps or eps
        x.grad = None
        fn(x).backward(g)
        analytic = float((reduce or np.sum)(x.grad * v))

        def loss(data):
            with nn.no_grad():
                return float((fn(nn.Tensor(data)).data * g).sum())
        return analytic, (loss(x.data + eps * v) - loss(x.data - eps * v)) / (2 * eps)
    return directional_check


plant("3.3", "three elements", "wrong for x of three elements",
      directional_check=_directional(reduce=np.max))
plant("3.3", "eps", "wrong for fn(x) = tanh(x) * x with eps = 1e-2",
      directional_check=_directional(fixed_eps=1e-6))


# --- lesson 4 ----------------------------------------------------------------------------------

def _linear(dx=None, first_sample=False, cast=lambda a: a):
    class LinearFunction(solution("4.1").LinearFunction):
        def backward(self, g):
            g = cast(g)
            x, w = self.x, self.weight
            rows = slice(0, 1) if first_sample else slice(None)
            gx = dx(g, w) if dx else g @ w
            return gx, g[rows].T @ x[rows], g.sum(axis=0)
    return LinearFunction


plant("4.1", "outputs", "wrong with 3 inputs and 2 outputs",
      LinearFunction=_linear(dx=lambda g, w: g.sum(axis=1, keepdims=True) * w.sum(axis=0)))
plant("4.1", "batch", "wrong for a batch of 4", LinearFunction=_linear(first_sample=True))
plant("4.1", "float32", "wrong in float32",
      LinearFunction=_linear(cast=lambda g: g.astype(np.float64)))
plant("4.1", "device", "wrong on the CuPy stand-in", LinearFunction=_linear(cast=np.asarray))


def _cross_entropy(one_hot):
    class SoftmaxCrossEntropy(solution("4.2").SoftmaxCrossEntropy):
        def backward(self, g):
            n = self.softmax.shape[0]
            return (self.softmax - one_hot(self.softmax, self.target)) * (g / n)
    return SoftmaxCrossEntropy


plant("4.2", "batch", "wrong for a batch of 4", SoftmaxCrossEntropy=_cross_entropy(
    lambda y, target: np.eye(y.shape[1])[[int(target[0])] * y.shape[0]]))
plant("4.2", "float32", "wrong in float32", SoftmaxCrossEntropy=_cross_entropy(
    lambda y, target: np.eye(y.shape[1])[target]))
plant("4.2", "device", "wrong on the CuPy stand-in", SoftmaxCrossEntropy=_cross_entropy(
    lambda y, target: np.eye(y.shape[1], dtype=y.dtype)[np.asarray(target.tolist())]))


def _named_parameters(class_names=False, last_name=False):
    def named_parameters(module):
        found, names = [], {}

        def walk(m, prefix):
            for name, p in m._parameters.items():
                if p is None:
                    continue
                if id(p) in names and last_name:
                    found.remove((names[id(p)], p))
                if id(p) not in names or last_name:
                    names[id(p)] = prefix + name
                    found.append((prefix + name, p))
            for name, child in m._modules.items():
                walk(child, f"{prefix}{type(child).__name__ if class_names else name}.")
        walk(module, "")
        return found
    return named_parameters


plant("4.3", "children", "wrong for a module with children",
      named_parameters=_named_parameters(class_names=True))
plant("4.3", "shared parameter", "wrong for two layers that share one Parameter",
      named_parameters=_named_parameters(last_name=True))


def _sgd(decay=None, first_only=False, host=lambda a: a):
    def sgd_step(parameters, lr, weight_decay=0.0):
        for p in parameters[:1] if first_only else parameters:
            if p.grad is None:
                continue
            p.data -= lr * (host(p.grad) + (decay or (lambda p, wd: wd * p))(p.data, weight_decay))
    return sgd_step


plant("4.4", "weight decay", "wrong with weight_decay 0.1",
      sgd_step=_sgd(decay=lambda p, wd: wd * np.sign(p)))
plant("4.4", "two parameters", "wrong for two parameters", sgd_step=_sgd(first_only=True))
plant("4.4", "device", "wrong on the CuPy stand-in", sgd_step=_sgd(host=np.asarray))


# --- lesson 5 ----------------------------------------------------------------------------------

def _size(span, padding=True, stride=True):
    def conv_output_size(size, kernel, stride_=1, padding_=0, dilation=1):
        return (size + (2 * padding_ if padding else 0) - span(kernel, dilation)) \
            // (stride_ if stride else 1) + 1
    return conv_output_size


plant("5.1", "kernel", "wrong for a 3-tap kernel",
      conv_output_size=_size(lambda k, d: 2 * d * (k - 1) + 1))
plant("5.1", "stride", "wrong with stride 2",
      conv_output_size=_size(lambda k, d: d * (k - 1) + 1, stride=False))
plant("5.1", "padding", "wrong with padding 1",
      conv_output_size=_size(lambda k, d: d * (k - 1) + 1, padding=False))
plant("5.1", "dilation", "wrong with dilation 2",
      conv_output_size=_size(lambda k, d: k + d - 1))


def _im2col_loops(row, col, width_from_height=False, images=None, channels=None):
    """A copying im2col whose window entry (i, j) of window (p, q) is x[.., row(p, i, s, d),
    col(q, j, s, d)]; the other arguments plant one more mistake each."""
    def im2col_dilated(x, kh, kw, stride=1, dilation=1):
        n, c, h, w = x.shape
        oh = (h - dilation * (kh - 1) - 1) // stride + 1
        ow = oh if width_from_height else (w - dilation * (kw - 1) - 1) // stride + 1
        cols = np.zeros((n, c, kh, kw, oh, ow))
        for i in range(kh):
            for j in range(kw):
                for p in range(oh):
                    for q in range(ow):
                        r, s = row(p, i, j, stride, dilation), col(q, i, j, stride, dilation)
                        cols[:, :, i, j, p, q] = x[images or slice(None),
                                                   channels or slice(None), r, s]
        return cols
    return im2col_dilated


def _right_row(p, i, j, s, d):
    return p * s + i * d


def _right_col(q, i, j, s, d):
    return q * s + j * d


plant("5.2", "kernel", "wrong with a 3x3 kernel", im2col_dilated=_im2col_loops(
    lambda p, i, j, s, d: p * s + j * d, lambda q, i, j, s, d: q * s + i * d))
def im2col_column_stride_forgotten(x, kh, kw, stride=1, dilation=1):
    n, c, h, w = x.shape
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (w - dilation * (kw - 1) - 1) // stride + 1
    row, col = x.strides[2:]
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, c, kh, kw, oh, ow),
        strides=x.strides[:2] + (row * dilation, col * dilation, row * stride, col))


plant("5.2", "stride", "wrong with stride 2", im2col_dilated=im2col_column_stride_forgotten)
plant("5.2", "dilation", "wrong with dilation 2", im2col_dilated=_im2col_loops(
    lambda p, i, j, s, d: p * s + i, _right_col))
plant("5.2", "non-square", "wrong for a non-square image", im2col_dilated=_im2col_loops(
    _right_row, _right_col, width_from_height=True))
plant("5.2", "batch", "wrong for two images", im2col_dilated=_im2col_loops(
    _right_row, _right_col, images=slice(0, 1)))
plant("5.2", "channels", "wrong with three channels", im2col_dilated=_im2col_loops(
    _right_row, _right_col, channels=slice(0, 1)))


def im2col_numpy_strides(x, kh, kw, stride=1, dilation=1):
    n, c, h, w = x.shape
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (w - dilation * (kw - 1) - 1) // stride + 1
    row, col = x.strides[2:]
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, c, kh, kw, oh, ow),
        strides=x.strides[:2] + (row * dilation, col * dilation, row * stride, col * stride))


plant("5.2", "device", "wrong on the CuPy stand-in", im2col_dilated=im2col_numpy_strides)


def _col2im(top=lambda i, j, d: i * d, left=lambda i, j, d: j * d, column_step=None,
            square=False, images=None, channels=None, zeros=None):
    def col2im_dilated(cols, h, w, stride=1, dilation=1):
        import nn
        xp = nn.get_array_module(cols)
        n, c, kh, kw, oh, ow = cols.shape
        out = (zeros or xp.zeros)((n, c, h, h if square else w), dtype=cols.dtype)
        step = column_step or stride
        for i in range(kh):
            for j in range(kw):
                r, s = top(i, j, dilation), left(i, j, dilation)
                out[images or slice(None), channels or slice(None), r:r + stride * oh:stride,
                    s:s + step * ow:step] += cols[images or slice(None),
                                                  channels or slice(None), i, j]
        return out
    return col2im_dilated


plant("5.3", "kernel", "wrong with a 3x3 kernel",
      col2im_dilated=_col2im(top=lambda i, j, d: j * d, left=lambda i, j, d: i * d))
plant("5.3", "stride", "wrong with stride 2", col2im_dilated=_col2im(column_step=1))
plant("5.3", "dilation", "wrong with dilation 2",
      col2im_dilated=_col2im(left=lambda i, j, d: j))
plant("5.3", "non-square", "wrong for a non-square image", col2im_dilated=_col2im(square=True))
plant("5.3", "batch", "wrong for two images", col2im_dilated=_col2im(images=slice(0, 1)))
plant("5.3", "channels", "wrong with three channels",
      col2im_dilated=_col2im(channels=slice(0, 1)))
plant("5.3", "device", "wrong on the CuPy stand-in", col2im_dilated=_col2im(zeros=np.zeros))


# --- lesson 6 ----------------------------------------------------------------------------------

def _by_conv(width_from_height=False, first_image=False, zeros=None, kernel=None,
             spread_rows=lambda h, s: (h - 1) * s + 1, bottom=None, extra_top=0):
    def conv_transpose2d_by_conv(x, weight, stride=1, padding=0, output_padding=0):
        import nn
        import nn.functional as F
        xp = nn.get_array_module(x)
        n, c_in, h, w = x.shape
        n = 1 if first_image else n
        kh, kw = weight.shape[2:]
        w = h if width_from_height else w
        spread = (zeros or (lambda shape, dtype: xp.zeros(shape, dtype=dtype)))(
            (n, c_in, spread_rows(h, stride), spread_rows(w, stride)), x.dtype)
        spread[:, :, ::stride, ::stride] = x[:n]
        top, left = kh - 1 - padding, kw - 1 - padding
        low = bottom(kh, padding) if bottom else top
        framed = xp.pad(spread, ((0, 0), (0, 0), (top + extra_top * output_padding,
                                                  low + output_padding),
                                 (left, left + output_padding)))
        flipped = (kernel or (lambda w: w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)))(weight)
        return F.conv2d(nn.Tensor(framed), nn.Tensor(xp.ascontiguousarray(flipped))).data
    return conv_transpose2d_by_conv


plant("6.1", "kernel and channels", "wrong with a 3x3 kernel, 2 input and 3 output channels",
      conv_transpose2d_by_conv=_by_conv(kernel=lambda w: w[:, :, ::-1, ::-1].transpose(
          1, 0, 3, 2)))
plant("6.1", "stride", "wrong with stride 2",
      conv_transpose2d_by_conv=_by_conv(spread_rows=lambda h, s: h * s))
plant("6.1", "padding", "wrong with padding 1",
      conv_transpose2d_by_conv=_by_conv(bottom=lambda kh, padding: kh - 1))
plant("6.1", "output_padding", "wrong with output_padding 1",
      conv_transpose2d_by_conv=_by_conv(extra_top=1))
plant("6.1", "non-square", "wrong for a non-square image and kernel",
      conv_transpose2d_by_conv=_by_conv(width_from_height=True))
plant("6.1", "batch", "wrong for two images", conv_transpose2d_by_conv=_by_conv(first_image=True))
plant("6.1", "float32", "wrong in float32", conv_transpose2d_by_conv=_by_conv(
    zeros=lambda shape, dtype: np.zeros(shape)))
plant("6.1", "device", "wrong on the CuPy stand-in", conv_transpose2d_by_conv=_by_conv(
    zeros=lambda shape, dtype: np.zeros(shape, dtype=dtype)))


def _transposed(width_from_height=False, first_image=False, zeros=None, one_sided=False):
    class ConvTranspose2d(solution("6.2").ConvTranspose2d):
        def backward(self, g):
            import nn
            import nn.functional as F
            xp = nn.get_array_module(g)
            s, p = self.stride, self.padding
            h, w = self.x.shape[2:]
            w = h if width_from_height else w
            images = slice(0, 1) if first_image else slice(None)
            dx = F.conv2d(nn.Tensor(g), nn.Tensor(self.weight), stride=s, padding=p).data
            gpad = xp.pad(g, ((0, 0), (0, 0), (p, 0 if one_sided else p),
                              (p, 0 if one_sided else p)))
            dweight = (zeros or xp.zeros_like)(self.weight)
            for i in range(self.weight.shape[2]):
                for j in range(self.weight.shape[3]):
                    window = gpad[images, :, i:i + s * h:s, j:j + s * w:s]
                    dweight[:, :, i, j] = xp.tensordot(self.x[images, :, :, :w], window,
                                                       axes=([0, 2, 3], [0, 2, 3]))
            return dx, dweight
    return ConvTranspose2d


plant("6.2", "kernel, channels, stride and padding", "wrong with a 3x3 kernel",
      ConvTranspose2d=_transposed(one_sided=True))
plant("6.2", "non-square", "wrong for a non-square image and kernel",
      ConvTranspose2d=_transposed(width_from_height=True))
plant("6.2", "batch", "wrong for two images", ConvTranspose2d=_transposed(first_image=True))
plant("6.2", "float32", "wrong in float32",
      ConvTranspose2d=_transposed(zeros=lambda w: np.zeros(w.shape)))
plant("6.2", "device", "wrong on the CuPy stand-in",
      ConvTranspose2d=_transposed(zeros=lambda w: np.zeros(w.shape, dtype=w.dtype)))


def _upsample(blocks):
    class Upsample(solution("6.3").Upsample):
        def backward(self, g):
            return blocks(g, self.factor)
    return Upsample


def _block_sum(g, f, rows_for_columns=False, factor=None, sum_=None):
    n, c, oh, ow = g.shape
    f = factor or f
    blocks = g.reshape(n, c, oh // f, f, (oh if rows_for_columns else ow) // f, f)
    return (sum_ or (lambda b: b.sum(axis=(3, 5))))(blocks)


plant("6.3", "non-square", "wrong for a non-square image",
      Upsample=_upsample(lambda g, f: _block_sum(g, f, rows_for_columns=True)))
plant("6.3", "batch", "wrong for two images of three channels", Upsample=_upsample(
    lambda g, f: _block_sum(g, f)[:1, :1] + 0 * _block_sum(g, f)))
plant("6.3", "factor", "wrong with factor 3",
      Upsample=_upsample(lambda g, f: _block_sum(g, f, factor=2)))
plant("6.3", "float32", "wrong in float32", Upsample=_upsample(
    lambda g, f: _block_sum(g, f, sum_=lambda b: b.sum(axis=(3, 5), dtype=np.float64))))
plant("6.3", "device", "wrong on the CuPy stand-in", Upsample=_upsample(
    lambda g, f: _block_sum(g, f, sum_=lambda b: np.asarray(b).sum(axis=(3, 5)))))

# --- lesson 7 ----------------------------------------------------------------------------------

def _affine(first_gamma=False, first_image=False, sum_dtype=None, host=lambda a: a):
    class AffineInstanceNorm(solution("7.1").AffineInstanceNorm):
        def backward(self, g):
            g = host(g)
            gamma = self.gamma[:1] if first_gamma else self.gamma
            d = g * gamma.reshape(1, -1, 1, 1)
            centred = d - d.mean(axis=(2, 3), keepdims=True)
            along_xhat = self.xhat * (d * self.xhat).mean(axis=(2, 3), keepdims=True)
            dx = (centred - along_xhat) * self.inv_std
            images = slice(0, 1) if first_image else slice(None)
            return (dx, (g * self.xhat)[images].sum(axis=(0, 2, 3), dtype=sum_dtype),
                    g[images].sum(axis=(0, 2, 3)))
    return AffineInstanceNorm


plant("7.1", "channels", "wrong with three channels", AffineInstanceNorm=_affine(first_gamma=True))
plant("7.1", "batch", "wrong for two images", AffineInstanceNorm=_affine(first_image=True))
plant("7.1", "float32", "wrong in float32", AffineInstanceNorm=_affine(sum_dtype=np.float64))
plant("7.1", "device", "wrong on the CuPy stand-in", AffineInstanceNorm=_affine(host=np.asarray))


def _batch_norm_train(all_channels=False, fixed_momentum=None, cast=None, square=False):
    def batch_norm_train(x, running_mean, running_var, momentum=0.1, eps=1e-5):
        import nn
        xp = nn.get_array_module(x)
        x = cast(x) if cast is not None else x
        momentum = fixed_momentum or momentum
        m = x.shape[0] * x.shape[2] ** 2 if square else x.size // x.shape[1]
        axes = None if all_channels else (0, 2, 3)
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x - mean) / xp.sqrt(var + eps)
        return (y, (1 - momentum) * running_mean + momentum * mean.ravel(),
                (1 - momentum) * running_var + momentum * var.ravel() * m / (m - 1))
    return batch_norm_train


plant("7.2", "channels", "wrong with three channels",
      batch_norm_train=_batch_norm_train(all_channels=True))
plant("7.2", "momentum", "wrong with momentum 0.3",
      batch_norm_train=_batch_norm_train(fixed_momentum=0.1))
plant("7.2", "non-square", "wrong for a non-square image",
      batch_norm_train=_batch_norm_train(square=True))
plant("7.2", "float32", "wrong in float32",
      batch_norm_train=_batch_norm_train(cast=lambda x: x.astype(np.float64)))
plant("7.2", "device", "wrong on the CuPy stand-in",
      batch_norm_train=_batch_norm_train(cast=np.asarray))


def _batch_norm_backward(first_channel=False, host=lambda a: a, dtype=None, image_axes=False):
    class BatchNorm(solution("7.3").BatchNorm):
        def backward(self, g):
            g = host(g)
            mean_g = g.mean(axis=(0, 2, 3), keepdims=True, dtype=dtype)
            mean_g_xhat = (g * self.xhat).mean(axis=(2, 3) if image_axes else (0, 2, 3),
                                               keepdims=True)
            if first_channel:
                mean_g, mean_g_xhat = mean_g[:, :1], mean_g_xhat[:, :1]
            return (g - mean_g - self.xhat * mean_g_xhat) * self.inv_std
    return BatchNorm


plant("7.3", "batch", "wrong for two images", BatchNorm=_batch_norm_backward(image_axes=True))
plant("7.3", "channels", "wrong with three channels",
      BatchNorm=_batch_norm_backward(first_channel=True))
plant("7.3", "float32", "wrong in float32", BatchNorm=_batch_norm_backward(dtype=np.float64))
plant("7.3", "device", "wrong on the CuPy stand-in",
      BatchNorm=_batch_norm_backward(host=np.asarray))

# --- lesson 8 ----------------------------------------------------------------------------------

def _nesterov(velocity_update=None, cast=lambda g: g):
    def nesterov_step(param, grad, velocity, lr, momentum):
        grad = cast(grad)
        velocity = (velocity_update or (lambda v, g: momentum * v + g))(velocity, grad)
        return param - lr * (grad + momentum * velocity), velocity
    return nesterov_step


plant("8.1", "step 2", "wrong at step 2", nesterov_step=_nesterov(lambda v, g: g))
plant("8.1", "float32", "wrong in float32",
      nesterov_step=_nesterov(cast=lambda g: g.astype(np.float64)))
plant("8.1", "device", "wrong on the CuPy stand-in",
      nesterov_step=_nesterov(cast=lambda g: np.asarray(g)))


def _rmsprop(average=None, sqrt=None):
    def rmsprop_step(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
        import nn
        square_avg = (average or (lambda s, g: alpha * s + (1 - alpha) * g * g))(square_avg, grad)
        root = (sqrt or nn.get_array_module(param).sqrt)(square_avg)
        return param - lr * grad / (root + eps), square_avg
    return rmsprop_step


plant("8.2", "step 2", "wrong at step 2", rmsprop_step=_rmsprop(average=lambda s, g: 0.1 * g * g))
plant("8.2", "float32", "wrong in float32", rmsprop_step=_rmsprop(
    sqrt=lambda s: np.sqrt(s.astype(np.float64))))
plant("8.2", "device", "wrong on the CuPy stand-in", rmsprop_step=_rmsprop(
    sqrt=lambda s: np.asarray(s) ** 0.5))


def _adamw(correction_step=None, decay=None, zeros=None):
    def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=1e-2):
        import nn
        xp = nn.get_array_module(param)
        b1, b2 = betas
        decayed = (decay or (lambda p, lr, wd: p * (1 - lr * wd)))(param, lr, weight_decay)
        if zeros is not None:
            decayed = decayed + zeros(param.shape)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        n = correction_step(t) if correction_step else t
        return decayed - lr * (m / (1 - b1 ** n)) / (xp.sqrt(v / (1 - b2 ** n)) + eps), m, v
    return adamw_step


plant("8.3", "step 2", "wrong at step 2", adamw_step=_adamw(correction_step=lambda t: 1))
plant("8.3", "weight decay", "wrong with weight_decay 0.5",
      adamw_step=_adamw(decay=lambda p, lr, wd: p - lr * wd))
plant("8.3", "float32", "wrong in float32", adamw_step=_adamw(zeros=np.zeros))
plant("8.3", "device", "wrong on the CuPy stand-in",
      adamw_step=_adamw(zeros=lambda shape: np.zeros(shape, dtype=np.float32)))

# --- lesson 9 ----------------------------------------------------------------------------------

def loss_divided_by_the_first_axis(d_fake):
    import nn.functional as F
    softplus = F.relu(-d_fake) + (1 + (-d_fake.abs()).exp()).log()
    return softplus.sum() / d_fake.shape[0]


def loss_with_host_ones(d_fake):
    import nn
    import nn.functional as F
    ones = nn.Tensor(np.ones(d_fake.shape, dtype=d_fake.dtype))
    return (F.relu(-d_fake) + (ones + (-d_fake.abs()).exp()).log()).mean()


plant("9.1", "several scores", "wrong for several scores",
      non_saturating_generator_loss=loss_divided_by_the_first_axis)
plant("9.1", "device", "wrong on the CuPy stand-in",
      non_saturating_generator_loss=loss_with_host_ones)
plant("9.2", "labels", "wrong with labels b = 0.9 and a = 0.2",
      optimal_lsgan_discriminator=lambda p_real, p_fake, real_label=1.0, fake_label=0.0:
      real_label * p_real / (p_real + p_fake))
plant("9.2", "device", "wrong on the CuPy stand-in",
      optimal_lsgan_discriminator=lambda p_real, p_fake, real_label=1.0, fake_label=0.0:
      (real_label * np.asarray(p_real) + fake_label * p_fake) / (p_real + p_fake))


def _unpad(first_row_only=False, square=False, images=None, zeros=None):
    def reflect_pad_backward(grad, p):
        import nn
        xp = nn.get_array_module(grad)
        h = grad.shape[2] - 2 * p
        w = h if square else grad.shape[3] - 2 * p
        out = (zeros or xp.zeros)((grad.shape[0], grad.shape[1], h, w), dtype=grad.dtype)
        every = images or slice(None)
        for r in range(grad.shape[2]):
            for q in range(grad.shape[3]):
                i = abs(r - p) if r < p else 2 * (h - 1) - (r - p) if r >= p + h else r - p
                j = abs(q - p) if q < p else 2 * (w - 1) - (q - p) if q >= p + w else q - p
                if first_row_only and (r < p - 1 or r > p + h):
                    continue
                if 0 <= j < w:
                    out[every, :, i, j] += grad[every, :, r, q]
        return out
    return reflect_pad_backward


plant("9.3", "p", "wrong with p = 2", reflect_pad_backward=_unpad(first_row_only=True))
plant("9.3", "non-square", "wrong for a non-square image", reflect_pad_backward=_unpad(square=True))
plant("9.3", "batch", "wrong for two images of three channels",
      reflect_pad_backward=_unpad(images=slice(0, 1)))
plant("9.3", "device", "wrong on the CuPy stand-in", reflect_pad_backward=_unpad(zeros=np.zeros))


def _gan_losses(fake_sum=False, naive=False):
    def gan_losses(G, D, z, real):
        import nn.functional as F

        def softplus(s):
            if naive:
                return (1 + s.exp()).log()
            return F.relu(s) + (1 + (-s.abs()).exp()).log()
        fake = G(z)
        loss_G = softplus(-D(fake)).mean()
        judged = softplus(D(fake.detach()))
        loss_D = softplus(-D(real)).mean() + (judged.sum() if fake_sum else judged.mean())
        return loss_G, loss_D
    return gan_losses


plant("9.4", "batch", "wrong for a batch of three", gan_losses=_gan_losses(fake_sum=True))
plant("9.4", "large scores", "wrong with scores near 800", gan_losses=_gan_losses(naive=True))

# --- lesson 10 ---------------------------------------------------------------------------------

def _objective(identity_distance=None, identity_lambdas=None, detached=False):
    import nn.functional as F

    def generator_objective(G_A, G_B, D_A, D_B, real_A, real_B, lambda_A=10.0, lambda_B=10.0,
                            lambda_identity=0.5):
        fake_B, fake_A = G_A(real_A), G_B(real_B)
        judged_B, judged_A = (fake_B.detach(), fake_A.detach()) if detached else (fake_B, fake_A)
        adversarial = F.mse_loss(D_A(judged_B), 1.0) + F.mse_loss(D_B(judged_A), 1.0)
        cycle = (F.l1_loss(G_B(fake_B), real_A) * lambda_A
                 + F.l1_loss(G_A(fake_A), real_B) * lambda_B)
        distance = identity_distance or F.l1_loss
        weight_A, weight_B = (identity_lambdas or (lambda a, b: (a, b)))(lambda_A, lambda_B)
        identity = (distance(G_A(real_B), real_B) * (weight_B * lambda_identity)
                    + distance(G_B(real_A), real_A) * (weight_A * lambda_identity))
        return adversarial + cycle + identity
    return generator_objective


plant("10.1", "identity terms", "wrong with the identity terms", generator_objective=_objective(
    identity_distance=lambda a, b: __import__("nn").functional.mse_loss(a, b)))
plant("10.1", "lambdas", "wrong with lambda_A = 10, lambda_B = 4",
      generator_objective=_objective(identity_lambdas=lambda a, b: (10.0, 10.0)))


def pool_returns_the_new_image_on_a_swap(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() > 0.5:
        pool[int(rng.integers(pool_size))] = image
    return image


def pool_swaps_the_first(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() > 0.5:
        old, pool[0] = pool[0], image
        return old
    return image


plant("10.2", "pool of 1", "wrong with pool_size 1",
      pool_query=pool_returns_the_new_image_on_a_swap)
plant("10.2", "pool of 5", "wrong with pool_size 5", pool_query=pool_swaps_the_first)


def _count(convs_per_block=2, swap_channels=False):
    def generator_parameter_count(ngf, n_blocks, input_nc=3, output_nc=3):
        if swap_channels:
            input_nc, output_nc = output_nc, input_nc

        def conv(c_in, c_out, k):
            return c_out * c_in * k * k + c_out
        return (conv(input_nc, ngf, 7) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
                + n_blocks * convs_per_block * conv(4 * ngf, 4 * ngf, 3)
                + conv(4 * ngf, 2 * ngf, 3) + conv(2 * ngf, ngf, 3) + conv(ngf, output_nc, 7))
    return generator_parameter_count


plant("10.3", "residual blocks", "wrong with 2 residual blocks",
      generator_parameter_count=_count(convs_per_block=3))
plant("10.3", "channels in and out", "wrong with input_nc 1 and output_nc 3",
      generator_parameter_count=_count(swap_channels=True))


def _field(stride_two_layers):
    def patchgan_receptive_field(n_layers=3):
        field = 1
        for kernel, stride in reversed([(4, 2)] * stride_two_layers(n_layers) + [(4, 1)] * 2):
            field = (field - 1) * stride + kernel
        return field
    return patchgan_receptive_field


plant("10.4", "n_layers 1", "wrong already in the simplest case",
      patchgan_receptive_field=lambda n_layers=3: 70)
plant("10.4", "n_layers 2", "wrong for n_layers = 2",
      patchgan_receptive_field=lambda n_layers=3: 16 * n_layers)
plant("10.4", "n_layers 3", "wrong for n_layers = 3",
      patchgan_receptive_field=_field(lambda n: min(n, 2)))
plant("10.4", "n_layers 5", "wrong for n_layers = 5",
      patchgan_receptive_field=_field(lambda n: min(n, 3)))

# --- lesson 11 ---------------------------------------------------------------------------------

def normalize_by_the_first_channel(x, mean, std):
    import nn
    xp = nn.get_array_module(x)
    return (x - xp.asarray(mean[0], dtype=x.dtype)) / xp.asarray(std[0], dtype=x.dtype)


plant("11.1", "channels", "wrong with three channels", normalize=normalize_by_the_first_channel)


def _grid(column_of=lambda k, ncols: k % ncols, rows_of=lambda n, ncols: -(-n // ncols)):
    def image_grid(batch, ncols):
        import nn
        xp = nn.get_array_module(batch)
        n, c, h, w = batch.shape
        rows = rows_of(n, ncols)
        pixels = xp.clip((batch + 1) * 127.5, 0, 255).round().astype("uint8")
        grid = xp.zeros((rows * h, ncols * w, c), dtype="uint8")
        for k in range(n):
            r, q = k // ncols, column_of(k, ncols)
            if r < rows:
                grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = pixels[k].transpose(1, 2, 0)
        return nn.to_host(grid)
    return image_grid


plant("11.2", "two images", "wrong for two images side by side",
      image_grid=_grid(column_of=lambda k, ncols: (k + 1) % ncols))
plant("11.2", "last row", "wrong for five images in rows of two",
      image_grid=_grid(rows_of=lambda n, ncols: n // ncols))


def move_own_parameters_only(module, xp):
    import nn
    for p in module._parameters.values():
        if p is not None and nn.get_array_module(p.data) is not xp:
            p.data = xp.asarray(nn.to_host(p.data))
            p.grad = None
    for p in module.parameters():
        p.grad = None
    return module


plant("11.3", "tree", "wrong for a tree of modules", move_parameters=move_own_parameters_only)


def losses_all_the_first(losses):
    import nn
    values = list(losses.values())
    xp = nn.get_array_module(values[0])
    host = nn.to_host(xp.stack(values))
    return {name: float(host[0]) for name in losses}


plant("11.4", "eight losses", "wrong for eight losses", losses_to_host=losses_all_the_first)

# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("planted", PLANTED, ids=[f"{p.exercise}-{p.knob}" for p in PLANTED])
def test_the_grader_names_the_knob_that_breaks_a_wrong_answer(planted):
    result = grade(planted.exercise, module=variant(solution(planted.exercise), **planted.replaced))
    assert result.status == WRONG, f"{planted}: {result}"
    assert planted.says in result.message, f"{planted.knob}: {result.message}"
    named = [s for s in SAYS.get(planted.exercise, []) if s in result.message]
    assert not named, f"{planted.knob} is a catalogued mistake ({named}), not a new one"


def test_the_fakes_detached_inside_the_generator_objective_are_wrong():
    """The value is right; the gradient reaching G_A (and G_B) is not."""
    result = grade("10.1", module=variant(solution("10.1"),
                                          generator_objective=_objective(detached=True)))
    assert result.status == WRONG
    assert "the gradient reaching G_A's parameters" in result.message and "detach" in \
        result.message, result.message


def test_a_backward_that_visits_a_shared_node_twice_is_wrong():
    for exercise in ("1.1", "1.2"):
        result = grade(exercise, module=variant(solution(exercise),
                                                backward=backward_visiting_twice))
        assert result.status == WRONG and "with a node used twice" in result.message, result


def test_numpy_zeros_inside_col2im_is_wrong_on_the_device():
    result = grade("5.3", module=variant(solution("5.3"), col2im_dilated=_col2im(zeros=np.zeros)))
    assert result.status == WRONG
    assert "on the CuPy stand-in" in result.message and "TypeError" in result.message, result


def test_enough_planted_answers_for_every_exercise():
    assert len(PLANTED) >= 60
    assert {p.exercise for p in PLANTED} == set(EXERCISES)


# --- the relations the ladder tries on a wrong array -------------------------------------------

def test_the_relations_between_a_wrong_array_and_the_right_one():
    from lessons.grading.ladder import relation
    right = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert "opposite sign" in relation(-right, right)
    assert "times 0.5, a constant factor" in relation(0.5 * right, right)
    assert "transpose" in relation(right.T, right)
    assert "all zeros" in relation(np.zeros((2, 2)), right)
    stacked = np.stack([right, 2 * right])
    assert "summed over axis 0 it would be right" in relation(stacked, 3 * right)
    assert relation(right + np.array([[0.0, 0.1], [0.0, 0.0]]), right) == ""


def test_a_catalogued_mistake_keeps_its_words_and_the_ladder_speaks_otherwise():
    """The catalogue is tried first: its words come without a ladder's."""
    from mistakes.lesson05 import col2im_stride_forgotten
    result = grade("5.3", module=variant(solution("5.3"), col2im_dilated=col2im_stride_forgotten))
    assert "the stride is forgotten" in result.message and " is right " not in result.message

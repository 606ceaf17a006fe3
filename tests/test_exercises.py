"""The exercise grader is sound: it passes every reference solution, calls every untouched stub
"not attempted", and fails a deliberately broken variant of every exercise with a message that
says what is wrong.

A broken variant is the reference module with one function replaced by a mistake students
make (a wrong gradient, a wrong shape, a forgotten term), defined below next to the words the
grader must answer with.
"""
import math
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import nn
import nn.functional as F
from lessons import grade as grade_cli
from lessons.grading import CORRECT, NOT_ATTEMPTED, WRONG, EXERCISES, exercise_ids, grade
from lessons.grading import lesson10
from lessons.solutions import (ex01_chain_rule as s1, ex02_tensors as s2,
                               ex03_gradient_checking as s3, ex04_convolution as s4,
                               ex05_transposed_convolution as s5, ex06_normalization as s6,
                               ex07_optimizers as s7, ex08_gan as s8, ex09_cyclegan as s9,
                               ex10_devices as s10)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = exercise_ids()


def variant(solution, **replaced):
    """The solution module's names, with some replaced by broken versions."""
    names = {k: getattr(solution, k) for k in dir(solution) if not k.startswith("__")}
    names.update(replaced)
    return types.SimpleNamespace(**names)


# --- every solution passes, every stub is "not attempted" ------------------------------------

def test_catalog_lists_every_exercise():
    text = open(os.path.join(ROOT, "lessons", "exercises", "CATALOG.md"), encoding="utf-8").read()
    rows = re.findall(r"^\| (\d+\.\d+) \| `lessons/exercises/(\w+)\.py` \|", text, re.M)
    assert [r[0] for r in rows] == IDS
    for exercise, file in rows:
        assert EXERCISES[exercise][0] == file
    readme = open(os.path.join(ROOT, "lessons", "exercises", "README.md"), encoding="utf-8").read()
    assert [e for e in IDS if re.search(rf"\b{re.escape(e)} `", readme)] == IDS


@pytest.mark.parametrize("exercise", IDS)
def test_reference_solution_is_correct(exercise):
    result = grade(exercise, solutions=True)
    assert result.status == CORRECT, str(result)


@pytest.mark.parametrize("exercise", IDS)
def test_untouched_stub_is_not_attempted(exercise):
    result = grade(exercise)
    assert result.status == NOT_ATTEMPTED, str(result)


@pytest.mark.parametrize("file", sorted({f for f, _ in EXERCISES.values()}))
def test_stubs_and_solutions_share_their_docstrings(file):
    """The handout and the solutions must not drift apart: same names, same instructions."""
    import importlib
    stub = importlib.import_module(f"lessons.exercises.{file}")
    solution = importlib.import_module(f"lessons.solutions.{file}")

    def docs(module):
        out = {}
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) == module.__name__:
                out[name] = obj.__doc__
                for attr, member in vars(obj).items() if isinstance(obj, type) else ():
                    if callable(member):
                        out[f"{name}.{attr}"] = member.__doc__
        return out
    assert docs(stub) == docs(solution)


# --- broken variants fail with the right words ------------------------------------------------

class ValueAssigns(s1.Value):
    """Writes = instead of +=: a value used twice keeps only one contribution."""

    def __mul__(self, other):
        other = other if isinstance(other, s1.Value) else ValueAssigns(other)
        out = ValueAssigns(self.data * other.data, (self, other))

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad
        out._backward = _backward
        return out


class ValueForgetsUpstream(s1.Value):
    def __mul__(self, other):
        other = other if isinstance(other, s1.Value) else ValueForgetsUpstream(other)
        out = ValueForgetsUpstream(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data
            other.grad += self.data
        out._backward = _backward
        return out


class ValueTanhWithoutSquare(s1.Value):
    def tanh(self):
        t = math.tanh(self.data)
        out = s1.Value(t, (self,))

        def _backward():
            self.grad += (1 - t) * out.grad
        out._backward = _backward
        return out


class ValueTanhUnfinished(s1.Value):
    def tanh(self):
        out = s1.Value(math.tanh(self.data), (self,))

        def _backward():
            raise NotImplementedError("Exercise 1.1")
        out._backward = _backward
        return out


class DivWrongSign(s2.Div):
    def backward(self, g):
        return g / self.b, g * self.a / (self.b * self.b)


class DivOneGradient(s2.Div):
    def backward(self, g):
        return g / self.b


class LeakyForgetsSlope(s3.LeakyReLU):
    def backward(self, g):
        return g


class LeakyForgetsUpstream(s3.LeakyReLU):
    def backward(self, g):
        return np.where(self.positive, 1.0, self.slope) * np.ones_like(g)


class NormWithoutVarianceTerm(s6.InstanceNorm):
    def backward(self, g):
        return (g - g.mean(axis=(2, 3), keepdims=True)) * self.inv_std


class NormWithoutMeanTerm(s6.InstanceNorm):
    def backward(self, g):
        xhat = self.xhat
        return (g - xhat * (g * xhat).mean(axis=(2, 3), keepdims=True)) * self.inv_std


def one_sided(f, x, eps=1e-6):
    return (f(x + eps) - f(x)) / eps


def without_the_two(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / eps


def sum_leading_axes_only(grad, shape):
    return grad.sum(axis=tuple(range(grad.ndim - len(shape))))


def numerical_gradient_without_restoring(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        x[i] += eps
        plus = (f(x) * g).sum()
        x[i] -= 2 * eps
        grad[i] = (plus - (f(x) * g).sum()) / (2 * eps)
    return grad


def numerical_gradient_ignoring_g(f, x, g, eps=1e-6):
    return s3.numerical_gradient(f, x, np.ones_like(g), eps)


def numerical_gradient_one_sided(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    base = (f(x) * g).sum()
    for i in np.ndindex(*x.shape):
        x[i] += eps
        grad[i] = ((f(x) * g).sum() - base) / eps
        x[i] -= eps
    return grad


def im2col_copied(x, kh, kw, stride):
    return s4.im2col(x, kh, kw, stride).copy()


def im2col_one_window_short(x, kh, kw, stride):
    return s4.im2col(x, kh, kw, stride)[..., :-1, :]


def weight_grad_transposed(x, g, kh, kw, stride=1, padding=0):
    return s4.conv2d_weight_grad(x, g, kh, kw, stride, padding).transpose(1, 0, 2, 3)


def weight_grad_first_image_only(x, g, kh, kw, stride=1, padding=0):
    return s4.conv2d_weight_grad(x[:1], g[:1], kh, kw, stride, padding)


def weight_grad_on_unfinished_im2col(x, g, kh, kw, stride=1, padding=0):
    raise NotImplementedError("Exercise 4.1")   # what a student's 4.2 meets when 4.1 is a stub


def col2im_assigns(cols, h, w, stride):
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] = cols[:, :, i, j]
    return out


def col2im_crashes(cols, h, w, stride):
    return cols[:, :, 0, 0].reshape(h, w)


def conv_transpose_uncropped(x, weight, stride=1, padding=0):
    return s5.conv_transpose2d(x, weight, stride, 0)


def conv_transpose_flipped(x, weight, stride=1, padding=0):
    return s5.conv_transpose2d(x, weight[:, :, ::-1, ::-1], stride, padding)


def conv_size_true_division(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) / stride + 1


def transpose_size_without_output_padding(size, kernel, stride=1, padding=0, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel


def transpose_size_unfinished(size, kernel, stride=1, padding=0, output_padding=0):
    raise NotImplementedError("Exercise 5.2")


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


def sgd_with_dampening(param, grad, velocity, lr, momentum):
    velocity = momentum * velocity + (1 - momentum) * grad
    return param - lr * velocity, velocity


def sgd_without_momentum(param, grad, velocity, lr, momentum):
    return param - lr * grad, velocity


def adam_without_bias_correction(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), m, v


def adam_returns_old_moments(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return s7.adam_step(param, grad, m, v, t, lr, betas, eps)[0], m, v


def d_loss_without_half(d_real, d_fake):
    return F.mse_loss(d_real, 1.0) + F.mse_loss(d_fake, 0.0)


def d_loss_as_number(d_real, d_fake):
    return 0.5 * (((d_real.data - 1) ** 2).mean() + (d_fake.data ** 2).mean())


def d_loss_cut_from_graph(d_real, d_fake):
    return nn.Tensor(s8.lsgan_discriminator_loss(d_real, d_fake).data)


def g_loss_wrong_target(d_fake):
    return F.mse_loss(d_fake, 0.0)


def reflect_pad_repeating_the_edge(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="symmetric")


def cycle_loss_squared(real_a, rec_a, real_b, rec_b, lambda_cycle=10.0):
    return (F.mse_loss(rec_a, real_a) + F.mse_loss(rec_b, real_b)) * lambda_cycle


def identity_loss_without_lambda_identity(real_a, same_a, real_b, same_b, lambda_cycle=10.0,
                                          lambda_identity=0.5):
    return (F.l1_loss(same_a, real_a) + F.l1_loss(same_b, real_b)) * lambda_cycle


def pool_swaps_on_the_other_half(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() < 0.5:
        i = int(rng.integers(pool_size))
        old, pool[i] = pool[i], image
        return old
    return image


def pool_forgets_to_store(pool, image, pool_size, rng):
    if pool_size == 0:
        return image
    if len(pool) < pool_size:
        pool.append(image)
        return image
    if rng.random() > 0.5:
        return pool[int(rng.integers(pool_size))]
    return image


def normalize_float64_constants(x, mean, std):
    return (x - np.reshape(mean, (1, -1, 1, 1))) / np.reshape(std, (1, -1, 1, 1))


def normalize_host_constants(x, mean, std):
    shape = (1, -1, 1, 1)
    return ((x - np.asarray(mean, dtype=x.dtype).reshape(shape))
            / np.asarray(std, dtype=x.dtype).reshape(shape))


def grid_left_on_device(batch, ncols):
    xp = nn.get_array_module(batch)
    grid = s10.image_grid(nn.to_host(batch), ncols)
    return xp.asarray(grid)


def grid_without_clip(batch, ncols):
    n, c, h, w = batch.shape
    pixels = ((batch + 1) * 127.5).round().astype(np.uint8)   # 256 wraps around to 0
    rows = -(-n // ncols)
    grid = np.zeros((rows * h, ncols * w, c), dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = pixels[k].transpose(1, 2, 0)
    return grid


def grid_as_floats(batch, ncols):
    return s10.image_grid(batch, ncols).astype(np.float32)


BROKEN = [  # (exercise, module, what the grader must say)
    ("1.1", variant(s1, Value=ValueAssigns), "write += and not ="),
    ("1.1", variant(s1, Value=ValueForgetsUpstream), "did you multiply by it?"),
    ("1.1", variant(s1, Value=ValueTanhWithoutSquare), "dL/da = (1 - tanh(a)^2) * c: yours"),
    ("1.1", variant(s1, Value=ValueTanhUnfinished),
     "Value.__mul__ is right, but Value.tanh still raises NotImplementedError"),
    ("1.2", variant(s1, numerical_derivative=one_sided), "one-sided difference"),
    ("1.2", variant(s1, numerical_derivative=without_the_two),
     "numerical_derivative(lambda x: x**3, 2.0, eps=1e-3)"),
    ("2.1", variant(s2, sum_to_shape=sum_leading_axes_only),
     "sum_to_shape(grad of shape (2, 3, 4), shape=(3, 1)) has shape (3, 4), expected (3, 1)"),
    ("2.2", variant(s2, Div=DivWrongSign), "the gradient with respect to b"),
    ("2.2", variant(s2, Div=DivOneGradient), "backward must return a tuple of 2 gradients"),
    ("3.1", variant(s3, numerical_gradient=numerical_gradient_without_restoring),
     "numerical_gradient changed x"),
    ("3.1", variant(s3, numerical_gradient=numerical_gradient_ignoring_g),
     "weighted by g is wrong at"),
    ("3.1", variant(s3, numerical_gradient=numerical_gradient_one_sided),
     "against central differences"),
    ("3.2", variant(s3, LeakyReLU=LeakyForgetsSlope),
     "the gradient with respect to x with slope 0.2 (shape (2, 3, 4)) is wrong"),
    ("3.2", variant(s3, LeakyReLU=LeakyForgetsUpstream), "is wrong at"),
    ("4.1", variant(s4, im2col=im2col_copied), "copied them"),
    ("4.1", variant(s4, im2col=im2col_one_window_short),
     "has shape (2, 3, 3, 3, 4, 4), expected (2, 3, 3, 3, 5, 4)"),
    ("4.2", variant(s4, conv2d_weight_grad=weight_grad_transposed),
     "has shape (3, 4, 3, 3), expected (4, 3, 3, 3)"),
    ("4.2", variant(s4, conv2d_weight_grad=weight_grad_first_image_only),
     "compared with nn's conv2d backward is wrong at"),
    ("4.2", variant(s4, conv2d_weight_grad=weight_grad_on_unfinished_im2col),
     "stopped at NotImplementedError('Exercise 4.1')"),
    ("4.3", variant(s4, col2im=col2im_assigns),
     "col2im(cols of shape (2, 3, 3, 3, 5, 4), h=7, w=6, stride=1) is wrong at"),
    ("4.3", variant(s4, col2im=col2im_crashes), "raised ValueError"),
    ("5.1", variant(s5, conv_transpose2d=conv_transpose_uncropped),
     "has shape (2, 2, 9, 7), expected (2, 2, 7, 5)"),
    ("5.1", variant(s5, conv_transpose2d=conv_transpose_flipped), "is wrong at"),
    ("5.2", variant(s5, conv_output_size=conv_size_true_division), "a float"),
    ("5.2", variant(s5, conv_transpose_output_size=transpose_size_without_output_padding),
     "output_padding=1) returned 7, but nn's layer gives 8"),
    ("5.2", variant(s5, conv_transpose_output_size=transpose_size_unfinished),
     "conv_output_size is right, but conv_transpose_output_size still raises"),
    ("6.1", variant(s6, instance_norm=instance_norm_unbiased), "(float64) is wrong at"),
    ("6.1", variant(s6, instance_norm=instance_norm_eps_outside), "wrong at 120 of 120 elements"),
    ("6.1", variant(s6, instance_norm=instance_norm_upcasts), "returned float64"),
    ("6.2", variant(s6, InstanceNorm=NormWithoutVarianceTerm),
     "the gradient with respect to x (shape (2, 3, 4, 5))"),
    ("6.2", variant(s6, InstanceNorm=NormWithoutMeanTerm), "is wrong at"),
    ("7.1", variant(s7, sgd_momentum_step=sgd_with_dampening), "the parameter after step 1"),
    ("7.1", variant(s7, sgd_momentum_step=sgd_without_momentum), "the parameter after step 2"),
    ("7.2", variant(s7, adam_step=adam_without_bias_correction), "the parameter after step 1"),
    ("7.2", variant(s7, adam_step=adam_returns_old_moments), "m after step 1"),
    ("8.1", variant(s8, lsgan_discriminator_loss=d_loss_without_half),
     "lsgan_discriminator_loss(d_real, d_fake) = 0.5 * (mean((d_real - 1)^2) + mean(d_fake^2)): "
     "yours"),
    ("8.1", variant(s8, lsgan_discriminator_loss=d_loss_as_number),
     "returned float64: return a Tensor"),
    ("8.1", variant(s8, lsgan_discriminator_loss=d_loss_cut_from_graph), "cut from the graph"),
    ("8.1", variant(s8, lsgan_generator_loss=g_loss_wrong_target),
     "lsgan_generator_loss(d_fake) = mean((d_fake - 1)^2): yours"),
    ("8.2", variant(s8, reflect_pad=reflect_pad_repeating_the_edge),
     "reflect_pad(x of shape (2, 3, 5, 4), p=1) is wrong at"),
    ("9.1", variant(s9, cycle_loss=cycle_loss_squared), "cycle_loss(real_a, rec_a, real_b, rec_b"),
    ("9.1", variant(s9, identity_loss=identity_loss_without_lambda_identity),
     "identity_loss(real_a, same_a, real_b, same_b, lambda_cycle=10.0, lambda_identity=0.5)"),
    ("9.2", variant(s9, pool_query=pool_swaps_on_the_other_half), "because the pool was full and "
     "rng.random() gave"),
    ("9.2", variant(s9, pool_query=pool_forgets_to_store), "afterwards the pool holds images"),
    ("10.1", variant(s10, normalize=normalize_float64_constants), "returned float64"),
    ("10.1", variant(s10, normalize=normalize_host_constants),
     "on a device array (the CuPy stand-in) raised TypeError"),
    ("10.2", variant(s10, image_grid=grid_left_on_device), "not a NumPy array"),
    ("10.2", variant(s10, image_grid=grid_without_clip), "is wrong at"),
    ("10.2", variant(s10, image_grid=grid_as_floats), "an image is uint8"),
]


def test_every_exercise_has_a_broken_variant():
    assert sorted({b[0] for b in BROKEN}, key=IDS.index) == IDS


@pytest.mark.parametrize("exercise, module, message", BROKEN,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_broken_variant_is_wrong_and_says_why(exercise, module, message):
    result = grade(exercise, module=module)
    assert result.status == WRONG, str(result)
    assert message in result.message, str(result)


def test_without_the_device_stand_in_numpy_in_the_source_is_caught(monkeypatch):
    monkeypatch.setattr(lesson10, "device_module", lambda: None)
    result = grade("10.1", module=variant(s10, normalize=normalize_host_constants))
    assert result.status == WRONG and "normalize names NumPy (np.asarray)" in result.message
    assert grade("10.1", solutions=True).status == CORRECT


def test_a_crash_names_the_line_of_the_student_file():
    result = grade("4.3", module=variant(s4, col2im=col2im_crashes))
    assert "test_exercises.py line" in result.message and "reshape(h, w)" in result.message


# --- the command line ------------------------------------------------------------------------

def test_command_grades_one_lesson_and_sets_the_exit_code(capsys):
    assert grade_cli.main(["4", "--solutions"]) == 0
    out = capsys.readouterr().out
    assert "Exercise 4.1: correct" in out and "Exercise 4.3: correct" in out
    assert "3 of 3 correct" in out
    assert grade_cli.main(["4.2"]) == 1
    assert capsys.readouterr().out.strip() == "Exercise 4.2: not attempted"


def test_unknown_exercise_is_refused():
    with pytest.raises(SystemExit, match="unknown exercise '4.9'"):
        grade_cli.main(["4.9"])


def test_documented_command_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "lessons.grade", "all", "--solutions"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(IDS)} of {len(IDS)} correct" in done.stdout
    done = subprocess.run([sys.executable, "-m", "lessons.grade", "1.2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "not attempted" in done.stdout

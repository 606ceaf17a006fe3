"""Classic wrong answers to the exercises of lesson 6."""


from lessons.solutions import ex06_transposed_convolution as solution

from . import Mistake, variant


def conv_transpose_uncropped(x, weight, stride=1, padding=0):
    return solution.conv_transpose2d(x, weight, stride, 0)


def conv_transpose_flipped(x, weight, stride=1, padding=0):
    return solution.conv_transpose2d(x, weight[:, :, ::-1, ::-1], stride, padding)


def conv_size_true_division(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) / stride + 1


def transpose_size_without_output_padding(size, kernel, stride=1, padding=0, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel


def transpose_size_unfinished(size, kernel, stride=1, padding=0, output_padding=0):
    raise NotImplementedError("Exercise 6.2")


MISTAKES = [
    Mistake('6.1', 'conv_transpose_uncropped', variant(solution, conv_transpose2d=conv_transpose_uncropped),
            "has shape (2, 2, 9, 7), expected (2, 2, 7, 5)"),
    Mistake('6.1', 'conv_transpose_flipped', variant(solution, conv_transpose2d=conv_transpose_flipped),
            "is wrong at"),
    Mistake('6.2', 'conv_size_true_division', variant(solution, conv_output_size=conv_size_true_division),
            "a float"),
    Mistake('6.2', 'transpose_size_without_output_padding', variant(solution, conv_transpose_output_size=transpose_size_without_output_padding),
            "output_padding=1) returned 7, but nn's layer gives 8"),
    Mistake('6.2', 'transpose_size_unfinished', variant(solution, conv_transpose_output_size=transpose_size_unfinished),
            "conv_output_size is right, but conv_transpose_output_size still raises"),
]

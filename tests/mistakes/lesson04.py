"""Classic wrong answers to the exercises of lesson 4."""
import numpy as np

from lessons.solutions import ex04_training as solution

from . import Mistake, variant


# --- 4.1: Linear's backward ----------------------------------------------------------------

class LinearBiasNotSummed(solution.LinearFunction):
    def backward(self, g):
        return g @ self.weight, g.T @ self.x, g


class LinearWeightTransposed(solution.LinearFunction):
    def backward(self, g):
        return g @ self.weight, self.x.T @ g, g.sum(axis=0)


class LinearBiasSummedOverOutputs(solution.LinearFunction):
    def backward(self, g):
        return g @ self.weight, g.T @ self.x, g.sum(axis=1)


class LinearBiasAveraged(solution.LinearFunction):
    def backward(self, g):
        return g @ self.weight, g.T @ self.x, g.mean(axis=0)


def _with(linear_class):
    return variant(solution, LinearFunction=linear_class,
                   linear=lambda x, w, b: linear_class()(x, w, b))


# --- 4.2: softmax cross-entropy ------------------------------------------------------------

class CrossEntropyOverflows(solution.SoftmaxCrossEntropy):
    def forward(self, logits):
        exp = np.exp(logits)
        total = exp.sum(axis=1, keepdims=True)
        self.softmax = exp / total
        rows = np.arange(logits.shape[0])
        return (np.log(total[:, 0]) - logits[rows, self.target]).mean()


class CrossEntropySummed(solution.SoftmaxCrossEntropy):
    def forward(self, logits):
        return super().forward(logits) * logits.shape[0]


class CrossEntropyMeanOverAll(solution.SoftmaxCrossEntropy):
    def forward(self, logits):
        loss = super().forward(logits)
        onehot = np.eye(logits.shape[1])[self.target]
        return -(onehot * np.log(self.softmax)).mean() + 0 * loss


class CrossEntropyNoOneHot(solution.SoftmaxCrossEntropy):
    def backward(self, g):
        return self.softmax * (g / self.softmax.shape[0])


class CrossEntropyNotDividedByN(solution.SoftmaxCrossEntropy):
    def backward(self, g):
        return super().backward(g) * self.softmax.shape[0]


class CrossEntropyIgnoresG(solution.SoftmaxCrossEntropy):
    def backward(self, g):
        return super().backward(np.ones_like(g))


def _ce(ce_class):
    return variant(solution, SoftmaxCrossEntropy=ce_class,
                   cross_entropy=lambda logits, target: ce_class(target)(logits))


# --- 4.3: the parameter walk ---------------------------------------------------------------

def walk_without_prefix(module):
    found, seen = [], set()

    def walk(m):
        for name, p in m._parameters.items():
            if id(p) not in seen:
                seen.add(id(p))
                found.append((name, p))
        for child in m._modules.values():
            walk(child)

    walk(module)
    return found


def walk_own_parameters_only(module):
    return list(module._parameters.items())


def walk_listing_shared_twice(module):
    found = []

    def walk(m, prefix):
        found.extend((prefix + name, p) for name, p in m._parameters.items())
        for name, child in m._modules.items():
            walk(child, f"{prefix}{name}.")

    walk(module, "")
    return found


def walk_one_level_prefix(module):
    # a child's name only, not the whole path: "1.weight" where "0.layers.1.weight" belongs
    return [(".".join(name.split(".")[-2:]), p) for name, p in solution.named_parameters(module)]


def sgd_rebinding(parameters, lr, weight_decay=0.0):
    for p in parameters:
        if p.grad is None:
            continue
        p = p.data - lr * (p.grad + weight_decay * p.data)  # noqa: F841 (the mistake)


def sgd_decay_sign(parameters, lr, weight_decay=0.0):
    solution.sgd_step(parameters, lr, -weight_decay)


def sgd_decay_without_lr(parameters, lr, weight_decay=0.0):
    for p in parameters:
        if p.grad is None:
            continue
        p.data -= lr * p.grad + weight_decay * p.data


def sgd_crashes_on_missing_grad(parameters, lr, weight_decay=0.0):
    for p in parameters:
        p.data -= lr * (p.grad + weight_decay * p.data)


def sgd_decays_frozen(parameters, lr, weight_decay=0.0):
    for p in parameters:
        grad = p.grad if p.grad is not None else 0.0
        p.data -= lr * (grad + weight_decay * p.data)


MISTAKES = [
    Mistake("4.1", "the bias gradient is not summed over the batch", _with(LinearBiasNotSummed),
            "the bias gradient must be summed over the batch"),
    Mistake("4.1", "the bias gradient summed over the wrong axis",
            _with(LinearBiasSummedOverOutputs), "you summed over the wrong axis"),
    Mistake("4.1", "the weight gradient is transposed", _with(LinearWeightTransposed),
            "that is the transposed weight gradient (x.T @ g)"),
    Mistake("4.1", "the bias gradient is averaged", _with(LinearBiasAveraged),
            "the bias gradient is divided by the batch size"),
    Mistake("4.2", "exp overflows", _ce(CrossEntropyOverflows),
            "exp(1000) overflows to inf. Subtract each row's maximum"),
    Mistake("4.2", "the sum instead of the mean", _ce(CrossEntropySummed),
            "is the sum over the batch"),
    Mistake("4.2", "the mean over every entry", _ce(CrossEntropyMeanOverAll),
            "is the mean over all N*C = 20 entries"),
    Mistake("4.2", "backward without the one-hot", _ce(CrossEntropyNoOneHot),
            "returned the softmax alone: subtract 1 at each row's target class"),
    Mistake("4.2", "backward not divided by N", _ce(CrossEntropyNotDividedByN),
            "is N = 5 times too large"),
    Mistake("4.2", "backward ignores g", _ce(CrossEntropyIgnoresG), "ignores g"),
    Mistake("4.3", "names without their path", variant(solution,
                                                       named_parameters=walk_without_prefix),
            "the names lack their path"),
    Mistake("4.3", "no recursion", variant(solution, named_parameters=walk_own_parameters_only),
            "only the module's own parameters are listed"),
    Mistake("4.3", "a shared parameter twice",
            variant(solution, named_parameters=walk_listing_shared_twice),
            "a Parameter is listed twice"),
    Mistake("4.3", "only the last child's name", variant(solution,
                                                         named_parameters=walk_one_level_prefix),
            "the names keep only the last child's name"),
    Mistake("4.4", "the loop variable rebound", variant(solution, sgd_step=sgd_rebinding),
            "did not change: assigning to the loop variable"),
    Mistake("4.4", "the decay's sign", variant(solution, sgd_step=sgd_decay_sign),
            "the decay pushes the weights away from 0"),
    Mistake("4.4", "the decay not scaled by lr", variant(solution, sgd_step=sgd_decay_without_lr),
            "the decay is not scaled by the learning rate"),
    Mistake("4.4", "a missing grad crashes", variant(solution,
                                                     sgd_step=sgd_crashes_on_missing_grad),
            "on a parameter whose grad is None"),
    Mistake("4.4", "a parameter without grad decayed",
            variant(solution, sgd_step=sgd_decays_frozen),
            "changed a parameter whose grad is None"),
]

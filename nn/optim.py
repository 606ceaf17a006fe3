"""Optimizers that update parameters in place, and a per-epoch learning-rate schedule.

State is kept per parameter in the order the parameters were given (never keyed by
``id``), so ``state_dict`` and ``load_state_dict`` line up across runs.
"""
from .backend import faster, get_array_module, to_device

__all__ = ["SGD", "Adam", "LambdaLR"]


class Optimizer:
    state_arrays = ()  # names of the per-parameter state lists, e.g. ("m", "v")
    counters = ()      # names of the integer state besides lr, e.g. ("t",)

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def state_dict(self):
        """{name: array or number} of everything needed to continue: "lr", "m.0", ..., "t"."""
        state = {"lr": self.lr}
        for key in self.state_arrays:
            for i, arr in enumerate(getattr(self, key)):
                state[f"{key}.{i}"] = arr
        state.update((key, getattr(self, key)) for key in self.counters)
        return state

    def load_state_dict(self, state):
        """Restore a ``state_dict``; every entry is checked before anything changes."""
        from .state import check_state_dict  # loaded when a state is loaded, not by import nn
        expected = {key: () for key in ("lr",) + self.counters}
        for key in self.state_arrays:
            expected.update({f"{key}.{i}": p.shape for i, p in enumerate(self.params)})
        check_state_dict(state, expected, f"{type(self).__name__}.load_state_dict", name=str)
        self.lr = float(state["lr"])
        for key in self.counters:
            setattr(self, key, int(state[key]))
        for key in self.state_arrays:
            arrays = getattr(self, key)
            for i, p in enumerate(self.params):
                value = to_device(state[f"{key}.{i}"], get_array_module(p.data))
                arrays[i] = value.astype(p.dtype)


class SGD(Optimizer):
    """p -= lr * v, with v = momentum * v + grad (v = grad when momentum is 0)."""

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        # Zeros, not None: the first step still gives v = grad, and state_dict always has the
        # velocity to save, so that a resumed run continues exactly.
        self.velocity = ([get_array_module(p.data).zeros_like(p.data) for p in self.params]
                         if momentum else [])
        self.state_arrays = ("velocity",) if momentum else ()

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.momentum:
                v = self.velocity[i]
                v *= self.momentum
                v += g
                g = v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with bias correction, as ``torch.optim.Adam``:

        m = b1*m + (1 - b1)*g          v = b2*v + (1 - b2)*g^2
        p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    state_arrays, counters = ("m", "v"), ("t",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = tuple(betas), eps
        self.t = 0
        self.m = [get_array_module(p.data).zeros_like(p.data) for p in self.params]
        self.v = [get_array_module(p.data).zeros_like(p.data) for p in self.params]

    def step(self):
        """One update of every parameter that has a gradient, in place."""
        self.t += 1
        faster(Adam.update, get_array_module(self.params[0].data))(self)

    def update(self):
        """The formula above, for step t = self.t, on every parameter with a gradient."""
        (b1, b2), t = self.betas, self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            xp = get_array_module(g)
            m *= b1                      # the moments are state: updated in place
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            p.data -= self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


class LambdaLR:
    """Set ``optimizer.lr = base_lr * lr_lambda(epoch)`` at every ``step()`` (once per epoch)."""

    def __init__(self, optimizer, lr_lambda):
        self.optimizer, self.lr_lambda = optimizer, lr_lambda
        self.base_lr = optimizer.lr
        self.epoch = 0
        optimizer.lr = self.base_lr * lr_lambda(0)

    def step(self):
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.lr_lambda(self.epoch)

    def state_dict(self):
        return {"base_lr": self.base_lr, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.base_lr, self.epoch = float(state["base_lr"]), int(state["epoch"])
        self.optimizer.lr = self.base_lr * self.lr_lambda(self.epoch)

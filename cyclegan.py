"""CycleGAN (Zhu, Park, Isola and Efros, ICCV 2017) on ``nn``, as the authors' PyTorch code.

Two generators translate between image domains A and B, G_A: A -> B and G_B: B -> A; two
PatchGAN discriminators judge them, D_A on domain B and D_B on domain A. The generators learn

    L_G = MSE(D_A(G_A(a)), 1) + MSE(D_B(G_B(b)), 1)                       (LSGAN, fool D)
        + lambda_A * |G_B(G_A(a)) - a|_1 + lambda_B * |G_A(G_B(b)) - b|_1  (cycle consistency)
        + lambda_idt * (lambda_B * |G_A(b) - b|_1 + lambda_A * |G_B(a) - a|_1)   (identity)

and each discriminator learns L_D = 0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)), where the fakes
come from a history of 50 generated images (``ImagePool``) rather than from the last step only.

Architecture, initialisation, losses, update order, image pool and learning-rate schedule
follow junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py, models/cycle_gan_model.py,
util/image_pool.py, train.py); parameter names match its state_dicts key for key.
All images are (N, C, H, W) with values in [-1, 1].
"""
import numpy as np

import nn
import nn.functional as F
from nn.backend import get_array_module, resolve_device, to_device, to_host
from nn.state import check_state_dict, rng_state, set_rng_state, strip_prefix

__all__ = ["ResnetGenerator", "ResnetBlock", "NLayerDiscriminator", "ImagePool", "CycleGAN",
           "LOSS_NAMES", "init_weights", "gan_loss", "discriminator_loss", "linear_decay_rule",
           "set_requires_grad"]


# --- networks ------------------------------------------------------------------------------

def init_weights(net, rng, std=0.02):
    """The official 'normal' init: every conv weight ~ N(0, std^2), every conv bias = 0."""
    for _, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, std, rng)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net


def _host_rng(rng):
    return rng if rng is not None else np.random.default_rng(0)


class ResnetBlock(nn.Module):
    """x + conv_block(x), conv_block = [pad, conv 3x3, IN, ReLU, pad, conv 3x3, IN].

    (N, dim, H, W) -> (N, dim, H, W). No ReLU after the sum and no dropout, as the official
    block with its defaults (CycleGAN is trained with --no_dropout).
    """

    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s image transformer: c7s1-ngf, d2ngf, d4ngf, n_blocks x R4ngf, u2ngf, ungf,
    c7s1-output_nc, tanh.

    (N, input_nc, H, W) -> (N, output_nc, H, W), H and W multiples of 4. InstanceNorm has no
    affine parameters, so every conv keeps its bias (the official use_bias for InstanceNorm).
    """

    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=6, rng=None):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        # What a saved generator records, so that ResnetGenerator(**architecture) rebuilds it.
        self.architecture = {"input_nc": input_nc, "output_nc": output_nc, "ngf": ngf,
                             "n_blocks": n_blocks}
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7),
                  nn.InstanceNorm2d(ngf), nn.ReLU()]
        for mult in (1, 2):  # two stride-2 downsamplings: ngf -> 2 ngf -> 4 ngf
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):  # two stride-2 upsamplings: 4 ngf -> 2 ngf -> ngf
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self, _host_rng(rng))

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: (N, input_nc, H, W) -> (N, 1, H', W'), one real/fake score per patch.

    Convs 4x4 padding 1: ndf stride 2 + LeakyReLU(0.2); then ndf*min(2^n, 8) stride 2 + IN +
    LeakyReLU for n = 1..n_layers-1; one more stride 1; a final conv to 1 channel, no sigmoid
    (LSGAN). With n_layers 3, 64x64 gives 6x6 patches, 256x256 gives 30x30 (70x70 receptive field).
    """

    def __init__(self, input_nc=3, ndf=64, n_layers=3, rng=None):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=stride, padding=1),
                       nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)
        init_weights(self, _host_rng(rng))

    def forward(self, x):
        return self.model(x)


def set_requires_grad(nets, requires_grad):
    """Switch gradient accumulation of every parameter of ``nets`` on or off."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad = requires_grad


# --- losses --------------------------------------------------------------------------------

def gan_loss(prediction, target_is_real):
    """LSGAN loss: mean((D(x) - 1)^2) for real targets, mean(D(x)^2) for fake ones."""
    return F.mse_loss(prediction, 1.0 if target_is_real else 0.0)


def discriminator_loss(D, real, fake):
    """0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)); halved to slow D down relative to G.

    fake is detached: the discriminator's loss never reaches the generator. (The fast layer
    judges real and fake images of one size in one call, D([real, fake]).)
    """
    fake = fake.detach() if isinstance(fake, nn.Tensor) else nn.Tensor(fake)
    judged_real, judged_fake = nn.call_each([(D, real), (D, fake)])
    return (gan_loss(judged_real, True) + gan_loss(judged_fake, False)) * 0.5


# --- the image history -----------------------------------------------------------------------

class ImagePool:
    """A history of generated images, so that D sees fakes from past generators too
    (Shrivastava et al. 2017), with the official rule applied image by image:

    while fewer than pool_size images are stored, store the new image and return it; after
    that, with probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image. pool_size 0 returns the input unchanged.
    Images stay on their device; the random draws are made on the host by ``rng``.
    """

    def __init__(self, pool_size=50, rng=None):
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.rng = _host_rng(rng)
        self.images = []  # (C, H, W) arrays, at most pool_size

    @property
    def num_imgs(self):
        return len(self.images)

    def query(self, images):
        """images: (N, C, H, W) array or Tensor -> the same kind, (N, C, H, W), not requiring grad.

        Nothing passes through the host: the draws are the host's, the images stay on their
        device. Storing an image copies it (the pool must own it); returning one costs
        nothing but the copy into the result when the result mixes new and stored images.
        """
        if self.pool_size == 0:
            return images
        is_tensor = isinstance(images, nn.Tensor)
        data = images.data if is_tensor else images
        returned, all_new = [], True
        for k in range(data.shape[0]):
            image = data[k]  # a view of the batch
            if len(self.images) < self.pool_size:
                self.images.append(image.copy())  # own the stored image, not a view of the batch
                returned.append(image)
            elif self.rng.random() > 0.5:  # the official draw: swap when uniform(0, 1) > 0.5
                i = int(self.rng.integers(self.pool_size))
                returned.append(self.images[i])
                self.images[i] = image.copy()
                all_new = False
            else:
                returned.append(image)
        if all_new:
            out = data                    # the batch itself: no copy
        elif len(returned) == 1:
            out = returned[0][None]       # a view of the stored image
        else:
            out = get_array_module(data).stack(returned)
        return nn.Tensor(out) if is_tensor else out

    def state_dict(self):
        """{"images": (num_imgs, C, H, W) array (shape (0,) when empty), "num_imgs": int}."""
        if self.images:
            images = get_array_module(self.images[0]).stack(self.images)
        else:
            images = np.zeros((0,), dtype=np.float32)
        return {"images": images, "num_imgs": np.array(len(self.images))}

    def load_state_dict(self, state, xp=np, dtype=None):
        count, images = int(state["num_imgs"]), state["images"]
        if count > self.pool_size or (count and images.shape[0] != count):
            raise ValueError(f"image pool state holds {images.shape[0]} images and says "
                             f"{count}; the pool holds at most {self.pool_size}")
        images = to_device(images, xp)
        if dtype is not None:
            images = images.astype(dtype, copy=False)
        self.images = [images[i].copy() for i in range(count)]


# --- the learning-rate schedule --------------------------------------------------------------

def linear_decay_rule(n_epochs=100, n_epochs_decay=100, epoch_count=1):
    """The official 'linear' LambdaLR factor after ``k`` scheduler steps:

        factor(k) = 1 - max(0, k + epoch_count - n_epochs) / (n_epochs_decay + 1)

    The official train.py steps the scheduler at the *start* of every epoch, so epoch e
    (numbered from epoch_count) trains with factor(e - epoch_count + 1)
    = 1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1): only epochs up to n_epochs - 1 run
    at the full rate, the decay begins in epoch n_epochs, and the last epoch,
    n_epochs + n_epochs_decay, trains with factor 0.
    """
    def rule(k):
        return 1.0 - max(0, k + epoch_count - n_epochs) / float(n_epochs_decay + 1)
    return rule


# --- the model -------------------------------------------------------------------------------

# What train_step returns, in this order: the columns of a run's loss table.
LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
_NETS = ("G_A", "G_B", "D_A", "D_B")
_OPTIMIZERS = (("optimizer_G", "scheduler_G"), ("optimizer_D", "scheduler_D"))
_POOLS = ("fake_A_pool", "fake_B_pool")


class CycleGAN:
    """Two generators, two discriminators, their Adam optimizers, schedules and image pools.

    G_A: A -> B, G_B: B -> A, D_A judges domain B (real_B against G_A's fakes), D_B judges
    domain A. Everything is built on the host from ``seed`` and then moved once to ``device``
    ("cpu", "cuda", or an array module). n_layers_D is the official --n_layers_D (3 by default).
    """

    def __init__(self, ngf=64, ndf=64, n_blocks=6, input_nc=3, output_nc=3, lr=2e-4, beta1=0.5,
                 lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, pool_size=50, n_epochs=100,
                 n_epochs_decay=100, epoch_count=1, seed=0, device="cpu", dtype=np.float32,
                 n_layers_D=3):
        if lambda_identity > 0 and input_nc != output_nc:
            raise ValueError("the identity loss compares G_A(b) with b, so it needs "
                             f"input_nc == output_nc (got {input_nc} and {output_nc}); "
                             "set lambda_identity=0 for domains with different channels")
        self.input_nc, self.output_nc = input_nc, output_nc
        self.lambda_A, self.lambda_B, self.lambda_identity = lambda_A, lambda_B, lambda_identity
        self.rng = np.random.default_rng(seed)
        self.G_A = ResnetGenerator(input_nc, output_nc, ngf, n_blocks, rng=self.rng)
        self.G_B = ResnetGenerator(output_nc, input_nc, ngf, n_blocks, rng=self.rng)
        self.D_A = NLayerDiscriminator(output_nc, ndf, n_layers_D, rng=self.rng)
        self.D_B = NLayerDiscriminator(input_nc, ndf, n_layers_D, rng=self.rng)
        self.xp, self.dtype = resolve_device(device), np.dtype(dtype)
        for name in _NETS:
            getattr(self, name).to(self.xp, self.dtype)
        # Created after the move, so Adam's moments are born on the device in the right dtype.
        betas = (beta1, 0.999)
        self.optimizer_G = nn.optim.Adam(self.G_A.parameters() + self.G_B.parameters(), lr, betas)
        self.optimizer_D = nn.optim.Adam(self.D_A.parameters() + self.D_B.parameters(), lr, betas)
        rule = linear_decay_rule(n_epochs, n_epochs_decay, epoch_count)
        self.scheduler_G = nn.optim.LambdaLR(self.optimizer_G, rule)
        self.scheduler_D = nn.optim.LambdaLR(self.optimizer_D, rule)
        self.fake_A_pool = ImagePool(pool_size, self.rng)  # G_B's outputs, shown to D_B
        self.fake_B_pool = ImagePool(pool_size, self.rng)  # G_A's outputs, shown to D_A

    # --- inputs ------------------------------------------------------------------------------
    def _as_input(self, images, name, channels):
        """A Tensor of the model's device and dtype from an (N, C, H, W) array or Tensor."""
        data = images.data if isinstance(images, nn.Tensor) else images
        if not hasattr(data, "shape") or data.ndim != 4 or data.shape[1] != channels:
            raise ValueError(f"{name} must be an (N, {channels}, H, W) array; got "
                             f"{getattr(data, 'shape', type(data).__name__)}")
        data = to_device(data, self.xp)
        return nn.Tensor(data.astype(self.dtype, copy=False))

    # --- the objective -----------------------------------------------------------------------
    def generator_loss(self, real_A, real_B):
        """The generators' objective L_G (module docstring) on Tensors real_A, real_B.

        Returns (loss_G, {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B": 0-d Tensors},
        fake_A, fake_B) with fake_B = G_A(real_A) and fake_A = G_B(real_B).
        """
        G_A, G_B, identity = self.G_A, self.G_B, self.lambda_identity > 0
        # The official code's six generator calls. The four on real images do not wait for
        # one another: nn.call_each makes them one by one, or (the fast layer) those of one
        # generator as one call on their batch.
        calls = [(G_A, real_A), (G_B, real_B), (G_A, real_B), (G_B, real_A)]
        fake_B, fake_A, *identities = nn.call_each(calls if identity else calls[:2])
        rec_A = G_B(fake_B)   # A -> B -> A
        rec_B = G_A(fake_A)   # B -> A -> B
        losses = {"G_A": gan_loss(self.D_A(fake_B), True),
                  "G_B": gan_loss(self.D_B(fake_A), True),
                  "cycle_A": F.l1_loss(rec_A, real_A) * self.lambda_A,
                  "cycle_B": F.l1_loss(rec_B, real_B) * self.lambda_B}
        loss_G = losses["G_A"] + losses["G_B"] + losses["cycle_A"] + losses["cycle_B"]
        if identity:
            # G_A should leave an image that is already in domain B alone, and G_B likewise.
            idt_A, idt_B = identities
            losses["idt_A"] = F.l1_loss(idt_A, real_B) * (self.lambda_B * self.lambda_identity)
            losses["idt_B"] = F.l1_loss(idt_B, real_A) * (self.lambda_A * self.lambda_identity)
            loss_G = loss_G + losses["idt_A"] + losses["idt_B"]
        return loss_G, losses, fake_A, fake_B

    # --- one training step -------------------------------------------------------------------
    def optimize_generators(self, real_A, real_B):
        """One Adam step on both generators. The discriminators' parameters are frozen meanwhile
        (the official set_requires_grad), so their gradients are neither computed nor touched.

        Returns (losses dict of 0-d Tensors, fake_A, fake_B).
        """
        set_requires_grad([self.D_A, self.D_B], False)
        try:
            self.optimizer_G.zero_grad()
            loss_G, losses, fake_A, fake_B = self.generator_loss(real_A, real_B)
            loss_G.backward()
            self.optimizer_G.step()
        finally:
            set_requires_grad([self.D_A, self.D_B], True)
        return losses, fake_A, fake_B

    def optimize_discriminators(self, real_A, real_B, fake_A, fake_B):
        """One Adam step on both discriminators; fakes pass through the image pools.

        Returns {"D_A", "D_B": 0-d Tensors}.
        """
        self.optimizer_D.zero_grad()
        loss_D_A = discriminator_loss(self.D_A, real_B, self.fake_B_pool.query(fake_B))
        loss_D_A.backward()
        loss_D_B = discriminator_loss(self.D_B, real_A, self.fake_A_pool.query(fake_A))
        loss_D_B.backward()
        self.optimizer_D.step()
        return {"D_A": loss_D_A, "D_B": loss_D_B}

    def train_step(self, real_A, real_B):
        """One official optimize_parameters: the generators' step, then the discriminators'.

        real_A: (N, input_nc, H, W), real_B: (N, output_nc, H, W), values in [-1, 1], NumPy
        or of the model's device. Returns {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B",
        "cycle_B", "idt_B": float}.
        """
        real_A = self._as_input(real_A, "real_A", self.input_nc)
        real_B = self._as_input(real_B, "real_B", self.output_nc)
        losses, fake_A, fake_B = self.optimize_generators(real_A, real_B)
        losses.update(self.optimize_discriminators(real_A, real_B, fake_A, fake_B))
        zero = self.xp.zeros((), dtype=self.dtype)
        values = [losses[k].data if k in losses else zero for k in LOSS_NAMES]
        values = to_host(self.xp.stack(values))  # one device-to-host copy for all eight
        return {k: float(v) for k, v in zip(LOSS_NAMES, values)}

    def update_learning_rate(self):
        """Step both schedules; call it once at the start of every epoch, before the epoch's
        first train_step, as the official train.py does (see ``linear_decay_rule``).

        Returns the learning rate the coming epoch trains with."""
        self.scheduler_G.step()
        self.scheduler_D.step()
        return self.optimizer_G.lr

    def translate(self, images, direction="AtoB"):
        """G_A(images) for "AtoB", G_B(images) for "BtoA", without a graph.

        images: (N, C, H, W) in [-1, 1] -> (N, C', H, W) array on the model's device."""
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        G, channels = (self.G_A, self.input_nc) if direction == "AtoB" else (self.G_B,
                                                                             self.output_nc)
        x = self._as_input(images, "images", channels)
        with nn.no_grad():
            return G(x).data

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self):
        """{name: array} of everything needed to continue training exactly.

        Networks "G_A.model.1.weight", ...; optimizers "optimizer_G.m.0", "optimizer_G.t", ...;
        schedules "scheduler_G.epoch", ...; pools "fake_A_pool.images", "fake_A_pool.num_imgs";
        and "rng", the JSON of the host generator's state as a 0-d string array. The network
        and optimizer arrays are the live ones: save or copy them before training on.
        """
        state = {}
        for name in _NETS:
            for key, value in getattr(self, name).state_dict().items():
                state[f"{name}.{key}"] = value
        for opt_name, sched_name in _OPTIMIZERS:
            for key, value in getattr(self, opt_name).state_dict().items():
                state[f"{opt_name}.{key}"] = value if hasattr(value, "shape") else np.array(value)
            for key, value in getattr(self, sched_name).state_dict().items():
                state[f"{sched_name}.{key}"] = np.array(value)
        for name in _POOLS:
            for key, value in getattr(self, name).state_dict().items():
                state[f"{name}.{key}"] = value
        state["rng"] = rng_state(self.rng)
        return state

    def load_state_dict(self, state):
        """Restore a ``state_dict`` (keys of other owners, e.g. a training script's "epoch",
        are ignored). Everything is checked before anything changes: a missing or unexpected
        key of this model raises KeyError, a shape mismatch (say a checkpoint of another ngf
        or n_blocks) raises ValueError naming the key and both shapes."""
        prefixes = tuple(f"{name}." for name in _NETS + _POOLS + tuple(sum(_OPTIMIZERS, ())))
        # The pool's length varies; ImagePool checks it against num_imgs.
        expected = {key: None if key.endswith("_pool.images") else value.shape
                    for key, value in self.state_dict().items()}
        check_state_dict(state, expected, "CycleGAN.load_state_dict",
                         hint="; was the checkpoint made with other settings (ngf, ndf, "
                              "n_blocks or channels)?",
                         is_own=lambda key: key.startswith(prefixes) or key == "rng")
        for name in _NETS:
            getattr(self, name).load_state_dict(strip_prefix(state, f"{name}."))
        for opt_name, sched_name in _OPTIMIZERS:
            getattr(self, opt_name).load_state_dict(strip_prefix(state, f"{opt_name}."))
            getattr(self, sched_name).load_state_dict(strip_prefix(state, f"{sched_name}."))
        for name in _POOLS:
            getattr(self, name).load_state_dict(strip_prefix(state, f"{name}."), self.xp,
                                                self.dtype)
        set_rng_state(self.rng, state["rng"])

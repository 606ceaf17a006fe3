"""CycleGAN: the official architecture key for key, gradients of the whole objective, the
image pool rule, the learning-rate schedule, one training step and exact resumption."""
import numpy as np
import pytest

import nn
from cyclegan import (CycleGAN, ImagePool, NLayerDiscriminator, ResnetGenerator,
                      discriminator_loss, gan_loss, linear_decay_rule)

LOSS_KEYS = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]


def images(rng, n=1, size=16, channels=3):
    return rng.uniform(-1, 1, (n, channels, size, size)).astype(np.float32)


def tiny(**kwargs):
    """ngf = ndf = 2, one residual block; n_layers_D = 2 because three stride-2 layers and two
    4x4 convs would shrink a 16x16 image to nothing (16 -> 8 -> 4 -> 2 -> 1 -> 0)."""
    options = dict(ngf=2, ndf=2, n_blocks=1, n_layers_D=2)
    options.update(kwargs)
    return CycleGAN(**options)


# --- the official architecture ------------------------------------------------------------------

# state_dict of the official ResnetGenerator(3, 3, 64, InstanceNorm2d, n_blocks=6) and
# NLayerDiscriminator(3, 64, n_layers=3, InstanceNorm2d), printed once from the definitions in
# junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py under PyTorch.
OFFICIAL_GENERATOR = [
    ("model.1.weight", (64, 3, 7, 7)), ("model.1.bias", (64,)),
    ("model.4.weight", (128, 64, 3, 3)), ("model.4.bias", (128,)),
    ("model.7.weight", (256, 128, 3, 3)), ("model.7.bias", (256,)),
] + [(f"model.{block}.conv_block.{conv}.{kind}", shape)
     for block in range(10, 16) for conv in (1, 5)
     for kind, shape in (("weight", (256, 256, 3, 3)), ("bias", (256,)))] + [
    ("model.16.weight", (256, 128, 3, 3)), ("model.16.bias", (128,)),
    ("model.19.weight", (128, 64, 3, 3)), ("model.19.bias", (64,)),
    ("model.23.weight", (3, 64, 7, 7)), ("model.23.bias", (3,)),
]
OFFICIAL_DISCRIMINATOR = [
    ("model.0.weight", (64, 3, 4, 4)), ("model.0.bias", (64,)),
    ("model.2.weight", (128, 64, 4, 4)), ("model.2.bias", (128,)),
    ("model.5.weight", (256, 128, 4, 4)), ("model.5.bias", (256,)),
    ("model.8.weight", (512, 256, 4, 4)), ("model.8.bias", (512,)),
    ("model.11.weight", (1, 512, 4, 4)), ("model.11.bias", (1,)),
]


def test_default_networks_match_the_official_keys_shapes_and_init():
    G, D = ResnetGenerator(rng=np.random.default_rng(0)), NLayerDiscriminator(
        rng=np.random.default_rng(1))
    for net, official in ((G, OFFICIAL_GENERATOR), (D, OFFICIAL_DISCRIMINATOR)):
        state = net.state_dict()
        assert [(k, tuple(v.shape)) for k, v in state.items()] == official
        for name, value in state.items():
            assert value.dtype == np.float32, name
            if name.endswith("bias"):
                assert not value.any(), name
        weights = np.concatenate([v.ravel() for k, v in state.items() if k.endswith("weight")])
        assert abs(weights.mean()) < 1e-3 and abs(weights.std() - 0.02) < 1e-3  # N(0, 0.02)

    x = nn.Tensor(images(np.random.default_rng(2), size=64))
    with nn.no_grad():
        y, patches = G(x), D(x)
    assert y.shape == (1, 3, 64, 64) and y.dtype == np.float32
    assert np.abs(y.data).max() <= 1  # tanh
    assert patches.shape == (1, 1, 6, 6)


def test_residual_block_adds_its_input_without_a_final_relu():
    G = ResnetGenerator(ngf=2, n_blocks=1, rng=np.random.default_rng(0))
    block = G.model[10]
    x = nn.Tensor(np.random.default_rng(1).standard_normal((1, 8, 4, 4)).astype(np.float32))
    with nn.no_grad():
        out, inner = block(x).data, block.conv_block(x).data
    np.testing.assert_array_equal(out, x.data + inner)
    assert (out < 0).any()  # a ReLU after the sum would forbid negative outputs


# --- gradients of the whole objective ---------------------------------------------------------------

def test_generator_objective_gradcheck():
    model = tiny(dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    real_A = nn.Tensor(rng.uniform(-1, 1, (1, 3, 16, 16)), requires_grad=True)
    real_B = nn.Tensor(rng.uniform(-1, 1, (1, 3, 16, 16)), requires_grad=True)
    # Both generators run the same layers, so each named parameter tensor is checked in one
    # of them, picked at random: every layer once, at half the cost of checking both.
    names = [name for name, _ in model.G_A.named_parameters()]
    in_A = set(rng.permutation(len(names))[:len(names) // 2].tolist())
    for i, ((_, pa), (_, pb)) in enumerate(zip(model.G_A.named_parameters(),
                                               model.G_B.named_parameters())):
        pa.requires_grad, pb.requires_grad = i in in_A, i not in in_A
    for p in model.D_A.parameters() + model.D_B.parameters():
        p.requires_grad = False  # as in the generators' step

    def objective(a, b, G_A, G_B):
        return model.generator_loss(a, b)[0]

    assert nn.gradcheck(objective, [real_A, real_B, model.G_A, model.G_B], seed=3)


@pytest.mark.parametrize("which", ["D_A", "D_B"])
def test_discriminator_objective_gradcheck(which):
    model = tiny(dtype=np.float64, seed=4)
    rng = np.random.default_rng(5)
    real_A, real_B = (nn.Tensor(rng.uniform(-1, 1, (1, 3, 16, 16))) for _ in range(2))
    with nn.no_grad():
        _, _, fake_A, fake_B = model.generator_loss(real_A, real_B)
    real, fake = (real_B, fake_B) if which == "D_A" else (real_A, fake_A)
    assert nn.gradcheck(lambda D: discriminator_loss(D, real, fake), [getattr(model, which)],
                        seed=6)


# --- the image pool -------------------------------------------------------------------------------

def numbered(start, n=1):
    """n images (1, 2, 2) whose pixels all equal their number: easy to tell apart."""
    return np.arange(start, start + n, dtype=np.float32)[:, None, None, None] * np.ones(
        (1, 1, 2, 2), np.float32)


def test_image_pool_fills_then_swaps_or_passes_with_probability_one_half():
    pool = ImagePool(pool_size=3, rng=np.random.default_rng(0))
    # Filling: each image is stored and returned, also within one batch.
    out = pool.query(numbered(0, 2))
    np.testing.assert_array_equal(out, numbered(0, 2))
    np.testing.assert_array_equal(pool.query(numbered(2)), numbered(2))
    assert pool.num_imgs == 3

    swaps = 0
    for k in range(3, 203):
        before = [float(image[0, 0, 0]) for image in pool.images]
        got = float(pool.query(numbered(k))[0, 0, 0, 0])
        after = [float(image[0, 0, 0]) for image in pool.images]
        if got == k:  # the new image passed through; the pool is unchanged
            assert after == before
        else:  # a stored image came out and the new one took exactly its place
            swaps += 1
            slot = before.index(got)
            assert after == before[:slot] + [k] + before[slot + 1:]
    # Both branches happen, about equally often (binomial(200, 1/2): 5 sigma is +-35).
    assert 65 <= swaps <= 135


def test_image_pool_keeps_tensors_and_devices_and_size_zero_passes_through():
    pool = ImagePool(pool_size=2, rng=np.random.default_rng(0))
    out = pool.query(nn.Tensor(numbered(0, 3), requires_grad=True))
    assert isinstance(out, nn.Tensor) and not out.requires_grad and out.shape == (3, 1, 2, 2)

    empty = ImagePool(pool_size=0)
    batch = numbered(0, 4)
    assert empty.query(batch) is batch and empty.num_imgs == 0


# --- the learning-rate schedule ----------------------------------------------------------------------

def test_learning_rate_follows_the_official_rule_stepped_at_each_epoch_start():
    model = tiny(lr=2e-4, n_epochs=100, n_epochs_decay=100)
    # As the official train.py: update_learning_rate() at the start of epochs 1 .. 200.
    lr = {epoch: model.update_learning_rate() for epoch in range(1, 201)}
    # Epoch e trains at 2e-4 * (1 - max(0, e + 1 - 100) / 101) (scheduler stepped e times,
    # epoch_count 1: factor(k) = 1 - max(0, k + 1 - 100) / 101 with k = e).
    assert lr[1] == pytest.approx(2e-4)        # 1 - max(0, -98) / 101 = 1
    # Quirk: the last full-rate epoch is 99, not 100 (99 + 1 - 100 = 0) ...
    assert lr[99] == pytest.approx(2e-4)
    # ... and the decay begins inside the first 100 epochs: 1 - 1/101 = 100/101.
    assert lr[100] == pytest.approx(2e-4 * 100 / 101)
    # Middle of the decay: 1 - (150 + 1 - 100) / 101 = 50/101.
    assert lr[150] == pytest.approx(2e-4 * 50 / 101)
    # Quirk: the last epoch trains with 1 - 101/101 = 0, a learning rate of exactly 0.
    assert lr[200] == 0.0
    assert model.optimizer_D.lr == model.optimizer_G.lr == 0.0


def test_resuming_with_epoch_count_gives_the_same_schedule():
    rule = linear_decay_rule(n_epochs=10, n_epochs_decay=10, epoch_count=1)
    resumed = linear_decay_rule(n_epochs=10, n_epochs_decay=10, epoch_count=6)
    # A fresh scheduler at epoch_count 6 has been stepped k = e - 5 times in epoch e.
    for epoch in range(6, 21):
        assert resumed(epoch - 5) == pytest.approx(rule(epoch))
    assert rule(0) == 1.0 and rule(9) == 1.0 and rule(10) == pytest.approx(10 / 11)


# --- training steps -------------------------------------------------------------------------------

def test_train_step_returns_finite_official_losses_and_changes_every_network():
    model = tiny(seed=0)
    rng = np.random.default_rng(1)
    before = {k: v.copy() for k, v in model.state_dict().items() if k[:3] in ("G_A", "G_B",
                                                                              "D_A", "D_B")}
    for _ in range(2):
        losses = model.train_step(images(rng, 2), images(rng, 2))
        assert list(losses) == LOSS_KEYS
        assert all(isinstance(v, float) and np.isfinite(v) and v > 0 for v in losses.values())
    after = model.state_dict()
    for name in ("G_A", "G_B", "D_A", "D_B"):
        keys = [k for k in before if k.startswith(name + ".")]
        assert all(after[k].dtype == np.float32 for k in keys)
        assert any(not np.array_equal(before[k], after[k]) for k in keys), name


def test_generator_step_leaves_the_discriminators_alone():
    model = tiny(seed=0)
    rng = np.random.default_rng(1)
    real_A, real_B = images(rng), images(rng)
    model.train_step(real_A, real_B)  # gives the discriminators gradients from their own step
    D_params = model.D_A.parameters() + model.D_B.parameters()
    grads = [p.grad.copy() for p in D_params]
    values = [p.data.copy() for p in D_params]
    G_before = [p.data.copy() for p in model.G_A.parameters()]

    model.optimize_generators(nn.Tensor(real_A), nn.Tensor(real_B))
    for p, g, v in zip(D_params, grads, values):
        np.testing.assert_array_equal(p.grad, g)
        np.testing.assert_array_equal(p.data, v)
        assert p.requires_grad  # switched back on for the discriminators' step
    assert any(not np.array_equal(p.data, v) for p, v in zip(model.G_A.parameters(), G_before))


def test_translate_runs_the_right_generator_without_a_graph():
    model = tiny(seed=0)
    x = images(np.random.default_rng(1), 2)
    with nn.no_grad():
        expected = model.G_B(nn.Tensor(x)).data
    out = model.translate(x, "BtoA")
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (2, 3, 16, 16) and out.dtype == np.float32
    with pytest.raises(ValueError, match="direction"):
        model.translate(x, "AtoC")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model.train_step(x[:, :1], x)


def test_train_step_on_each_backend(xp):
    model = tiny(seed=0, device=xp)
    rng = np.random.default_rng(1)
    real_B = xp.asarray(images(rng, 2))  # one input already on the device, one from the host
    losses = model.train_step(images(rng, 2), real_B)
    assert list(losses) == LOSS_KEYS and all(np.isfinite(v) for v in losses.values())
    assert nn.get_array_module(model.G_A.model[1].weight.data) is xp
    assert nn.get_array_module(model.fake_B_pool.images[0]) is xp
    assert nn.get_array_module(model.translate(real_B)) is xp
    # A checkpoint taken on the device loads into a fresh model there and continues the same.
    state = {k: nn.to_host(v) for k, v in model.state_dict().items()}
    twin = tiny(seed=7, device=xp)
    twin.load_state_dict(state)
    A, B = images(rng, 2), images(rng, 2)
    assert twin.train_step(A, B) == model.train_step(A, B)


# --- checkpoints -------------------------------------------------------------------------------------

def test_state_dict_round_trip_continues_exactly(tmp_path):
    def run(model, steps, seed):
        rng = np.random.default_rng(seed)
        return [model.train_step(images(rng), images(rng)) for _ in range(steps)]

    # pool_size 1 makes the pool draw from the host rng from the second step on.
    options = dict(seed=0, pool_size=1, n_epochs=1, n_epochs_decay=3)
    straight = tiny(**options)
    straight.update_learning_rate()
    expected = run(straight, 2, seed=10)
    straight.update_learning_rate()
    expected += run(straight, 3, seed=11)

    first = tiny(**options)
    first.update_learning_rate()
    assert run(first, 2, seed=10) == expected[:2]
    nn.save(tmp_path / "checkpoint.npz", dict(first.state_dict(), epoch=np.array(1)))
    resumed = tiny(**dict(options, seed=99))  # other weights, pools and rng until loaded
    resumed.load_state_dict(nn.load(tmp_path / "checkpoint.npz"))
    assert resumed.fake_A_pool.num_imgs == 1 and resumed.scheduler_G.epoch == 1
    resumed.update_learning_rate()
    assert resumed.optimizer_G.lr == straight.optimizer_G.lr < 2e-4
    assert run(resumed, 3, seed=11) == expected[2:]


def test_load_state_dict_names_the_mismatch():
    state = tiny().state_dict()
    with pytest.raises(ValueError, match=r"'G_A.model.1.weight' has shape \(2, 3, 7, 7\).*"
                                         r"\(4, 3, 7, 7\)"):
        tiny(ngf=4).load_state_dict(state)
    with pytest.raises(KeyError, match="G_A.model.11.conv_block.1.weight"):
        tiny(n_blocks=2).load_state_dict(state)
    del state["fake_B_pool.num_imgs"]
    with pytest.raises(KeyError, match="fake_B_pool.num_imgs"):
        tiny().load_state_dict(state)


# --- the losses by value: real 1, fake 0, each cycle weighed by its own lambda --------------------

def test_gan_targets_are_one_for_real_and_zero_for_fake():
    p = np.array([[0.25, -1.0], [2.0, 0.5]])
    assert float(gan_loss(nn.Tensor(p), True).data) == pytest.approx(np.mean((p - 1) ** 2))
    assert float(gan_loss(nn.Tensor(p), False).data) == pytest.approx(np.mean(p ** 2))


def test_generator_losses_weigh_each_cycle_by_its_own_lambda():
    """lambda_A != lambda_B, against the paper's six generator calls written out one by one."""
    model = tiny(dtype=np.float64, seed=7, lambda_A=3.0, lambda_B=7.0, lambda_identity=0.5)
    rng = np.random.default_rng(8)
    a, b = rng.uniform(-1, 1, (2, 3, 16, 16)), rng.uniform(-1, 1, (2, 3, 16, 16))
    with nn.no_grad():
        loss_G, losses, fake_A, fake_B = model.generator_loss(nn.Tensor(a), nn.Tensor(b))

        def run(net, x):
            return net(nn.Tensor(x)).data

        fb, fa = run(model.G_A, a), run(model.G_B, b)
        expected = {"G_A": np.mean((run(model.D_A, fb) - 1) ** 2),
                    "G_B": np.mean((run(model.D_B, fa) - 1) ** 2),
                    "cycle_A": 3.0 * np.mean(np.abs(run(model.G_B, fb) - a)),
                    "cycle_B": 7.0 * np.mean(np.abs(run(model.G_A, fa) - b)),
                    "idt_A": 7.0 * 0.5 * np.mean(np.abs(run(model.G_A, b) - b)),
                    "idt_B": 3.0 * 0.5 * np.mean(np.abs(run(model.G_B, a) - a))}
    for name, value in expected.items():
        assert float(losses[name].data) == pytest.approx(value, rel=1e-10), name
    assert float(loss_G.data) == pytest.approx(sum(expected.values()), rel=1e-10)
    np.testing.assert_allclose(fake_B.data, fb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fake_A.data, fa, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fake_size", [16, 24])  # one batch D([real, fake]), or two calls
def test_discriminator_loss_by_value(fake_size):
    """0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2)), with a batch of real images of one
    size and of fakes of the same or another size (and batch size)."""
    model = tiny(dtype=np.float64, seed=9)
    rng = np.random.default_rng(10)
    real = rng.uniform(-1, 1, (1, 3, 16, 16))
    fake = rng.uniform(-1, 1, (3, 3, fake_size, fake_size))
    with nn.no_grad():
        loss = discriminator_loss(model.D_A, nn.Tensor(real), nn.Tensor(fake))
        d_real, d_fake = (model.D_A(nn.Tensor(x)).data for x in (real, fake))
    assert d_real.shape != d_fake.shape
    expected = 0.5 * (np.mean((d_real - 1) ** 2) + np.mean(d_fake ** 2))
    assert float(loss.data) == pytest.approx(expected, rel=1e-10)


def test_discriminator_loss_leaves_the_generators_gradients_untouched():
    """The fakes reach D with the generator's graph behind them; D's loss must stop there."""
    model = tiny(dtype=np.float64, seed=3)
    rng = np.random.default_rng(4)
    real_A, real_B = (nn.Tensor(rng.uniform(-1, 1, (1, 3, 16, 16))) for _ in range(2))
    fake_B = model.G_A(real_A)  # a graph through G_A's parameters
    marks = [rng.standard_normal(p.data.shape) for p in model.G_A.parameters()]
    for p, mark in zip(model.G_A.parameters(), marks):
        p.grad = mark.copy()
    model.optimizer_D.zero_grad()
    discriminator_loss(model.D_A, real_B, fake_B).backward()
    for p, mark in zip(model.G_A.parameters(), marks):
        np.testing.assert_array_equal(p.grad, mark)
    assert all(np.any(p.grad != 0) for p in model.D_A.parameters())


def test_training_without_an_image_pool():
    """pool_size 0: D sees the generators' own fakes, whose graph the generators' step has
    already used; two steps train D on exactly those fakes (checked against a model that
    gets the same fakes through a pool that always returns them)."""
    rng = np.random.default_rng(11)
    batches = [(images(rng, 2), images(rng, 2)) for _ in range(2)]
    model, reference = tiny(seed=12, pool_size=0), tiny(seed=12, pool_size=0)
    for real_A, real_B in batches:
        losses = model.train_step(real_A, real_B)
        assert all(np.isfinite(v) for v in losses.values())
        # the reference: the same step, with the fakes handed to D as plain arrays
        ra, rb = (nn.Tensor(x) for x in (real_A, real_B))
        _, fake_A, fake_B = reference.optimize_generators(ra, rb)
        d = reference.optimize_discriminators(ra, rb, fake_A.data, fake_B.data)
        assert losses["D_A"] == float(d["D_A"].data) and losses["D_B"] == float(d["D_B"].data)
    for (name, p), q in zip(model.D_A.named_parameters(), reference.D_A.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)

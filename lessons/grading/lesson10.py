"""Checks of lesson 10: the whole generator objective (its value and the gradient it sends to
each generator, against CycleGAN.generator_loss on a tiny model), the image pool's rule
(replayed against the grader's own copy of the rule with the same random seed), the
generator's parameter count (against the built network), and the PatchGAN's receptive field
(against the walk back through the built discriminator's convolutions)."""
import numpy as np

import nn
import nn.functional as F
from cyclegan import CycleGAN, NLayerDiscriminator, ResnetGenerator

from .core import Unexplained, Wrong, check_loss_tensor, check_number
from .ladder import Ladder, rung, with_ladders

MODULE = "ex10_cyclegan"
POINTS = {"10.1": 3, "10.2": 2, "10.3": 2, "10.4": 2}


def _objective_mistakes(m, a, b, lam_a, lam_b, lam_idt, what):
    """What the classic wrong objectives compute, from the same networks and images."""
    G_A, G_B, D_A, D_B = m.G_A, m.G_B, m.D_A, m.D_B
    fake_B, fake_A = G_A(a), G_B(b)
    gan = (F.mse_loss(D_A(fake_B), 1.0) + F.mse_loss(D_B(fake_A), 1.0)).item()
    cyc_a, cyc_b = F.l1_loss(G_B(fake_B), a).item(), F.l1_loss(G_A(fake_A), b).item()
    idt_a, idt_b = F.l1_loss(G_A(b), b).item(), F.l1_loss(G_B(a), a).item()
    right_cycle = lam_a * cyc_a + lam_b * cyc_b
    right_idt = lam_idt * (lam_b * idt_a + lam_a * idt_b)
    return [
        ((F.mse_loss(D_B(fake_B), 1.0) + F.mse_loss(D_A(fake_A), 1.0)).item() + right_cycle
         + right_idt, f"{what}: the discriminators judge the wrong fakes; D_A judges domain B, "
         "so it scores fake_B = G_A(real_A), and D_B scores fake_A = G_B(real_B)"),
        (gan + right_cycle + lam_idt * (lam_b * F.l1_loss(G_A(a), a).item()
                                        + lam_a * F.l1_loss(G_B(b), b).item()),
         f"{what}: the identity terms feed each generator its own input domain; G_A's identity "
         "is G_A(real_B) against real_B, an image already in B (and G_B's is G_B(real_A))"),
        (gan + right_cycle + lam_idt * (idt_a + idt_b), f"{what}: the identity terms are "
         "weighted by lambda_identity alone; the official weight is lambda_identity times the "
         "domain's lambda (lambda_B for G_A's term, lambda_A for G_B's)"),
        (gan + right_cycle + lam_idt * (lam_a * idt_a + lam_b * idt_b), f"{what}: G_A's "
         "identity term takes lambda_B (its output domain's weight) and G_B's lambda_A; yours "
         "has them swapped"),
        (gan + lam_a * F.mse_loss(G_B(fake_B), a).item() + lam_b * F.mse_loss(G_A(fake_A), b)
         .item() + right_idt, f"{what}: the cycle terms are squared errors; cycle consistency "
         "is an L1 distance (F.l1_loss), which keeps the round trip sharp")]


def check_generator_objective(module):
    rng = np.random.default_rng(0)
    model = CycleGAN(ngf=2, ndf=2, n_blocks=1, seed=0, dtype=np.float64)
    a = nn.Tensor(rng.uniform(-1, 1, (1, 3, 32, 32)))
    b = nn.Tensor(rng.uniform(-1, 1, (1, 3, 32, 32)))
    for lam_a, lam_b, lam_idt in [(10.0, 10.0, 0.5), (10.0, 4.0, 0.3)]:
        model.lambda_A, model.lambda_B, model.lambda_identity = lam_a, lam_b, lam_idt
        what = (f"generator_objective(..., lambda_A={lam_a}, lambda_B={lam_b}, "
                f"lambda_identity={lam_idt})")
        for net in (model.G_A, model.G_B):
            net.zero_grad()
        loss = module.generator_objective(model.G_A, model.G_B, model.D_A, model.D_B, a, b,
                                          lam_a, lam_b, lam_idt)
        check_loss_tensor(what, loss, reaches="the generators")
        with nn.no_grad():
            expected = model.generator_loss(a, b)[0].item()
            mistakes = _objective_mistakes(model, a, b, lam_a, lam_b, lam_idt, what)
        check_number(what + ", compared with CycleGAN.generator_loss", loss.data, expected,
                     atol=1e-10, mistakes=mistakes)
        loss.backward()
        for name in ("G_A", "G_B"):
            if getattr(model, name).parameters()[0].grad is None:
                raise Wrong(f"{what}: backward does not reach {name}'s parameters; build the "
                            "loss from the Tensors the networks return")
        _check_generator_gradients(what, model, a, b, _gradients(model))


def _gradients(model):
    """The gradient each generator's parameters hold, flattened, one array per generator."""
    return {name: np.concatenate([np.zeros(p.data.size) if p.grad is None else
                                  nn.to_host(p.grad).ravel() for p in net.parameters()])
            for name, net in (("G_A", model.G_A), ("G_B", model.G_B))}


def _check_generator_gradients(what, model, a, b, got):
    """The gradient reaching each generator must be the reference's: a right value with a term
    cut from the graph (a fake detached, an image taken as .data) sends too little."""
    for net in (model.G_A, model.G_B, model.D_A, model.D_B):
        net.zero_grad()
    model.generator_loss(a, b)[0].backward()
    expected = _gradients(model)
    for name in ("G_A", "G_B"):
        error = np.abs(got[name] - expected[name]).max()
        if error > 1e-8 + 1e-6 * np.abs(expected[name]).max():
            off = np.linalg.norm(got[name] - expected[name]) / np.linalg.norm(expected[name])
            raise Wrong(f"{what}: the value is right, but the gradient reaching {name}'s "
                        f"parameters is {100 * off:.0f}% off the reference's (worst element off "
                        f"by {error:.3g}). A term of the objective does not send its gradient "
                        f"to {name}: is a fake detached (.detach(), or a Tensor made from .data) "
                        "where the generator must learn through it? Only the discriminators' "
                        "loss detaches the fakes")


def _reference_query(pool, image, pool_size, rng):
    """The rule of exercise 10.2 -> (returned image, why, u), for the explanation of a mismatch."""
    if pool_size == 0:
        return image, "pool_size is 0: return the image itself", None
    if len(pool) < pool_size:
        pool.append(image)
        return image, "the pool was not full yet: store the new image and return it", None
    u = rng.random()
    if u > 0.5:
        i = int(rng.integers(pool_size))
        old, pool[i] = pool[i], image
        return old, (f"the pool was full and rng.random() gave {u:.3f} > 0.5: return the stored "
                     f"pool[{i}] and put the new image in its place"), u
    return image, f"the pool was full and rng.random() gave {u:.3f} <= 0.5: return the new image", u


def _label(image):
    """Image k of the stream is filled with the value k."""
    return int(image.flat[0]) if hasattr(image, "flat") else None


def check_pool_query(module):
    images = [np.full((3, 2, 2), float(k)) for k in range(40)]
    for pool_size in (5, 1, 0):
        mine, ref = [], []
        rng_mine, rng_ref = np.random.default_rng(3), np.random.default_rng(3)
        for k, image in enumerate(images):
            before = [_label(m) for m in mine]
            got = module.pool_query(mine, image, pool_size, rng_mine)
            expected, why, u = _reference_query(ref, image, pool_size, rng_ref)
            where = f"with pool_size={pool_size}, query {k} (image {k} is the new one)"
            if got is None:
                raise Wrong(f"{where}: pool_query returned None; return the image to show")
            if _label(got) != _label(expected):
                if u is not None and u <= 0.5 and _label(got) in before:
                    raise Wrong(f"{where}: you swapped although rng.random() gave {u:.3f} <= "
                                "0.5; swap only when it is > 0.5 (half the time, as written)")
                raise Unexplained(f"{where}: you returned image {_label(got)}, expected image "
                                  f"{_label(expected)}, because {why}")
            if len(mine) > max(pool_size, 0):
                raise Wrong(f"{where}: the pool holds {len(mine)} images, more than pool_size")
            after, expected_after = [_label(m) for m in mine], [_label(r) for r in ref]
            if after != expected_after:
                if after == before and _label(got) != k:
                    raise Wrong(f"{where}: you returned the stored image {_label(got)} but did "
                                "not put the new image in its place; the pool must remember it")
                raise Unexplained(f"{where}: afterwards the pool holds images {after}, expected "
                                  f"{expected_after}, because {why}")


def _count(ngf, n_blocks, input_nc, output_nc, kernel_7=7, convs_per_block=2, bias=1,
           norm_parameters=0):
    """The parameter count for the generator, or for one of the classic miscounts of it."""
    def conv(c_in, c_out, k):
        return c_out * c_in * k * k + bias * c_out + norm_parameters * 2 * c_out

    return (conv(input_nc, ngf, kernel_7) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
            + n_blocks * convs_per_block * conv(4 * ngf, 4 * ngf, 3) + conv(4 * ngf, 2 * ngf, 3)
            + conv(2 * ngf, ngf, 3) + conv(ngf, output_nc, kernel_7)
            - norm_parameters * 2 * output_nc)   # the last convolution has no norm after it


def check_parameter_count(module):
    for ngf, n_blocks, c_in, c_out in [(64, 9, 3, 3), (16, 3, 3, 3), (8, 0, 1, 3), (4, 2, 3, 1)]:
        what = f"generator_parameter_count(ngf={ngf}, n_blocks={n_blocks}, {c_in}, {c_out})"
        got = module.generator_parameter_count(ngf, n_blocks, c_in, c_out)
        if not isinstance(got, (int, np.integer)):
            raise Wrong(f"{what} returned {type(got).__name__}: a count is an int")
        net = ResnetGenerator(c_in, c_out, ngf, n_blocks)
        expected = sum(int(p.data.size) for p in net.parameters())
        check_number(what + ", compared with the parameters of ResnetGenerator", got, expected,
                     atol=0, rtol=0, mistakes=[
            (_count(ngf, n_blocks, c_in, c_out, bias=0), f"{what} = {got} counts no biases: "
             "every convolution has one per output channel"),
            (_count(ngf, n_blocks, c_in, c_out, convs_per_block=1), f"{what} = {got} counts one "
             "convolution per residual block; each block has two 3x3 convolutions"),
            (_count(ngf, n_blocks, c_in, c_out, norm_parameters=1), f"{what} = {got} counts a "
             "scale and a shift per instance-norm channel; here instance norm has no parameters "
             "(affine=False)"),
            (_count(ngf, n_blocks, c_in, c_out, kernel_7=3), f"{what} = {got} treats the first "
             "and last convolutions as 3x3; they are 7x7")])


# --- 10.4 ------------------------------------------------------------------------------------

def _receptive_field(n_layers):
    """The walk back from one score through the convolutions of the built discriminator."""
    net = NLayerDiscriminator(input_nc=1, ndf=1, n_layers=n_layers, rng=np.random.default_rng(0))
    field = 1
    for conv in reversed([m for m in net.model if isinstance(m, nn.Conv2d)]):
        field = (field - 1) * conv.stride[0] + conv.weight.shape[2]
    return field


def _field_of(layers):
    """The field of (kernel, stride) layers, image to score."""
    field = 1
    for kernel, stride in reversed(layers):
        field = (field - 1) * stride + kernel
    return field


def check_receptive_field(module):
    for n_layers in (3, 1, 2, 5):
        what = f"patchgan_receptive_field(n_layers={n_layers})"
        got = module.patchgan_receptive_field(n_layers)
        if not isinstance(got, (int, np.integer)):
            raise Wrong(f"{what} returned {type(got).__name__}: a width in pixels is an int")
        right = [(4, 2)] * n_layers + [(4, 1), (4, 1)]
        check_number(what + ", the walk back through NLayerDiscriminator's convolutions", got,
                     _receptive_field(n_layers), atol=0, rtol=0, mistakes=[
            (_field_of([(4, 2)] * n_layers), f"{what} = {got} counts only the stride-2 "
             "convolutions; after them come a stride-1 convolution and the final one to a "
             "single channel, 4x4 both: each adds 3 pixels"),
            (sum(k for k, _ in right), f"{what} = {got} adds up the kernel widths; a stride-2 "
             "layer below a window of r values spreads it over (r - 1) * 2 + K of its input"),
            (_field_of(right[::-1]), f"{what} = {got} walks from the image to the score; the "
             "walk starts at one score and goes back towards the image, last layer first"),
            (_field_of([(4, 2)] * n_layers + [(4, 1)]), f"{what} = {got} leaves out one "
             "stride-1 layer: after the stride-2 layers come two 4x4 stride-1 convolutions, "
             "the last one to a single channel")])


# --- the ladders ------------------------------------------------------------------------------

def _objective(module, case):
    lam_a, lam_b, lam_idt = case["lambdas"]
    model = CycleGAN(ngf=2, ndf=2, n_blocks=1, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    a = nn.Tensor(rng.uniform(-1, 1, (1, 3, 32, 32)))
    b = nn.Tensor(rng.uniform(-1, 1, (1, 3, 32, 32)))
    model.lambda_A, model.lambda_B, model.lambda_identity = lam_a, lam_b, lam_idt
    if module is None:
        loss = model.generator_loss(a, b)[0]
    else:
        loss = module.generator_objective(model.G_A, model.G_B, model.D_A, model.D_B, a, b,
                                          lam_a, lam_b, lam_idt)
    loss.backward()
    got = _gradients(model)
    return (float(nn.to_host(loss.data).ravel()[0]), got["G_A"], got["G_B"])


OBJECTIVE_LADDER = Ladder(
    "generator_objective", [
        rung("with lambda_A = lambda_B = 10 and no identity terms (lambda_identity = 0)",
             lambdas=(10.0, 10.0, 0.0)),
        rung("with the identity terms (lambda_identity = 0.5)", "each identity term is an L1 "
             "distance, weighted by lambda_identity times its domain's lambda",
             lambdas=(10.0, 10.0, 0.5)),
        rung("with lambda_A = 10, lambda_B = 4", "each domain's terms take that domain's "
             "lambda, the one passed in", lambdas=(10.0, 4.0, 0.5)),
    ],
    got=_objective, expected=lambda case: _objective(None, case),
    names=("the loss's value", "the gradient reaching G_A's parameters",
           "the gradient reaching G_B's parameters"), atol=1e-9, rtol=1e-6, after_a_pass=False,
    show=lambda case: f"lambda_A, lambda_B, lambda_identity = {case['lambdas']} on a CycleGAN "
                      "with ngf = ndf = 2, one residual block, 32x32 images")


def _pool_stream(pool_size, query):
    """The labels query returns for 20 images, then the labels left in the pool."""
    images = [np.full((3, 2, 2), float(k)) for k in range(20)]
    pool, rng = [], np.random.default_rng(5)
    returned = [_label(query(pool, image, pool_size, rng)) for image in images]
    return returned + [-1] + [_label(p) for p in pool]


POOL_LADDER = Ladder(
    "pool_query", [
        rung("with pool_size 0", pool_size=0),
        rung("with pool_size 1", "once the pool is full, half the time the new image is "
             "swapped for a stored one: one rng.random() per query, then one rng.integers only "
             "for a swap", pool_size=1),
        rung("with pool_size 5", "the stored image to give back is a random one of the pool, "
             "rng.integers(pool_size)", pool_size=5),
    ],
    got=lambda module, case: _pool_stream(case["pool_size"], module.pool_query),
    expected=lambda case: _pool_stream(case["pool_size"],
                                       lambda *args: _reference_query(*args)[0]),
    show=lambda case: f"images 0, 1, ..., 19 (image k filled with k) queried in turn with "
                      f"pool_size={case['pool_size']} and rng = default_rng(5); the result lists "
                      "the images returned, -1, then the pool", atol=0, rtol=0)


def _count_case(ngf, n_blocks, input_nc=3, output_nc=3):
    return dict(ngf=ngf, n_blocks=n_blocks, input_nc=input_nc, output_nc=output_nc)


COUNT_LADDER = Ladder(
    "generator_parameter_count", [
        rung("with no residual blocks (ngf 4, 3 -> 3 channels)", **_count_case(4, 0)),
        rung("with 2 residual blocks", "each residual block holds two 3x3 convolutions at "
             "4 ngf channels", **_count_case(4, 2)),
        rung("with input_nc 1 and output_nc 3", "the first convolution reads input_nc "
             "channels, the last writes output_nc", **_count_case(4, 2, 1, 3)),
    ],
    got=lambda module, case: module.generator_parameter_count(*case.values()),
    expected=lambda case: sum(int(p.data.size) for p in ResnetGenerator(
        case["input_nc"], case["output_nc"], case["ngf"], case["n_blocks"]).parameters()),
    show=lambda case: ", ".join(f"{k}={v}" for k, v in case.items()), atol=0, rtol=0)

FIELD_LADDER = Ladder(
    "patchgan_receptive_field", [
        rung("for n_layers = 1", n_layers=1),
        rung("for n_layers = 2", "each stride-2 layer below a window of r values spreads it "
             "over (r - 1) * 2 + 4 of its input", n_layers=2),
        rung("for n_layers = 3 (the official 70)", "every one of the n_layers layers strides 2",
             n_layers=3),
        rung("for n_layers = 5", "the channels stop growing at 8 ndf, the strides do not: "
             "every one of the n_layers layers strides 2", n_layers=5),
    ],
    got=lambda module, case: module.patchgan_receptive_field(case["n_layers"]),
    expected=lambda case: _receptive_field(case["n_layers"]),
    show=lambda case: f"n_layers = {case['n_layers']}", atol=0, rtol=0)

CHECKS = with_ladders(
    {"10.1": check_generator_objective, "10.2": check_pool_query,
     "10.3": check_parameter_count, "10.4": check_receptive_field},
    {"10.1": OBJECTIVE_LADDER, "10.2": POOL_LADDER, "10.3": COUNT_LADDER,
     "10.4": FIELD_LADDER})

"""A built-in dataset, "day2night": landscapes drawn from a seed, by day (A) and by night (B).

A scene is a handful of numbers: where the sun (or moon) stands, the outline of a far mountain
range and of a near hill, some pine trees, and a texture field. ``render(scene, style, size)``
paints it in either palette. The two domains differ only in colour and light, never in
geometry, so a small generator can learn the mapping within minutes on a CPU; and because any
scene can be painted both ways, every day image has a known true translation, the same scene by
night. Translation quality is then a number: the mean absolute error of G_A(day) against the
true night image, next to the error of doing nothing (the identity mapping).

Splits: trainA and trainB show *different* scenes (the data are unpaired, as CycleGAN needs);
testA[i] and testB[i] show the *same* scene, so each is the other's ground truth.
Everything is a pure function of the seed: scene i of a split has its own Generator
``default_rng([seed, split, i])``, so it does not depend on how many scenes are drawn.
"""
import numpy as np

__all__ = ["STYLES", "random_scene", "render", "render_scenes", "make_dataset",
           "translation_error"]

# RGB in [0, 1]. Night keeps each region's identity (sky, mountains, hill, trees, disc) but
# not its colour: the generator must learn a colour map per kind of region.
STYLES = {
    "day": {"zenith": (0.22, 0.45, 0.85), "horizon": (0.70, 0.85, 0.97),
            "glow": (1.00, 0.95, 0.75), "disc": (1.00, 0.93, 0.55),
            "far": (0.48, 0.56, 0.72), "far_top": (0.93, 0.95, 1.00),
            "hill": (0.38, 0.66, 0.30), "tree": (0.10, 0.38, 0.18)},
    "night": {"zenith": (0.02, 0.03, 0.12), "horizon": (0.10, 0.13, 0.33),
              "glow": (0.45, 0.50, 0.70), "disc": (0.92, 0.93, 0.85),
              "far": (0.13, 0.14, 0.28), "far_top": (0.55, 0.58, 0.70),
              "hill": (0.06, 0.16, 0.17), "tree": (0.02, 0.06, 0.07)},
}
_SPLITS = {"trainA": 0, "trainB": 1, "test": 2}


def random_scene(rng):
    """The numbers that fix one landscape (all sizes are fractions of the image side)."""
    ridge = lambda k: (rng.uniform(1.0, 4.0, k), rng.uniform(0, 2 * np.pi, k),  # noqa: E731
                       rng.uniform(0.02, 0.06, k) / np.arange(1, k + 1))
    n_trees = int(rng.integers(0, 7))
    return {
        "sun": (rng.uniform(0.15, 0.85), rng.uniform(0.12, 0.35), rng.uniform(0.05, 0.08)),
        "far": (rng.uniform(0.42, 0.55),) + ridge(3),
        "snowline": rng.uniform(0.04, 0.10),
        "hill": (rng.uniform(0.66, 0.80),) + ridge(2),
        "trees": (rng.uniform(0.03, 0.97, n_trees), rng.uniform(0.10, 0.20, n_trees)),
        "texture": rng.standard_normal((2, 6, 6)),
        "tint": rng.uniform(-0.04, 0.04),  # the light of the day, shared by both renderings
    }


def _ridge(x, params):
    """Height of a ridge line at x (fraction from the top): base + sum_k a_k sin(2 pi f_k x + p_k)."""
    base, freq, phase, amp = params
    return base + (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * x[None] +
                                         phase[:, None])).sum(0)


def _upsample(grid, size):
    """Bilinear upsampling of a small (g, g) grid to (size, size), resolution independent."""
    g = grid.shape[0]
    t = np.linspace(0, g - 1, size)
    i = np.minimum(t.astype(int), g - 2)
    f = t - i
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f) + rows[:, i + 1] * f


def render(scene, style, size):
    """Paint ``scene`` in ``style`` ("day" or "night"): uint8 (size, size, 3).

    Drawn at twice the size and averaged over 2x2 blocks, so edges are anti-aliased.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}")
    p = {k: np.array(v) for k, v in STYLES[style].items()}
    s = 2 * size
    y, x = (np.mgrid[0:s, 0:s] + 0.5) / s
    texture = 1 + 0.06 * _upsample(scene["texture"][0], s) + 0.03 * _upsample(
        scene["texture"][1][::-1], s)[:, ::-1]

    img = p["horizon"] + (p["zenith"] - p["horizon"]) * (1 - y[..., None] / 0.6).clip(0, 1)
    sx, sy, r = scene["sun"]
    dist = np.hypot(x - sx, y - sy)
    glow = np.exp(-((dist / (3 * r)) ** 2))[..., None] * 0.5
    img = img * (1 - glow) + p["glow"] * glow
    img = np.where((dist < r)[..., None], p["disc"], img)

    far_top = _ridge(x[0], scene["far"])[None]
    mountain = y > far_top
    snow = (y < far_top + scene["snowline"] * (1.2 + 0.8 * np.sin(13 * x)))[..., None]
    img = np.where(mountain[..., None], np.where(snow, p["far_top"], p["far"]) * texture[..., None],
                   img)

    hill_top = _ridge(x[0], scene["hill"])[None]
    hill = y > hill_top
    shade = 1 - 0.25 * (y - hill_top).clip(0, 1)[..., None]  # darker towards the viewer's feet
    img = np.where(hill[..., None], p["hill"] * shade * texture[..., None], img)

    for tx, th in zip(*scene["trees"]):
        base = _ridge(np.array([tx]), scene["hill"])[0] + 0.03
        half_width = 0.35 * th * (y - (base - th)) / th
        tree = (y > base - th) & (y < base) & (np.abs(x - tx) < half_width)
        img = np.where(tree[..., None], p["tree"] * texture[..., None], img)

    img = img * (1 + scene["tint"])
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def _scene(seed, split, i):
    return random_scene(np.random.default_rng([seed, _SPLITS[split], i]))


def render_scenes(seed, split, count, style, size):
    """uint8 (count, size, size, 3): scenes 0..count-1 of ``split`` painted in ``style``."""
    images = [render(_scene(seed, split, i), style, size) for i in range(count)]
    return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)


def make_dataset(size=36, n_train=200, n_test=8, seed=0):
    """{"trainA", "trainB", "testA", "testB"}: uint8 (N, size, size, 3) arrays.

    trainA (day) and trainB (night) are different scenes; testB[i] is testA[i] by night, the
    true translation of testA[i] (and the other way round).
    """
    return {"trainA": render_scenes(seed, "trainA", n_train, "day", size),
            "trainB": render_scenes(seed, "trainB", n_train, "night", size),
            "testA": render_scenes(seed, "test", n_test, "day", size),
            "testB": render_scenes(seed, "test", n_test, "night", size)}


def translation_error(translated, truth):
    """Mean absolute error between two image batches in the model's range [-1, 1].

    Both arguments are float (N, 3, H, W) in [-1, 1]; 0 is perfect, 2 the largest possible.
    """
    return float(np.mean(np.abs(np.asarray(translated, np.float64) -
                                np.asarray(truth, np.float64))))

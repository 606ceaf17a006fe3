"""Train a CycleGAN.

    python train.py                              # built-in day2night landscapes, CPU, minutes
    python train.py --dataroot datasets/horse2zebra --n-epochs 100 --n-epochs-decay 100 --gpu
    python train.py --resume                     # continue runs/day2night exactly

Without --dataroot the model learns the built-in "day2night" dataset (see
cyclegan_support/builtin_data.py): two domains of procedurally drawn landscapes where the true
translation of every test image is known, so each epoch also reports the translation error of
G_A against the error of doing nothing. Each epoch writes, under --out: samples/epoch_NNN.png
(rows real A | fake B | rec A | real B | fake A | rec B on fixed test images), losses.csv,
losses.png, checkpoint.npz, and each generator's weights G_A.npz and G_B.npz (for translate.py).

The learning rate follows the official schedule: constant for --n-epochs epochs, then
decaying linearly over --n-epochs-decay epochs, stepped at the start of each epoch, so that
the last epoch's rate is 0. Its steps would change no weight, so that epoch is skipped: a run
trains n-epochs + n-epochs-decay - 1 epochs, to the same weights.

A run is never lost: every file is replaced atomically; Ctrl-C or SIGTERM finishes the current
iteration, saves a checkpoint and prints the command that resumes it exactly; a non-finite loss
or a checkpoint that cannot be written stops the run with the last good checkpoint kept; a
sample grid or plot that cannot be written (a full disk) is a warning. A new run refuses an
--out that already holds one, and a run folder is locked while a run writes there (a second
run into it stops at once, naming the first). Mistakes on the command line, in --dataroot or
in a checkpoint end in one paragraph saying what is wrong and what to do (exit status 2; 1
for a fault).
"""
import os
import sys
import time
import warnings

import nn
from cyclegan import CycleGAN, LOSS_NAMES as LOSSES
from cyclegan_support import builtin_data, data
from cyclegan_support.generator_file import save_generator
from cyclegan_support.progress import Progress
from training import outputs
from training.guard import Guard
from training.options import build_parser as _options

ERRORS = ("error_AtoB", "error_BtoA", "error_identity")
N_GRID = 8        # test images shown in the sample grids
N_METRIC = 64     # built-in test scenes the translation error is measured on


def main(argv=None):
    """Train from the command line; returns the exit status: 0 done, 2 bad input, 1 a fault,
    128 + the signal's number when Ctrl-C or SIGTERM stopped it. The checks before the run,
    the signals and the faults are the guard's (training/guard.py); the loop is here."""
    with Guard(build_parser(), argv, script=__file__) as run:
        config, out = run.config, run.config["out"]
        train_A, train_B, test_A, test_B, truth = load_data(config)
        loader = data.UnalignedLoader(train_A, train_B, config["crop_size"],
                                      config["batch_size"], seed=[config["seed"], 1])
        model = build_model(config, run.device)
        first, iteration, sums = run.start(model, loader)  # a resumed run: where it stopped
        # The official schedule's last epoch trains at rate 0 and would change no weight (Adam
        # moves a weight by lr times its step): it is skipped, the weights are the same.
        epochs = config["n_epochs"] + config["n_epochs_decay"] - 1
        table = outputs.LossTable(os.path.join(out, outputs.LOSS_TABLE),
                                  ["epoch", "iterations", "seconds", "lr", *LOSSES]
                                  + (list(ERRORS) if truth else []))
        table.truncate(first - 1)  # rows of epochs after the checkpoint's are trained again
        say(introduction(config, loader, model, epochs, truth) + (
            f", resuming at epoch {first} iteration {iteration}" if run.checkpoint else ""))
        progress = Progress(epochs, len(loader), done=(first - 1) * len(loader) + iteration)
        started = time.monotonic()
        for epoch in range(first, epochs + 1):
            if iteration == 0:
                # As the official train.py: the schedule steps at the start of every epoch, so
                # epoch e trains with the rate of step e (see cyclegan.linear_decay_rule).
                model.update_learning_rate()
            epoch_start = time.monotonic()
            for real_A, real_B in loader.epoch(start=iteration):
                losses = model.train_step(real_A, real_B)
                run.check_losses(losses, epoch, iteration + 1)
                iteration += 1
                sums = {k: sums[k] + losses[k] for k in LOSSES}
                progress.update(epoch, iteration, losses, len(real_A))
                if run.stop_requested:  # Ctrl-C or SIGTERM: save between two steps
                    return run.stop(epoch, iteration, sums)
            progress.end_epoch()
            # The epoch's outputs (a failure to write one is a warning), then the checkpoint.
            seconds = time.monotonic() - epoch_start
            row = {"epoch": epoch, "iterations": iteration, "seconds": round(seconds, 1),
                   "lr": model.optimizer_G.lr,
                   **{k: v / max(iteration, 1) for k, v in sums.items()}}
            grid = outputs.sample_path(out, epoch)
            outputs.attempt(grid, lambda: outputs.write_samples(
                model, test_A[:N_GRID], test_B[:N_GRID], grid))
            if truth:
                row.update(outputs.translation_errors(model, test_A, test_B))
            outputs.attempt(table.path, lambda: table.append(row))
            plot = os.path.join(out, outputs.LOSS_PLOT)
            outputs.attempt(plot, lambda: outputs.plot_losses(table.read(), plot))
            iteration, sums = 0, dict.fromkeys(LOSSES, 0.0)
            run.save(epoch + 1, iteration, sums)
            for name in ("G_A", "G_B"):  # each generator alone, for translate.py
                path = outputs.generator_path(out, name)
                outputs.attempt(path, lambda: save_generator(path, getattr(model, name)))
            say(f"epoch {epoch}/{epochs} done in {seconds:.0f} s" + (
                "; " + describe_errors(row) if truth else ""))
        say(report(out, time.monotonic() - started, row if truth and first <= epochs else None))
    return run.status


def say(text):
    print(text, flush=True)


def introduction(config, loader, model, epochs, truth):
    """What is trained, where, and for how long."""
    what = "the built-in day2night dataset" if truth else config["dataroot"]
    crop, where = config["crop_size"], "CPU" if model.xp is nn.backend.numpy else "GPU"
    return (f"training on {what} ({len(loader.images_A)} A, {len(loader.images_B)} B images, "
            f"{crop}x{crop} crops) on the {where}, {epochs} epochs of {len(loader)} iterations "
            f"(the schedule's epoch {epochs + 1}, at learning rate 0, would change no weight: "
            "skipped)")


def describe_errors(row):
    return (f"translation error G_A(A) vs true B {row['error_AtoB']:.3f} (identity "
            f"{row['error_identity']:.3f}), G_B(B) vs true A {row['error_BtoA']:.3f}")


def report(out, seconds, errors=None):
    """What a finished run wrote, and how well its G_A translates the built-in test scenes
    (``errors``: the last epoch's row, when the run trained one and the truth is known)."""
    text = (f"finished in {seconds:.0f} s. Wrote to {out}/:\n"
            f"  {outputs.SAMPLES}/epoch_NNN.png  sample grids (rows real A | fake B | rec A | "
            f"real B | fake A | rec B)\n"
            f"  {outputs.LOSS_TABLE}, {outputs.LOSS_PLOT}  losses per epoch\n"
            f"  {outputs.CHECKPOINT}  networks, optimizers, pools and random states "
            f"(python translate.py --checkpoint {outputs.checkpoint_path(out)} IMAGE)\n"
            f"  G_A.npz, G_B.npz  each generator alone, for translate.py")
    if errors:
        e = errors
        verdict = "below" if e["error_AtoB"] < e["error_identity"] else "NOT below"
        text += (f"\ntranslation error of G_A on {N_METRIC} test scenes: {e['error_AtoB']:.3f}, "
                 f"{verdict} the identity mapping's {e['error_identity']:.3f} "
                 f"(mean absolute error in [-1, 1]; G_B: {e['error_BtoA']:.3f})")
    return text


# --- the options, the data and the model ----------------------------------------------------

def build_parser():
    """The options of training/options.py, with this file's docstring as --help."""
    return _options(description=__doc__)


def load_data(config):
    """Training images (uint8, at load size) and test batches (float32 [-1, 1]).

    Returns (train_A, train_B, test_A, test_B, truth): for the built-in dataset test_B[i] is
    the true translation of test_A[i] and truth is True.
    """
    if config["dataroot"] is None:
        d = builtin_data.make_dataset(size=config["load_size"], n_train=config["n_train"],
                                      n_test=N_METRIC, seed=0)
        # Centre crops: the test images then show objects at the scale of the training crops.
        o, c = (config["load_size"] - config["crop_size"]) // 2, config["crop_size"]
        test_A, test_B = (data.to_model_range(d[k][:, o:o + c, o:o + c])
                          for k in ("testA", "testB"))
        return d["trainA"], d["trainB"], test_A, test_B, True
    root = config["dataroot"]
    train_A, _ = data.load_folder(os.path.join(root, "trainA"), config["load_size"])
    train_B, _ = data.load_folder(os.path.join(root, "trainB"), config["load_size"])
    tests = []
    for domain, train in (("A", train_A), ("B", train_B)):
        folder, images = os.path.join(root, "test" + domain), None
        if os.path.isdir(folder):
            try:
                images = data.load_folder(folder, config["crop_size"], limit=N_GRID)[0]
            except ValueError as e:  # the test folders are optional: an empty one is no error
                warnings.warn(f"{e}; the sample grids show training images instead")
        if images is None:
            images = train[:N_GRID, :config["crop_size"], :config["crop_size"]]
        tests.append(data.to_model_range(images))
    return train_A, train_B, tests[0], tests[1], False


def build_model(config, device):
    return CycleGAN(device=device, **{k: config[k] for k in (
        "ngf", "ndf", "n_blocks", "lr", "beta1", "lambda_A", "lambda_B", "lambda_identity",
        "pool_size", "n_epochs", "n_epochs_decay", "seed")})


if __name__ == "__main__":
    sys.exit(main())

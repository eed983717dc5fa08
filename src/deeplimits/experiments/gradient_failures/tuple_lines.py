"""A3 `tuple-lines`: end-to-end training stalls where decomposition succeeds.

Claim (SSS17 §3.1, Figs. 2, 3, 5). An image is 28x28, zero except a straight
line (length U[5, 23], uniform centre, angle U[0, pi], pixels rounded); its
label is +1 if the angle is below pi/2, else -1. An example is a k-tuple of
images labelled by the parity (product) of their labels. A small CNN scores each
image; the k scores go through a sigmoid into a second net. Trained end to end
on the tuple label only, the network learns k = 1, 2 slowly and stays at chance
for k >= 3 within 20,000 Adam iterations. Adding the per-image loss
(decomposition) learns every k within 2,500. At initialisation, the end-to-end
gradient's signal-to-noise ratio for the per-image net's last layer falls with k,
below float32 resolution for k >= 3, while decomposition's stays flat (Fig. 5).

Source. Shalev-Shwartz, Shamir, Shammah, "Failures of Gradient-Based Deep
Learning", ICML 2017, §3.1, Figs. 2, 3, 5; batch 200 and Adam(1e-3, 0.9, 0.99,
1e-5) from the authors' code.

Arms. `end-to-end-k{k}` (tuple hinge loss only) and `decomposition-k{k}` (plus
the per-image hinge loss) for each k. End-to-end at k = 1 is the control (the
same net and loss must learn a single image); end-to-end at the largest k is
the failing arm; end-to-end at the k in between is a sweep; decomposition at
every k is the remedy.

Diagnostic. For the last layer of the per-image net, at random initialisation:
signal ||E g||^2 and noise E||g - E g||^2 from per-example gradients (vmap of
grad), averaged over several initialisations per seed. The signal is estimated
without bias (||mean||^2 - noise / n); its resolution is noise / n.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.engine import derive_key, derive_keys, train
from deeplimits.experiment import (Arm, ArmResults, Claim, Experiment, Falsification, Progress, Results, Verdict,
                                   no_progress)
from deeplimits.registry import register
from deeplimits.report.style import PALETTE, new_figure, plot_band
from deeplimits.stats import UNSURE, at_least, at_most, decide, describe, mean_interval, note, tail_mean, within

NAME = "tuple-lines"
# Rounding makes a nearly horizontal (or vertical) line look alike at angles a and pi - a, so
# even a perfect scorer errs on a few per cent of images, and the parity of k labels compounds
# it (accuracy (1 + (1 - 2e)^k) / 2 for per-image error e). "Learned" leaves room for that:
CONTROL_LEARNED = 0.85  # end-to-end at k = 1 (a single image): final-accuracy interval >= 0.85
DECOMPOSITION_IMAGES = 0.9  # decomposition's per-image accuracy interval >= 0.9 at every k
DECOMPOSITION_TUPLES = 0.75  # and its tuple accuracy interval >= 0.75 at every k
CHANCE_BAND = 0.05  # end-to-end at the largest k "at chance": interval within 0.5 ± 0.05
SNR_DROP = 0.1  # end-to-end SNR at the largest k is below 10% of its k = 1 value
FLAT = 0.1  # decomposition's SNR at the largest k stays >= 10% of its k = 1 value
RESOLVED = 10  # the k = 1 SNRs must be at least 10x the estimate's resolution to be compared
FLOAT32_EPS = float(np.finfo(np.float32).eps)
FINAL_FRACTION = 0.1
ADAM = dict(b1=0.9, b2=0.99, eps=1e-5)  # the authors' code
ACCURACY = (0.0, 1.0)  # an accuracy's range: what a diverged seed could have scored

CLAIM_TRAINING = Claim(
    id="tuple-lines-end-to-end-stalls",
    statement="Trained end to end on the parity of k line-image labels, a CNN stays at chance for "
              "k >= 3, while adding the per-image loss (decomposition) learns every k quickly.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §3.1, Fig. 3",
    expected="Decomposition reaches high accuracy within 2,500 iterations for k = 1..4; end-to-end "
             "learns k = 1, 2 slowly and stays at 0.5 for k >= 3 over 20,000 iterations.",
    budget=("end_to_end_steps", "batch_size"),
    falsified_by=Falsification(
        why="with k = 1 as the largest tuple size the 'failing' arm is a single image, which end-to-end "
            "training learns",
        profile="quick", seeds=5, overrides={"tuple_sizes": (1,), "snr_inits": 1, "snr_samples": 64}),
)
CLAIM_SNR = Claim(
    id="tuple-lines-snr",
    statement="At initialisation the end-to-end gradient's signal-to-noise ratio falls with k (below "
              "float32 resolution for k >= 3), while decomposition's stays flat.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §3.1, Fig. 5",
    expected="End-to-end SNR drops by orders of magnitude from k = 1 to k = 4; decomposition's does not.",
    kind="analytic",
    budget=("snr_inits", "snr_samples"),
    falsified_by=Falsification(
        why="with k = 1 as the largest tuple size the end-to-end SNR cannot fall with k (the ratio is 1)",
        profile="smoke", seeds=4, overrides={"tuple_sizes": (1,), "snr_inits": 4, "snr_samples": 4_096}),
)


@dataclass(frozen=True)
class Config:
    image_size: int = param(28, "image side in pixels", min=8, max=128)
    min_length: float = param(5.0, "shortest line, pixels", min=1.0, max=128.0)
    max_length: float = param(23.0, "longest line, pixels", min=1.0, max=256.0)
    tuple_sizes: tuple[int, ...] = param((1, 2, 3, 4), "k values; k = 1 end-to-end is the control, the "
                                         "largest k fails", min=1, max=16, distinct=True)
    conv_channels: int = param(16, "channels of both 5x5 convolutions", min=1, max=256)
    dense_widths: tuple[int, ...] = param((50, 100), "ReLU layers of the per-image net after the "
                                          "convolutions", min=1, max=4096)
    tuple_width: int = param(100, "ReLU width of the net on the k sigmoid scores", min=1, max=4096)
    learning_rate: float = param(1e-3, "Adam learning rate (b1 0.9, b2 0.99, eps 1e-5)", min=0.0, max=10.0)
    batch_size: int = param(200, "tuples per step", min=1, max=65_536)
    end_to_end_steps: int = param(20_000, "iterations of the end-to-end arms", min=1, max=10_000_000)
    decomposition_steps: int = param(2_500, "iterations of the decomposition arms", min=1, max=10_000_000)
    eval_every: int = param(250, "iterations between evaluations", min=1, max=10_000_000)
    eval_samples: int = param(1_000, "fresh tuples per evaluation", min=1, max=1_000_000)
    snr_inits: int = param(16, "random initialisations per seed for the SNR", min=1, max=10_000)
    snr_samples: int = param(16_384, "examples per initialisation for the SNR", min=2, max=1_000_000)

    def __post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ConfigError(f"min_length={self.min_length} exceeds max_length={self.max_length}")
        if self.eval_every > min(self.end_to_end_steps, self.decomposition_steps):
            raise ConfigError(f"eval_every={self.eval_every} exceeds the shorter step budget")


def line_parameters(key: jax.Array, n: int, *, size: int, min_length: float, max_length: float
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Length U[min, max] ``(n,)``, centre uniform over the pixel grid ``(n, 2)`` as
    (column, row), and angle U[0, pi] ``(n,)``."""
    k_len, k_centre, k_angle = jax.random.split(key, 3)
    length = jax.random.uniform(k_len, (n,), minval=min_length, maxval=max_length)
    centre = jax.random.uniform(k_centre, (n, 2), maxval=size - 1)
    angle = jax.random.uniform(k_angle, (n,), maxval=math.pi)
    return length, centre, angle


def render_lines(length: jax.Array, centre: jax.Array, angle: jax.Array, *, size: int,
                 max_length: float) -> jax.Array:
    """Binary images ``(n, size, size)``: points along each line rounded to the grid.

    The angle is measured from the column axis towards decreasing row (upwards on
    screen); points are twice as dense as pixels; pixels outside the image are dropped.
    """
    n = length.shape[0]
    t = jnp.linspace(-0.5, 0.5, 2 * int(math.ceil(max_length)) + 1)  # (M,)
    along = length[:, None] * t[None, :]  # (n, M)
    cols = jnp.round(centre[:, :1] + along * jnp.cos(angle)[:, None]).astype(jnp.int32)
    rows = jnp.round(centre[:, 1:] - along * jnp.sin(angle)[:, None]).astype(jnp.int32)
    inside = (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size)
    flat = jnp.where(inside, rows * size + cols, 0)
    images = jnp.zeros((n, size * size)).at[jnp.arange(n)[:, None], flat].max(inside.astype(jnp.float32))
    return images.reshape(n, size, size)


def draw_lines(key: jax.Array, n: int, *, size: int, min_length: float, max_length: float
               ) -> tuple[jax.Array, jax.Array]:
    """``n`` line images ``(n, size, size)`` in {0, 1} and labels ``(n,)``: +1 if angle < pi/2."""
    length, centre, angle = line_parameters(key, n, size=size, min_length=min_length, max_length=max_length)
    images = render_lines(length, centre, angle, size=size, max_length=max_length)
    return images, jnp.where(angle < math.pi / 2, 1.0, -1.0)


class ImageScorer(eqx.Module):
    """Conv 5x5 + 2x2 max-pool, twice; ReLU dense layers; one score."""

    convs: tuple[eqx.nn.Conv2d, ...]
    dense: tuple[eqx.nn.Linear, ...]
    out: eqx.nn.Linear

    def __init__(self, *, key: jax.Array, size: int, channels: int, widths: tuple[int, ...]) -> None:
        keys = jax.random.split(key, 3 + len(widths))
        self.convs = (eqx.nn.Conv2d(1, channels, 5, padding="SAME", key=keys[0]),
                      eqx.nn.Conv2d(channels, channels, 5, padding="SAME", key=keys[1]))
        sizes = (channels * (size // 4) ** 2, *widths)
        self.dense = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes, sizes[1:], keys[2:]))
        self.out = eqx.nn.Linear(sizes[-1], "scalar", key=keys[-1])

    def features(self, image: jax.Array) -> jax.Array:
        """The input of the last layer: ``(H, W) -> (widths[-1],)``."""
        h = image[None]  # (1, H, W)
        for conv in self.convs:
            h = jax.nn.relu(conv(h))
            h = eqx.nn.MaxPool2d(2, 2)(h)
        h = h.ravel()
        for layer in self.dense:
            h = jax.nn.relu(layer(h))
        return h

    def __call__(self, image: jax.Array) -> jax.Array:
        return self.out(self.features(image))


class TupleNet(eqx.Module):
    """The per-image scorer on each of k images; sigmoid; a ReLU layer; one output."""

    scorer: ImageScorer
    hidden: eqx.nn.Linear
    out: eqx.nn.Linear

    def __init__(self, *, key: jax.Array, config: Config, k: int) -> None:
        k_scorer, k_hidden, k_out = jax.random.split(key, 3)
        self.scorer = ImageScorer(key=k_scorer, size=config.image_size, channels=config.conv_channels,
                                  widths=config.dense_widths)
        self.hidden = eqx.nn.Linear(k, config.tuple_width, key=k_hidden)
        self.out = eqx.nn.Linear(config.tuple_width, "scalar", key=k_out)

    def scores(self, images: jax.Array) -> jax.Array:
        return jax.vmap(self.scorer)(images)  # (k, H, W) -> (k,)

    def head(self, scores: jax.Array) -> jax.Array:
        return self.out(jax.nn.relu(self.hidden(jax.nn.sigmoid(scores))))

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.head(self.scores(images))


def sample_tuples(config: Config, key: jax.Array, n: int, k: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    images, labels = draw_lines(key, n * k, size=config.image_size, min_length=config.min_length,
                                max_length=config.max_length)
    labels = labels.reshape(n, k)
    return images.reshape(n, k, config.image_size, config.image_size), labels, jnp.prod(labels, axis=1)


def hinge(prediction: jax.Array, label: jax.Array) -> jax.Array:
    return optax.losses.hinge_loss(prediction, label)


def loss_of_scores(model: TupleNet, scores: jax.Array, labels: jax.Array, label: jax.Array,
                   decomposition: bool) -> jax.Array:
    """One example's loss from its k image scores: the tuple hinge, plus the per-image hinges."""
    loss = hinge(model.head(scores), label)
    if decomposition:
        loss = loss + jnp.sum(hinge(scores, labels))
    return loss


def example_loss(model: TupleNet, images: jax.Array, labels: jax.Array, label: jax.Array,
                 decomposition: bool) -> jax.Array:
    return loss_of_scores(model, model.scores(images), labels, label, decomposition)


def train_arm(config: Config, arm: str, k: int, seeds: tuple[int, ...], progress: Progress) -> ArmResults:
    decomposition = arm.startswith("decomposition")

    def loss(model, batch):
        return jnp.mean(jax.vmap(example_loss, in_axes=(None, 0, 0, 0, None))(model, *batch, decomposition))

    def evaluate(model, data, key):
        images, labels, label = sample_tuples(config, key, config.eval_samples, k)
        scores = jax.vmap(model.scores)(images)  # (n, k), the CNN run once
        return {"accuracy": jnp.mean(jnp.sign(jax.vmap(model.head)(scores)) == label),
                "image_accuracy": jnp.mean(jnp.sign(scores) == labels)}

    log = train(
        keys=derive_keys(NAME, arm, seeds),
        init=lambda key: TupleNet(key=key, config=config, k=k),
        loss=loss,
        optimizer=optax.adam(config.learning_rate, **ADAM),
        sample_batch=lambda data, key: sample_tuples(config, key, config.batch_size, k),
        evaluate=evaluate,
        steps=config.decomposition_steps if decomposition else config.end_to_end_steps,
        eval_every=config.eval_every,
        progress=progress,
        label=arm,
        seeds_by="map",  # a batch of images already fills the CPU; vectorising seeds adds nothing
    )
    accuracy, image_accuracy = log.metrics["accuracy"], log.metrics["image_accuracy"]
    return ArmResults(steps=log.steps, curves={"accuracy": accuracy, "image_accuracy": image_accuracy,
                                               "loss": log.loss},
                      final={"accuracy": tail_mean(accuracy, FINAL_FRACTION),
                             "image_accuracy": tail_mean(image_accuracy, FINAL_FRACTION)},
                      diverged=log.diverged, wall_s=log.wall_s)


def signal_and_noise(grads: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Signal ||E g||^2 (unbiased) and noise E||g - E g||^2 from per-example ``grads (n, P)``."""
    n = grads.shape[0]
    mean = jnp.mean(grads, axis=0)
    noise = jnp.sum((grads - mean) ** 2) / (n - 1)
    return jnp.sum(mean**2) - noise / n, noise


def last_layer_gradients(model: TupleNet, images: jax.Array, labels: jax.Array, label: jax.Array,
                         decomposition: bool) -> jax.Array:
    """Per-example gradients of the scorer's last layer ``(n, widths[-1] + 1)``.

    The k images share that layer, so an example's gradient is sum_i (dL/ds_i) [h_i, 1]:
    one forward pass of the CNN and the gradient of the loss with respect to the k scores.
    """
    features = jax.vmap(jax.vmap(model.scorer.features))(images)  # (n, k, F)
    scores = jax.vmap(jax.vmap(model.scorer.out))(features)  # (n, k)
    dscores = jax.vmap(jax.grad(loss_of_scores, argnums=1), in_axes=(None, 0, 0, 0, None))(
        model, scores, labels, label, decomposition)  # (n, k)
    with_bias = jnp.concatenate([features, jnp.ones(features.shape[:2] + (1,))], axis=2)
    return jnp.einsum("nk,nkf->nf", dscores, with_bias)


@eqx.filter_jit
def _last_layer_snr(model: TupleNet, batch: tuple[jax.Array, ...], decomposition: bool):
    return signal_and_noise(last_layer_gradients(model, *batch, decomposition))


def snr_resolution(config: dict) -> float:
    """Approximate standard error of a measured SNR near zero: 1 / (samples x sqrt(inits))."""
    return 1.0 / (config["snr_samples"] * config["snr_inits"] ** 0.5)


def gradient_snr(config: Config, seeds: tuple[int, ...], progress: Progress) -> dict[str, np.ndarray]:
    ks = sorted(config.tuple_sizes)
    shape = (len(seeds), len(ks))
    out = {f"{part}_{arm}": np.empty(shape) for part in ("signal", "noise") for arm in ("end_to_end", "decomposition")}
    for j, k in enumerate(ks):
        for i, seed in enumerate(seeds):
            signal = {"end_to_end": 0.0, "decomposition": 0.0}
            noise = dict(signal)
            for init in range(config.snr_inits):
                key = jax.random.fold_in(derive_key(NAME, f"snr-k{k}", seed), init)
                k_model, k_data = jax.random.split(key)
                model = TupleNet(key=k_model, config=config, k=k)
                batch = sample_tuples(config, k_data, config.snr_samples, k)
                for arm in signal:
                    s, n = _last_layer_snr(model, batch, arm == "decomposition")
                    signal[arm] += float(s) / config.snr_inits
                    noise[arm] += float(n) / config.snr_inits
            for arm in signal:
                out[f"signal_{arm}"][i, j], out[f"noise_{arm}"][i, j] = signal[arm], noise[arm]
        progress("gradient SNR", j + 1, len(ks))
    return {"snr_tuple_sizes": np.array(ks), **out}


@register
class TupleLines(Experiment):
    name = NAME
    catalogue = "A3"
    version = 2  # 2: Student-t intervals, judged controls for every trained claim, notes apart from checks
    title = "Tuples of line images: end-to-end training stalls where decomposition succeeds"
    family = "gradient_failures"
    claims = (CLAIM_TRAINING, CLAIM_SNR)
    Config = Config
    default_seeds = {"smoke": 2, "quick": 5, "paper": 8}
    profiles = {
        "smoke": {"image_size": 12, "min_length": 3.0, "max_length": 9.0, "tuple_sizes": (1, 3),
                  "conv_channels": 4, "dense_widths": (16,), "tuple_width": 16, "batch_size": 16,
                  "end_to_end_steps": 60, "decomposition_steps": 30, "eval_every": 30, "eval_samples": 64,
                  "snr_inits": 2, "snr_samples": 32},
        "quick": {"image_size": 14, "min_length": 3.0, "max_length": 11.0, "tuple_sizes": (1, 3),
                  "conv_channels": 8, "dense_widths": (32, 32), "batch_size": 16, "end_to_end_steps": 2_000,
                  "decomposition_steps": 1_000, "eval_every": 100, "eval_samples": 512,
                  "snr_inits": 8, "snr_samples": 4_096},
        "paper": {},
    }
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "12x12 images, tiny CNN, 60 iterations: checks the plumbing, not the claim",
        "quick": "k in {1, 3} only; 14x14 images with lines of length U[3, 11] (about the paper's "
                 "length-to-size ratio), CNN channels 8 and dense 32-32, batch 16; 2,000 end-to-end "
                 "and 1,000 decomposition iterations; SNR from 8 initialisations x 4,096 examples per seed",
        "paper": "the paper's settings: 28x28, CNN 16-16 / 50-100, tuple net 100, batch 200, Adam "
                 "(1e-3, 0.9, 0.99, 1e-5), 20,000 end-to-end and 2,500 decomposition iterations "
                 "(GPU work: end-to-end k = 4 alone is 16 million images)",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        ks = sorted(config.tuple_sizes)
        out = []
        for k in ks:
            role = "control" if k == 1 else "failing" if k == ks[-1] else "sweep"
            what = {"control": "one image: must be learned (positive control)",
                    "failing": "said to stay at chance", "sweep": "measured, not judged"}[role]
            out.append(Arm(f"end-to-end-k{k}", role, f"end-to-end, k = {k}: {what}"))
        out += [Arm(f"decomposition-k{k}", "remedy", f"decomposition, k = {k}: said to learn quickly")
                for k in ks]
        return tuple(out)

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        arms = {f"{arm}-k{k}": train_arm(config, f"{arm}-k{k}", k, seeds, progress)
                for k in sorted(config.tuple_sizes) for arm in ("end-to-end", "decomposition")}
        diagnostics = gradient_snr(config, seeds, progress)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds,
                       arms=arms, diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_training(results), self._verdict_snr(results)]

    def _verdict_training(self, results: Results) -> Verdict:
        ks = sorted(results.config["tuple_sizes"])
        final = {name: mean_interval(arm.final["accuracy"], bounds=ACCURACY) for name, arm in results.arms.items()}
        failing = final[f"end-to-end-k{ks[-1]}"]
        low, high = 0.5 - CHANCE_BAND, 0.5 + CHANCE_BAND
        main = describe(f"k={ks[-1]} end-to-end final accuracy", failing, within(failing, low, high),
                        f"[{low}, {high}]")
        images = {name: mean_interval(arm.final["image_accuracy"], bounds=ACCURACY)
                  for name, arm in results.arms.items()}
        remedies = tuple(describe(f"k={k} decomposition final accuracy", final[f"decomposition-k{k}"],
                                  at_least(final[f"decomposition-k{k}"], DECOMPOSITION_TUPLES),
                                  f">= {DECOMPOSITION_TUPLES}") for k in ks)
        remedies += tuple(describe(f"k={k} decomposition per-image accuracy", images[f"decomposition-k{k}"],
                                   at_least(images[f"decomposition-k{k}"], DECOMPOSITION_IMAGES),
                                   f">= {DECOMPOSITION_IMAGES}") for k in ks)
        stalled = note("images", images[f"end-to-end-k{ks[-1]}"],
                       f"k={ks[-1]} end-to-end per-image accuracy {images[f'end-to-end-k{ks[-1]}']} (not judged: "
                       f"the per-image net's sign is only defined up to the tuple net's)")
        if 1 in ks:
            control = final["end-to-end-k1"]
            controls = (describe("k=1 end-to-end (control) final accuracy", control,
                                 at_least(control, CONTROL_LEARNED), f">= {CONTROL_LEARNED}"),)
        else:
            controls = (describe("control", failing, UNSURE, "k = 1 was not run: no end-to-end control"),)
        rule = (f"reproduced if the end-to-end final accuracy (mean of the last {FINAL_FRACTION:.0%} of "
                f"evaluations) at the largest k lies within [{low}, {high}] (interval), decomposition "
                f"reaches >= {DECOMPOSITION_TUPLES} on tuples and >= {DECOMPOSITION_IMAGES} on single "
                f"images at every k, and end-to-end at k = 1 (control) reaches >= {CONTROL_LEARNED}; the "
                f"margins below 1 leave room for the Bayes error of rounded lines")
        return decide(claim_id=CLAIM_TRAINING.id, quantity=f"end-to-end final accuracy at k={ks[-1]}",
                      rule=rule, main=main, extra=remedies, controls=controls, notes=(stalled,))

    def _verdict_snr(self, results: Results) -> Verdict:
        diag = results.diagnostics
        ks = diag["snr_tuple_sizes"]
        e2e = diag["signal_end_to_end"] / diag["noise_end_to_end"]  # (S, K)
        dec = diag["signal_decomposition"] / diag["noise_decomposition"]
        resolution = snr_resolution(results.config)
        drop = mean_interval(e2e[:, -1] / e2e[:, 0])
        main = describe(f"end-to-end SNR(k={ks[-1]}) / SNR(k={ks[0]})", drop, at_most(drop, SNR_DROP),
                        f"<= {SNR_DROP}")
        flat = mean_interval(dec[:, -1] / dec[:, 0])
        steady = describe(f"decomposition SNR(k={ks[-1]}) / SNR(k={ks[0]})", flat, at_least(flat, FLAT),
                          f">= {FLAT} (flat within an order of magnitude)")
        resolved = tuple(
            describe(f"{name} SNR(k={ks[0]})", mean_interval(snr[:, 0]),
                     at_least(mean_interval(snr[:, 0]), RESOLVED * resolution),
                     f">= {RESOLVED}x the estimate's resolution {resolution:.1g}")
            for name, snr in (("end-to-end", e2e), ("decomposition", dec)))
        last = mean_interval(e2e[:, -1])
        info = note("float32", last, f"end-to-end SNR(k={ks[-1]}) {last}; float32 resolution {FLOAT32_EPS:.1g} "
                    f"(not judged: below {resolution:.1g} this estimate sees noise)")
        rule = (f"analytic check at initialisation: reproduced if the end-to-end SNR at the largest k is at "
                f"most {SNR_DROP} of its value at the smallest k (interval of the per-seed ratio) while "
                f"decomposition's ratio stays >= {FLAT}; inconclusive unless the smallest-k SNR is resolved "
                f"(>= {RESOLVED}x the resolution 1/(samples x sqrt(inits))); the ratios are skewed over "
                f"seeds, so at 5-8 seeds their intervals may cover less than 95%")
        return decide(claim_id=CLAIM_SNR.id, quantity=f"end-to-end SNR at k={ks[-1]} relative to k={ks[0]}",
                      rule=rule, main=main, extra=(steady,), controls=resolved, notes=(info,))

    def figures(self, results: Results) -> dict:
        return {CLAIM_TRAINING.id: self._figure_training(results), CLAIM_SNR.id: self._figure_snr(results),
                "tuple-lines-examples": self._figure_examples(results)}

    def _figure_training(self, results: Results):
        ks = sorted(results.config["tuple_sizes"])
        fig, axes = new_figure(len(ks), width=3.4)
        for ax, k in zip(axes, ks):
            for color, arm in zip(PALETTE, ("end-to-end", "decomposition")):
                r = results.arms[f"{arm}-k{k}"]
                plot_band(ax, r.steps, r.curves["accuracy"], label=arm, color=color)
            ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
            ax.set(title=f"k = {k}", xlabel="Adam iteration", ylabel="test accuracy (fresh tuples)",
                   ylim=(0.3, 1.02))
        axes[0].legend(loc="lower right")
        fig.suptitle(f"Tuples of lines (SSS17 Fig. 3): mean and 95% band over {len(results.seeds)} seeds")
        return fig

    def _figure_snr(self, results: Results):
        diag = results.diagnostics
        ks = diag["snr_tuple_sizes"]
        fig, (ax,) = new_figure(width=5.5)
        for color, arm in zip(PALETTE, ("end_to_end", "decomposition")):
            snr = diag[f"signal_{arm}"] / diag[f"noise_{arm}"]
            plot_band(ax, ks, np.abs(snr), label=arm.replace("_", "-") + " (|SNR|)", color=color)
        resolution = snr_resolution(results.config)
        ax.axhline(resolution, color="grey", linestyle=":", label="resolution of this estimate")
        ax.axhline(FLOAT32_EPS, color="black", linestyle="--", linewidth=1, label="float32 resolution")
        ax.set(yscale="log", xlabel="tuple size k", ylabel="signal / noise, last layer at init",
               title="Gradient SNR at initialisation (SSS17 Fig. 5)", xticks=ks)
        ax.legend(fontsize=8)
        return fig

    def _figure_examples(self, results: Results):
        config = results.config
        images, labels = draw_lines(derive_key(NAME, "examples", results.seeds[0]), 12,
                                    size=config["image_size"], min_length=config["min_length"],
                                    max_length=config["max_length"])
        fig, axes = new_figure(6, nrows=2, width=1.3, height=1.5)
        for ax, image, label in zip(axes, np.asarray(images), np.asarray(labels)):
            ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=f"label {int(label):+d}")
            ax.grid(False)
            ax.spines[:].set_visible(True)
        fig.suptitle("Line images and labels (SSS17 Fig. 2): +1 if the angle < π/2")
        return fig

"""A5 `pwl-curves`: the same map, four architectures, runtimes set by conditioning.

Claim (SSS17 §4, Theorem 3, Fig. 6). A piecewise-linear curve with k = 3 pieces on
x in {0, ..., n-1}, n = 100, is f = W p with W_ij = [i - j + 1]_+ and p holding
a_i ~ U[-1, 1] at kinks θ_i drawn without replacement (so f(x) = Σ a_i [x - θ_i + 1]_+).
Encoding f means recovering p = U f, where U = W^-1 is the convolution with
[1, -2, 1]. Learning U with one fully connected linear layer is convex, yet the
problem's condition number grows as Ω(n^3.5), so gradient descent is slow and
still inaccurate at the kinks after 50,000 iterations; a width-3 convolution has
condition number Θ(n³): faster, still slow; whitening the 3-wide patches by
C^(-1/2) makes it ≈ 1 and SGD finds the exact filter within 500 iterations; a deep
auto-encoder reconstructing f does not capture the kinks.

Source. Shalev-Shwartz, Shamir, Shammah, "Failures of Gradient-Based Deep
Learning", ICML 2017, §4, Theorem 3, Fig. 6; settings from the authors' code as
CLAIMS.md lists them (fully connected: batch 100, 50,000 iterations; convolution:
50,000 iterations; conditioned: batch 10, lr 0.99, 500 iterations; auto-encoder:
encoder 500, 100, 2k ReLU, decoder 100, 100, n with a linear last layer).

Arms. `fully-connected` (failing): one n x n linear layer, SGD from zero.
`convolution` (sweep: measured, judged only as "still slow"): a width-3 filter,
SGD from zero. `conditioned` (remedy): the same filter on whitened patches.
`autoencoder` (failing): the deep auto-encoder on f scaled to unit RMS, Adam
(lr 1e-3, cosine decay to 0; the authors' optimiser for it is not given).
`least-squares` (control): the fully connected layer solved in closed form from
sampled curves; it must be exact, which shows that the data determine U and that
the layer can represent it, so a failure of the trained layer is the optimiser's.
All encoders minimise ½ mean over curves and positions of (p̂ - p)².
`autoencoder-large` (failing): twice the width and the depth of the paper's
auto-encoder (encoder 1000, 1000, 200, 200; decoder 200 x 4), for "a deeper,
wider net does not help". The authors trained every arm with Adam
(`PWL_fail1.py`): `fully-connected-adam` (lr 1e-4, batch 100),
`convolution-adam` (lr 0.05, batch 100) and `conditioned-adam` (lr 0.99) run
beside the exact-step SGD arms above, which match the theory, and are reported
in the verdicts' notes.

Kinks. The kink error (share of the total slope change |a| missed at the kinks)
flags any error of the curve, however small, because second differences
amplify it: a curve error of 1e-6 already gives a kink error of about 0.1. So a
"failure at the kinks" is also judged by where the code error sits: the squared
error per kink point over that per point anywhere, 1 for an error spread evenly
whatever its size, above 1 where the reconstruction rounds the kinks off.

Step sizes. The authors' absolute rates (1e-4, 0.05) belong to an input scaling
their text does not give: on f = W p as defined here 0.05 makes the convolution
diverge. The fully connected and convolution arms therefore take the step
η / λ_max of their exact expected Hessian (η = 1: the best fixed step for the
stiffest direction), which can only favour them. The conditioned arm keeps the
authors' 0.99: whitening makes its Hessian ≈ I.

Diagnostic. Condition numbers of the exact expected Hessians against n (fully
connected: E[f fᵀ] = k/(3n) W Wᵀ; convolution: the 3 x 3 patch correlation C;
conditioned: C_est^(-1/2) C C_est^(-1/2) with C_est from each seed's sample) with
fitted log-log slopes; and the exact full-batch gradient-descent error curve that
each spectrum predicts, drawn next to the measured SGD curves, with the
iterations each arm would need to reach 1% relative error.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.diagnostics import condition_number, gd_iterations_to, gd_relative_error, log_log_slope
from deeplimits.engine import derive_key, derive_keys, runtime_learning_rate, train
from deeplimits.experiment import (
    Arm,
    ArmResults,
    Claim,
    Experiment,
    Falsification,
    Progress,
    Results,
    Verdict,
    no_progress,
)
from deeplimits.registry import register
from deeplimits.report.style import PALETTE, new_figure, plot_band
from deeplimits.stats import Check, at_least, at_most, decide, describe, first_step_at_most, mean_interval, note, within

NAME = "pwl-curves"
EXACT_FILTER = np.array([1.0, -2.0, 1.0])  # U is the convolution with this filter
FILTER_TOLERANCE = 1e-3  # "the exact filter": every tap within 1e-3 of [1, -2, 1]
STILL_SLOW = 0.1  # the unconditioned filter is still >= 0.1 away from it at the end of its budget
KINKS_MISSED = 0.1  # "inaccurate at the kinks": >= 10% of the total slope change is missed
CONCENTRATED = 2.0  # "misses the kinks": the code error per kink point is >= 2x that per point anywhere
KINKS_CAPTURED = 0.01  # a control captures the kinks: <= 1% missed
CURVE_LEARNED = 0.05  # the auto-encoder has learned the curves: relative squared error <= 5%
FULLY_CONNECTED_EXPONENT = 3.5  # Theorem 3: Ω(n^3.5), a lower bound on the slope
CONVOLUTION_EXPONENT = (2.8, 3.2)  # Θ(n³): the slope within 3 ± 0.2
CONDITIONED_MAX = 1.5  # "≈ 1": the largest conditioned condition number over n
FLOOR = 1e-12  # figures: errors below this are float32 rounding, drawn at the floor
ACCURACY = 0.01  # "iterations to a fixed accuracy": relative squared error of p̂ <= 1%
MOVED = 0.5  # the trainer works at all: the conditioned arm's relative code error (1 at the start) <= 0.5
# n = 8: every problem is well conditioned; condition numbers fitted over n = 4, 5, 6 only (they do not depend on
# the points of the trained arms' curves), so one run falsifies every claim
SHORT_CURVES = {"points": 8, "iterations": 16_000, "eval_every": 2_000, "snapshots": (2_000, 16_000),
                "sizes": (4, 5, 6), "autoencoder_batch": 10}

CLAIM_CONDITIONING = Claim(
    id="pwl-conditioning-exact",
    statement="Whitening the 3-wide patches makes SGD find the exact filter [1, -2, 1] within 500 "
              "iterations, where the unconditioned convolution is still far from it after 50,000.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §4, Fig. 6",
    expected="Conditioned: extremely accurate within 500 iterations; convolution: faster than fully "
             "connected but still slow.",
    budget=("iterations", "convolution_batch"),
    falsified_by=Falsification(
        why="on curves of n = 8 points the convolution is well conditioned and finds the filter within "
            "the budget too, so it is not 'still slow'",
        profile="smoke", seeds=4, overrides=SHORT_CURVES),
)
CLAIM_FULLY_CONNECTED = Claim(
    id="pwl-fully-connected-kinks",
    statement="A fully connected linear layer trained by gradient descent (a convex problem) is still "
              "inaccurate at the kinks after 50,000 iterations.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §4, Fig. 6",
    expected="Slow; inaccurate at the kinks even after 50,000 iterations.",
    budget=("iterations", "fully_connected_batch"),
    falsified_by=Falsification(
        why="on curves of n = 8 points the fully connected problem is well conditioned and solved within "
            "the budget",
        profile="smoke", seeds=4, overrides=SHORT_CURVES),
)
CLAIM_AUTOENCODER = Claim(
    id="pwl-autoencoder-kinks",
    statement="A deep auto-encoder trained to reconstruct the curves does not capture the kinks.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §4",
    expected="Fails to capture the kinks; a deeper, wider net does not help.",
    budget=("iterations", "autoencoder_batch"),
    falsified_by=Falsification(
        why="on curves of n = 8 points with a code of 2k = 6 units the auto-encoder reconstructs the "
            "kinks too",
        profile="smoke", seeds=4, overrides=SHORT_CURVES),
)
CLAIM_LARGER = Claim(
    id="pwl-autoencoder-larger",
    statement="A deeper, wider auto-encoder (twice the width and the depth) does not capture the kinks either.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §4",
    expected="A deeper, wider net does not help.",
    budget=("iterations", "autoencoder_batch"),
    falsified_by=Falsification(
        why="on curves of n = 8 points with a code of 2k = 6 units the larger auto-encoder reconstructs the "
            "kinks too",
        profile="smoke", seeds=4, overrides=SHORT_CURVES),
)
CLAIM_CONDITION_NUMBERS = Claim(
    id="pwl-condition-numbers",
    statement="The condition number grows as Ω(n^3.5) for the fully connected problem and as Θ(n³) "
              "for the convolution, and is ≈ 1 after conditioning.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §4, Theorem 3",
    expected="Log-log slopes >= 3.5 (fully connected) and ≈ 3 (convolution); conditioned ≈ 1.",
    kind="analytic",
    falsified_by=Falsification(
        why="fitted over short curves only (n = 4, 5, 6) the convolution's exact slope is 2.3, still far "
            "from its asymptotic 3",
        profile="smoke", seeds=4, overrides=SHORT_CURVES),
)


@dataclass(frozen=True)
class Config:
    points: int = param(100, "curve length n (points x = 0..n-1)", min=8, max=2_000)
    pieces: int = param(3, "number k of kinks per curve", min=1, max=100)
    iterations: int = param(50_000, "iterations of the fully connected, convolution and auto-encoder "
                            "arms", min=1, max=10_000_000)
    eval_every: int = param(500, "iterations between evaluations of those arms", min=1, max=10_000_000)
    snapshots: tuple[int, ...] = param((500, 10_000, 50_000), "iterations at which Fig. 6 shows their "
                                       "reconstructions (multiples of eval_every)", min=1,
                                       max=10_000_000, min_len=1, distinct=True)
    fully_connected_batch: int = param(100, "curves per step, fully connected arm", min=1, max=65_536)
    fully_connected_step: float = param(1.0, "SGD step of the fully connected arm, in units of 1/λ_max "
                                        "of its expected Hessian", min=0.0, max=2.0)
    convolution_batch: int = param(10, "curves per step, convolution arm", min=1, max=65_536)
    convolution_step: float = param(1.0, "SGD step of the convolution arm, in units of 1/λ_max of its "
                                    "expected Hessian", min=0.0, max=2.0)
    conditioned_iterations: int = param(500, "iterations of the conditioned arm", min=1, max=10_000_000)
    conditioned_eval_every: int = param(10, "iterations between evaluations of the conditioned arm",
                                        min=1, max=10_000_000)
    conditioned_snapshots: tuple[int, ...] = param((10, 100, 500), "iterations at which Fig. 6 shows "
                                                   "the conditioned arm (multiples of its eval_every)",
                                                   min=1, max=10_000_000, min_len=1, distinct=True)
    conditioned_batch: int = param(10, "curves per step, conditioned arm", min=1, max=65_536)
    conditioned_learning_rate: float = param(0.99, "SGD learning rate of the conditioned arm", min=0.0,
                                             max=2.0)
    whitening_curves: int = param(1_000, "sampled curves whose patches estimate C", min=2,
                                  max=1_000_000)
    encoder_widths: tuple[int, ...] = param((500, 100), "auto-encoder: ReLU layers before the code "
                                            "(the code has 2k units)", min=1, max=100_000)
    decoder_widths: tuple[int, ...] = param((100, 100), "auto-encoder: ReLU layers after the code "
                                            "(a linear layer of n follows)", min=1, max=100_000)
    autoencoder_batch: int = param(100, "curves per step, auto-encoder", min=1, max=65_536)
    autoencoder_learning_rate: float = param(1e-3, "initial Adam learning rate of the auto-encoder "
                                             "(cosine decay to 0 over its iterations)", min=0.0, max=10.0)
    large_encoder_widths: tuple[int, ...] = param((1000, 1000, 200, 200), "the larger auto-encoder: ReLU "
                                                  "layers before the code (2x the width and depth)", min=1,
                                                  max=100_000)
    large_decoder_widths: tuple[int, ...] = param((200, 200, 200, 200), "the larger auto-encoder: ReLU "
                                                  "layers after the code", min=1, max=100_000)
    fully_connected_adam_learning_rate: float = param(1e-4, "Adam learning rate of the fully connected Adam arm "
                                           "(authors' code)", min=0.0, max=10.0)
    convolution_adam_learning_rate: float = param(0.05, "Adam learning rate of the convolution Adam arm (authors' "
                                                  "code, "
                                       "batch 100)", min=0.0, max=10.0)
    conditioned_adam_learning_rate: float = param(0.99, "Adam learning rate of the conditioned Adam arm", min=0.0,
                                                  max=10.0)
    control_curves: int = param(1_000, "sampled curves for the least-squares control (>= points)",
                                min=2, max=1_000_000)
    test_curves: int = param(500, "held-out curves per seed for every metric", min=2, max=1_000_000)
    sizes: tuple[int, ...] = param((25, 50, 100, 200, 400), "curve lengths n for the condition "
                                   "numbers", min=4, max=4_000, min_len=2, distinct=True)

    def __post_init__(self) -> None:
        if self.pieces > self.points:
            raise ConfigError(f"pieces={self.pieces} exceeds points={self.points}: kinks are distinct "
                              f"points")
        if self.control_curves < self.points:
            raise ConfigError(f"control_curves={self.control_curves} is below points={self.points}: "
                              f"the least-squares control needs at least n curves")
        if self.pieces > min(self.sizes):
            raise ConfigError(f"pieces={self.pieces} exceeds the smallest of sizes={self.sizes}")
        for name, every, budget in (("snapshots", self.eval_every, self.iterations),
                                    ("conditioned_snapshots", self.conditioned_eval_every,
                                     self.conditioned_iterations)):
            bad = [s for s in getattr(self, name) if s % every or s > budget]
            if bad:
                raise ConfigError(f"{name}={getattr(self, name)}: {bad} not a multiple of {every} up to "
                                  f"{budget}")


# --- the curves and their exact algebra ------------------------------------------------------


def curve_matrix(n: int) -> np.ndarray:
    """W with W_ij = [i - j + 1]_+ (float64): f = W p."""
    i = np.arange(n)
    return np.maximum(i[:, None] - i[None, :] + 1, 0).astype(np.float64)


def second_difference(n: int) -> np.ndarray:
    """U = W^-1: the causal convolution with [1, -2, 1] (float64)."""
    return np.eye(n) - 2 * np.eye(n, k=-1) + np.eye(n, k=-2)


def sample_curves(key: jax.Array, count: int, n: int, k: int) -> tuple[jax.Array, jax.Array]:
    """``count`` curves: f ``(count, n)`` and their codes p ``(count, n)`` (float32)."""
    k_kinks, k_slopes = jax.random.split(key)
    # the k largest of n uniforms sit at k distinct places, drawn without replacement
    kinks = jax.vmap(lambda key: jax.lax.top_k(jax.random.uniform(key, (n,)), k)[1])(
        jax.random.split(k_kinks, count))  # (count, k)
    slopes = jax.random.uniform(k_slopes, (count, k), minval=-1.0, maxval=1.0)
    x = jnp.arange(n, dtype=jnp.float32)
    f = jnp.sum(slopes[:, :, None] * jax.nn.relu(x - kinks[:, :, None] + 1.0), axis=1)
    p = jnp.zeros((count, n)).at[jnp.arange(count)[:, None], kinks].set(slopes)
    return f, p


def patches(f: jax.Array) -> jax.Array:
    """(f_i, f_{i-1}, f_{i-2}) at every i, zero before the start: ``(..., n) -> (..., n, 3)``."""
    padded = jnp.pad(f, [(0, 0)] * (f.ndim - 1) + [(2, 0)])
    return jnp.stack([padded[..., 2:], padded[..., 1:-1], padded[..., :-2]], axis=-1)


def input_correlation(n: int, k: int) -> np.ndarray:
    """E[f fᵀ] = W E[p pᵀ] Wᵀ = k/(3n) W Wᵀ exactly (the a_i are centred, E a² = 1/3)."""
    w = curve_matrix(n)
    return k / (3 * n) * w @ w.T


def patch_correlation(n: int, k: int) -> np.ndarray:
    """C = E over curves and positions of patch patchᵀ, exactly: ``(3, 3)``."""
    w = np.vstack([np.zeros((2, n)), curve_matrix(n)])  # row i + 2 gives f_i as a function of p
    rows = np.stack([w[2:], w[1:-1], w[:-2]], axis=-1)  # (positions, n, 3)
    return k / (3 * n) * np.einsum("ijk,ijl->kl", rows, rows) / n


def whitening(n: int, k: int, curves: int, key: jax.Array) -> np.ndarray:
    """C_est^(-1/2), C_est the patch correlation of ``curves`` sampled curves (float64, 3 x 3)."""
    f, _ = sample_curves(key, curves, n, k)
    x = np.asarray(patches(f), dtype=np.float64).reshape(-1, 3)
    values, vectors = np.linalg.eigh(x.T @ x / len(x))
    return (vectors / np.sqrt(values)) @ vectors.T


def whitening_key(n: int, seed: int) -> jax.Array:
    return derive_key(NAME, f"whitening-n{n}", seed)


def curve_scale(n: int, k: int) -> float:
    """RMS of f over curves and positions, exactly: the auto-encoder works on f / scale."""
    return float(np.sqrt(np.trace(input_correlation(n, k)) / n))


# --- models --------------------------------------------------------------------------------


class FullyConnected(eqx.Module):
    weight: jax.Array  # (n, n), from zero

    def __call__(self, features: jax.Array) -> jax.Array:  # (n,) -> (n,)
        return self.weight @ features


class Filter(eqx.Module):
    weight: jax.Array  # (3,), from zero

    def __call__(self, features: jax.Array) -> jax.Array:  # (n, 3) -> (n,)
        return features @ self.weight


class AutoEncoder(eqx.Module):
    layers: tuple[eqx.nn.Linear, ...]

    def __init__(self, *, key: jax.Array, n: int, widths: tuple[int, ...]) -> None:
        sizes = (n, *widths, n)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys))

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)


# --- training ------------------------------------------------------------------------------


def code_metrics(p_hat: jax.Array, f_hat: jax.Array, f: jax.Array, p: jax.Array) -> dict[str, jax.Array]:
    """Relative squared errors of the code and the curve, and the share of slope change missed."""
    kinks = p != 0
    return {
        "error": jnp.sum((p_hat - p) ** 2) / jnp.sum(p**2),
        "curve_error": jnp.sum((f_hat - f) ** 2) / jnp.sum(f**2),
        "kink_error": jnp.sum(jnp.where(kinks, jnp.abs(p_hat - p), 0.0)) / jnp.sum(jnp.abs(p)),
        # the squared code error at the kinks per kink point, over that per point anywhere: 1 for an error
        # spread evenly (white noise, whatever its size), above 1 where the error sits at the kinks
        "kink_concentration": (jnp.sum(jnp.where(kinks, (p_hat - p) ** 2, 0.0)) / jnp.sum(kinks))
                              / jnp.mean((p_hat - p) ** 2),
        "decoded": f_hat[:2], "code": p_hat[:2],  # two example curves, for Fig. 6
    }


def encoder_features(arm: str):
    if arm == "fully-connected":
        return lambda f, data: f
    if arm == "convolution":
        return lambda f, data: patches(f)
    return lambda f, data: patches(f) @ data["whiten"].T


def fully_connected_hessian(n: int, k: int) -> np.ndarray:
    """The Hessian of each output row of the layer under ½ mean over positions: E[f fᵀ] / n."""
    return input_correlation(n, k) / n


def learning_rates(config: Config) -> dict[str, float]:
    n, k = config.points, config.pieces
    return {
        "fully-connected": config.fully_connected_step / np.linalg.eigvalsh(fully_connected_hessian(n, k))[-1],
        "convolution": config.convolution_step / np.linalg.eigvalsh(patch_correlation(n, k))[-1],
        "conditioned": config.conditioned_learning_rate,
    }


ADAM_BATCH = {"fully-connected": 100, "convolution": 100}  # the authors' code; conditioned: its own batch


def train_encoder(config: Config, arm: str, seeds: tuple[int, ...], data: dict, progress: Progress, *,
                  adam: bool = False) -> tuple[ArmResults, dict[str, np.ndarray]]:
    """SGD at the exact step η/λ_max (``adam``: the authors' Adam and learning rate instead)."""
    n, k = config.points, config.pieces
    features = encoder_features(arm)
    w = jnp.asarray(curve_matrix(n), jnp.float32)
    model, batch, steps, every = {
        "fully-connected": (FullyConnected(jnp.zeros((n, n))), config.fully_connected_batch,
                            config.iterations, config.eval_every),
        "convolution": (Filter(jnp.zeros(3)), config.convolution_batch, config.iterations, config.eval_every),
        "conditioned": (Filter(jnp.zeros(3)), config.conditioned_batch, config.conditioned_iterations,
                        config.conditioned_eval_every),
    }[arm]
    if adam:
        batch = ADAM_BATCH.get(arm, batch)
        rate = {"fully-connected": config.fully_connected_adam_learning_rate,
                "convolution": config.convolution_adam_learning_rate,
                "conditioned": config.conditioned_adam_learning_rate}[arm]
        optimizer = optax.adam(rate)
    else:
        optimizer = runtime_learning_rate(optax.sgd, float(learning_rates(config)[arm]))
    name = f"{arm}-adam" if adam else arm

    def sample_batch(data, key):
        f, p = sample_curves(key, batch, n, k)
        return features(f, data), p

    def loss(model, batch):
        x, p = batch
        return 0.5 * jnp.mean((jax.vmap(model)(x) - p) ** 2)

    def evaluate(model, data, key):
        p_hat = jax.vmap(model)(features(data["f"], data))
        out = code_metrics(p_hat, p_hat @ w.T, data["f"], data["p"])
        if arm != "fully-connected":
            effective = data["whiten"] @ model.weight if arm == "conditioned" else model.weight
            out["filter_error"] = jnp.max(jnp.abs(effective - jnp.asarray(EXACT_FILTER, jnp.float32)))
        return out

    log = train(keys=derive_keys(NAME, name, seeds), init=lambda key: model, loss=loss, optimizer=optimizer,
                sample_batch=sample_batch, evaluate=evaluate, data=data, steps=steps, eval_every=every,
                progress=progress, label=name)
    return _arm_results(log, name, config)


def train_autoencoder(config: Config, seeds: tuple[int, ...], data: dict, progress: Progress, *,
                      large: bool = False) -> tuple[ArmResults, dict[str, np.ndarray]]:
    n, k = config.points, config.pieces
    scale = curve_scale(n, k)
    name = "autoencoder-large" if large else "autoencoder"
    encoder, decoder = ((config.large_encoder_widths, config.large_decoder_widths) if large
                        else (config.encoder_widths, config.decoder_widths))
    widths = (*encoder, 2 * k, *decoder)
    u = jnp.asarray(second_difference(n), jnp.float32)

    def sample_batch(data, key):
        return sample_curves(key, config.autoencoder_batch, n, k)[0] / scale

    def loss(model, f):
        return jnp.mean((jax.vmap(model)(f) - f) ** 2)

    def evaluate(model, data, key):
        f_hat = jax.vmap(model)(data["f"] / scale) * scale
        return code_metrics(f_hat @ u.T, f_hat, data["f"], data["p"])

    schedule = optax.cosine_decay_schedule(config.autoencoder_learning_rate, config.iterations)
    log = train(keys=derive_keys(NAME, name, seeds),
                init=lambda key: AutoEncoder(key=key, n=n, widths=widths), loss=loss,
                optimizer=optax.adam(schedule), sample_batch=sample_batch,
                evaluate=evaluate, data=data, steps=config.iterations, eval_every=config.eval_every,
                progress=progress, label=name)
    return _arm_results(log, name, config)


def _arm_results(log, arm: str, config: Config) -> tuple[ArmResults, dict[str, np.ndarray]]:
    wanted = config.conditioned_snapshots if arm.startswith("conditioned") else config.snapshots
    at = [int(np.flatnonzero(log.steps == s)[0]) for s in wanted]
    snapshots = {f"decoded_{arm}": log.metrics.pop("decoded")[:, at],  # (S, snapshots, 2, n)
                 f"code_{arm}": log.metrics.pop("code")[:, at]}
    return ArmResults(steps=log.steps, curves=log.metrics,
                      final={name: curve[:, -1] for name, curve in log.metrics.items()},
                      diverged=log.diverged, wall_s=log.wall_s), snapshots


def least_squares_control(config: Config, seeds: tuple[int, ...], data: dict) -> ArmResults:
    """The fully connected layer at the optimum of its convex loss, from sampled curves (float64)."""
    n, k = config.points, config.pieces
    start = time.perf_counter()
    final = {"error": [], "curve_error": [], "kink_error": [], "kink_concentration": []}
    w = curve_matrix(n)
    for i, seed in enumerate(seeds):
        f, p = (np.asarray(a, np.float64) for a in sample_curves(
            derive_key(NAME, "least-squares", seed), config.control_curves, n, k))
        solution, *_ = np.linalg.lstsq(f, p, rcond=None)  # f @ solution ≈ p, solution = Uᵀ
        test_f, test_p = np.asarray(data["f"][i], np.float64), np.asarray(data["p"][i], np.float64)
        p_hat = test_f @ solution
        final["error"].append(np.sum((p_hat - test_p) ** 2) / np.sum(test_p**2))
        final["curve_error"].append(np.sum((p_hat @ w.T - test_f) ** 2) / np.sum(test_f**2))
        final["kink_error"].append(np.sum(np.abs(p_hat - test_p)[test_p != 0]) / np.sum(np.abs(test_p)))
        squared = (p_hat - test_p) ** 2
        final["kink_concentration"].append(np.mean(squared[test_p != 0]) / np.mean(squared))
    return ArmResults(steps=np.array([], dtype=np.int64), final={k: np.array(v) for k, v in final.items()},
                      diverged=np.zeros(len(seeds), dtype=bool), wall_s=time.perf_counter() - start)


# --- the diagnostic ------------------------------------------------------------------------


def condition_numbers(config: Config, seeds: tuple[int, ...], progress: Progress) -> dict[str, np.ndarray]:
    sizes = np.array(sorted(config.sizes))
    k = config.pieces
    conditioned = np.empty((len(seeds), len(sizes)))
    for j, n in enumerate(sizes):
        c = patch_correlation(int(n), k)
        for i, seed in enumerate(seeds):
            m = whitening(int(n), k, config.whitening_curves, whitening_key(int(n), seed))
            conditioned[i, j] = condition_number(m @ c @ m)
        progress("condition numbers", j + 1, len(sizes))
    return {
        "kappa_sizes": sizes,
        "kappa_fully_connected": np.array([condition_number(input_correlation(int(n), k)) for n in sizes]),
        "kappa_convolution": np.array([condition_number(patch_correlation(int(n), k)) for n in sizes]),
        "kappa_conditioned": conditioned,  # (S, sizes)
    }


def gradient_descent_predictions(config: Config, seeds: tuple[int, ...], arms: dict[str, ArmResults],
                                 whitenings: np.ndarray) -> dict[str, np.ndarray]:
    """Full-batch GD from zero on each arm's exact expected loss: error curves and iterations to 1%."""
    n, k = config.points, config.pieces
    convolution = patch_correlation(n, k)
    lr = learning_rates(config)
    problems = {"fully-connected": (fully_connected_hessian(n, k), second_difference(n)),
                "convolution": (convolution, EXACT_FILTER)}
    out = {}
    for arm, (hessian, target) in problems.items():
        out[f"predicted_error_{arm}"] = gd_relative_error(hessian, target, lr[arm], arms[arm].steps)
        out[f"predicted_iterations_{arm}"] = np.array(gd_iterations_to(hessian, target, lr[arm], ACCURACY))
    # whitened features z = M x: Hessian M C M, target M^-1 [1, -2, 1]
    per_seed = [(m @ convolution @ m, np.linalg.solve(m, EXACT_FILTER)) for m in whitenings]
    step = lr["conditioned"]
    out["predicted_error_conditioned"] = np.stack(
        [gd_relative_error(h, t, step, arms["conditioned"].steps) for h, t in per_seed])
    out["predicted_iterations_conditioned"] = np.array([gd_iterations_to(h, t, step, ACCURACY)
                                                        for h, t in per_seed])
    return out


def iterations_to_accuracy(arm: ArmResults) -> np.ndarray:
    """First evaluated iteration with relative error <= ACCURACY, per seed (NaN if never): ``(S,)``."""
    return first_step_at_most(arm.steps, arm.curves["error"], ACCURACY)


# --- the experiment ------------------------------------------------------------------------

TRAINED = ("fully-connected", "convolution", "conditioned", "autoencoder")
ADAM_ARMS = ("fully-connected-adam", "convolution-adam", "conditioned-adam")
LABELS = {"fully-connected": "fully connected", "convolution": "convolution",
          "conditioned": "conditioned convolution", "autoencoder": "auto-encoder",
          "least-squares": "least squares (control)", "fully-connected-adam": "fully connected, Adam",
          "convolution-adam": "convolution, Adam", "conditioned-adam": "conditioned, Adam",
          "autoencoder-large": "larger auto-encoder"}


@register
class PiecewiseLinearCurves(Experiment):
    name = NAME
    catalogue = "A5"
    # 5: the quick profile trains 5,000 iterations (was 10,000) on 5 seeds (was 8): each seed's numbers change
    # 4: one model per core (engine layout), SGD rates as program inputs: numbers differ in rounding
    # 3: the authors' Adam arms, kink error judged with where the error sits, the larger auto-encoder
    version = 5
    title = "Piecewise-linear curves: conditioning decides the runtime"
    family = "gradient_failures"
    claims = (CLAIM_CONDITIONING, CLAIM_FULLY_CONNECTED, CLAIM_AUTOENCODER, CLAIM_LARGER, CLAIM_CONDITION_NUMBERS)
    Config = Config
    profiles = {
        "smoke": {"points": 20, "iterations": 200, "eval_every": 50, "snapshots": (50, 100, 200),
                  "conditioned_iterations": 50, "conditioned_snapshots": (10, 20, 50),
                  "whitening_curves": 100, "encoder_widths": (32, 16), "decoder_widths": (16, 16),
                  "large_encoder_widths": (64, 64, 32, 32), "large_decoder_widths": (32, 32, 32, 32),
                  "control_curves": 100, "test_curves": 64, "sizes": (8, 16, 32)},
        "quick": {"iterations": 5_000, "snapshots": (500, 2_000, 5_000),
                  "large_encoder_widths": (500, 100, 100, 100), "large_decoder_widths": (100, 100, 100, 100)},
        "paper": {},
    }
    # 4 seeds at quick (was 8, then 5; 5 seeds train in three rounds on 2 cores, 4 in two): every verdict's
    # interval stays clear of its threshold (the closest, the auto-encoder's kink concentration 3.40
    # [2.38, 4.41] against 2), and the two auto-encoders' steps are most of the run's time
    default_seeds = {"smoke": 2, "quick": 4, "paper": 8}
    untrained = {"fully_connected_step": 0.0, "convolution_step": 0.0, "conditioned_learning_rate": 0.0,
                 "autoencoder_learning_rate": 0.0, "fully_connected_adam_learning_rate": 0.0,
                 "convolution_adam_learning_rate": 0.0, "conditioned_adam_learning_rate": 0.0}
    profile_notes = {
        "smoke": "n = 20, 200 iterations, a small auto-encoder: checks the plumbing, not the claims",
        "quick": "the paper's settings with 5,000 instead of 50,000 iterations for the fully "
                 "connected, convolution and auto-encoder arms; the larger auto-encoder twice as deep only "
                 "(twice as wide too costs 12x: 16 minutes on 2 cores); 4 seeds; the iterations each arm would "
                 "need are computed from its exact spectrum",
        "paper": "the authors' settings: n = 100, k = 3, 50,000 iterations (batch 100 fully connected, "
                 "10 convolution), conditioned batch 10, lr 0.99, 500 iterations; condition numbers "
                 "for n = 25..400",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        return (
            Arm("fully-connected", "failing", f"one {config.points} x {config.points} linear layer, SGD: "
                f"said to be inaccurate at the kinks after {config.iterations:,} iterations"),
            Arm("convolution", "sweep", "a width-3 filter, SGD: said to be faster but still slow"),
            Arm("conditioned", "remedy", f"the width-3 filter on whitened patches, SGD lr "
                f"{config.conditioned_learning_rate}: said to be exact within "
                f"{config.conditioned_iterations:,} iterations"),
            Arm("autoencoder", "failing", "a deep auto-encoder reconstructing f: said to miss the kinks"),
            Arm("least-squares", "control", "the fully connected layer solved in closed form: must be "
                "exact"),
            Arm("autoencoder-large", "failing", f"the auto-encoder with layers {config.large_encoder_widths} / "
                f"{config.large_decoder_widths}: said not to help"),
            Arm("fully-connected-adam", "sweep", f"the fully connected layer with the authors' Adam "
                f"(lr {config.fully_connected_adam_learning_rate:g}, batch 100): reported"),
            Arm("convolution-adam", "sweep", f"the filter with the authors' Adam (lr "
                f"{config.convolution_adam_learning_rate:g}, batch 100): reported"),
            Arm("conditioned-adam", "sweep", f"the conditioned filter with Adam (lr "
                f"{config.conditioned_adam_learning_rate:g}): reported"),
        )

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        n, k = config.points, config.pieces
        test = [sample_curves(derive_key(NAME, "test", s), config.test_curves, n, k) for s in seeds]
        whitenings = np.stack([whitening(n, k, config.whitening_curves, whitening_key(n, s)) for s in seeds])
        data = {"f": jnp.stack([f for f, _ in test]), "p": jnp.stack([p for _, p in test]),
                "whiten": jnp.asarray(whitenings, jnp.float32)}
        arms, diagnostics = {}, {}
        for arm in TRAINED[:3]:
            arms[arm], snapshots = train_encoder(config, arm, seeds, data, progress)
            diagnostics.update(snapshots)
        for arm in TRAINED[:3]:
            arms[f"{arm}-adam"], snapshots = train_encoder(config, arm, seeds, data, progress, adam=True)
            diagnostics.update(snapshots)
        for large in (False, True):
            arm = "autoencoder-large" if large else "autoencoder"
            arms[arm], snapshots = train_autoencoder(config, seeds, data, progress, large=large)
            diagnostics.update(snapshots)
        arms["least-squares"] = least_squares_control(config, seeds, data)
        diagnostics["examples_f"] = np.asarray(data["f"][:, :2])
        diagnostics["examples_p"] = np.asarray(data["p"][:, :2])
        diagnostics.update(gradient_descent_predictions(config, seeds, arms, whitenings))
        diagnostics.update(condition_numbers(config, seeds, progress))
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds,
                       arms=arms, diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    # --- verdicts ----------------------------------------------------------------------------

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_conditioning(results), self._verdict_fully_connected(results),
                self._verdict_autoencoder(results, "autoencoder", CLAIM_AUTOENCODER),
                self._verdict_autoencoder(results, "autoencoder-large", CLAIM_LARGER),
                self._verdict_condition_numbers(results)]

    @staticmethod
    def _adam_note(results: Results, arm: str, metric: str) -> Check:
        iv = mean_interval(results.arms[arm].final[metric])
        return note(f"{arm} {metric}", iv, f"{LABELS[arm]} (the authors' optimizer): final {metric.replace('_', ' ')} "
                    f"{iv}")

    @staticmethod
    def _kinks_captured(results: Results, arm: str) -> Check:
        iv = mean_interval(results.arms[arm].final["kink_error"])
        return describe(f"{LABELS[arm]} kink error", iv, at_most(iv, KINKS_CAPTURED), f"<= {KINKS_CAPTURED}")

    def _iterations_note(self, results: Results) -> tuple[Check, ...]:
        diag, out = results.diagnostics, []
        for arm in TRAINED[:3]:
            values = iterations_to_accuracy(results.arms[arm])
            reached = np.isfinite(values)
            measured = mean_interval(values[reached])
            budget = int(results.arms[arm].steps[-1])
            predicted = float(np.mean(diag[f"predicted_iterations_{arm}"]))
            seen = (f"{measured} over the {int(reached.sum())} of {len(values)} seeds that got there"
                    if reached.any() else f"not within its {budget:,}")
            out.append(note(f"{arm} iterations", measured,
                            f"{LABELS[arm]}: iterations to relative error <= {ACCURACY}: {seen} measured, "
                            f"{predicted:.3g} predicted for full-batch GD"))
        return tuple(out)

    def _verdict_conditioning(self, results: Results) -> Verdict:
        conditioned = mean_interval(results.arms["conditioned"].final["filter_error"])
        main = describe("conditioned max |w - [1, -2, 1]| at the end", conditioned,
                        at_most(conditioned, FILTER_TOLERANCE), f"<= {FILTER_TOLERANCE}")
        plain = mean_interval(results.arms["convolution"].final["filter_error"])
        slow = describe("convolution max |w - [1, -2, 1]| at the end", plain, at_least(plain, STILL_SLOW),
                        f">= {STILL_SLOW}")
        moved = mean_interval(results.arms["conditioned"].final["error"])
        control = describe("conditioned relative code error at the end", moved, at_most(moved, MOVED),
                           f"<= {MOVED} (it starts at 1: the trainer moves the filter at all)")
        budget = results.config["conditioned_iterations"]
        rule = (f"reproduced if after its {budget:,} iterations every tap of the conditioned filter is "
                f"within {FILTER_TOLERANCE} of [1, -2, 1] (interval of the per-seed maximum error), while "
                f"the unconditioned filter is still >= {STILL_SLOW} away after its "
                f"{results.config['iterations']:,}; inconclusive unless training moved the conditioned "
                f"filter at all (its relative code error <= {MOVED})")
        adam = tuple(self._adam_note(results, arm, "filter_error") for arm in ADAM_ARMS[1:])
        return decide(claim_id=CLAIM_CONDITIONING.id, quantity=f"max |w - [1, -2, 1]| of the conditioned "
                      f"filter after {budget:,} iterations", rule=rule, main=main, extra=(slow,),
                      controls=(control,), notes=self._iterations_note(results) + adam)

    def _verdict_fully_connected(self, results: Results) -> Verdict:
        iv = mean_interval(results.arms["fully-connected"].final["kink_error"])
        main = describe("fully connected kink error at the end", iv, at_least(iv, KINKS_MISSED),
                        f">= {KINKS_MISSED}")
        controls = (self._kinks_captured(results, "least-squares"), self._kinks_captured(results, "conditioned"))
        rule = (f"reproduced if the fully connected layer's kink error (share of the total slope change "
                f"|a| missed at the kinks, Σ|p̂ - p| over kinks / Σ|p|) after "
                f"{results.config['iterations']:,} iterations is >= {KINKS_MISSED}, while the same layer "
                f"solved by least squares and the conditioned convolution reach <= {KINKS_CAPTURED}")
        return decide(claim_id=CLAIM_FULLY_CONNECTED.id, quantity="kink error of the fully connected layer "
                      "at the end (0 exact, 1 misses all)", rule=rule, main=main, controls=controls,
                      notes=(self._adam_note(results, "fully-connected-adam", "kink_error"),))

    def _verdict_autoencoder(self, results: Results, name: str, claim: Claim) -> Verdict:
        arm = results.arms[name]
        iv = mean_interval(arm.final["kink_error"])
        main = describe(f"{LABELS[name]} kink error (second differences of its output)", iv,
                        at_least(iv, KINKS_MISSED), f">= {KINKS_MISSED}")
        concentration = mean_interval(arm.final["kink_concentration"])
        beyond = describe(f"{LABELS[name]} kink concentration of the code error", concentration,
                          at_least(concentration, CONCENTRATED), f">= {CONCENTRATED}")
        curve = mean_interval(arm.final["curve_error"])
        learned = describe(f"{LABELS[name]} curve error", curve, at_most(curve, CURVE_LEARNED), f"<= {CURVE_LEARNED}")
        notes = ()
        if name != "autoencoder":
            base = mean_interval(results.arms["autoencoder"].final["kink_error"])
            notes += (note("base", base, f"the paper's auto-encoder: kink error {base}"),)
        rule = (f"reproduced if the kink error of the {LABELS[name]}'s reconstruction (its second differences "
                f"against p) is >= {KINKS_MISSED} and its code error sits at the kinks: the squared error per "
                f"kink point is >= {CONCENTRATED}x that per point anywhere (1 for an error spread evenly, whatever "
                f"its size: second differences amplify any error of the curve, so the kink error alone flags "
                f"even a tiny one), while it has learned the curves themselves (relative squared error <= "
                f"{CURVE_LEARNED}) and the least-squares control captures the kinks (<= {KINKS_CAPTURED})")
        return decide(claim_id=claim.id, quantity=f"kink error of the {LABELS[name]} at the end (0 exact, 1 "
                      f"misses all)", rule=rule, main=main, extra=(beyond,),
                      controls=(learned, self._kinks_captured(results, "least-squares")), notes=notes)

    def _verdict_condition_numbers(self, results: Results) -> Verdict:
        diag = results.diagnostics
        sizes, seeds = diag["kappa_sizes"], len(results.seeds)
        # the first two are exact expectations: the same for every seed
        fully_connected = mean_interval(np.full(seeds, log_log_slope(sizes, diag["kappa_fully_connected"])))
        convolution = mean_interval(np.full(seeds, log_log_slope(sizes, diag["kappa_convolution"])))
        conditioned = mean_interval(diag["kappa_conditioned"].max(axis=1))
        low, high = CONVOLUTION_EXPONENT
        main = describe("fully connected log-log slope", fully_connected,
                        at_least(fully_connected, FULLY_CONNECTED_EXPONENT), f">= {FULLY_CONNECTED_EXPONENT}")
        extra = (describe("convolution log-log slope", convolution, within(convolution, low, high),
                          f"in [{low}, {high}]"),
                 describe("conditioned condition number (largest over n)", conditioned,
                          at_most(conditioned, CONDITIONED_MAX), f"<= {CONDITIONED_MAX}"))
        rule = (f"analytic check: reproduced if, over n = {', '.join(str(int(n)) for n in sizes)}, the fitted "
                f"log-log slope "
                f"of the exact condition number is >= {FULLY_CONNECTED_EXPONENT} for the fully connected "
                f"problem and in [{low}, {high}] for the convolution (both exact, so the same for every "
                f"seed), and the conditioned condition number (whitening estimated per seed) is <= "
                f"{CONDITIONED_MAX} at every n")
        return decide(claim_id=CLAIM_CONDITION_NUMBERS.id, quantity="log-log slope of the fully connected "
                      "condition number against n", rule=rule, main=main, extra=extra)

    # --- figures -----------------------------------------------------------------------------

    def figures(self, results: Results) -> dict:
        return {CLAIM_CONDITIONING.id: self._figure_errors(results),
                CLAIM_FULLY_CONNECTED.id: self._figure_reconstructions(results),
                CLAIM_AUTOENCODER.id: self._figure_kinks_against_curves(results),
                CLAIM_LARGER.id: self._figure_kinks_against_curves(results),
                CLAIM_CONDITION_NUMBERS.id: self._figure_condition_numbers(results)}

    def _figure_errors(self, results: Results):
        fig, axes = new_figure(2, width=5.6, height=4.0)
        for color, arm in zip(PALETTE, TRAINED):
            steps = results.arms[arm].steps
            for ax, metric in zip(axes, ("error", "curve_error")):
                plot_band(ax, steps, results.arms[arm].curves[metric], label=LABELS[arm], color=color)
            predicted = results.diagnostics.get(f"predicted_error_{arm}")
            if predicted is not None:  # floored where float32 training cannot follow it
                axes[0].plot(steps, np.maximum(np.atleast_2d(predicted).mean(axis=0), FLOOR), color=color,
                             linestyle="--", linewidth=1.0, label=f"{LABELS[arm]}: full-batch GD, exact")
        axes[0].axhline(ACCURACY, color="grey", linewidth=0.8, linestyle=":", label=f"{ACCURACY:g}")
        axes[0].set(xscale="log", yscale="log", xlabel="SGD / Adam iteration", ylim=(FLOOR / 10, 1e3),
                    ylabel="‖p̂ − p‖² / ‖p‖² (test curves)", title="Error of the code p (the kinks)")
        axes[1].set(xscale="log", yscale="log", xlabel="SGD / Adam iteration", ylim=(FLOOR / 10, 1e3),
                    ylabel="‖f̂ − f‖² / ‖f‖² (test curves)", title="Error of the decoded curve f")
        axes[0].legend(fontsize=7, loc="center right")
        fig.suptitle(f"Piecewise-linear curves (SSS17 §4): mean and 95% band over {len(results.seeds)} seeds")
        return fig

    def _figure_reconstructions(self, results: Results):
        diag, config = results.diagnostics, results.config
        fig, axes = new_figure(4, nrows=len(TRAINED), width=3.2, height=2.3)
        x = np.arange(config["points"])
        colors = PALETTE[1:4]
        for row, arm in enumerate(TRAINED):
            steps = config["conditioned_snapshots" if arm == "conditioned" else "snapshots"]
            for example in range(2):
                curve_ax, code_ax = axes[4 * row + 2 * example], axes[4 * row + 2 * example + 1]
                curve_ax.plot(x, diag["examples_f"][0, example], color="black", linewidth=2.2, label="f")
                code_ax.plot(x, diag["examples_p"][0, example], color="black", linewidth=2.2, label="p")
                for j, (step, color) in enumerate(zip(steps, colors)):
                    curve_ax.plot(x, diag[f"decoded_{arm}"][0, j, example], color=color, linewidth=1.0,
                                  label=f"after {step:,}")
                    code_ax.plot(x, diag[f"code_{arm}"][0, j, example], color=color, linewidth=1.0,
                                 label=f"after {step:,}")
                curve_ax.set(title=f"{LABELS[arm]}: curve {example + 1}", xlabel="x", ylabel="f(x)")
                code_ax.set(title=f"{LABELS[arm]}: code {example + 1}", xlabel="x", ylabel="p(x)",
                            ylim=(-1.6, 1.6))
            axes[4 * row].legend(fontsize=6, loc="best")
        fig.suptitle(f"Decoded reconstructions (SSS17 Fig. 6), seed {results.seeds[0]}: f = W p̂ for the "
                     f"encoders, the output for the auto-encoder; codes p̂ (auto-encoder: second "
                     f"differences of its output)", fontsize=9)
        return fig

    def _figure_kinks_against_curves(self, results: Results):
        fig, (ax,) = new_figure(width=6.0, height=4.2)
        for color, arm in zip(itertools.cycle(PALETTE), (*TRAINED, "autoencoder-large", "least-squares", *ADAM_ARMS)):
            final = results.arms[arm].final
            kink, curve = mean_interval(final["kink_error"]), mean_interval(final["curve_error"])
            ax.errorbar([curve.estimate], [kink.estimate], fmt="o", color=color, label=LABELS[arm],
                        xerr=[[curve.estimate - curve.low], [curve.high - curve.estimate]] if curve.n > 1 else None,
                        yerr=[[kink.estimate - kink.low], [kink.high - kink.estimate]] if kink.n > 1 else None)
        ax.axhline(KINKS_MISSED, color="grey", linestyle="--", linewidth=1, label=f"kink error {KINKS_MISSED}")
        ax.axvline(CURVE_LEARNED, color="grey", linestyle=":", linewidth=1, label=f"curve error {CURVE_LEARNED}")
        ax.set(xscale="log", yscale="log", xlabel="final ‖f̂ − f‖² / ‖f‖² (curve error)",
               ylabel="final kink error (share of |a| missed)",
               title="The curve can be right while the kinks are wrong")
        ax.legend(fontsize=7)
        return fig

    def _figure_condition_numbers(self, results: Results):
        diag = results.diagnostics
        sizes = diag["kappa_sizes"]
        fig, (ax,) = new_figure(width=6.0, height=4.2)
        for color, key, label in ((PALETTE[0], "kappa_fully_connected", "fully connected"),
                                  (PALETTE[1], "kappa_convolution", "convolution")):
            values = diag[key]
            ax.plot(sizes, values, "o-", color=color, label=f"{label}: slope {log_log_slope(sizes, values):.2f}")
        plot_band(ax, sizes, diag["kappa_conditioned"], color=PALETTE[2],
                  label=f"conditioned: max {diag['kappa_conditioned'].max():.3f}")
        for exponent, key, style in ((3.5, "kappa_fully_connected", ":"), (3.0, "kappa_convolution", "--")):
            ax.plot(sizes, diag[key][0] * (sizes / sizes[0]) ** exponent, color="grey", linestyle=style,
                    linewidth=1, label=f"n^{exponent:g} (paper)")
        ax.set(xscale="log", yscale="log", xlabel="curve length n", ylabel="condition number κ",
               title="Condition number of each problem (exact expectations)")
        ax.set_xticks(sizes, labels=[str(int(n)) for n in sizes])
        ax.minorticks_off()
        ax.legend(fontsize=7)
        return fig

"""A1 `parity`: random parities are not learnable by gradient methods.

Claim (SSS17 §2.1, Fig. 1 and Theorem 1). Let x be uniform in {±1}^d and the
label the parity (product) of x over a hidden subset v*. A one-hidden-layer ReLU
network (width 10d, hinge loss, SGD lr 0.01, batch 128) learns d = 5 and d = 10,
but at d = 30 its accuracy stays at chance for all 50,000 iterations. The reason
(Theorem 1): at any w, the gradient hardly depends on the target. Over all 2^d
parities, Var(H, F, w) <= G(w)^2 / 2^d, so the gradient carries exponentially
little information about v*.

Source. Shalev-Shwartz, Shamir, Shammah, "Failures of Gradient-Based Deep
Learning", ICML 2017 (arXiv 1703.07950), §2.1, Fig. 1, Theorem 1.

Arms. `sgd-d{d}` for each d: the largest d is the failing arm, every smaller d
is a control (same network, loss and optimizer must learn). `gf2-d{d}`
(remedy, for the largest d): Gaussian elimination over GF(2) on d + 20 samples
learns any parity exactly. It shows that the task is easy and the d = 30 data are
right, so the failure belongs to gradient descent.

Diagnostic. Var(H, F, w) at the network's random initialisation, computed
exactly by enumerating all 2^d points x and all 2^d parities, against d, next to
the bound G(w)^2 / 2^d. Beyond the enumerable d (up to 30), Var is estimated
from random parities and two independent samples of x (the split-sample
estimator, unbiased: checked against the exact value at d = 10); its floor is
the largest |Var| its interval over seeds cannot tell from zero, drawn beside
it. At d = 30 the bound is about 1e-9 G^2, far below any affordable floor (the
estimate's spread comes from which parities are drawn and from the Monte Carlo
noise G^2 / N): the sampled points show that the variance is below the floor,
not that it meets the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.diagnostics import (
    all_parities,
    all_sign_vectors,
    gradient_scale_sq,
    split_sample_variance,
    target_gradients,
    variance_over_targets,
)
from deeplimits.engine import (
    derive_key,
    derive_keys,
    numpy_rng,
    one_hidden_layer_relu,
    random_signs,
    runtime_learning_rate,
    side_by_side,
    train,
)
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
from deeplimits.stats import (
    FAIL,
    PASS,
    UNSURE,
    Check,
    Interval,
    at_least,
    at_most,
    decide,
    describe,
    mean_interval,
    note,
    tail_mean,
    within,
)

NAME = "parity"
CHANCE = 0.5
CHANCE_BAND = 0.05  # "at chance": the final-accuracy interval lies within 0.5 ± 0.05
LEARNED = 0.95  # a control has learned when its final-accuracy interval is >= 0.95
FINAL_FRACTION = 0.1  # final accuracy: mean over the last 10% of evaluations
SLOPE_TOLERANCE = 0.1  # bits per dimension the variance may decay slower than the bound
BOUND_SLACK = 1e-4  # relative float32 slack on Var <= G^2 / 2^d
VARIANCE_MIN_DIM = 3
ACCURACY = (0.0, 1.0)  # an accuracy's range: what a diverged seed could have scored

CLAIM_SGD = Claim(
    id="parity-sgd-fails",
    statement="SGD on a one-hidden-layer ReLU network cannot learn a random parity of d = 30 "
              "bits: accuracy stays at chance, while d = 5 and d = 10 are learned.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §2.1, Fig. 1",
    expected="d = 5 and d = 10 reach accuracy ~1; d = 30 stays at 0.5 for all 50,000 iterations.",
    budget=("steps", "batch_size"),
    falsified_by=Falsification(
        why="with a hidden subset of one bit (|v*| = 1) the label is a single coordinate, which SGD "
            "learns at d = 30 too",
        profile="quick", seeds=5, overrides={"subset_size": 1, "dims": (5, 30), "steps": 4_000,
                                             "variance_max_dim": 5, "sampled_dims": ()}),
)
CLAIM_VARIANCE = Claim(
    id="parity-gradient-variance",
    statement="Analytic check (Parseval's identity at the network's initialisation), which no setting can "
              "falsify: the variance over random parities of the full gradient is at most G(w)^2 / 2^d, so "
              "it decays exponentially with d.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §2.1, Theorem 1",
    expected="Var(H, F, w) <= G(w)^2 / 2^d at every w and d (no experiment in the paper).",
    kind="analytic",
    unfalsifiable="an identity, not an empirical claim: while every |output| < 1 the hinge loss is linear "
                  "in the label, and Parseval's identity over all 2^d parities gives Var = G(w)^2 / 2^d - "
                  "||mean gradient||^2 at any weights; only that precondition can fail, and then the "
                  "verdict is inconclusive",
)


@dataclass(frozen=True)
class Config:
    dims: tuple[int, ...] = param((5, 10, 30), "input sizes d; the largest fails, smaller ones are controls",
                                  min=1, max=64, distinct=True)
    subset_size: int | None = param(None, "size of the hidden subset v*; none: v* uniform in {0,1}^d "
                                          "as in the paper", min=0, max=64)
    width_factor: int = param(10, "hidden width as a multiple of d (paper: 10d)", min=1, max=100)
    learning_rate: float = param(0.01, "SGD learning rate", min=0.0, max=10.0)
    batch_size: int = param(128, "examples per SGD step", min=1, max=65_536)
    steps: int = param(50_000, "SGD iterations per run", min=1, max=10_000_000)
    eval_every: int = param(100, "iterations between evaluations", min=1, max=10_000_000)
    eval_samples: int = param(500, "fresh samples per evaluation", min=1, max=1_000_000)
    gf2_extra_samples: int = param(20, "samples beyond d given to GF(2) elimination", min=0, max=10_000)
    variance_max_dim: int = param(12, "largest d for the exact gradient variance (enumerates 4^d "
                                      "point-target pairs)", min=VARIANCE_MIN_DIM + 1, max=13)
    sampled_dims: tuple[int, ...] = param((16, 20, 24, 30), "d beyond enumeration for the split-sample "
                                          "variance estimate (empty: none)", min=2, max=64, min_len=0,
                                          distinct=True)
    sampled_targets: int = param(128, "random parities per split-sample estimate", min=2, max=100_000)
    sampled_points: int = param(4_096, "points x in each of the two samples of a split-sample estimate",
                                min=2, max=1_000_000)

    def __post_init__(self) -> None:
        if self.subset_size is not None and self.subset_size > min(self.dims):
            raise ConfigError(f"subset_size={self.subset_size} exceeds the smallest d ({min(self.dims)})")
        if self.eval_every > self.steps:
            raise ConfigError(f"eval_every={self.eval_every} exceeds steps={self.steps}")


def hidden_subset(d: int, subset_size: int | None, seed: int) -> jax.Array:
    """v* for (d, seed) as a boolean mask ``(d,)``; shared by every arm at this d and seed."""
    key = derive_key(NAME, f"target-d{d}", seed)
    if subset_size is None:
        return jax.random.bernoulli(key, 0.5, (d,))
    return jnp.zeros(d, bool).at[jax.random.permutation(key, d)[:subset_size]].set(True)


def sample_parity(subset: jax.Array, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    x = random_signs(key, (n, subset.shape[0]))  # (n, d)
    return x, jnp.prod(jnp.where(subset, x, 1.0), axis=1)  # (n,)


def hinge(prediction: jax.Array, label: jax.Array) -> jax.Array:
    return optax.losses.hinge_loss(prediction, label)


def train_sgd(config: Config, d: int, seeds: tuple[int, ...], progress: Progress) -> ArmResults:
    arm = f"sgd-d{d}"
    subsets = jnp.stack([hidden_subset(d, config.subset_size, s) for s in seeds])  # (S, d)

    def loss(model, batch):
        x, y = batch
        return jnp.mean(hinge(jax.vmap(model)(x), y))

    def evaluate(model, subset, key):
        x, y = sample_parity(subset, key, config.eval_samples)
        return {"accuracy": jnp.mean(jnp.sign(jax.vmap(model)(x)) == y)}

    log = train(
        keys=derive_keys(NAME, arm, seeds),
        init=lambda key: one_hidden_layer_relu(key=key, in_size=d, width=config.width_factor * d),
        loss=loss,
        optimizer=runtime_learning_rate(optax.sgd, config.learning_rate),
        sample_batch=lambda subset, key: sample_parity(subset, key, config.batch_size),
        evaluate=evaluate,
        data=subsets,
        steps=config.steps,
        eval_every=config.eval_every,
        progress=progress,
        label=arm,
    )
    accuracy = log.metrics["accuracy"]
    return ArmResults(steps=log.steps, curves={"accuracy": accuracy, "loss": log.loss},
                      final={"accuracy": tail_mean(accuracy, FINAL_FRACTION)}, diverged=log.diverged,
                      wall_s=log.wall_s)


def solve_gf2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A solution s of a s = b over GF(2) (free variables set to 0): ``(n, d), (n,) -> (d,)``."""
    rows = np.concatenate([a, b[:, None]], axis=1).astype(np.uint8) % 2
    n, d = a.shape
    pivots, r = [], 0
    for col in range(d):
        hits = np.nonzero(rows[r:, col])[0]
        if hits.size == 0:
            continue
        rows[[r, r + hits[0]]] = rows[[r + hits[0], r]]
        others = np.nonzero(rows[:, col])[0]
        rows[others[others != r]] ^= rows[r]
        pivots.append(col)
        r += 1
        if r == n:
            break
    solution = np.zeros(d, np.uint8)
    for i, col in enumerate(pivots):
        solution[col] = rows[i, -1]
    return solution


def run_gf2(config: Config, d: int, seeds: tuple[int, ...]) -> ArmResults:
    arm = f"gf2-d{d}"
    start = time.perf_counter()
    n_train = d + config.gf2_extra_samples
    accuracy = np.empty(len(seeds))
    for i, seed in enumerate(seeds):
        subset = np.asarray(hidden_subset(d, config.subset_size, seed), np.uint8)
        rng = numpy_rng(NAME, arm, seed)
        bits = rng.integers(0, 2, (n_train + config.eval_samples, d), dtype=np.uint8)  # x_i = 1 - 2 bit_i
        labels = bits @ subset % 2  # parity bit: label = 1 - 2 * bit
        s = solve_gf2(bits[:n_train], labels[:n_train])
        accuracy[i] = np.mean(bits[n_train:] @ s % 2 == labels[n_train:])
    return ArmResults(steps=np.array([n_train]), curves={"accuracy": accuracy[:, None]},
                      final={"accuracy": accuracy}, diverged=np.zeros(len(seeds), bool),
                      wall_s=time.perf_counter() - start)


@eqx.filter_jit
def _variance_at_init(model: eqx.Module, x: jax.Array, parities: jax.Array) -> tuple[jax.Array, ...]:
    grads = target_gradients(model, x, parities, hinge)
    return variance_over_targets(grads), gradient_scale_sq(model, x), jnp.max(jnp.abs(jax.vmap(model)(x)))


def gradient_variance(config: Config, seeds: tuple[int, ...], progress: Progress) -> dict[str, np.ndarray]:
    """Exact Var(H, F, w) over all 2^d parities at initialisation, and G(w)^2 / 2^d."""
    dims = np.arange(VARIANCE_MIN_DIM, config.variance_max_dim + 1)
    variance, bound, max_output = (np.empty((len(seeds), len(dims))) for _ in range(3))
    for j, d in enumerate(dims):
        x, parities = all_sign_vectors(int(d)), all_parities(int(d))
        models = [one_hidden_layer_relu(key=derive_key(NAME, f"variance-d{d}", seed), in_size=int(d),
                                        width=config.width_factor * int(d)) for seed in seeds]
        for i, (var, g_sq, out) in enumerate(side_by_side(_variance_at_init, [(m, x, parities) for m in models])):
            variance[i, j], bound[i, j], max_output[i, j] = var, g_sq / 2.0**d, out
        progress("gradient variance", j + 1, len(dims))
    return {"variance_dims": dims, "variance": variance, "variance_bound": bound,
            "variance_max_abs_output": max_output}


@eqx.filter_jit
def _split_sample_at_init(model: eqx.Module, x_a: jax.Array, x_b: jax.Array, subsets: jax.Array
                          ) -> tuple[jax.Array, jax.Array]:
    """(Var estimate over the parities of ``subsets``, G(w)^2 on x_a) from two samples of x."""
    def parities(x):  # (H, N)
        return jnp.prod(jnp.where(subsets[:, None, :], x[None], 1.0), axis=2)

    grads = [target_gradients(model, x, parities(x), hinge) for x in (x_a, x_b)]
    return split_sample_variance(*grads), gradient_scale_sq(model, x_a)


def sampled_variance(config: Config, seeds: tuple[int, ...], progress: Progress) -> dict[str, np.ndarray]:
    """Split-sample Var(H, F, w) at initialisation for each d of ``sampled_dims`` (random parities, two
    independent samples of x; unbiased, so it can be negative), and the bound G(w)^2 / 2^d."""
    dims = np.array(sorted(config.sampled_dims), int)
    variance, bound = np.empty((len(seeds), len(dims))), np.empty((len(seeds), len(dims)))
    for j, d in enumerate(dims):
        calls = []
        for seed in seeds:
            model = one_hidden_layer_relu(key=derive_key(NAME, f"variance-d{d}", seed), in_size=int(d),
                                          width=config.width_factor * int(d))
            k_a, k_b, k_h = jax.random.split(derive_key(NAME, f"sampled-variance-d{d}", seed), 3)
            x_a, x_b = (jax.random.rademacher(k, (config.sampled_points, int(d)), dtype=jnp.float32)
                        for k in (k_a, k_b))
            calls.append((model, x_a, x_b, jax.random.bernoulli(k_h, 0.5, (config.sampled_targets, int(d)))))
        for i, (var, g_sq) in enumerate(side_by_side(_split_sample_at_init, calls)):
            variance[i, j], bound[i, j] = var, g_sq / 2.0**d
        progress("sampled gradient variance", j + 1, len(dims))
    return {"sampled_dims": dims, "sampled_variance": variance, "sampled_bound": bound}


def resolution(values: np.ndarray) -> float:
    """The floor of an unbiased estimate over seeds: the larger bound of its 95% interval in absolute
    value, the smallest |Var| it could tell from zero."""
    iv = mean_interval(values)
    return max(abs(iv.low), abs(iv.high))


def log2_slope(dims: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of log2(values) against d, per seed: ``(S, V) -> (S,)``."""
    return np.polyfit(dims, np.log2(values).T, 1)[0]


@register
class Parity(Experiment):
    name = NAME
    catalogue = "A1"
    version = 4  # 4: x drawn 32 signs to a random word (engine.random_signs); 3: split-sample variance
    title = "Random parities: SGD gets no information from the gradient"
    family = "gradient_failures"
    claims = (CLAIM_SGD, CLAIM_VARIANCE)
    Config = Config
    profiles = {
        "smoke": {"dims": (3, 8), "steps": 300, "eval_every": 100, "eval_samples": 256,
                  "variance_max_dim": 5, "sampled_dims": (8,), "sampled_targets": 8, "sampled_points": 64},
        "quick": {"steps": 20_000, "eval_every": 250, "variance_max_dim": 10},
        "paper": {},
    }
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "d in {3, 8}, 300 iterations: checks the plumbing, not the claim",
        "quick": "the paper's d, network and optimizer; 20,000 iterations instead of 50,000 "
                 "(d = 10 is learned by ~16,000 on every subset size); exact variance up to d = 10, "
                 "sampled at d = 16, 20, 24, 30",
        "paper": "the paper's settings: d in {5, 10, 30}, width 10d, hinge, SGD lr 0.01, batch 128, "
                 "50,000 iterations, 500 fresh samples every 100; exact variance up to d = 12, sampled "
                 "(128 parities x 2 x 4,096 points) at d = 16, 20, 24, 30",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        dims = sorted(config.dims)
        out = [Arm(f"sgd-d{d}", "control", f"SGD on d = {d}: must be learned (positive control)")
               for d in dims[:-1]]
        out.append(Arm(f"sgd-d{dims[-1]}", "failing", f"SGD on d = {dims[-1]}: said to stay at chance"))
        out.append(Arm(f"gf2-d{dims[-1]}", "remedy",
                       f"Gaussian elimination over GF(2) on d + {config.gf2_extra_samples} samples "
                       f"at d = {dims[-1]}: learns any parity exactly"))
        return tuple(out)

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        arms = {f"sgd-d{d}": train_sgd(config, d, seeds, progress) for d in sorted(config.dims)}
        arms[f"gf2-d{max(config.dims)}"] = run_gf2(config, max(config.dims), seeds)
        diagnostics = gradient_variance(config, seeds, progress)
        if config.sampled_dims:
            diagnostics.update(sampled_variance(config, seeds, progress))
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds,
                       arms=arms, diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_sgd(results), self._verdict_variance(results)]

    def _verdict_sgd(self, results: Results) -> Verdict:
        dims = sorted(results.config["dims"])
        failing = mean_interval(results.arms[f"sgd-d{dims[-1]}"].final["accuracy"], bounds=ACCURACY)
        low, high = CHANCE - CHANCE_BAND, CHANCE + CHANCE_BAND
        main = describe(f"d={dims[-1]} final accuracy", failing, within(failing, low, high),
                        f"[{low}, {high}]")
        controls = [self._learned(f"d={d} (SGD control) final accuracy",
                                  results.arms[f"sgd-d{d}"].final["accuracy"]) for d in dims[:-1]]
        controls.append(self._learned(f"d={dims[-1]} GF(2) elimination accuracy",
                                      results.arms[f"gf2-d{dims[-1]}"].final["accuracy"]))
        if len(dims) == 1:
            controls.append(Check("SGD control", Interval(np.nan, np.nan, np.nan, 0), UNSURE,
                                  "no smaller d was run as the SGD control (add one to dims)"))
        rule = (f"reproduced if the 95% interval of the final accuracy (mean of the last "
                f"{FINAL_FRACTION:.0%} of evaluations) at the largest d lies within "
                f"[{low}, {high}], while every smaller d (SGD controls) and GF(2) elimination at "
                f"the largest d reach intervals >= {LEARNED}")
        return decide(claim_id=CLAIM_SGD.id, quantity=f"final test accuracy at d={dims[-1]}",
                      rule=rule, main=main, controls=tuple(controls))

    @staticmethod
    def _learned(name: str, values: np.ndarray) -> Check:
        iv = mean_interval(values, bounds=ACCURACY)
        return describe(name, iv, at_least(iv, LEARNED), f">= {LEARNED}")

    def _verdict_variance(self, results: Results) -> Verdict:
        diag = results.diagnostics
        dims, variance, bound = diag["variance_dims"], diag["variance"], diag["variance_bound"]
        excess = mean_interval(log2_slope(dims, variance) - log2_slope(dims, bound))
        ratio = mean_interval(np.max(variance / bound, axis=1))
        slope = mean_interval(log2_slope(dims, variance))
        main = describe("log2-slope of Var minus that of the bound", excess,
                        at_most(excess, SLOPE_TOLERANCE), f"<= {SLOPE_TOLERANCE} bits per dimension")
        below = describe("max over d of Var / bound", ratio, at_most(ratio, 1 + BOUND_SLACK),
                         f"<= 1 (+{BOUND_SLACK} float32 slack)")
        info = note("slope", slope, f"Var falls by {-slope.estimate:.3g} bits per added "
                                    f"dimension (d = {dims[0]}..{dims[-1]})")
        outputs = diag["variance_max_abs_output"].max(axis=1)  # (S,) the largest |f(x)| over every d
        precondition = Check("max |output|", mean_interval(outputs), PASS if np.all(outputs < 1.0) else FAIL,
                             f"largest |output| at initialisation over every x and d: {outputs.max():.3g} "
                             f"{'<' if np.all(outputs < 1.0) else 'is not <'} 1 in every seed (the "
                             f"precondition: there the hinge loss is linear in the label)")
        rule = (f"analytic check at the network's initialisation, computed exactly over all 2^d points and "
                f"parities: reproduced if Var(H,F,w) <= G(w)^2/2^d at every d = {dims[0]}..{dims[-1]} (max "
                f"ratio interval <= 1 + {BOUND_SLACK}) and the fitted log2-slope of Var against d exceeds "
                f"the bound's by at most {SLOPE_TOLERANCE} bits per dimension (interval); inconclusive "
                f"unless every |output| < 1, where the identity behind the bound holds")
        notes = [info]
        for j, d in enumerate(diag.get("sampled_dims", ())):
            var, bound_d = mean_interval(diag["sampled_variance"][:, j]), float(np.mean(diag["sampled_bound"][:, j]))
            notes.append(note(f"sampled d={d}", var, f"d={d} (sampled, not judged): Var {var}, floor "
                              f"{resolution(diag['sampled_variance'][:, j]):.2g}; bound G^2/2^d {bound_d:.3g}"))
        return decide(claim_id=CLAIM_VARIANCE.id,
                      quantity="log2-slope of Var minus log2-slope of G^2/2^d (bits per dimension)",
                      rule=rule, main=main, extra=(below,), controls=(precondition,), notes=tuple(notes))

    def figures(self, results: Results) -> dict:
        return {CLAIM_SGD.id: self._figure_accuracy(results),
                CLAIM_VARIANCE.id: self._figure_variance(results)}

    def _figure_accuracy(self, results: Results):
        fig, (ax,) = new_figure(width=6.0)
        for color, d in zip(PALETTE, sorted(results.config["dims"])):
            arm = results.arms[f"sgd-d{d}"]
            plot_band(ax, arm.steps, arm.curves["accuracy"], label=f"d = {d}", color=color)
        ax.axhline(CHANCE, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set(xlabel="SGD iteration", ylabel="test accuracy (fresh samples)", ylim=(0.3, 1.02),
               title=f"Parity with SGD (SSS17 Fig. 1), mean and 95% band over {len(results.seeds)} seeds")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: the d = 30 curve lies at chance
        return fig

    def _figure_variance(self, results: Results):
        diag = results.diagnostics
        dims = diag["variance_dims"]
        fig, (ax,) = new_figure(width=6.0)
        plot_band(ax, dims, diag["variance"], label="Var(H, F, w), exact", color=PALETTE[0])
        plot_band(ax, dims, diag["variance_bound"], label="bound G(w)² / 2^d", color=PALETTE[1],
                  linestyle="--")
        if len(diag.get("sampled_dims", ())):
            sampled, values = diag["sampled_dims"], diag["sampled_variance"]
            ax.plot(sampled, np.maximum(values.mean(axis=0), 1e-30), "o", color=PALETTE[0],
                    label="Var, split-sample estimate (random parities)")
            ax.plot(sampled, [resolution(values[:, j]) for j in range(len(sampled))], ":", color="grey",
                    label="its floor (what it cannot tell from 0)")
            ax.plot(sampled, diag["sampled_bound"].mean(axis=0), "x", color=PALETTE[1], label="bound at sampled d")
        ax.set_yscale("log")
        ax.set(xlabel="input dimension d", ylabel="gradient variance over parities",
               title="Theorem 1 at random initialisation (all x, all parities)")
        ax.legend()
        return fig

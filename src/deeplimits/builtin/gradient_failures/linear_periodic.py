"""A2 `linear-periodic`: periodic functions of a linear map starve the gradient.

Claim (SSS17 §2.1, Theorem 2, after Shamir 2016). For x standard Gaussian in R^d
and H = {x -> psi(v^T x) : ||v|| = r} with psi periodic, the variance over
random v of the full gradient at any w is at most O(exp(-Omega(d)) +
exp(-Omega(r))): the gradient carries exponentially little information about v,
so gradient methods cannot learn such targets once r (or d) is large.

Source. Shalev-Shwartz, Shamir, Shammah, "Failures of Gradient-Based Deep
Learning", ICML 2017, §2.1, Theorem 2; Shamir, "Distribution-Specific Hardness
of Learning Neural Networks", 2016. The paper has no experiment for it; this
file is ours.

Arms. The A1 network (one ReLU layer of width 10d, linear output) trained with
Adam (not the paper's SGD: Adam is the stronger learner here) on the squared loss
to y = cos(v*^T x), d = 20, for each r: the smallest r is the control (must be
learned), the largest the failing arm, the others a sweep (measured, not
judged). A second control checks capacity: the same network (width 10 x 20) on
the largest r at d = 1, where the bound's exp(-Omega(d)) term is not small; it
must fit the target, so a failure at d = 20 is not a lack of capacity. It trains
for `capacity_steps` (the paper profile's budget in every profile). At d = 10
(our first setting) one seed in eight learned r = 8 with long training: the
exp(-Omega(d)) term is not negligible there, hence d = 20. There is no remedy
arm: the hardness holds for every statistical-query method, not only for
gradient descent (a lattice-based learner for noiseless cosines exists, Song,
Zadik & Bruna 2021; it is not implemented here).

Diagnostic. Var over v of the full gradient of the square loss at the network's
initialisation, against r at fixed d and against d at fixed r. The expectation
over Gaussian x is a Monte Carlo mean, so the variance is estimated without bias
from two independent samples of x (see `split_sample_variance`); its noise floor
is measured by the same estimator at r = 16, where the true variance is ~1e-50.
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
from deeplimits.diagnostics import split_sample_variance, target_gradients
from deeplimits.engine import derive_key, derive_keys, one_hidden_layer_relu, train
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
    UNSURE,
    Check,
    at_least,
    at_most,
    decide,
    describe,
    mean_interval,
    note,
    share_interval,
    tail_mean,
)

NAME = "linear-periodic"
LEARNED_R2 = 0.9  # the control has learned when its final R^2 interval is >= 0.9; a seed has learned at >= 0.9
MOST = 0.5  # "most seeds": the share of seeds that learned is judged against one half
FAILED_R2 = 0.1  # the failing arm has not learned when its final R^2 interval is <= 0.1
DROP = 1e-2  # "exponentially little": Var at the largest r is < 1% of its peak over r
FINAL_FRACTION = 0.1
NULL_RADIUS = 16.0  # E cos(v^T x) = exp(-r^2/2) ~ 1e-56: the estimator sees only noise

CLAIM_TRAINING = Claim(
    id="linear-periodic-training",
    statement="Gradient training (Adam, squared loss) of a ReLU network learns y = cos(v*^T x) for small "
              "||v*|| = r but not for large r, at d = 20, though the same network fits the large r at d = 1.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §2.1, Theorem 2 (no experiment in the paper)",
    expected="Learning stops as r grows (the paper gives no numbers).",
    budget=("steps", "batch_size"),
    falsified_by=Falsification(
        why="with r <= 2 as the largest norm the cosine varies slowly enough that the network learns it",
        profile="quick", seeds=5, overrides={"radii": (0.5, 2.0), "variance_radii": (1.0, 2.0, 4.0),
                                             "variance_dims": (2, 4), "variance_samples": 1_024}),
)
CLAIM_VARIANCE = Claim(
    id="linear-periodic-variance",
    statement="The variance over random v (||v|| = r) of the full gradient is "
              "O(exp(-Omega(d)) + exp(-Omega(r))).",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §2.1, Theorem 2 (Shamir 2016)",
    expected="Exponentially small variance in r and d (a bound; no numbers in the paper).",
    kind="analytic",
    budget=("variance_samples", "variance_targets"),
    falsified_by=Falsification(
        why="with r <= 1.5 as the largest norm of the sweep the variance has not yet fallen from its peak",
        profile="quick", seeds=5, overrides={"variance_radii": (0.5, 1.0, 1.5), "variance_dims": (2, 4),
                                             "steps": 500, "eval_every": 250}),
)


@dataclass(frozen=True)
class Config:
    dim: int = param(20, "input dimension d of the trained arms and of the variance-against-r sweep",
                     min=1, max=256)
    capacity_dim: int = param(1, "input dimension of the capacity control (the largest r, the width of the "
                              "d = dim network)", min=1, max=256)
    capacity_steps: int = param(50_000, "Adam iterations of the capacity control", min=1, max=10_000_000)
    radii: tuple[float, ...] = param((1.0, 2.0, 4.0, 8.0), "norms r of v* for the trained arms; the "
                                     "smallest is the control, the largest fails", min=0.0, max=100.0,
                                     distinct=True)
    width_factor: int = param(10, "hidden width as a multiple of d (the A1 network: 10d)", min=1, max=100)
    learning_rate: float = param(1e-3, "Adam learning rate", min=0.0, max=10.0)
    batch_size: int = param(128, "examples per step", min=1, max=65_536)
    steps: int = param(50_000, "Adam iterations per run", min=1, max=10_000_000)
    eval_every: int = param(500, "iterations between evaluations", min=1, max=10_000_000)
    eval_samples: int = param(4_096, "fresh samples per evaluation", min=2, max=1_000_000)
    variance_radii: tuple[float, ...] = param((0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0),
                                              "r values of the variance sweep at d = dim", min=0.0, max=100.0,
                                              distinct=True)
    variance_dims: tuple[int, ...] = param((2, 4, 8, 16, 32), "d values of the variance sweep at "
                                           "r = variance_fixed_radius", min=1, max=256, distinct=True)
    variance_fixed_radius: float = param(2.0, "r of the variance-against-d sweep", min=0.0, max=100.0)
    variance_targets: int = param(256, "random v per variance estimate", min=2, max=100_000)
    variance_samples: int = param(32_768, "Gaussian x per half-sample of a variance estimate",
                                  min=16, max=1_000_000)

    def __post_init__(self) -> None:
        if self.eval_every > min(self.steps, self.capacity_steps):
            raise ConfigError(f"eval_every={self.eval_every} exceeds steps={self.steps} or "
                              f"capacity_steps={self.capacity_steps}")


def random_directions(key: jax.Array, n: int, d: int, r: float) -> jax.Array:
    """``n`` vectors uniform on the sphere of radius ``r`` in R^d: ``(n, d)``."""
    v = jax.random.normal(key, (n, d))
    return r * v / jnp.linalg.norm(v, axis=1, keepdims=True)


def sample_cosine(v: jax.Array, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    x = jax.random.normal(key, (n, v.shape[0]))  # (n, d)
    return x, jnp.cos(x @ v)  # (n,)


def square(prediction: jax.Array, target: jax.Array) -> jax.Array:
    return 0.5 * (prediction - target) ** 2


def train_radius(config: Config, r: float, seeds: tuple[int, ...], progress: Progress, *,
                 capacity: bool = False) -> ArmResults:
    """Adam on cos(v*^T x) at d = dim; ``capacity``: at d = capacity_dim with the same width."""
    arm = capacity_arm(config) if capacity else f"adam-r{r:g}"
    d = config.capacity_dim if capacity else config.dim
    target = f"target-r{r:g}-d{d}" if capacity else f"target-r{r:g}"
    targets = jnp.stack([random_directions(derive_key(NAME, target, s), 1, d, r)[0] for s in seeds])  # (S, d)

    def loss(model, batch):
        x, y = batch
        return jnp.mean(square(jax.vmap(model)(x), y))

    def evaluate(model, v, key):
        x, y = sample_cosine(v, key, config.eval_samples)
        residual = jax.vmap(model)(x) - y
        return {"r2": 1.0 - jnp.mean(residual**2) / jnp.var(y)}

    log = train(
        keys=derive_keys(NAME, arm, seeds),
        init=lambda key: one_hidden_layer_relu(key=key, in_size=d, width=config.width_factor * config.dim),
        loss=loss,
        optimizer=optax.adam(config.learning_rate),
        sample_batch=lambda v, key: sample_cosine(v, key, config.batch_size),
        evaluate=evaluate,
        data=targets,
        steps=config.capacity_steps if capacity else config.steps,
        eval_every=config.eval_every,
        progress=progress,
        label=arm,
        seeds_by="vmap",  # a step of this small network is mostly overhead: blocks of seeds are 2-3x faster
    )
    r2 = log.metrics["r2"]
    return ArmResults(steps=log.steps, curves={"r2": r2, "loss": log.loss},
                      final={"r2": tail_mean(r2, FINAL_FRACTION)}, diverged=log.diverged, wall_s=log.wall_s)


def capacity_arm(config: Config | dict) -> str:
    """The capacity control's name, from a config or a stored one."""
    get = config.get if isinstance(config, dict) else lambda name: getattr(config, name)
    return f"capacity-r{max(get('radii')):g}-d{get('capacity_dim')}"


@eqx.filter_jit
def _estimate(model: eqx.Module, key: jax.Array, r: jax.Array, n_targets: int, n_samples: int) -> jax.Array:
    d = model.in_size
    k_targets, k_a, k_b = jax.random.split(key, 3)
    v = random_directions(k_targets, n_targets, d, r)  # (H, d)
    grads = []
    for k in (k_a, k_b):
        x = jax.random.normal(k, (n_samples, d))  # (N, d)
        grads.append(target_gradients(model, x, jnp.cos(v @ x.T), square))  # (H, P)
    return split_sample_variance(*grads)


def variance_at(config: Config, d: int, r: float, seed: int) -> float:
    """Unbiased Var over v (||v|| = r) at the initialisation of seed's network for this d."""
    model = one_hidden_layer_relu(key=derive_key(NAME, f"variance-d{d}", seed), in_size=d,
                                  width=config.width_factor * d)
    key = derive_key(NAME, f"variance-d{d}-r{r:g}", seed)
    return float(_estimate(model, key, jnp.asarray(r, jnp.float32), config.variance_targets,
                           config.variance_samples))


def gradient_variance(config: Config, seeds: tuple[int, ...], progress: Progress) -> dict[str, np.ndarray]:
    radii = np.array(config.variance_radii, float)
    dims = np.array(config.variance_dims, int)
    points = [(config.dim, r) for r in (*radii, NULL_RADIUS)] + [(d, config.variance_fixed_radius) for d in dims]
    values = np.empty((len(seeds), len(points)))
    for j, (d, r) in enumerate(points):
        values[:, j] = [variance_at(config, int(d), float(r), s) for s in seeds]
        progress("gradient variance", j + 1, len(points))
    n_r = len(radii)
    return {"variance_radii": radii, "variance_by_radius": values[:, :n_r],
            "variance_null": values[:, n_r], "variance_dims": dims, "variance_by_dim": values[:, n_r + 1:]}


@register
class LinearPeriodic(Experiment):
    name = NAME
    catalogue = "A2"
    version = 5  # 5: seeds trained in vmapped blocks (engine.seed_block): numbers differ in rounding
    # 4: one model per core (engine layout): numbers differ in rounding; 3: d = 20, shares, capacity
    title = "Periodic functions of a linear map: the gradient hardly depends on the target"
    family = "gradient_failures"
    claims = (CLAIM_TRAINING, CLAIM_VARIANCE)
    Config = Config
    profiles = {
        "smoke": {"dim": 4, "radii": (1.0, 8.0), "steps": 200, "capacity_steps": 200, "eval_every": 100,
                  "eval_samples": 512,
                  "variance_radii": (1.0, 2.0, 4.0), "variance_dims": (2, 4), "variance_targets": 16,
                  "variance_samples": 512},
        "quick": {"steps": 20_000, "eval_every": 250, "variance_dims": (2, 4, 8, 16),
                  "variance_samples": 8_192},
        "paper": {},
    }
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "d = 4, 200 iterations, tiny variance estimates: checks the plumbing, not the claim",
        "quick": "d = 20, r in {1, 2, 4, 8}, 20,000 Adam iterations (the capacity control 50,000); "
                 "variance from 2 x 8,192 samples of x and 256 directions, d up to 16",
        "paper": "no experiment in the paper; our full setting: d = 20, 50,000 Adam iterations, 2 x 32,768 "
                 "samples of x, d up to 32",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        radii = sorted(config.radii)
        roles = {radii[0]: "control", radii[-1]: "failing"}
        what = {"control": "must be learned (positive control)", "failing": "said not to be learned",
                "sweep": "between control and failing arm: measured, not judged"}
        return tuple(Arm(f"adam-r{r:g}", roles.get(r, "sweep"),
                         f"Adam on cos(v*^T x), ||v*|| = {r:g}, d = {config.dim}: "
                         f"{what[roles.get(r, 'sweep')]}") for r in radii) + (
            Arm(capacity_arm(config), "control", f"the same network on ||v*|| = {radii[-1]:g} at d = "
                f"{config.capacity_dim}: must fit it (capacity control)"),)

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        arms = {f"adam-r{r:g}": train_radius(config, r, seeds, progress) for r in sorted(config.radii)}
        arms[capacity_arm(config)] = train_radius(config, max(config.radii), seeds, progress, capacity=True)
        diagnostics = gradient_variance(config, seeds, progress)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds,
                       arms=arms, diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_training(results), self._verdict_variance(results)]

    def _verdict_training(self, results: Results) -> Verdict:
        radii = sorted(results.config["radii"])
        final = {name: arm.final["r2"] for name, arm in results.arms.items()}
        failing, control = final[f"adam-r{radii[-1]:g}"], final[f"adam-r{radii[0]:g}"]
        main = self._r2(f"r={radii[-1]:g} final R^2", failing, at_most, FAILED_R2)
        most_fail = share_interval(np.where(np.isfinite(failing), failing >= LEARNED_R2, np.nan))
        share = describe(f"r={radii[-1]:g} share of seeds that learned (R^2 >= {LEARNED_R2})", most_fail,
                         at_most(most_fail, MOST), f"<= {MOST}")
        guards = [self._r2(f"r={radii[0]:g} (control) final R^2", control, at_least, LEARNED_R2),
                  self._r2(f"r={radii[-1]:g} at d={results.config['capacity_dim']} (capacity control) final R^2",
                           final[capacity_arm(results.config)], at_least, LEARNED_R2)]
        if len(radii) == 1:
            guards[0] = Check("control", guards[0].interval, UNSURE, "only one r was run: no control")
        learned = share_interval(np.where(np.isfinite(control), control >= LEARNED_R2, np.nan))
        notes = (note("control share", learned, f"r={radii[0]:g}: share of seeds that learned {learned}"),)
        rule = (f"reproduced if at the largest r the 95% interval of the final R^2 (mean of the last "
                f"{FINAL_FRACTION:.0%} of evaluations) is <= {FAILED_R2} and the exact (Clopper-Pearson) "
                f"interval of the share of seeds reaching R^2 >= {LEARNED_R2} is <= {MOST}, while the smallest "
                f"r and the capacity control (the largest r at d = {results.config['capacity_dim']}, same width) "
                f"reach R^2 intervals >= {LEARNED_R2}")
        return decide(claim_id=CLAIM_TRAINING.id, quantity=f"final test R^2 at r={radii[-1]:g}", rule=rule,
                      main=main, extra=(share,), controls=tuple(guards), notes=notes)

    @staticmethod
    def _r2(name: str, values: np.ndarray, judge, threshold: float) -> Check:
        iv = mean_interval(values, bounds=(-1.0, 1.0))
        sign = ">=" if judge is at_least else "<="
        return describe(name, iv, judge(iv, threshold), f"{sign} {threshold}")

    def _verdict_variance(self, results: Results) -> Verdict:
        diag = results.diagnostics
        by_r = diag["variance_by_radius"]  # (S, R)
        peak = int(np.argmax(by_r.mean(axis=0)))
        drop = mean_interval(by_r[:, -1] / by_r[:, peak])
        r_peak, r_max = diag["variance_radii"][peak], diag["variance_radii"][-1]
        main = describe(f"Var(r={r_max:g}) / Var(r={r_peak:g})", drop, at_most(drop, DROP), f"<= {DROP}")
        floor = mean_interval(np.abs(diag["variance_null"]))
        above = mean_interval(by_r[:, peak])
        resolved = describe(f"peak Var(r={r_peak:g})", above, at_least(above, 10 * floor.high),
                            f">= 10x the noise floor (|Var| at r={NULL_RADIUS:g}: {floor})")
        dims, by_d = diag["variance_dims"], diag["variance_by_dim"]
        exponent = mean_interval(np.polyfit(np.log(dims), np.log(np.abs(by_d)).T, 1)[0])
        info = note("d", exponent, f"at fixed r={results.config['variance_fixed_radius']:g}, Var scales as "
                    f"d^{exponent.estimate:.2f} over d={dims[0]}..{dims[-1]} (the bound's r-term does not "
                    f"shrink with d)")
        rule = (f"analytic check at the network's initialisation: reproduced if, at d={results.config['dim']}, "
                f"the variance at the largest r ({r_max:g}) is at most {DROP} of its peak over r (interval "
                f"of the per-seed ratio), the peak being resolved above 10x the estimator's noise floor; the "
                f"ratio is skewed over seeds, so at 5-8 seeds its interval may cover less than 95%")
        return decide(claim_id=CLAIM_VARIANCE.id, quantity=f"Var at r={r_max:g} relative to its peak over r",
                      rule=rule, main=main, extra=(resolved,), notes=(info,))

    def figures(self, results: Results) -> dict:
        return {CLAIM_TRAINING.id: self._figure_training(results),
                CLAIM_VARIANCE.id: self._figure_variance(results)}

    def _figure_training(self, results: Results):
        fig, (ax,) = new_figure(width=6.0)
        for color, r in zip(PALETTE, sorted(results.config["radii"])):
            arm = results.arms[f"adam-r{r:g}"]
            plot_band(ax, arm.steps, arm.curves["r2"], label=f"r = {r:g}", color=color, each_seed=True)
        capacity = results.arms[capacity_arm(results.config)]
        plot_band(ax, capacity.steps, capacity.curves["r2"], color="black",
                  label=f"r = {max(results.config['radii']):g}, d = {results.config['capacity_dim']} (capacity)")
        ax.axhline(0.0, color="grey", linestyle="--", linewidth=1, label="predicting the mean")
        ax.set(xlabel="Adam iteration", ylabel="test R² (fresh samples)", ylim=(-0.1, 1.02),
               title=f"cos(v*ᵀx), d = {results.config['dim']}: mean, 95% band and each of {len(results.seeds)} seeds")
        ax.legend(loc="center right")
        return fig

    def _figure_variance(self, results: Results):
        diag = results.diagnostics
        floor = float(np.mean(np.abs(diag["variance_null"])))
        fig, (ax_r, ax_d) = new_figure(2, width=4.6)
        for ax, x, values, label in (
            (ax_r, diag["variance_radii"], diag["variance_by_radius"], f"r (d = {results.config['dim']})"),
            (ax_d, diag["variance_dims"], diag["variance_by_dim"],
             f"d (r = {results.config['variance_fixed_radius']:g})"),
        ):
            plot_band(ax, x, np.maximum(values, floor / 10), label="Var over v, unbiased estimate",
                      color=PALETTE[0])
            ax.axhline(floor, color="grey", linestyle=":", label=f"noise floor (r = {NULL_RADIUS:g})")
            ax.set(yscale="log", xlabel=label, ylabel="gradient variance over targets")
        ax_d.set_xscale("log", base=2)
        ax_r.legend(loc="lower left")
        fig.suptitle("Theorem 2 at random initialisation: variance against r and d")
        return fig

"""A6 `flat-activations`: a piecewise-flat activation starves the gradient; a forward-only rule does not.

Claim (SSS17 §5, Fig. 7). The target is y = u(v*ᵀx + b*), where u rounds down to
the nearest of 55 known thresholds z_i. Its derivative is zero almost everywhere,
so the gradient carries no information. The usual work-arounds each pay:
  - a smooth approximation ũ learns slowly, sometimes not at all, and depends on
    where the bias starts;
  - an end-to-end MLP regressor and a multi-class network (one class per step)
    blur the step boundaries.
The forward-only rule w ← w − η E[(u(wᵀx) − y) x] replaces the backward message
through u by the identity (Kalai & Sastry's Isotron; Kakade et al. 2011). After
10,000 iterations (5,000 for forward-only) it is the most accurate, and it has
the cheapest test-time cost.

Source. Shalev-Shwartz, Shamir, Shammah, "Failures of Gradient-Based Deep
Learning", ICML 2017, §5, Fig. 7; Kalai & Sastry 2009; Kakade, Kalai, Kanade,
Shamir 2011.

Setting. x = g / d with g ~ N(0, I_d), d = 100 (the authors' code). Our choices,
since the text gives none:
  - the thresholds are z_i = i (i = 0..54), so u(r) = clip(floor(r), 0, 54);
  - v* = d·σ·v̂ with v̂ a uniform unit vector per seed, σ = 9, and b* = 27.5, so
    r = v*ᵀx + b* ~ N(27.5, 9²) covers the 55 steps;
  - every model reads the standardised input d·x = g, which only rescales its
    first layer.

Arms.
  - `approximation-b{b}`: single-index (w, b) trained through
    ũ(r) = z_0 + Σ_i (z_i − z_{i−1}) σ(c (r − z_i)) with c = 10, squared loss, SGD.
    There is one arm per bias start b (w starts at 0); the predictor is ũ. The
    start at the centre of the thresholds (27.5) is the control, which must learn;
    the others (0, −20) are the failing arms.
  - `end-to-end` (failing): three ReLU layers of 100 and a linear output,
    squared loss, Adam.
  - `multi-class` (failing): two ReLU layers of 100 and a 55-way softmax,
    cross-entropy, Adam; it predicts the z of the arg-max class.
  - `forward-only` (remedy): the same single index from w = 0, b = 0, updated by
    the forward-only rule through the engine's `grad_fn` with the same SGD step
    as the approximation. The two arms differ only in the backward message.

Diagnostic. Test squared error and step accuracy, each measured:
  - near the thresholds (r within 0.1 of one), and
  - far from them (more than 0.25 away).
Also: iterations to a fixed error, and the test-time cost of one prediction
(parameters, and FLOPs from XLA's cost analysis).
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
from deeplimits.engine import derive_key, derive_keys, train
from deeplimits.experiment import (Arm, ArmResults, Claim, Experiment, Falsification, Progress, Results, Verdict,
                                   no_progress)
from deeplimits.registry import register
from deeplimits.report.style import PALETTE, new_figure, plot_band
from deeplimits.stats import (Check, at_least, at_most, decide, describe, first_step_at_most, mean_interval, note,
                              tail_mean)

NAME = "flat-activations"
NEAR, FAR = 0.1, 0.25  # a test point is near a threshold when |r - z_i| < 0.1, far when > 0.25 from all
TARGET_ERROR = 0.1  # "training time to a fixed error": test squared error <= 0.1 (a tenth of a step²)
FAILED = 0.5  # an approximation run has failed when its final step accuracy is <= 0.5
LEARNED = 0.9  # ... and has learned when it is >= 0.9 (the control for the bias sensitivity)
BLUR = 0.2  # "blurred": step accuracy near the thresholds is >= 0.2 below that far from them
FAR_LEARNED = 0.8  # an MLP whose far-from-threshold accuracy is below this has not learned at all
FINAL_FRACTION = 0.1
ZOOM_POINTS = 2_000  # test points per seed whose predictions are kept for Fig. 7
ACCURACY = (0.0, 1.0)  # an accuracy's range: what a diverged seed could have scored

CLAIM_BEST = Claim(
    id="flat-forward-only-best",
    statement="The forward-only update (the backward message through u replaced by the identity) is "
              "the most accurate method: its test error is the lowest and its step accuracy the "
              "highest, with half the iterations of the others.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §5, Fig. 7",
    expected="After 10,000 iterations (5,000 for forward-only) forward-only is the most accurate, "
             "with the cheapest test-time cost.",
    budget=("iterations", "forward_only_iterations", "batch_size"),
    falsified_by=Falsification(
        why="stopped after 250 iterations, the forward-only rule has not yet converged while the other "
            "arms train for their whole budget",
        profile="quick", seeds=4, overrides={"forward_only_iterations": 250, "bias_starts": (27.5, 0.0),
                                             "test_points": 1_000}),
)
CLAIM_BIAS = Claim(
    id="flat-approximation-bias-sensitive",
    statement="Training through a smooth approximation of the step function is slow and sometimes "
              "fails, depending on where the bias starts.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §5",
    expected="Slow, sometimes fails, sensitive to the bias initialisation.",
    budget=("iterations", "batch_size"),
    falsified_by=Falsification(
        why="from bias starts 27.5 and 0 only (0 lies below every threshold but the sigmoids still "
            "reach it), every start learns",
        profile="quick", seeds=4, overrides={"bias_starts": (27.5, 0.0), "iterations": 2_000,
                                             "forward_only_iterations": 1_000, "test_points": 1_000}),
)
CLAIM_BLUR = Claim(
    id="flat-boundaries-blurred",
    statement="An end-to-end MLP regressor and a multi-class network blur the step boundaries.",
    source="Shalev-Shwartz, Shamir & Shammah 2017, §5, Fig. 7",
    expected="Both blur the boundaries between steps.",
    budget=("iterations", "batch_size"),
    falsified_by=Falsification(
        why="in one input dimension with σ = 0.5, the steps lie two standard units apart in the input and "
            "both networks draw them sharply",
        profile="quick", seeds=4, overrides={"dims": 1, "spread": 0.5, "iterations": 4_000,
                                             "forward_only_iterations": 2_000, "test_points": 2_000}),
)


@dataclass(frozen=True)
class Config:
    dims: int = param(100, "input dimension d", min=1, max=100_000)
    steps: int = param(55, "number of thresholds z_i = 0, 1, ..., steps-1", min=2, max=10_000)
    spread: float = param(9.0, "standard deviation σ of r = v*ᵀx + b*", min=0.01, max=1e6)
    offset: float = param(27.5, "b*, the mean of r", min=-1e6, max=1e6)
    sharpness: float = param(10.0, "c in the smooth approximation σ(c (r - z_i))", min=0.01, max=1e4)
    bias_starts: tuple[float, ...] = param((27.5, 0.0, -20.0), "initial biases of the approximation "
                                           "arm, one arm each; the first is the control", min=-1e6,
                                           max=1e6, min_len=2, distinct=True)
    iterations: int = param(10_000, "iterations of the approximation, end-to-end and multi-class "
                            "arms", min=1, max=10_000_000)
    forward_only_iterations: int = param(5_000, "iterations of the forward-only arm", min=1,
                                         max=10_000_000)
    eval_every: int = param(250, "iterations between test evaluations", min=1, max=10_000_000)
    batch_size: int = param(100, "examples per step", min=1, max=65_536)
    learning_rate: float = param(0.01, "SGD step of the approximation and forward-only arms", min=0.0,
                                 max=100.0)
    adam_learning_rate: float = param(1e-3, "Adam learning rate of the end-to-end and multi-class "
                                      "networks", min=0.0, max=10.0)
    width: int = param(100, "width of the hidden ReLU layers", min=1, max=100_000)
    test_points: int = param(10_000, "held-out points per seed", min=10, max=10_000_000)

    def __post_init__(self) -> None:
        for name in ("iterations", "forward_only_iterations"):
            if getattr(self, name) % self.eval_every:
                raise ConfigError(f"{name}={getattr(self, name)} is not a multiple of "
                                  f"eval_every={self.eval_every}")


# --- the target ------------------------------------------------------------------------------


def thresholds(config: Config) -> jax.Array:
    return jnp.arange(config.steps, dtype=jnp.float32)


def flat(r: jax.Array, z: jax.Array) -> jax.Array:
    """u: round down to the nearest threshold (z_0 below every threshold)."""
    return z[jnp.clip(jnp.searchsorted(z, r, side="right") - 1, 0, z.shape[0] - 1)]


def smooth(r: jax.Array, z: jax.Array, sharpness: float) -> jax.Array:
    """ũ(r) = z_0 + Σ_i (z_i − z_{i−1}) σ(c (r − z_i)), i = 1..55-1."""
    return z[0] + jnp.sum(jnp.diff(z) * jax.nn.sigmoid(sharpness * (r[..., None] - z[1:])), axis=-1)


def target_direction(config: Config, seed: int) -> jax.Array:
    """v̂: a uniform unit vector; v* = d σ v̂ acts on x = g / d, so r = σ v̂ᵀg + b*."""
    v = jax.random.normal(derive_key(NAME, "target", seed), (config.dims,))
    return v / jnp.linalg.norm(v)


def sample(direction: jax.Array, key: jax.Array, n: int, config: Config) -> tuple[jax.Array, ...]:
    """Standardised inputs g = d·x ``(n, d)``, their index r ``(n,)`` and labels y = u(r) ``(n,)``."""
    g = jax.random.normal(key, (n, direction.shape[0]))
    r = config.spread * g @ direction + config.offset
    return g, r, flat(r, thresholds(config))


def nearest_step(prediction: jax.Array, z: jax.Array) -> jax.Array:
    """The threshold value nearest to a prediction: the step it lands on."""
    return z[jnp.argmin(jnp.abs(prediction[..., None] - z), axis=-1)]


# --- models and update rules -------------------------------------------------------------


class SingleIndex(eqx.Module):
    """r̂ = wᵀg + b; the activation is applied by the loss or the rule."""

    weight: jax.Array
    bias: jax.Array

    def __call__(self, g: jax.Array) -> jax.Array:
        return g @ self.weight + self.bias


def forward_only_update(z: jax.Array):
    """The forward-only rule as a ``grad_fn``: (½ mean (u(r̂) − y)², E[(u(r̂) − y) (g, 1)])."""

    def grad_fn(model: SingleIndex, batch: tuple[jax.Array, ...]) -> tuple[jax.Array, SingleIndex]:
        g, _, y = batch
        residual = flat(model(g), z) - y
        direction = SingleIndex(weight=residual @ g / g.shape[0], bias=jnp.mean(residual))
        return 0.5 * jnp.mean(residual**2), direction

    return grad_fn


def approximation_loss(z: jax.Array, sharpness: float):
    def loss(model: SingleIndex, batch: tuple[jax.Array, ...]) -> jax.Array:
        g, _, y = batch
        return 0.5 * jnp.mean((smooth(model(g), z, sharpness) - y) ** 2)

    return loss


def regression_loss(model: eqx.nn.MLP, batch: tuple[jax.Array, ...]) -> jax.Array:
    g, _, y = batch
    return jnp.mean((jax.vmap(model)(g)[:, 0] - y) ** 2)


def classification_loss(model: eqx.nn.MLP, batch: tuple[jax.Array, ...]) -> jax.Array:
    g, _, y = batch  # the class of a step is its index, and z_i = i
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jax.vmap(model)(g), y.astype(jnp.int32)))


def predictors(config: Config):
    """How each kind of arm turns a model and standardised inputs into a prediction of y."""
    z = thresholds(config)
    return {
        "approximation": lambda m, g: smooth(m(g), z, config.sharpness),
        "forward-only": lambda m, g: flat(m(g), z),
        "end-to-end": lambda m, g: jax.vmap(m)(g)[:, 0],
        "multi-class": lambda m, g: z[jnp.argmax(jax.vmap(m)(g), axis=-1)],
    }


def kind_of(arm: str) -> str:
    return "approximation" if arm.startswith("approximation") else arm


def arm_names(config: Config) -> list[str]:
    return [f"approximation-b{b:g}" for b in config.bias_starts] + ["end-to-end", "multi-class",
                                                                     "forward-only"]


# --- training ------------------------------------------------------------------------------


def evaluate_with(predict, z: jax.Array):
    def evaluate(model, data, key):
        prediction = predict(model, data["g"])
        y, distance = data["y"], data["distance"]
        squared, right = (prediction - y) ** 2, nearest_step(prediction, z) == y
        near, far = distance < NEAR, distance > FAR
        return {
            "error": jnp.mean(squared), "step_accuracy": jnp.mean(right),
            "error_near": jnp.sum(jnp.where(near, squared, 0)) / jnp.sum(near),
            "error_far": jnp.sum(jnp.where(far, squared, 0)) / jnp.sum(far),
            "accuracy_near": jnp.sum(jnp.where(near, right, 0)) / jnp.sum(near),
            "accuracy_far": jnp.sum(jnp.where(far, right, 0)) / jnp.sum(far),
        }

    return evaluate


def setup(config: Config, arm: str):
    """(init, loss, grad_fn, optimizer, iterations) of an arm."""
    z, d, width = thresholds(config), config.dims, config.width
    sgd, adam = optax.sgd(config.learning_rate), optax.adam(config.adam_learning_rate)
    if arm.startswith("approximation"):
        start = config.bias_starts[arm_names(config).index(arm)]
        return (lambda key: SingleIndex(jnp.zeros(d), jnp.asarray(start, jnp.float32)),
                approximation_loss(z, config.sharpness), None, sgd, config.iterations)
    if arm == "forward-only":
        return (lambda key: SingleIndex(jnp.zeros(d), jnp.zeros(())), None, forward_only_update(z), sgd,
                config.forward_only_iterations)
    if arm == "end-to-end":
        return (lambda key: eqx.nn.MLP(d, 1, width, 3, key=key), regression_loss, None, adam,
                config.iterations)
    return (lambda key: eqx.nn.MLP(d, config.steps, width, 2, key=key), classification_loss, None, adam,
            config.iterations)


def train_arm(config: Config, arm: str, seeds: tuple[int, ...], data: dict, progress: Progress
              ) -> tuple[ArmResults, np.ndarray]:
    init, loss, grad_fn, optimizer, iterations = setup(config, arm)
    predict = predictors(config)[kind_of(arm)]
    log = train(
        keys=derive_keys(NAME, arm, seeds), init=init, loss=loss, grad_fn=grad_fn, optimizer=optimizer,
        sample_batch=lambda d, key: sample(d["direction"], key, config.batch_size, config),
        evaluate=evaluate_with(predict, thresholds(config)), data=data, steps=iterations,
        eval_every=config.eval_every, progress=progress, label=arm,
    )
    params, static = eqx.partition(log.models, eqx.is_array)
    zoom = np.stack([np.asarray(predict(eqx.combine(jax.tree.map(lambda leaf: leaf[i], params), static),
                                        data["g"][i, :ZOOM_POINTS]))
                     for i in range(len(seeds))])  # (S, ZOOM_POINTS): predictions for Fig. 7
    return ArmResults(steps=log.steps, curves=log.metrics,
                      final={k: tail_mean(v, FINAL_FRACTION) for k, v in log.metrics.items()},
                      diverged=log.diverged, wall_s=log.wall_s), zoom


def prediction_cost(config: Config, arm: str) -> tuple[int, float]:
    """Parameters of the trained predictor and FLOPs of one prediction (XLA's cost analysis)."""
    init, *_ = setup(config, arm)
    model = init(jax.random.key(0))
    params, static = eqx.partition(model, eqx.is_array)
    predict = predictors(config)[kind_of(arm)]
    one = jax.jit(lambda p, g: predict(eqx.combine(p, static), g[None])[0])
    flops = one.lower(params, jnp.zeros(config.dims)).cost_analysis()["flops"]
    return sum(leaf.size for leaf in jax.tree.leaves(params)), float(flops)


def iterations_to_target(arm: ArmResults) -> np.ndarray:
    """First evaluated iteration with test squared error <= TARGET_ERROR, per seed (NaN if never)."""
    return first_step_at_most(arm.steps, arm.curves["error"], TARGET_ERROR)


# --- the experiment ------------------------------------------------------------------------


@register
class FlatActivations(Experiment):
    name = NAME
    catalogue = "A6"
    version = 2  # 2: Student-t intervals, judged controls for every trained claim, notes apart from checks
    title = "Flat activations: no gradient through a step function; a forward-only rule"
    family = "gradient_failures"
    claims = (CLAIM_BEST, CLAIM_BIAS, CLAIM_BLUR)
    Config = Config
    profiles = {
        "smoke": {"dims": 10, "iterations": 200, "forward_only_iterations": 100, "eval_every": 50,
                  "width": 16, "test_points": 500},
        "quick": {"test_points": 4_000},
        "paper": {},
    }
    untrained = {"learning_rate": 0.0, "adam_learning_rate": 0.0}
    profile_notes = {
        "smoke": "d = 10, 200 iterations, width 16: checks the plumbing, not the claims",
        "quick": "the paper's settings (10,000 iterations, 5,000 for forward-only) on 4,000 instead "
                 "of 10,000 test points per seed",
        "paper": "the authors' settings where given: d = 100, x ~ N(0, I)/d, 55 thresholds, 10,000 "
                 "iterations (5,000 forward-only); thresholds, σ, b*, c, batch and step sizes are ours",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        first, *others = config.bias_starts
        out = [Arm(f"approximation-b{first:g}", "control", f"smooth approximation ũ, bias starting at {first:g}: "
                   f"must learn (the control for the sensitivity to the start)")]
        out += [Arm(f"approximation-b{b:g}", "failing", f"smooth approximation ũ, bias starting at {b:g}: "
                    f"said to be slow or to fail") for b in others]
        out += [Arm("end-to-end", "failing", "MLP regressor (3 ReLU layers): said to blur the steps"),
                Arm("multi-class", "failing", f"one class per step (2 ReLU layers, {config.steps}-way "
                    f"softmax): said to blur the steps"),
                Arm("forward-only", "remedy", f"the forward-only rule, {config.forward_only_iterations:,} "
                    f"iterations: said to be the most accurate")]
        return tuple(out)

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        directions = jnp.stack([target_direction(config, s) for s in seeds])
        tests = [sample(directions[i], derive_key(NAME, "test", s), config.test_points, config)
                 for i, s in enumerate(seeds)]
        r = jnp.stack([t[1] for t in tests])
        data = {"direction": directions, "g": jnp.stack([t[0] for t in tests]), "y": jnp.stack([t[2] for t in tests]),
                "distance": jnp.min(jnp.abs(r[..., None] - thresholds(config)[1:]), axis=-1)}
        arms, diagnostics = {}, {"zoom_r": np.asarray(r[:, :ZOOM_POINTS]),
                                  "zoom_y": np.asarray(data["y"][:, :ZOOM_POINTS])}
        names = arm_names(config)
        for arm in names:
            arms[arm], diagnostics[f"zoom_{arm}"] = train_arm(config, arm, seeds, data, progress)
        for arm in names:
            parameters, flops = prediction_cost(config, arm)
            diagnostics[f"parameters_{arm}"], diagnostics[f"flops_{arm}"] = np.array(parameters), np.array(flops)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds,
                       arms=arms, diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    # --- verdicts ----------------------------------------------------------------------------

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_best(results), self._verdict_bias(results), self._verdict_blur(results)]

    @staticmethod
    def _others(results: Results) -> list[str]:
        return [a for a in results.arms if a != "forward-only"]

    def _verdict_best(self, results: Results) -> Verdict:
        arms, others = results.arms, self._others(results)
        fo = arms["forward-only"].final
        error_margin = np.min([arms[a].final["error"] for a in others], axis=0) - fo["error"]  # (S,)
        accuracy_margin = fo["step_accuracy"] - np.max([arms[a].final["step_accuracy"] for a in others], axis=0)
        e, a = mean_interval(error_margin), mean_interval(accuracy_margin, bounds=(-1.0, 1.0))
        main = describe("lowest other test error minus forward-only's", e, at_least(e, 0.0), "> 0")
        extra = (describe("forward-only step accuracy minus the highest other", a, at_least(a, 0.0), "> 0"),)
        notes = []
        diag = results.diagnostics
        for name in arms:
            iterations = mean_interval(iterations_to_target(arms[name]))
            seen = f"{iterations}" if iterations.n else f"never within {int(arms[name].steps[-1]):,}"
            notes.append(note(f"{name} cost", iterations,
                              f"{name}: error {mean_interval(arms[name].final['error'])}, iterations to error "
                              f"<= {TARGET_ERROR}: {seen}, test-time {int(diag[f'parameters_{name}']):,} "
                              f"parameters and {float(diag[f'flops_{name}']):,.0f} FLOPs"))
        rule = (f"reproduced if, per seed, forward-only's final test squared error (mean of the last "
                f"{FINAL_FRACTION:.0%} of evaluations, after {results.config['forward_only_iterations']:,} "
                f"iterations) is below every other arm's (after {results.config['iterations']:,}) and its "
                f"step accuracy above every other's: both margins' intervals > 0; inconclusive unless the "
                f"others trained: the control start of the approximation reaches step accuracy >= {LEARNED} "
                f"and both networks >= {FAR_LEARNED} far from the thresholds")
        return decide(claim_id=CLAIM_BEST.id, quantity="lowest other arm's test error minus forward-only's",
                      rule=rule, main=main, extra=extra, controls=self._others_trained(results),
                      notes=tuple(notes))

    def _others_trained(self, results: Results) -> tuple[Check, ...]:
        """The arms forward-only is compared with did learn: a win over untrained arms proves nothing."""
        control_arm = f"approximation-b{results.config['bias_starts'][0]:g}"
        learned = mean_interval(results.arms[control_arm].final["step_accuracy"], bounds=ACCURACY)
        out = [describe(f"{control_arm} (control) step accuracy", learned, at_least(learned, LEARNED),
                        f">= {LEARNED}")]
        for arm in ("end-to-end", "multi-class"):
            far = mean_interval(results.arms[arm].final["accuracy_far"], bounds=ACCURACY)
            out.append(describe(f"{arm} step accuracy far from the thresholds", far, at_least(far, FAR_LEARNED),
                                f">= {FAR_LEARNED}"))
        return tuple(out)

    def _verdict_bias(self, results: Results) -> Verdict:
        starts = [f"approximation-b{b:g}" for b in results.config["bias_starts"]]
        others = starts[1:]
        worst = mean_interval(np.min([results.arms[a].final["step_accuracy"] for a in others], axis=0),
                              bounds=ACCURACY)
        main = describe("approximation step accuracy at its worst other bias start", worst,
                        at_most(worst, FAILED), f"<= {FAILED}")
        control = self._others_trained(results)[0]
        fo = mean_interval(iterations_to_target(results.arms["forward-only"]))
        notes = []
        for arm in starts:
            iv = mean_interval(iterations_to_target(results.arms[arm]))
            seen = f"{iv}" if iv.n else "never"
            notes.append(note(arm, iv, f"{arm}: iterations to error <= {TARGET_ERROR}: {seen} ({iv.n} of "
                              f"{len(results.seeds)} seeds got there; forward-only: {fo})"))
        first, *rest = results.config["bias_starts"]
        rule = (f"reproduced if, per seed, the approximation's final step accuracy at the worst of the bias "
                f"starts {', '.join(f'{b:g}' for b in rest)} is <= {FAILED}, while from {first:g} (the control: "
                f"the arm can learn) it is >= {LEARNED}")
        return decide(claim_id=CLAIM_BIAS.id, quantity="step accuracy of the approximation at its worst "
                      "bias start", rule=rule, main=main, controls=(control,), notes=tuple(notes))

    def _verdict_blur(self, results: Results) -> Verdict:
        checks = []
        for arm in ("end-to-end", "multi-class"):
            final = results.arms[arm].final
            gap = mean_interval(final["accuracy_far"] - final["accuracy_near"], bounds=(-1.0, 1.0))
            checks.append(describe(f"{arm} step accuracy far from minus near the thresholds", gap,
                                   at_least(gap, BLUR), f">= {BLUR}"))
        controls = list(self._others_trained(results)[1:])
        near = mean_interval(results.arms["forward-only"].final["accuracy_near"], bounds=ACCURACY)
        controls.append(describe("forward-only step accuracy near the thresholds", near,
                                 at_least(near, LEARNED), f">= {LEARNED}"))
        rule = (f"reproduced if, for both the end-to-end and the multi-class network, step accuracy far from "
                f"the thresholds (|r - z_i| > {FAR}) exceeds that near them (< {NEAR}) by >= {BLUR}, while "
                f"both have learned the steps far from the thresholds (>= {FAR_LEARNED}) and forward-only "
                f"gets the near points right (>= {LEARNED}): near points can be learned from these data")
        return decide(claim_id=CLAIM_BLUR.id, quantity="end-to-end step accuracy far minus near the thresholds",
                      rule=rule, main=checks[0], extra=tuple(checks[1:]), controls=tuple(controls))

    # --- figures -----------------------------------------------------------------------------

    def figures(self, results: Results) -> dict:
        return {CLAIM_BEST.id: self._figure_training(results), CLAIM_BIAS.id: self._figure_bias(results),
                CLAIM_BLUR.id: self._figure_zoom(results)}

    def _main_arms(self, results: Results) -> list[str]:
        control = f"approximation-b{results.config['bias_starts'][0]:g}"
        return [control, "end-to-end", "multi-class", "forward-only"]

    def _figure_training(self, results: Results):
        fig, axes = new_figure(2, width=5.4, height=3.9)
        for color, arm in zip(PALETTE, self._main_arms(results)):
            plot_band(axes[0], results.arms[arm].steps, results.arms[arm].curves["error"], label=arm, color=color)
            plot_band(axes[1], results.arms[arm].steps, results.arms[arm].curves["step_accuracy"], label=arm,
                      color=color)
        axes[0].axhline(TARGET_ERROR, color="grey", linestyle=":", linewidth=1, label=f"error {TARGET_ERROR}")
        axes[0].set(yscale="log", xlabel="iteration", ylabel="test squared error (steps²)",
                    title="Test error")
        axes[1].set(xlabel="iteration", ylabel="share of test points on the right step", ylim=(0, 1.02),
                    title="Step accuracy")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Flat activations (SSS17 §5): mean and 95% band over {len(results.seeds)} seeds; "
                     f"the approximation from its first bias start")
        return fig

    def _figure_bias(self, results: Results):
        fig, (ax,) = new_figure(width=6.0, height=4.0)
        starts = [a for a in results.arms if a.startswith("approximation")]
        for color, arm in zip(PALETTE, [*starts, "forward-only"]):
            plot_band(ax, results.arms[arm].steps, results.arms[arm].curves["error"], label=arm, color=color,
                      each_seed=True)
        ax.set(yscale="log", xlabel="iteration", ylabel="test squared error (steps²)",
               title="Smooth approximation from each bias start, and forward-only")
        ax.legend(fontsize=7)
        return fig

    def _figure_zoom(self, results: Results):
        diag, config = results.diagnostics, results.config
        r, y = diag["zoom_r"][0], diag["zoom_y"][0]
        window = np.abs(r - config["offset"]) <= 3.0  # six steps around the mean of r
        order = np.argsort(r[window])
        fig, axes = new_figure(4, width=3.4, height=3.2)
        for ax, color, arm in zip(axes, PALETTE, self._main_arms(results)):
            ax.plot(r[window][order], y[window][order], color="black", linestyle="--", linewidth=1.2,
                    label="label u(r)")
            ax.scatter(r[window], diag[f"zoom_{arm}"][0][window], s=4, color=color, label="prediction")
            ax.set(title=arm, xlabel="r = v*ᵀx + b*", ylabel="predicted y")
            for z in np.arange(np.ceil(config["offset"] - 3), config["offset"] + 3):
                ax.axvline(z, color="grey", linewidth=0.4, alpha=0.6)
        axes[0].legend(fontsize=7, loc="upper left")
        fig.suptitle(f"Predictions against r near its mean (SSS17 Fig. 7), seed {results.seeds[0]}: "
                     f"thresholds in grey")
        return fig

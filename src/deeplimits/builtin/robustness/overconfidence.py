"""C10 `overconfidence`: high confidence is not correctness.

Claims (Zhihu answers; Guo et al. 2017; Lakshminarayanan et al. 2017).
`overconfidence-miscalibrated`: a trained network's softmax confidence overstates
its accuracy in distribution (expected calibration error, 15 equal-width bins, as
Guo et al.); remedy: temperature scaling fitted on the validation split.
`overconfidence-out-of-distribution`: on inputs unlike any training image (uniform
noise; inverted digits) its mean largest softmax probability stays high while its
accuracy there is low; remedy: a deep ensemble (mean of the softmax of
``ensemble_size`` networks trained from different initialisations), scored by the
AUROC of telling test digits from those inputs by confidence.

Setting. scikit-learn's 8x8 digits (``deeplimits.data.digits``), the small CNN of
``engine.classify`` trained with Adam on minibatches; its test split has 360
images, so the ECE of one network is noisy and biased upwards (a calibrated
classifier scores about 1% on so few examples). The judged quantity is therefore
the ECE minus that of a calibrated classifier with the same confidences on the same
examples (``diagnostics.calibration.excess_ece_interval``), with an interval from a
bootstrap over seeds and test examples. Small nets on small data may be well
calibrated; then the verdict says not_reproduced.

Arms. `cnn` (failing): one network per seed. `cnn-temperature` (remedy, claim 1):
the same networks with their logits divided by T fitted on the validation split.
`ensemble` (remedy, claim 2): per seed, ``ensemble_size`` networks of their own.
Control: the networks must learn (test accuracy >= 0.9).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import optax
from sklearn.metrics import roc_auc_score

from deeplimits.config import param, to_dict
from deeplimits.data import load_digits
from deeplimits.diagnostics import brier_score, excess_ece_interval, fit_temperature, negative_log_likelihood, softmax
from deeplimits.engine import derive_keys, numpy_rng, seed_models
from deeplimits.engine.classify import ModelFactory, digits_cnn, fit_classifier, logits_of_one
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
from deeplimits.report.style import PALETTE, new_figure, plot_interval_bars
from deeplimits.stats import FAIL, PASS, Check, at_least, at_most, decide, describe, mean_interval, note

NAME = "overconfidence"
EXCESS_ECE_MIN = 0.005  # miscalibrated: ECE at least half a point above a calibrated classifier's
CONFIDENT = 0.5  # "high" confidence: half the probability on one class (uniform is 0.1)
LOW_ACCURACY = 0.5  # accuracy on inverted digits "low": at most one half
LEARNED = 0.9
ACCURACY = (0.0, 1.0)
RELIABILITY_BINS = 15
OOD_SETS = ("noise", "inverted")

_LABEL_SMOOTHING_FLIP = Falsification(
    why="with label smoothing 0.9 the network is trained towards 19% on the true class: its confidence is low "
        "everywhere, below its accuracy in distribution and below 0.5 out of it, so neither claim can hold",
    profile="smoke", seeds=4, overrides={"label_smoothing": 0.9, "steps": 600})
CLAIM_CALIBRATION = Claim(
    id="overconfidence-miscalibrated",
    statement="In distribution, a trained CNN's confidence overstates its accuracy: its expected calibration error "
              "(15 bins) is above that of a calibrated classifier; temperature scaling reduces it.",
    source="Zhihu answers; Guo et al. 2017, Table 1",
    expected="Guo et al. 2017 Table 1: LeNet-5 on MNIST ECE 3.02% -> 0.93% after temperature scaling; ResNet-110 "
             "on CIFAR-100 16.53% -> 1.26%.",
    budget=("steps",),
    falsified_by=_LABEL_SMOOTHING_FLIP,
)
CLAIM_OOD = Claim(
    id="overconfidence-out-of-distribution",
    statement="On uniform noise and on inverted digits a trained CNN's mean largest softmax probability stays "
              "high (>= 0.5) while its accuracy on inverted digits is low; a deep ensemble separates them better.",
    source="Zhihu answers; Lakshminarayanan et al. 2017",
    expected="Lakshminarayanan et al. 2017: ensembles of 5 networks are less confident out of distribution than "
             "one network (MNIST-trained nets tested on NotMNIST); no numbers for 8x8 digits.",
    budget=("steps",),
    falsified_by=_LABEL_SMOOTHING_FLIP,
)


@dataclass(frozen=True)
class Config:
    steps: int = param(3_000, "Adam steps per network", min=1, max=1_000_000)
    batch_size: int = param(64, "images per step", min=1, max=4_096)
    learning_rate: float = param(1e-3, "Adam learning rate", min=0.0, max=1.0)
    eval_every: int = param(250, "steps between evaluations on the test split", min=1, max=1_000_000)
    label_smoothing: float = param(0.0, "label smoothing of the training targets (0: plain cross-entropy)",
                                   min=0.0, max=1.0)
    ensemble_size: int = param(5, "networks per deep ensemble (Lakshminarayanan et al.: 5)", min=2, max=64)
    noise_images: int = param(360, "uniform-noise images per seed (as many as test digits)", min=10,
                              max=100_000)


def train_networks(config: Config, arm: str, seeds: tuple[int, ...], progress: Progress = no_progress, *,
                   model: ModelFactory = digits_cnn, optimizer: optax.GradientTransformation | None = None):
    """Train one network per entry of ``seeds`` with ``model`` and ``optimizer`` (default Adam); the log."""
    digits = load_digits()
    return fit_classifier(
        keys=derive_keys(NAME, arm, seeds), model=model, optimizer=optimizer or optax.adam(config.learning_rate),
        x=digits.x_train, y=digits.y_train, eval_sets={"test": (digits.x_test, digits.y_test)},
        label_smoothing=config.label_smoothing, steps=config.steps, batch_size=config.batch_size,
        eval_every=min(config.eval_every, config.steps), progress=progress, label=arm)


def noise_images(config: Config, seed: int) -> np.ndarray:
    return numpy_rng(NAME, "noise", seed).random((config.noise_images, 8, 8), dtype=np.float32)


def _auroc(in_confidence: np.ndarray, out_confidence: np.ndarray) -> float:
    """How well confidence tells test digits (positive) from out-of-distribution inputs."""
    labels = np.r_[np.ones(in_confidence.size), np.zeros(out_confidence.size)]
    return float(roc_auc_score(labels, np.r_[in_confidence, out_confidence]))


def measure(probabilities: dict[str, np.ndarray], labels: np.ndarray, logits: np.ndarray | None = None
            ) -> dict[str, float]:
    """Per-network numbers from its probabilities on ``test``, ``noise`` and ``inverted``."""
    test = probabilities["test"]
    confidence, correct = test.max(axis=1), test.argmax(axis=1) == labels
    out = {"accuracy": correct.mean(), "confidence": confidence.mean(), "brier": brier_score(test, labels),
           "nll": (negative_log_likelihood(logits, labels) if logits is not None
                   else float(-np.mean(np.log(np.maximum(test[np.arange(labels.size), labels], 1e-30)))))}
    for name in OOD_SETS:
        out[f"confidence/{name}"] = probabilities[name].max(axis=1).mean()
        out[f"auroc/{name}"] = _auroc(confidence, probabilities[name].max(axis=1))
    out["accuracy/inverted"] = (probabilities["inverted"].argmax(axis=1) == labels).mean()
    return out


@register
class Overconfidence(Experiment):
    name = NAME
    catalogue = "C10"
    version = 1
    title = "High confidence is not correctness"
    family = "robustness"
    claims = (CLAIM_CALIBRATION, CLAIM_OOD)
    Config = Config
    profiles = {
        "smoke": {"steps": 200, "eval_every": 100, "ensemble_size": 2, "noise_images": 60},
        "quick": {"steps": 1_000},
        "paper": {},
    }
    default_seeds = {"smoke": 2, "quick": 5, "paper": 8}
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "200 steps, ensembles of 2: checks the plumbing, not the claims",
        "quick": "1,000 Adam steps of 64 images (about 60 passes over the training digits); ensembles of 5",
        "paper": "our setting (the sources use MNIST/CIFAR and larger nets): 3,000 Adam steps of 64 images, lr 1e-3, "
                 "ensembles of 5 (Lakshminarayanan et al.)",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        return (Arm("cnn", "failing", "one CNN per seed: its softmax confidence in and out of distribution"),
                Arm("self-labelled", "control", "the CNN's test predictions scored against labels drawn from its own "
                                                "probabilities: calibrated by construction, so the measure must not "
                                                "call it miscalibrated"),
                Arm("cnn-temperature", "remedy", "the same CNNs, logits divided by T fitted on the validation split"),
                Arm("ensemble", "remedy", f"per seed, a deep ensemble of {config.ensemble_size} CNNs of its own"))

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        digits = load_digits()
        m = config.ensemble_size
        log = train_networks(config, "cnn", seeds, progress)
        members = train_networks(config, "ensemble", tuple(seed * m + k for seed in seeds for k in range(m)),
                                 progress)
        nets, member_nets = seed_models(log.models, len(seeds)), seed_models(members.models, len(seeds) * m)
        rows: dict[str, list[dict[str, float]]] = {"cnn": [], "cnn-temperature": [], "ensemble": []}
        test_probabilities: dict[str, list[np.ndarray]] = {name: [] for name in rows}
        temperatures = []
        for i, seed in enumerate(seeds):
            inputs = {"test": digits.x_test, "noise": noise_images(config, seed), "inverted": 1.0 - digits.x_test}
            logits = {name: logits_of_one(nets[i], x) for name, x in inputs.items()}
            temperatures.append(fit_temperature(logits_of_one(nets[i], digits.x_val), digits.y_val))
            ensemble = {name: np.mean([softmax(logits_of_one(net, x)) for net in member_nets[i * m:(i + 1) * m]],
                                      axis=0) for name, x in inputs.items()}
            for arm, probabilities, test_logits in (
                    ("cnn", {k: softmax(v) for k, v in logits.items()}, logits["test"]),
                    ("cnn-temperature", {k: softmax(v / temperatures[-1]) for k, v in logits.items()},
                     logits["test"] / temperatures[-1]),
                    ("ensemble", ensemble, None)):
                rows[arm].append(measure(probabilities, digits.y_test, test_logits))
                test_probabilities[arm].append(probabilities["test"])
        arms, diagnostics = {}, {}
        for arm, arm_rows in rows.items():
            trained = members if arm == "ensemble" else log
            diverged = trained.diverged.reshape(len(seeds), -1).any(axis=1)
            curves = {"accuracy": trained.metrics["accuracy/test"][::m if arm == "ensemble" else 1],
                      "loss": trained.loss[::m if arm == "ensemble" else 1]}
            arms[arm] = ArmResults(steps=trained.steps, curves=curves,
                                   final={k: np.array([r[k] for r in arm_rows]) for k in arm_rows[0]},
                                   diverged=diverged, wall_s=trained.wall_s if arm != "cnn-temperature" else 0.0)
            p = np.stack(test_probabilities[arm])  # (S, N, 10)
            diagnostics[f"confidence/{arm}"] = p.max(axis=2)  # (S, N)
            diagnostics[f"correct/{arm}"] = (p.argmax(axis=2) == digits.y_test).astype(np.float64)  # (S, N)
        arms["cnn-temperature"].final["temperature"] = np.array(temperatures)
        # the control: labels drawn from each network's own probabilities (a calibrated classifier by construction)
        p = np.stack(test_probabilities["cnn"])  # (S, N, 10)
        drawn = np.stack([[numpy_rng(NAME, "self-labelled", seed).choice(10, p=row / row.sum()) for row in p[i]]
                          for i, seed in enumerate(seeds)])  # (S, N)
        diagnostics["confidence/self-labelled"] = diagnostics["confidence/cnn"]
        diagnostics["correct/self-labelled"] = (p.argmax(axis=2) == drawn).astype(np.float64)
        arms["self-labelled"] = ArmResults(steps=np.array([config.steps]), curves={},
                                           final={"accuracy": diagnostics["correct/self-labelled"].mean(axis=1)},
                                           diverged=arms["cnn"].diverged, wall_s=0.0)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds, arms=arms,
                       diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_calibration(results), self._verdict_ood(results)]

    @staticmethod
    def _learned(results: Results) -> Check:
        iv = mean_interval(results.arms["cnn"].final["accuracy"], bounds=ACCURACY)
        return describe("CNN test accuracy (control)", iv, at_least(iv, LEARNED), f">= {LEARNED}")

    def _verdict_calibration(self, results: Results) -> Verdict:
        diag, cnn = results.diagnostics, results.arms["cnn"].final
        excess, raw = excess_ece_interval(diag["confidence/cnn"], diag["correct/cnn"])
        main = describe("ECE above a calibrated classifier's", excess, at_least(excess, EXCESS_ECE_MIN),
                        f">= {EXCESS_ECE_MIN}")
        gap = mean_interval(cnn["confidence"] - cnn["accuracy"])
        over = describe("mean confidence minus accuracy", gap, at_least(gap, 0.0), ">= 0 (overconfident)")
        scaled_excess, scaled_raw = excess_ece_interval(diag["confidence/cnn-temperature"],
                                                        diag["correct/cnn-temperature"])
        t = mean_interval(results.arms["cnn-temperature"].final["temperature"])
        scaled = results.arms["cnn-temperature"].final
        notes = (note("ECE", raw, f"ECE (15 bins) {raw} (Guo et al. 2017, LeNet-5 on MNIST: 3.02%)"),
                 note("ECE after temperature scaling", scaled_raw,
                      f"after temperature scaling (T {t}): ECE {scaled_raw}, above a calibrated classifier's "
                      f"{scaled_excess} (Guo et al.: 0.93%)"),
                 *(note(k, iv := mean_interval(cnn[k]), f"{k.upper()} {iv} -> "
                        f"{mean_interval(scaled[k])} after temperature scaling") for k in ("nll", "brier")))
        rule = (f"reproduced if the 95% interval (bootstrap over seeds and test examples) of the ECE (15 equal-width "
                f"bins) minus the ECE a calibrated classifier with the same confidences shows on the same examples "
                f"is >= {EXCESS_ECE_MIN}, and the interval of mean confidence minus accuracy is >= 0 (the error is "
                f"overconfidence), while the CNN learns (test accuracy >= {LEARNED}) and the same measure does not "
                f"find the self-labelled control (labels drawn from the CNN's own probabilities) miscalibrated")
        self_excess, _ = excess_ece_interval(diag["confidence/self-labelled"], diag["correct/self-labelled"])
        found = at_least(self_excess, EXCESS_ECE_MIN) == PASS
        control = Check("self-labelled control", self_excess, FAIL if found else PASS,
                        f"self-labelled control (calibrated by construction): ECE above a calibrated classifier's "
                        f"{self_excess} {'is' if found else 'is not'} found >= {EXCESS_ECE_MIN} (the measure must not "
                        f"find miscalibration there)")
        return decide(claim_id=CLAIM_CALIBRATION.id, quantity="ECE minus a calibrated classifier's ECE",
                      rule=rule, main=main, extra=(over,), controls=(self._learned(results), control), notes=notes)

    def _verdict_ood(self, results: Results) -> Verdict:
        cnn, ensemble = results.arms["cnn"].final, results.arms["ensemble"].final
        noise = mean_interval(cnn["confidence/noise"], bounds=ACCURACY)
        main = describe("mean confidence on uniform noise", noise, at_least(noise, CONFIDENT), f">= {CONFIDENT}")
        inverted = mean_interval(cnn["confidence/inverted"], bounds=ACCURACY)
        accuracy = mean_interval(cnn["accuracy/inverted"], bounds=ACCURACY)
        extra = (describe("mean confidence on inverted digits", inverted, at_least(inverted, CONFIDENT),
                          f">= {CONFIDENT}"),
                 describe("accuracy on inverted digits", accuracy, at_most(accuracy, LOW_ACCURACY),
                          f"<= {LOW_ACCURACY}"))
        def unit(values):  # AUROC and confidence lie in [0, 1]
            return mean_interval(values, bounds=ACCURACY)

        notes = tuple(note(f"AUROC {name}", unit(cnn[f"auroc/{name}"]),
                           f"AUROC test digits vs {name} by confidence: one CNN {unit(cnn[f'auroc/{name}'])}, "
                           f"ensemble of {results.config['ensemble_size']} {unit(ensemble[f'auroc/{name}'])}; "
                           f"mean confidence on {name}: ensemble {unit(ensemble[f'confidence/{name}'])}")
                      for name in OOD_SETS)
        rule = (f"reproduced if the 95% intervals of the CNN's mean largest softmax probability on uniform noise and "
                f"on inverted digits are >= {CONFIDENT} and its accuracy on inverted digits is <= {LOW_ACCURACY}, "
                f"while it learns (test accuracy >= {LEARNED}); the ensemble's AUROC is shown, not judged")
        return decide(claim_id=CLAIM_OOD.id, quantity="mean largest softmax probability on uniform noise",
                      rule=rule, main=main, extra=extra, controls=(self._learned(results),), notes=notes)

    def figures(self, results: Results) -> dict:
        return {CLAIM_CALIBRATION.id: self._figure_reliability(results), CLAIM_OOD.id: self._figure_ood(results)}

    def _figure_reliability(self, results: Results):
        fig, (ax,) = new_figure(width=5.0)
        edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
        for color, arm in zip(PALETTE, ("cnn", "cnn-temperature", "ensemble")):
            confidence = results.diagnostics[f"confidence/{arm}"].ravel()
            correct = results.diagnostics[f"correct/{arm}"].ravel()
            index = np.clip(np.ceil(confidence * RELIABILITY_BINS).astype(int) - 1, 0, RELIABILITY_BINS - 1)
            count = np.bincount(index, minlength=RELIABILITY_BINS)
            used = count > 0
            accuracy = np.bincount(index, correct, RELIABILITY_BINS)[used] / count[used]
            mean_conf = np.bincount(index, confidence, RELIABILITY_BINS)[used] / count[used]
            ax.plot(mean_conf, accuracy, "o-", color=color, markersize=3,
                    label=f"{arm} ({count[used].max()} of {count.sum()} in the top bin)" if arm == "cnn" else arm)
        ax.set(xlabel="confidence (largest softmax probability), 15 bins", ylabel="accuracy in the bin",
               xlim=(edges[0], 1.01), ylim=(0, 1.02),
               title=f"Reliability diagram, test digits, {len(results.seeds)} seeds pooled")
        ax.legend(loc="upper left", fontsize=8)
        return fig

    def _figure_ood(self, results: Results):
        fig, (ax,) = new_figure(width=6.0)
        groups = ["test digits", "uniform noise", "inverted digits"]
        keys = ("confidence", "confidence/noise", "confidence/inverted")
        plot_interval_bars(ax, groups, {f"{arm} mean confidence": [results.arms[arm].final[k] for k in keys]
                                        for arm in ("cnn", "ensemble")})
        ax.plot([2], [results.arms["cnn"].final["accuracy/inverted"].mean()], "kx", label="CNN accuracy (inverted)")
        ax.axhline(0.1, color="grey", linestyle="--", linewidth=1, label="uniform (0.1)")
        ax.set(xlabel="inputs", ylabel="mean largest softmax probability", ylim=(0, 1.05),
               title="Confidence in and out of distribution (95% intervals over seeds)")
        ax.legend(loc="lower left", fontsize=8)
        return fig

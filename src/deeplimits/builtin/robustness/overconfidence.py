"""C10 `overconfidence`: high confidence is not correctness.

Claims (Zhihu answers; Guo et al. 2017; Lakshminarayanan et al. 2017).
`overconfidence-miscalibrated`: a trained network's softmax confidence overstates
its accuracy in distribution (mean largest softmax probability above accuracy);
remedy: temperature scaling fitted on a validation split, which must reduce the
overstatement. `overconfidence-out-of-distribution`: on inputs unlike any training
image (uniform noise; inverted digits) its mean largest softmax probability stays
high while its accuracy there is low; remedy: a deep ensemble (mean of the softmax
of ``ensemble_size`` networks trained from different initialisations), which must
tell test digits from those inputs by confidence better (AUROC) than one network.

Setting. scikit-learn's 8x8 digits (``deeplimits.data.digits``), the small CNN of
``engine.classify`` trained with Adam on minibatches. Calibration is measured on
cross-validated predictions of all 1,797 digits (``folds`` = 5: each digit predicted
once by a network that never saw it, the temperature fitted on a fold of the
network's own training data), since the fixed test split's 360 digits leave an
interval of about +-1.3 points on the gap. Every interval of a per-image quantity is
two-way (``stats.resampled_interval``: a bootstrap over the images plus a jackknife
over the seeds, with Student's t), so it carries the images' sampling error as well as
the seeds'.

Measures. Judged: the mean confidence minus accuracy, a linear statistic whose
interval can decide an error of a point or two. Shown: the plug-in ECE (15
equal-width bins, as Guo et al.; biased upwards on a few hundred predictions) and
Kumar et al. 2019's debiased squared ECE (``diagnostics.debiased_squared_ece``,
unbiased for the binned squared error; its interval, a grouped jackknife over images
plus the seeds' spread, cannot decide an error of 3 points on these digits, which
its own power check shows). Version 1 judged the ECE minus a calibrated reference's,
which is biased low (it subtracts E|Z| from E|mu + Z| <= |mu| + E|Z|).

Arms. `cnn` (failing): one network per seed and fold. `cnn-temperature` (remedy,
claim 1): the same networks with their logits divided by T. `ensemble` (remedy,
claim 2): per seed, ``ensemble_size`` networks of their own on the fixed split.
Controls: the networks must learn (test accuracy >= 0.9); a power check
(`shifted-labels`: the CNN's confidences with labels drawn correct with probability
confidence - ``POWER_SHIFT``, an overconfidence of known size, 3 points as Guo et al.'s
LeNet-5's ECE) in which the measure must find it, and a null
(`calibrated-labels`: labels drawn correct with probability confidence) in which it
must not.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import optax
from sklearn.metrics import roc_auc_score

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.data import load_digits
from deeplimits.diagnostics import (
    brier_score,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    squared_ece_interval,
)
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
from deeplimits.stats import (
    FAIL,
    PASS,
    Check,
    Interval,
    at_least,
    at_most,
    decide,
    describe,
    mean_interval,
    note,
    resampled_interval,
)

NAME = "overconfidence"
# The power check's injected overconfidence: accuracy 3 points below confidence, the size Guo et al. report for
# LeNet-5 on MNIST (ECE 3.02%). 1 point, the review's +1.2 on the fixed split, is not found in the falsifying
# setting (label smoothing: confidences near 0.2, where each label varies most), so a failed power check would
# hide a decisive refutation; what size the interval could decide is a note (about 2.8 standard errors).
POWER_SHIFT = 0.03
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
    statement="In distribution, a trained CNN's confidence overstates its accuracy (its mean largest softmax "
              "probability exceeds its accuracy on test digits); temperature scaling reduces the overstatement.",
    source="Zhihu answers; Guo et al. 2017, Table 1",
    expected="Guo et al. 2017 Table 1: LeNet-5 on MNIST ECE 3.02% -> 0.93% after temperature scaling; ResNet-110 "
             "on CIFAR-100 16.53% -> 1.26%.",
    budget=("steps",),
    falsified_by=_LABEL_SMOOTHING_FLIP,
)
CLAIM_OOD = Claim(
    id="overconfidence-out-of-distribution",
    statement="On uniform noise and on inverted digits a trained CNN's mean largest softmax probability stays "
              "high (>= 0.5) while its accuracy on inverted digits is low; a deep ensemble tells test digits from "
              "both by confidence better (a higher AUROC) than one network.",
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
    folds: int = param(5, "cross-validated predictions for calibration: 5 (every digit predicted once by a "
                              "network that never saw it) or 1 (the fixed test split)", min=1, max=5)
    noise_images: int = param(360, "uniform-noise images per seed (as many as test digits)", min=10,
                              max=100_000)

    def __post_init__(self) -> None:
        if self.folds not in (1, 5):
            raise ConfigError(f"folds={self.folds}: expected 1 (the fixed split) or 5 (cross-validated predictions)")


def fold_splits(folds: int) -> list[dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The splits of cross-validated predictions: ``train``, ``val``, ``test`` images and labels per fold.

    Fold 0 is the fixed split of ``deeplimits.data.digits``. With 5 folds the test split, the validation split
    and three stratified thirds of the training split take turns: fold k is tested on part k, fits its
    temperature on part k + 1 and trains on the other three (cut to the training split's 1,077 images, so every
    fold trains one compiled program), and every digit is predicted once by a network that never saw it."""
    from sklearn.model_selection import StratifiedKFold

    digits = load_digits()
    fixed = {"train": (digits.x_train, digits.y_train), "val": (digits.x_val, digits.y_val),
             "test": (digits.x_test, digits.y_test)}
    if folds == 1:
        return [fixed]
    thirds = StratifiedKFold(3, shuffle=True, random_state=0).split(digits.x_train, digits.y_train)
    parts = [fixed["test"], fixed["val"], *((digits.x_train[i], digits.y_train[i]) for _, i in thirds)]
    splits = [fixed]
    for k in range(1, folds):
        rest = [parts[j] for j in range(folds) if j not in (k, (k + 1) % folds)]
        x, y = (np.concatenate(a)[:len(digits.x_train)] for a in zip(*rest))
        splits.append({"train": (x, y), "val": parts[(k + 1) % folds], "test": parts[k]})
    return splits


def train_networks(config: Config, arm: str, seeds: tuple[int, ...], progress: Progress = no_progress, *,
                   model: ModelFactory = digits_cnn, optimizer: optax.GradientTransformation | None = None,
                   split: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
    """Train one network per entry of ``seeds`` with ``model`` and ``optimizer`` (default Adam) on ``split``'s
    training images (default: the fixed split's); the log (its curves on the fixed test split)."""
    digits = load_digits()
    x, y = (split or fold_splits(1)[0])["train"]
    return fit_classifier(
        keys=derive_keys(NAME, arm, seeds), model=model, optimizer=optimizer or optax.adam(config.learning_rate),
        x=x, y=y, eval_sets={"test": (digits.x_test, digits.y_test)},
        label_smoothing=config.label_smoothing, steps=config.steps, batch_size=config.batch_size,
        eval_every=min(config.eval_every, config.steps), progress=progress, label=arm)


def noise_images(config: Config, seed: int) -> np.ndarray:
    return numpy_rng(NAME, "noise", seed).random((config.noise_images, 8, 8), dtype=np.float32)


def pooled_mean(values: np.ndarray, bounds: tuple[float, float] | None = None) -> Interval:
    """Mean of per-image values ``(S, N)`` over seeds and images, with the two-way interval over both."""
    iv = resampled_interval(values.shape[1], lambda seeds, items: float(values[seeds][:, items].mean()),
                            n_seeds=values.shape[0])
    if bounds is None or np.isnan(iv.low):
        return iv
    return dataclasses.replace(iv, low=max(iv.low, bounds[0]), high=min(iv.high, bounds[1]),
                               worst_low=max(iv.low, bounds[0]), worst_high=min(iv.high, bounds[1]))


def statistic_of(confidence: np.ndarray, correct: np.ndarray, statistic) -> Interval:
    """``statistic(confidence, correct)`` per seed, averaged, with the two-way interval: ``(S, N), (S, N)``."""
    return resampled_interval(confidence.shape[1], lambda seeds, items: float(np.mean(
        [statistic(confidence[s, items], correct[s, items]) for s in seeds])), n_seeds=confidence.shape[0],
        n_resamples=500)


def _root(iv: Interval) -> str:
    """A squared error's interval read as its square root (negative ends, possible for a debiased estimate, as 0)."""
    low, estimate, high = (np.sqrt(max(v, 0.0)) for v in (iv.low, iv.estimate, iv.high))
    return f"{estimate:.4g} [{low:.4g}, {high:.4g}]"


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
    # 3: two-way intervals a bootstrap over images plus a jackknife over seeds, with Student's t (the two-way
    # percentile bootstrap covered 74% at 4 seeds where the seeds' spread dominates)
    # 2: the debiased squared ECE, a power check and a null, two-way intervals, remedies judged
    version = 3
    title = "High confidence is not correctness"
    family = "robustness"
    claims = (CLAIM_CALIBRATION, CLAIM_OOD)
    Config = Config
    profiles = {
        "smoke": {"steps": 200, "eval_every": 100, "ensemble_size": 2, "noise_images": 60},
        "quick": {"steps": 1_000},
        "paper": {},
    }
    default_seeds = {"smoke": 2, "quick": 4, "paper": 8}
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "200 steps, ensembles of 2: checks the plumbing, not the claims",
        "quick": "1,000 Adam steps of 64 images (about 60 passes over the training digits); ensembles of 5; "
                 "calibration on all 1,797 digits from 5 folds",
        "paper": "our setting (the sources use MNIST/CIFAR and larger nets): 3,000 Adam steps of 64 images, lr 1e-3, "
                 "ensembles of 5 (Lakshminarayanan et al.)",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        return (Arm("cnn", "failing", f"one CNN per seed (and per fold, {config.folds}, for calibration): its softmax "
                                      f"confidence in and out of distribution"),
                Arm("shifted-labels", "control", f"power check: the CNN's confidences with labels drawn correct with "
                                                 f"probability confidence - {POWER_SHIFT:g}; the measure must find "
                                                 f"it miscalibrated"),
                Arm("calibrated-labels", "control", "null: the CNN's confidences with labels drawn correct with "
                                                    "probability confidence; the measure must not find it "
                                                    "miscalibrated"),
                Arm("cnn-temperature", "remedy", "the same CNNs, logits divided by T fitted on held-out digits of "
                                                 "their training data (the validation split for the fixed split)"),
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
        ood: dict[str, list[np.ndarray]] = {f"{kind}/{arm}": [] for arm in rows
                                            for kind in (*(f"confidence-{n}" for n in OOD_SETS), "correct-inverted")}
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
                for name in OOD_SETS:
                    ood[f"confidence-{name}/{arm}"].append(probabilities[name].max(axis=1))
                ood[f"correct-inverted/{arm}"].append(probabilities["inverted"].argmax(axis=1) == digits.y_test)
        arms = {}
        diagnostics = {k: np.stack(v).astype(np.float64) for k, v in ood.items()}  # (S, N) each
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
            # cnn and cnn-temperature: the folds' held-out predictions are appended below (S, 1797 with 5 folds)
        arms["cnn-temperature"].final["temperature"] = np.array(temperatures)
        # cross-validated predictions for the calibration claim: every digit, by a network that never saw it
        for k, split in enumerate(fold_splits(config.folds)[1:], start=1):
            fold_log = train_networks(config, f"cnn-fold-{k}", seeds, progress, split=split)
            fold_nets = seed_models(fold_log.models, len(seeds))
            for arm in ("cnn", "cnn-temperature"):
                arms[arm].diverged = arms[arm].diverged | fold_log.diverged
            (x_val, y_val), (x_test, y_test) = split["val"], split["test"]
            for arm in ("cnn", "cnn-temperature"):
                probabilities = []
                for net in fold_nets:
                    logits = logits_of_one(net, x_test)
                    scale = fit_temperature(logits_of_one(net, x_val), y_val) if arm == "cnn-temperature" else 1.0
                    probabilities.append(softmax(logits / scale))
                p = np.stack(probabilities)  # (S, N_k, 10)
                for key, value in ((f"confidence/{arm}", p.max(axis=2)),
                                   (f"correct/{arm}", (p.argmax(axis=2) == y_test).astype(np.float64))):
                    diagnostics[key] = np.concatenate([diagnostics[key], value], axis=1)
        # the power check and the null: labels drawn from the CNN's confidences, shifted by POWER_SHIFT or not. One
        # uniform per digit, shared by every seed (and independent of the seeds, so seed s alone draws what it
        # draws in a batch): the real labels are shared too, so the seeds' errors are correlated as theirs are.
        confidence = diagnostics["confidence/cnn"]  # (S, N)
        for arm, shift in (("shifted-labels", POWER_SHIFT), ("calibrated-labels", 0.0)):
            draws = numpy_rng(NAME, arm, 0).random(confidence.shape[1])[None, :]
            diagnostics[f"correct/{arm}"] = (draws < np.clip(confidence - shift, 0.0, 1.0)).astype(np.float64)
            arms[arm] = ArmResults(steps=np.array([config.steps]), curves={},
                                   final={"accuracy": diagnostics[f"correct/{arm}"].mean(axis=1)},
                                   diverged=arms["cnn"].diverged, wall_s=0.0)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds, arms=arms,
                       diagnostics=diagnostics, wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_calibration(results), self._verdict_ood(results)]

    @staticmethod
    def _learned(results: Results) -> Check:
        """Every network behind the judged numbers must learn: the folds' held-out accuracy, all digits."""
        iv = pooled_mean(results.diagnostics["correct/cnn"], bounds=ACCURACY)
        n = results.diagnostics["correct/cnn"].shape[1]
        return describe(f"CNN accuracy on {n} held-out digits (control)", iv, at_least(iv, LEARNED), f">= {LEARNED}")

    def _verdict_calibration(self, results: Results) -> Verdict:
        diag, cnn = results.diagnostics, results.arms["cnn"].final
        confidence, correct = diag["confidence/cnn"], diag["correct/cnn"]
        gap = pooled_mean(confidence - correct)
        main = describe("mean confidence minus accuracy", gap, at_least(gap, 0.0), "> 0 (overconfident)")
        scaled_gap = diag["confidence/cnn-temperature"] - diag["correct/cnn-temperature"]
        change = resampled_interval(confidence.shape[1], lambda seeds, items: float(
            abs(scaled_gap[seeds][:, items].mean()) - abs((confidence - correct)[seeds][:, items].mean())),
            n_seeds=confidence.shape[0])
        reduced = describe("change of |confidence - accuracy| under temperature scaling", change,
                           at_most(change, 0.0), "<= 0 (reduced)")
        power = pooled_mean(confidence - diag["correct/shifted-labels"])
        power_check = describe(f"power check: labels correct with probability confidence - {POWER_SHIFT:g}, "
                               f"confidence minus accuracy", power, at_least(power, 0.0), "> 0 (must be found)")
        null = pooled_mean(confidence - diag["correct/calibrated-labels"])
        null_found = null.low > 0 or null.high < 0
        null_check = Check("null", null, FAIL if null_found else PASS,
                           f"null (labels correct with probability confidence): confidence minus accuracy {null} "
                           f"{'excludes' if null_found else 'covers'} 0 (it must cover it)")
        detectable = 2.8 * (gap.high - gap.low) / (2 * 1.96)  # 80% power at a 5% two-sided level
        squared = {arm: squared_ece_interval(diag[f"confidence/{arm}"], diag[f"correct/{arm}"])
                   for arm in ("cnn", "cnn-temperature", "ensemble")}
        squared_power = squared_ece_interval(confidence, diag["correct/shifted-labels"])
        raw = statistic_of(confidence, correct, expected_calibration_error)
        scaled_raw = statistic_of(diag["confidence/cnn-temperature"], diag["correct/cnn-temperature"],
                                  expected_calibration_error)
        t = mean_interval(results.arms["cnn-temperature"].final["temperature"], bounds=(0.0, np.inf))
        scaled = results.arms["cnn-temperature"].final
        notes = (note("detectable", gap, f"the smallest gap this interval finds 80% of the time: about "
                                         f"{detectable:.2g} (2.8 standard errors)"),
                 note("ECE", raw, f"plug-in ECE (15 bins) {raw}, biased upwards on a few hundred predictions "
                                  f"(Guo et al. 2017, LeNet-5 on MNIST: 3.02%)"),
                 note("debiased squared ECE", squared["cnn"],
                      f"debiased squared ECE (Kumar et al. 2019) {squared['cnn']}, as L2 {_root(squared['cnn'])}; "
                      f"after temperature scaling {squared['cnn-temperature']}; ensemble {squared['ensemble']}; "
                      f"its power check (an injected {POWER_SHIFT:g}, {POWER_SHIFT ** 2:g} squared) reads "
                      f"{squared_power}, which {'excludes' if squared_power.low > 0 else 'does not exclude'} 0: "
                      f"shown, not judged (the ensemble's on the fixed split's {diag['confidence/ensemble'].shape[1]} "
                      f"test digits)"),
                 note("after temperature scaling", scaled_raw,
                      f"after temperature scaling (T {t}): plug-in ECE {scaled_raw} (Guo et al.: 0.93%), confidence "
                      f"minus accuracy {pooled_mean(scaled_gap)}"),
                 *(note(k, iv := mean_interval(cnn[k], bounds=(0.0, np.inf)), f"{k.upper()} {iv} -> "
                        f"{mean_interval(scaled[k], bounds=(0.0, np.inf))} after temperature scaling")
                   for k in ("nll", "brier")))
        n = confidence.shape[1]
        rule = (f"reproduced if the 95% interval (two-way: a bootstrap over digits plus a jackknife over seeds) of "
                f"the CNN's mean confidence (largest softmax probability) minus its accuracy on {n} held-out digits "
                f"({results.config['folds']} folds) lies above 0 and that of the change of its absolute value under "
                f"temperature scaling (T fitted on a held-out part of each network's data) is <= 0 (the absolute "
                f"value of a mean is biased upwards near 0: the conservative side), while the CNN learns "
                f"(held-out accuracy >= {LEARNED}), the same measure finds an injected overconfidence of "
                f"{POWER_SHIFT:g} on the same confidences (power check) and its interval covers 0 where the labels "
                f"are drawn from the confidences (null)")
        return decide(claim_id=CLAIM_CALIBRATION.id, quantity=f"mean confidence minus accuracy ({n} held-out digits)",
                      rule=rule, main=main, extra=(reduced,), controls=(self._learned(results), power_check,
                                                                         null_check), notes=notes)

    def _verdict_ood(self, results: Results) -> Verdict:
        diag, cnn, ensemble = results.diagnostics, results.arms["cnn"].final, results.arms["ensemble"].final
        noise = pooled_mean(diag["confidence-noise/cnn"], bounds=ACCURACY)
        main = describe("mean confidence on uniform noise", noise, at_least(noise, CONFIDENT), f">= {CONFIDENT}")
        inverted = pooled_mean(diag["confidence-inverted/cnn"], bounds=ACCURACY)
        accuracy = pooled_mean(diag["correct-inverted/cnn"], bounds=ACCURACY)
        extra = [describe("mean confidence on inverted digits", inverted, at_least(inverted, CONFIDENT),
                          f">= {CONFIDENT}"),
                 describe("accuracy on inverted digits", accuracy, at_most(accuracy, LOW_ACCURACY),
                          f"<= {LOW_ACCURACY}")]
        for name in OOD_SETS:
            better = mean_interval(ensemble[f"auroc/{name}"] - cnn[f"auroc/{name}"], bounds=(-1.0, 1.0))
            extra.append(describe(f"ensemble AUROC minus one CNN's, test digits vs {name}", better,
                                  at_least(better, 0.0), ">= 0 (the ensemble separates better)"))

        def unit(values):  # AUROC and confidence lie in [0, 1]
            return mean_interval(values, bounds=ACCURACY)

        notes = tuple(note(f"AUROC {name}", unit(cnn[f"auroc/{name}"]),
                           f"AUROC test digits vs {name} by confidence: one CNN {unit(cnn[f'auroc/{name}'])}, "
                           f"ensemble of {results.config['ensemble_size']} {unit(ensemble[f'auroc/{name}'])}; "
                           f"mean confidence on {name}: ensemble "
                           f"{pooled_mean(diag[f'confidence-{name}/ensemble'], bounds=ACCURACY)}")
                      for name in OOD_SETS)
        rule = (f"reproduced if the 95% intervals (two-way: a bootstrap over images plus a jackknife over seeds) of "
                f"the CNN's mean largest softmax probability on uniform noise and on inverted digits are >= "
                f"{CONFIDENT} and of its accuracy on inverted digits <= {LOW_ACCURACY}, and those (over seeds only: "
                f"one AUROC per seed) of the ensemble's AUROC minus the CNN's, telling test digits from noise and "
                f"from inverted digits by confidence, are >= 0, "
                f"while the CNN learns (test accuracy >= {LEARNED})")
        return decide(claim_id=CLAIM_OOD.id, quantity="mean largest softmax probability on uniform noise",
                      rule=rule, main=main, extra=tuple(extra), controls=(self._learned(results),), notes=notes)

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

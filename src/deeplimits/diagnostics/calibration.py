"""Calibration of a classifier's probabilities: ECE, NLL, Brier score, temperature scaling.

Conventions of Guo et al. 2017 ("On Calibration of Modern Neural Networks"): the
confidence of a prediction is its largest softmax probability; the expected
calibration error (ECE) sorts predictions into ``bins`` equal-width confidence
bins on [0, 1] and averages |accuracy - mean confidence| over the bins, weighted by
their share of the predictions. Temperature scaling divides the logits by one T > 0
fitted to minimise the NLL on a validation split.

The plug-in ECE of a few hundred predictions is biased upwards (|accuracy - confidence|
in a bin is positive even where their expectations agree). Kumar, Liang & Ma 2019
("Verified Uncertainty Calibration", section 5) debias the squared error of each bin by
the variance of its accuracy: ``debiased_squared_ece`` estimates the binned squared
calibration error (the L2 ECE squared) without that bias, so it can be negative when
the true error is near 0, and a square root of its interval is read in ECE's units.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats

from deeplimits.stats import Interval

ECE_BINS = 15  # Guo et al. 2017
TEMPERATURE_RANGE = (0.05, 20.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    return special.softmax(np.asarray(logits, np.float64), axis=-1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of one set of predictions: ``(N,), (N,) -> scalar``. Bin b holds confidences in ((b-1)/B, b/B]
    (the first also holds 0)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.bincount(index, weights=correct - confidence, minlength=bins)  # per bin: sum of (acc - conf)
    return float(np.sum(np.abs(gap)) / confidence.size) if count.sum() else np.nan


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray) -> float:
    log_p = special.log_softmax(np.asarray(logits, np.float64), axis=-1)
    return float(-np.mean(np.take_along_axis(log_p, labels[:, None], axis=-1)))


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean over examples of the squared distance between the probabilities and the one-hot label."""
    onehot = np.eye(probabilities.shape[-1])[labels]
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=-1)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in ``TEMPERATURE_RANGE`` that minimises the NLL of ``logits / T`` (bounded Brent on log T)."""
    found = optimize.minimize_scalar(lambda log_t: negative_log_likelihood(logits / np.exp(log_t), labels),
                                     bounds=tuple(np.log(TEMPERATURE_RANGE)), method="bounded",
                                     options={"xatol": 1e-6})
    return float(np.exp(found.x))


def _bin_onehot(confidence: np.ndarray, bins: int) -> np.ndarray:
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return np.eye(bins)[index]  # (N, bins)


def _ece_rows(confidence: np.ndarray, correct: np.ndarray, bins: int) -> np.ndarray:
    """ECE of each row of ``correct`` against one set of confidences: ``(N,), (R, N) -> (R,)``."""
    gaps = (correct - confidence) @ _bin_onehot(confidence, bins)  # (R, bins): per bin, sum of (acc - conf)
    return np.sum(np.abs(gaps), axis=1) / confidence.size


def excess_ece_interval(confidence: np.ndarray, correct: np.ndarray, *, bins: int = ECE_BINS,
                        confidence_level: float = 0.95, n_resamples: int = 1_000, draws: int = 20,
                        seed: int = 0) -> tuple[Interval, Interval]:
    """ECE minus the mean ECE that a perfectly calibrated classifier with the same confidences shows on the same
    examples (each prediction correct with probability equal to its confidence; ``draws`` label draws), and the
    raw ECE, each a mean over
    seeds with a percentile bootstrap that resamples the seeds and the test examples (independently):
    ``(S, N), (S, N) -> (excess, raw)``.

    All seeds share one test split, so an interval over seeds alone would ignore which examples happen to be
    in it. The ECE of a finite sample is biased upwards (|accuracy - confidence| in a bin is positive even when
    their expectations agree; with a few hundred examples by as much as the effect), and resampling with
    replacement raises it further; the calibrated reference, recomputed on each resample, carries the same
    biases, so their difference does not. The raw ECE's
    interval is shown, not judged.
    """
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    n_seeds, n = confidence.shape
    rng = np.random.default_rng(seed)
    # Labels of a calibrated classifier: each prediction correct with probability = its confidence. Drawn once
    # per example, so that an example repeated by a resample repeats its label, as the real ones do.
    calibrated = rng.random((n_seeds, draws, n)) < confidence[:, None, :]  # (S, R, N)

    def both(seed_index, example_index):
        raw = [expected_calibration_error(confidence[s, example_index], correct[s, example_index], bins)
               for s in seed_index]
        reference = [_ece_rows(confidence[s, example_index], calibrated[s][:, example_index], bins).mean()
                     for s in seed_index]
        return np.mean(raw) - np.mean(reference), np.mean(raw)

    estimates = both(np.arange(n_seeds), np.arange(n))
    if n_seeds < 2:
        return tuple(Interval(e, np.nan, np.nan, n_seeds, method="bootstrap") for e in estimates)
    samples = np.array([both(rng.integers(0, n_seeds, n_seeds), rng.integers(0, n, n))
                        for _ in range(n_resamples)])  # (R, 2)
    tail = (1 - confidence_level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return tuple(Interval(float(e), float(lo), float(hi), n_seeds, method="bootstrap")
                 for e, lo, hi in zip(estimates, low, high))


def debiased_squared_ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Kumar et al. 2019's debiased estimate of the squared L2 calibration error over ``bins`` equal-width bins:
    ``(N,), (N,) -> scalar``: sum over bins of n_b / N * ((a_b - c_b)^2 - a_b (1 - a_b) / (n_b - 1)), a_b the
    bin's accuracy and c_b its mean confidence; a_b (1 - a_b) / (n_b - 1) is the unbiased estimate of the
    variance of a_b, which the plug-in square adds. Bins with one prediction carry no estimate and are left out
    (their share still counts in N). It assumes independent predictions: a bootstrap resample, which repeats
    them, biases it upwards (see :func:`squared_ece_interval`)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    if confidence.size == 0:
        return np.nan
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    used = count >= 2
    accuracy = np.bincount(index, weights=correct, minlength=bins)[used] / count[used]
    mean_confidence = np.bincount(index, weights=confidence, minlength=bins)[used] / count[used]
    per_bin = (accuracy - mean_confidence) ** 2 - accuracy * (1 - accuracy) / (count[used] - 1)
    return float(np.sum(count[used] * per_bin) / confidence.size)


JACKKNIFE_GROUPS = 20  # groups of test examples left out in turn


def squared_ece_interval(confidence: np.ndarray, correct: np.ndarray, *, bins: int = ECE_BINS,
                         baseline: tuple[np.ndarray, np.ndarray] | None = None,
                         confidence_level: float = 0.95) -> Interval:
    """The debiased squared ECE of seeds' predictions on a shared test split, a mean over seeds:
    ``(S, N), (S, N) -> Interval``. With ``baseline`` (confidences and correctness of other predictions on the same
    examples), the difference (this minus the baseline), paired by seed and example.

    The interval carries both the sampling error of the test examples and the seeds' spread: its variance is a
    grouped jackknife over the examples (``JACKKNIFE_GROUPS`` groups left out in turn, the seeds' mean recomputed
    each time) plus the variance of the seeds' mean, with Student's t at the Welch-Satterthwaite degrees of
    freedom of that sum (conservative: the seeds' spread holds some of the examples' error again). Not a
    bootstrap: a resample repeats examples, and the estimator, debiased for independent examples, is then biased
    upwards (we measured a resample mean of 0.0024 for an estimate of 0.0008)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    n_seeds, n = confidence.shape

    def per_seed(keep):
        values = np.array([debiased_squared_ece(confidence[s, keep], correct[s, keep], bins)
                           for s in range(n_seeds)])
        if baseline is not None:
            values -= np.array([debiased_squared_ece(baseline[0][s, keep], baseline[1][s, keep], bins)
                                for s in range(n_seeds)])
        return values

    everything = per_seed(np.ones(n, bool))
    estimate = float(everything.mean())
    if n_seeds < 2 or not np.isfinite(estimate):
        return Interval(estimate, np.nan, np.nan, n_seeds if np.isfinite(estimate) else 0, method="jackknife")
    groups = np.arange(n) % JACKKNIFE_GROUPS
    left_out = np.array([per_seed(groups != g).mean() for g in range(JACKKNIFE_GROUPS)])
    items = (JACKKNIFE_GROUPS - 1) / JACKKNIFE_GROUPS * np.sum((left_out - left_out.mean()) ** 2)
    between = everything.var(ddof=1) / n_seeds
    total = items + between
    freedom = total**2 / (items**2 / (JACKKNIFE_GROUPS - 1) + between**2 / (n_seeds - 1)) if total > 0 else 1.0
    half = stats.t.ppf(0.5 + confidence_level / 2, freedom) * float(np.sqrt(total))
    return Interval(estimate, estimate - half, estimate + half, n_seeds, method="jackknife")

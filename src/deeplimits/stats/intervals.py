"""Interval estimates over seeds, with SciPy's bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 10_000


@dataclass(frozen=True)
class Interval:
    """A point estimate over seeds with its 95% interval; NaN bounds if fewer than 2 seeds."""

    estimate: float
    low: float
    high: float
    n: int  # seeds that entered the estimate (finite values)

    def __str__(self) -> str:
        if np.isnan(self.low):
            return f"{self.estimate:.4g} (no interval: n={self.n})"
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def tail_mean(curve: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Mean over the last ``fraction`` of evaluations, per seed: ``(S, E) -> (S,)``.

    A final metric averaged over several evaluations is less noisy than the last one.
    """
    tail = max(1, int(np.ceil(fraction * curve.shape[1])))
    return curve[:, -tail:].mean(axis=1)


def first_step_at_most(steps: np.ndarray, curve: np.ndarray, level: float) -> np.ndarray:
    """Per seed, the first evaluated step whose value is <= ``level`` (NaN if never): ``(S, E) -> (S,)``."""
    hit = np.asarray(curve) <= level
    return np.where(hit.any(axis=1), np.asarray(steps)[np.argmax(hit, axis=1)], np.nan)


def mean_interval(values: np.ndarray, *, confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """Mean over seeds with a percentile-bootstrap interval; non-finite values are left out.

    The resampling generator is seeded, so the same values always give the same interval.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    estimate = float(np.mean(x))
    if x.size < 2:
        return Interval(estimate, np.nan, np.nan, 1)
    if np.ptp(x) == 0.0:
        return Interval(estimate, estimate, estimate, int(x.size))
    result = stats.bootstrap(
        (x,), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES,
        method="percentile", rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), int(x.size))

"""Coverage of 95% intervals over seeds, measured by simulation: the percentile bootstrap
(used before) against the Student-t interval `deeplimits.stats.mean_interval` (used now).

    python benchmarks/interval_coverage.py [--reps 4000]

Prints, for n = 5 and 8 seeds, the share of simulated samples whose interval contains the
true mean, on normal values, lognormal values with σ = 0.5 (skewness 1.75) and σ = 1
(strongly skewed, skewness 6.2).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from deeplimits.stats import mean_interval

DATA = {
    "normal": (lambda rng, n: rng.normal(0.0, 1.0, n), 0.0),
    "lognormal σ=0.5": (lambda rng, n: rng.lognormal(0.0, 0.5, n), float(np.exp(0.125))),
    "lognormal σ=1": (lambda rng, n: rng.lognormal(0.0, 1.0, n), float(np.exp(0.5))),
}


def percentile_bootstrap(x: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    ci = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=2_000, rng=rng).confidence_interval
    return ci.low, ci.high


def student_t(x: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    iv = mean_interval(x)
    return iv.low, iv.high


def coverage(interval, draw, truth: float, n: int, reps: int) -> float:
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(reps):
        low, high = interval(draw(rng, n), rng)
        hits += low <= truth <= high
    return hits / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4_000)
    reps = parser.parse_args().reps
    print(f"coverage of nominal 95% intervals, {reps} simulated samples each (standard error ≈ "
          f"{np.sqrt(0.95 * 0.05 / reps):.3f})")
    print(f"{'values':<18} {'n':>3} {'percentile bootstrap':>22} {'Student-t':>10}")
    for name, (draw, truth) in DATA.items():
        for n in (5, 8):
            before = coverage(percentile_bootstrap, draw, truth, n, reps)
            after = coverage(student_t, draw, truth, n, reps)
            print(f"{name:<18} {n:>3} {before:>22.3f} {after:>10.3f}")


if __name__ == "__main__":
    main()

"""One visual style for every figure: readable fonts, a colour-blind-safe palette,
means with 95% bands over seeds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window from a library

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deeplimits.stats.intervals import CONFIDENCE  # noqa: E402

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "svg.hashsalt": "deeplimits",  # stable SVG ids, so the same run gives the same file
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    with plt.rc_context(RC):
        yield


def new_figure(ncols: int = 1, *, nrows: int = 1, width: float = 5.0, height: float = 3.6
               ) -> tuple[Figure, list[Axes]]:
    """A figure of ``nrows x ncols`` panels, each ``width x height`` inches; axes row by row."""
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                                 layout="constrained")
    return fig, list(axes.ravel())


def band(values: np.ndarray, *, confidence: float = CONFIDENCE,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and a percentile-bootstrap band, per column of ``values (S, E)``."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = np.nanmean(x, axis=0) if np.isfinite(x).any() else np.full(x.shape[1], np.nan)
    if x.shape[0] < 2 or not np.isfinite(x).all():
        lo = np.nanmin(x, axis=0) if np.isfinite(x).any() else mean
        hi = np.nanmax(x, axis=0) if np.isfinite(x).any() else mean
        return mean, lo, hi
    flat = np.ptp(x, axis=0) == 0
    lo, hi = mean.copy(), mean.copy()
    if (~flat).any():
        ci = stats.bootstrap((x[:, ~flat],), np.mean, axis=0, confidence_level=confidence,
                             n_resamples=2_000, method="percentile",
                             rng=np.random.default_rng(seed)).confidence_interval
        lo[~flat], hi[~flat] = ci.low, ci.high
    return mean, lo, hi


def plot_band(ax: Axes, steps: np.ndarray, values: np.ndarray, *, label: str, color: str,
              linestyle: str = "-", each_seed: bool = False) -> None:
    """A mean curve over seeds with its 95% band (and, if asked, each seed as a thin line,
    so that one seed that behaves differently is not hidden in the mean)."""
    if each_seed:
        ax.plot(steps, np.asarray(values).T, color=color, alpha=0.35, linewidth=0.6)
    mean, lo, hi = band(values)
    ax.plot(steps, mean, color=color, label=label, linestyle=linestyle, linewidth=1.6)
    ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)


def plot_interval_bars(ax: Axes, groups: list[str], series: dict[str, list[np.ndarray]], *,
                       colors: tuple[str, ...] = PALETTE) -> None:
    """Grouped bars: for each series, its mean over seeds in each group with the 95% t interval
    (the verdicts' interval, ``stats.mean_interval``) as an error bar, and each seed as a dot."""
    from deeplimits.stats import mean_interval

    width = 0.8 / max(1, len(series))
    for k, (name, per_group) in enumerate(series.items()):
        x = np.arange(len(groups)) + (k - (len(series) - 1) / 2) * width
        intervals = [mean_interval(v) for v in per_group]
        mean = np.array([iv.estimate for iv in intervals])
        low = np.nan_to_num(mean - np.array([iv.low for iv in intervals]))
        high = np.nan_to_num(np.array([iv.high for iv in intervals]) - mean)
        ax.bar(x, mean, width, color=colors[k % len(colors)], alpha=0.75, label=name,
               yerr=(low, high), capsize=3)
        for xi, v in zip(x, per_group):
            ax.plot(np.full(len(v), xi), v, ".", color="black", markersize=3)
    ax.set_xticks(np.arange(len(groups)), groups)

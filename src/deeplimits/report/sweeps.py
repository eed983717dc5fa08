"""The sweep figure: each claim's measured quantity against each grid axis, with its 95% interval.

One panel per (claim, axis); one line per combination of the other axes; each point's
marker says its verdict, so where the verdict flips along an axis can be read off.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from deeplimits.experiment import Experiment
from deeplimits.report.style import PALETTE, new_figure

MARKERS = {"reproduced": ("o", "reproduced"), "not_reproduced": ("X", "not reproduced"),
           "inconclusive": ("s", "inconclusive")}


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def sweep_figure(exp: Experiment, axes: dict[str, list[Any]], points: Sequence[Any]) -> Figure:
    """``points``: objects with ``settings`` (axis -> value) and ``run`` (a stored run, or None)."""
    by_settings = {json.dumps(p.settings, sort_keys=True): p.run for p in points if p.run is not None}
    claims = [c.id for c in exp.claims]
    fig, panels = new_figure(len(axes), nrows=len(claims), width=4.6, height=3.2)
    for row, claim in enumerate(claims):
        for col, (axis, values) in enumerate(axes.items()):
            ax = panels[row * len(axes) + col]
            others = {k: v for k, v in axes.items() if k != axis}
            quantity = ""
            for line, rest in enumerate(itertools.product(*others.values())):
                fixed = dict(zip(others, rest))
                color = PALETTE[line % len(PALETTE)]
                xs, est, lo, hi, statuses = [], [], [], [], []
                for i, value in enumerate(values):
                    run = by_settings.get(json.dumps({**fixed, axis: value}, sort_keys=True))
                    v = next((v for v in run.verdicts if v.claim_id == claim), None) if run else None
                    if v is None:
                        continue
                    quantity = v.quantity
                    xs.append(i)
                    est.append(v.estimate)
                    lo.append(v.low if np.isfinite(v.low) else v.estimate)
                    hi.append(v.high if np.isfinite(v.high) else v.estimate)
                    statuses.append(v.status)
                if not xs:
                    continue
                est_a = np.array(est, dtype=float)
                err = np.abs(np.array([est_a - np.array(lo), np.array(hi) - est_a]))
                label = ", ".join(f"{k}={_text(v)}" for k, v in fixed.items()) or None
                ax.errorbar(xs, est_a, yerr=err, color=color, linewidth=1.2, capsize=3, label=label)
                for x, y, status in zip(xs, est_a, statuses):
                    marker, _ = MARKERS[status]
                    ax.plot([x], [y], marker=marker, color=color, markersize=7, linestyle="none",
                            markerfacecolor="white" if status == "inconclusive" else color)
            ax.set_xticks(range(len(values)), [_text(v) for v in values])
            ax.set_xlabel(axis)
            ax.set_title(claim, fontsize=9)
            ax.set_ylabel("\n".join(_wrap(quantity, 40)), fontsize=8)
            if others and len(list(itertools.product(*others.values()))) <= 8:
                ax.legend(fontsize=7, loc="best")
    handles = [panels[0].plot([], [], marker=m, color="0.3", linestyle="none", label=text,
                              markerfacecolor="white" if status == "inconclusive" else "0.3")[0]
               for status, (m, text) in MARKERS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    title = (f"{exp.name}: each claim's measurement (95% interval over seeds) along each grid axis; "
             f"the marker is the verdict")
    # about 11 characters of 10-point text per inch: wrapped, the title never runs past the figure's edges
    fig.suptitle("\n".join(_wrap(title, int(11 * fig.get_figwidth()), lines=4)), fontsize=10)
    return fig


def _wrap(text: str, width: int, lines: int = 3) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)[:lines] or [""]

"""Where verdicts flip along the axes of a grid of runs (statistics; the drawing is in ``report/sweeps.py``).

A point is anything with ``settings`` (axis -> value) and ``run`` (a stored run with ``verdicts``, or None):
a sweep's :class:`~deeplimits.sweeps.SweepPoint`, or a :class:`GridPoint` the report rebuilds from the store.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GridPoint:
    settings: dict[str, Any]  # the grid axes' values at this point
    run: Any  # its stored run, or None while it is not stored


def flips(axes: dict[str, list[Any]], points: Sequence[Any]) -> list[str]:
    """For each claim and axis: where the verdict changes between neighbouring values, the other axes fixed."""
    by_settings = {json.dumps(p.settings, sort_keys=True): p for p in points if p.run is not None}
    claims = list(dict.fromkeys(v.claim_id for p in by_settings.values() for v in p.run.verdicts))
    lines = []
    for claim in claims:
        for axis, values in axes.items():
            others = {k: v for k, v in axes.items() if k != axis}
            changes, statuses = [], set()
            for rest in itertools.product(*others.values()):
                fixed = dict(zip(others, rest))
                row = []
                for value in values:
                    p = by_settings.get(json.dumps({**fixed, axis: value}, sort_keys=True))
                    v = next((v for v in p.run.verdicts if v.claim_id == claim), None) if p else None
                    row.append((value, v.status if v else None))
                statuses.update(s for _, s in row if s)
                where = f" (at {_settings_text(fixed)})" if fixed else ""
                for (a, sa), (b, sb) in itertools.pairwise(row):
                    if sa and sb and sa != sb:
                        changes.append(f"{sa} at {axis}={value_text(a)} -> {sb} at {axis}={value_text(b)}{where}")
            if changes:
                lines += [f"{claim}: {c}" for c in changes]
            elif statuses:
                lines.append(f"{claim}: no flip along {axis} ({' / '.join(sorted(statuses))} throughout)")
    return lines


def value_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in settings.items())

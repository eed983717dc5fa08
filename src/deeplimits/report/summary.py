"""A small summary page (``index.html`` in the results directory), from the store only.

It lists the newest run of every experiment with its verdicts and links to its
figures. The full report with the source's numbers side by side is ``deeplimits
report`` (issue 6); this page is what a run refreshes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from jinja2 import Environment

from deeplimits.store import Store

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deeplimits results</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .5rem; text-align: left; vertical-align: top; }
.reproduced { color: #006d4f; font-weight: 600; } .not_reproduced { color: #b03a00; font-weight: 600; }
.inconclusive { color: #6b5900; font-weight: 600; } small { color: #555; }
</style></head><body>
<h1>deeplimits results</h1>
<p><small>Newest run of each experiment in {{ store_path }}.</small></p>
{% if not runs %}<p>No runs stored yet. Try <code>deeplimits run parity</code>.</p>{% endif %}
{% for run in runs %}
<h2>{{ run.experiment }} <small>({{ run.profile }} profile, {{ run.seeds|length }} seeds,
{{ "%.1f"|format(run.wall_s) }} s, {{ run.created }}, run {{ run.key }})</small></h2>
<table><tr><th>claim</th><th>verdict</th><th>measured</th><th>95% interval</th><th>seeds</th></tr>
{% for v in run.verdicts %}<tr><td>{{ v.claim_id }}</td><td class="{{ v.status }}">{{ v.status }}</td>
<td>{{ v.quantity }}: {{ fmt(v.estimate) }}</td><td>[{{ fmt(v.low) }}, {{ fmt(v.high) }}]</td><td>{{ v.n_seeds }}</td></tr>
<tr><td></td><td colspan="4"><small>{{ v.detail }}</small></td></tr>{% endfor %}
</table>
{% for name, src in figures[run.key] %}<figure><img src="{{ src }}" alt="{{ name }}" width="640"><figcaption><small>{{ name }}</small></figcaption></figure>{% endfor %}
{% endfor %}
</body></html>
"""


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def write_summary(out: Path) -> Path:
    """Render ``out/index.html`` from the store in ``out``; returns its path."""
    store = Store(out)
    newest = {}
    for run in store.runs():
        newest.setdefault(run.experiment, run)
    runs = list(newest.values())
    figures = {
        run.key: [(name, os.path.relpath(out / "figures" / run.experiment / run.key / f"{name}.png", out))
                  for name in store.figures(run.key)]
        for run in runs
    }
    env = Environment(autoescape=True)
    html = env.from_string(TEMPLATE).render(runs=runs, figures=figures, fmt=_fmt,
                                            store_path=str(store.path))
    path = Path(out) / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path

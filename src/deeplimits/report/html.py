"""The report: every claim in the catalogue, the source's numbers and ours, in one HTML file.

It is rendered from the store alone (it never trains): the claims' wording and
the profiles come from the registered experiments, everything measured from the
stored runs. Figures are embedded as base64 PNG and the style sheet is inline,
so the file works offline and can be sent as it is. Jinja2 autoescapes every
value.

For each experiment the report shows its most thorough stored run (paper, then
quick, then smoke; the newest within a profile) and lists the others.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment

from deeplimits import registry
from deeplimits.experiment import FALSIFY, Claim, Verdict
from deeplimits.report.catalogue import CATALOGUE, NOT_TURNED_INTO_EXPERIMENTS, SOURCES
from deeplimits.runs.plan import falsification_key
from deeplimits.stats.flips import GridPoint, flips
from deeplimits.stats.rules import LEADS
from deeplimits.store import Store
from deeplimits.store.files import write_atomically
from deeplimits.store.sqlite import StoredRun

FILENAME = "report.html"
PROFILE_RANK = {"paper": 0, "quick": 1, "smoke": 2}
STATUS_WORDS = {
    "reproduced": "reproduced",
    "not_reproduced": "not reproduced",
    "inconclusive": "inconclusive",
}


@dataclass
class FalsificationView:
    why: str
    setting: str  # profile, seeds and overrides in words
    command: str  # how to run it
    verdict: Verdict | None  # what it gave, if stored


@dataclass
class ClaimView:
    claim_id: str
    claim: Claim | None  # None when the experiment is no longer registered
    verdict: Verdict | None
    figure: str | None  # data: URI of the claim's PNG
    falsification: FalsificationView | None = None


@dataclass
class ExperimentView:
    entry_id: str
    name: str
    title: str
    source: str
    run: StoredRun
    profile_note: str
    claims: list[ClaimView]
    other_runs: list[StoredRun] = field(default_factory=list)
    extra_figures: list[tuple[str, str]] = field(default_factory=list)  # figures keyed by no claim
    stale: bool = False  # the run is of an older version of the experiment than the one registered


@dataclass
class Row:
    entry_id: str
    name: str
    source: str
    claim_id: str | None
    verdict: Verdict | None
    run: StoredRun | None
    state: str  # "measured", "not-run", "no-experiment"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def _interval(v: Verdict) -> str:
    if math.isnan(v.low) or math.isnan(v.high):
        return "no interval (fewer than 2 seeds)"
    return f"[{_fmt(v.low)}, {_fmt(v.high)}]"


def _config_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_config_value(v) for v in value) if value else "(none)"
    return str(value)


def _lead(detail: str) -> str:
    """The sentence an inconclusive verdict's detail starts with, if any."""
    return next((lead.rstrip(": ") for lead in LEADS if detail.startswith(lead)), "")


def _checks(detail: str) -> list[str]:
    """A verdict's detail split into its checks, at "; " outside parentheses and brackets."""
    for lead in LEADS:
        detail = detail.removeprefix(lead)
    parts, depth, current = [], 0, ""
    for i, char in enumerate(detail):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == ";" and depth == 0 and detail[i + 1:i + 2] == " ":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _falsification(name: str, claim: Claim, store: Store) -> FalsificationView | None:
    f = claim.falsified_by
    if f is None:
        return None
    stored = store.get(falsification_key(name, claim.id))
    verdict = next((v for v in stored.verdicts if v.claim_id == claim.id), None) if stored else None
    overrides = ", ".join(f"{k} = {_config_value(v)}" for k, v in f.overrides.items()) or "no changes"
    return FalsificationView(why=f.why, setting=f"{f.profile} profile, {f.seeds} seeds, {overrides}",
                             command=f"deeplimits falsify {name} --claim {claim.id}", verdict=verdict)


def own_runs(every_run: list[StoredRun], sweeps: list[dict[str, Any]]) -> dict[str, list[StoredRun]]:
    """Each experiment's own stored runs, newest first: not its falsifying runs (shown beside their
    claims), and a sweep's points only where nothing else of the experiment is stored."""
    swept = {p["key"] for sw in sweeps for p in sw["points"]}
    by_experiment: dict[str, list[StoredRun]] = {}
    for run in every_run:
        if run.profile != FALSIFY:
            by_experiment.setdefault(run.experiment, []).append(run)
    return {name: [r for r in runs if r.key not in swept] or runs for name, runs in by_experiment.items()}


def chosen_run(name: str, runs: list[StoredRun]) -> tuple[StoredRun, list[StoredRun]]:
    """The run that stands for experiment ``name`` (in the report and ``deeplimits list``) and the rest.

    The most thorough profile (paper, then quick, then smoke), the newest within it (``runs`` come
    newest first), of the registered version: a run of an older version only stands in where no
    current one is stored, since its verdicts were judged by older rules.
    """
    version = registry.get(name).version if name in registry.names() else None
    best = min(runs, key=lambda r: (version is not None and r.version != version,
                                    PROFILE_RANK.get(r.profile, 3), runs.index(r)))
    return best, [r for r in runs if r is not best]


def _experiment_view(entry_id: str, name: str, title: str, source: str, runs: list[StoredRun],
                     store: Store) -> ExperimentView:
    exp = registry.get(name) if name in registry.names() else None
    run, others = chosen_run(name, runs)
    figures = {fig: formats["png"] for fig, formats in store.figures(run.key).items() if "png" in formats}
    verdicts = {v.claim_id: v for v in run.verdicts}
    claim_ids = [c.id for c in exp.claims] if exp else list(verdicts)
    claims = []
    for cid in claim_ids:
        claim = next((c for c in exp.claims if c.id == cid), None) if exp else None
        claims.append(ClaimView(claim_id=cid, claim=claim, verdict=verdicts.get(cid),
                                figure=_data_uri(figures[cid]) if cid in figures else None,
                                falsification=_falsification(name, claim, store) if claim else None))
    extra = [(fig, _data_uri(png)) for fig, png in figures.items() if fig not in claim_ids]
    return ExperimentView(entry_id=entry_id, name=name, title=exp.title if exp else title, source=source,
                          run=run, profile_note=exp.profile_notes.get(run.profile, "") if exp else "",
                          claims=claims, other_runs=others, extra_figures=extra,
                          stale=exp is not None and run.version != exp.version)


@dataclass
class SweepView:
    id: str
    experiment: str
    profile: str
    axes: dict[str, list[Any]]
    fixed: dict[str, Any]
    seeds: tuple[int, ...]
    claims: list[str]
    rows: list[tuple[list[str], list[Verdict | None]]]  # axis values as text, verdict per claim
    stored: int
    flips: list[str]
    figure: str | None
    created: str


def _sweep_views(stored: list[dict[str, Any]], runs: dict[str, StoredRun]) -> list[SweepView]:
    views = []
    for sw in stored:
        points = [GridPoint(settings=p["settings"], run=runs.get(p["key"])) for p in sw["points"]]
        claims = list(dict.fromkeys(v.claim_id for p in points if p.run for v in p.run.verdicts))
        rows = []
        for p in points:
            verdicts = {v.claim_id: v for v in p.run.verdicts} if p.run else {}
            rows.append(([_config_value(p.settings[a]) for a in sw["axes"]], [verdicts.get(c) for c in claims]))
        views.append(SweepView(id=sw["id"], experiment=sw["experiment"], profile=sw["profile"], axes=sw["axes"],
                               fixed=sw["fixed"], seeds=sw["seeds"], claims=claims, rows=rows,
                               stored=sum(p.run is not None for p in points), flips=flips(sw["axes"], points),
                               figure=_data_uri(sw["figure"]) if sw["figure"] else None, created=sw["created"]))
    return views


def build_report(out: Path) -> str:
    """The report's HTML for the store in ``out``."""
    store = Store(out)
    every_run = store.runs()
    stored_sweeps = store.sweeps()
    sweeps = _sweep_views(stored_sweeps, {r.key: r for r in every_run})
    runs_by_experiment = own_runs(every_run, stored_sweeps)

    rows: list[Row] = []
    sections: list[ExperimentView] = []
    catalogued = {e.name for e in CATALOGUE}
    entries = [(e.id, e.name, e.title, e.source) for e in CATALOGUE]
    # experiments registered or stored outside the catalogue (plugins) come last, under their own name
    for name in [*registry.names(), *runs_by_experiment]:
        if name not in catalogued:
            catalogued.add(name)
            exp = registry.get(name) if name in registry.names() else None
            entries.append((getattr(exp, "catalogue", "") or "–", name, exp.title if exp else name,
                            "; ".join(c.source for c in exp.claims) if exp else "unknown"))
    for entry_id, name, title, source in entries:
        registered = name in registry.names()
        if name in runs_by_experiment:
            view = _experiment_view(entry_id, name, title, source, runs_by_experiment[name], store)
            sections.append(view)
            rows += [Row(entry_id, name, source, c.claim_id, c.verdict, view.run,
                         "measured" if c.verdict else "not-run") for c in view.claims]
        elif registered:
            claims = ", ".join(c.id for c in registry.get(name).claims)
            rows.append(Row(entry_id, name, source, claims, None, None, "not-run"))
        else:
            rows.append(Row(entry_id, name, source, None, None, None, "no-experiment"))

    verdicts = [r.verdict for r in rows if r.verdict]
    counts = {status: sum(v.status == status for v in verdicts) for status in STATUS_WORDS}
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("deeplimits.report").joinpath("report.html.j2").read_text("utf-8"))
    return template.render(
        rows=rows, sections=sections, sweeps=sweeps, not_turned=NOT_TURNED_INTO_EXPERIMENTS, sources=SOURCES,
        counts=counts, words=STATUS_WORDS, n_entries=len(entries),
        n_registered=sum(name in registry.names() for _, name, *_ in entries),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        store_path=str(store.path), fmt=_fmt, checks=_checks, lead=_lead, interval=_interval,
        config_value=_config_value,
        dumps=lambda value: json.dumps(value, sort_keys=True),
    )


def write_report(out: Path) -> Path:
    """Render ``out/report.html`` (replacing it atomically); returns its path."""
    html = build_report(Path(out))
    path = Path(out) / FILENAME
    write_atomically(path, html.encode("utf-8"))  # a unique temporary name: concurrent refreshes never collide
    return path

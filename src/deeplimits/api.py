"""The Python API: ``run`` an experiment, get its verdicts and figures back.

    >>> import deeplimits
    >>> record = deeplimits.run("parity", profile="quick", seeds=5, steps=10_000)
    >>> [(v.claim_id, v.status) for v in record.verdicts]

A finished run is served from the store (``./deeplimits-results/`` unless
``out`` or ``DEEPLIMITS_HOME`` say otherwise) unless ``rerun=True``. This module is the
public facade; the layer that plans, computes, leases and stores a run is :mod:`deeplimits.runs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplimits import registry
from deeplimits.config import ConfigError
from deeplimits.experiment import FALSIFY, Progress, Verdict, no_progress
from deeplimits.runs import RunRecord, results_dir
from deeplimits.runs.records import execute
from deeplimits.store import Store

__all__ = ["FalsificationRecord", "RunRecord", "experiments", "falsify", "run", "write_report"]


def run(experiment: str, *, profile: str = "quick", seeds: int | Sequence[int] | None = None,
        out: str | Path | None = None, rerun: bool = False, progress: Progress = no_progress,
        label: str | None = None, **overrides: Any) -> RunRecord:
    """Run ``experiment`` (or serve it from the store) and return its record.

    - ``profile``: ``smoke``, ``quick`` (default), ``paper`` or one of the experiment's own.
    - ``seeds``: a count ``N`` (seeds 0..N-1), a list of seeds, or ``None`` for the profile's default.
    - ``out``: the results directory (default ``$DEEPLIMITS_HOME`` or ``./deeplimits-results``).
    - ``rerun``: recompute a stored run instead of serving it.
    - ``progress``: called as ``progress(label, done, total)`` while it trains.
    - ``overrides``: config fields (``deeplimits show NAME`` lists them), checked against their
      types and ranges; a bad one raises :class:`ConfigError` before any work.
    - ``label``: stored in place of the profile's name (``falsify`` for falsifying settings,
      which the report keeps apart from the experiment's own runs).

    Another process computing the same run is waited for, not duplicated. Every run
    refreshes the report in ``out``.
    """
    record = execute(experiment, profile=profile, seeds=seeds, out=out, rerun=rerun, progress=progress,
                     label=label, overrides=overrides)
    write_report(out)
    return record


@dataclass
class FalsificationRecord:
    """A claim's falsifying setting and the run of it: ``falsified`` when it came out not_reproduced."""

    experiment: str
    claim_id: str
    why: str  # what the setting changes, and why the claim must then fail
    record: RunRecord

    @property
    def verdict(self) -> Verdict:
        """The claim's verdict in its falsifying setting."""
        return self.record.verdict(self.claim_id)

    @property
    def falsified(self) -> bool:
        """Whether the setting did what it must: the claim came out ``not_reproduced``."""
        return self.verdict.status == "not_reproduced"


def falsify(experiment: str, claims: Sequence[str] | None = None, *, out: str | Path | None = None,
            rerun: bool = False, progress: Progress = no_progress) -> list[FalsificationRecord]:
    """Run each claim's falsifying setting (stored like any run; shared where two claims share one).

    A claim is falsifiable in practice when its setting gives ``not_reproduced``.
    Claims that no setting can falsify are skipped (``deeplimits show`` says why).
    """
    exp = registry.get(experiment)
    chosen = [c for c in exp.claims if c.falsified_by is not None and (claims is None or c.id in claims)]
    unknown = set(claims or ()) - {c.id for c in exp.claims}
    if unknown:
        raise ConfigError(f"{exp.name} has no claim {sorted(unknown)[0]!r}; its claims: "
                          f"{', '.join(c.id for c in exp.claims)}")
    out_records = []
    for claim in chosen:
        f = claim.falsified_by
        record = run(exp.name, profile=f.profile, seeds=f.seeds, out=out, rerun=rerun, progress=progress,
                     label=FALSIFY, **f.overrides)
        out_records.append(FalsificationRecord(exp.name, claim.id, f.why, record))
    return out_records


def experiments() -> list[str]:
    """Names of the registered experiments, in catalogue order (``deeplimits list`` shows their claims)."""
    return registry.names()


def write_report(out: str | Path | None = None) -> Path:
    """Render the HTML report of the store in ``out`` (as :func:`run` finds it) and return its path.

    It is rendered from the stored runs alone and never trains; every run refreshes it too.
    """
    from deeplimits.report.html import write_report as render

    out_dir = results_dir(out)
    Store(out_dir).check()
    return render(out_dir)

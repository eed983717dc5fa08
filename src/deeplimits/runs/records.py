"""A run's record, and the one path every run takes: planned, leased, computed or served, stored, reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplimits.config import ConfigError
from deeplimits.experiment import Progress, Results, Verdict, no_progress
from deeplimits.runs.computing import Computed, compute
from deeplimits.runs.leases import Leases
from deeplimits.runs.plan import plan_run, results_dir
from deeplimits.store import Store
from deeplimits.store.files import write_figures


@dataclass
class RunRecord:
    """One run: its results, verdicts, figure files, and where it came from.

    ``results`` holds the arrays (seed axis first), ``verdicts`` one per claim, ``figures``
    the exported files (``figures[claim_id]["png"]``), ``cached`` whether it was served from
    the store, ``provenance`` the versions, commit and device it ran on.
    """

    key: str
    experiment: str
    profile: str
    config: Any
    seeds: tuple[int, ...]
    results: Results
    verdicts: list[Verdict]
    figures: dict[str, dict[str, Path]]  # figure name -> format -> file
    cached: bool  # served from the store, not recomputed
    created: str
    provenance: dict[str, Any]
    out: Path

    def verdict(self, claim_id: str) -> Verdict:
        """The verdict of ``claim_id``; :class:`ConfigError` naming the run's claims if it has none."""
        found = next((v for v in self.verdicts if v.claim_id == claim_id), None)
        if found is None:
            raise ConfigError(f"{self.experiment} has no claim {claim_id!r}; its claims: "
                              f"{', '.join(v.claim_id for v in self.verdicts)}")
        return found


def store_computed(store: Store, out_dir: Path, *, experiment: str, key: str, profile: str, config: Any,
                   seeds: tuple[int, ...], computed: Computed) -> RunRecord:
    """Save a computed run in one transaction, then export its figures."""
    store.save(key=key, profile=profile, results=computed.results, verdicts=computed.verdicts,
               figures=computed.figures, created=computed.created, provenance=computed.provenance)
    figures = write_figures(out_dir, experiment, key, computed.figures)
    return RunRecord(key=key, experiment=experiment, profile=profile, config=config, seeds=seeds,
                     results=computed.results, verdicts=list(computed.verdicts), figures=figures, cached=False,
                     created=computed.created, provenance=computed.provenance, out=out_dir)


def load_stored(store: Store, out_dir: Path, *, key: str, config: Any, seeds: tuple[int, ...]) -> RunRecord:
    stored = store.get(key)
    figures = write_figures(out_dir, stored.experiment, key, store.figures(key))
    return RunRecord(key=key, experiment=stored.experiment, profile=stored.profile, config=config, seeds=seeds,
                     results=store.results(key), verdicts=list(stored.verdicts), figures=figures, cached=True,
                     created=stored.created, provenance=stored.provenance, out=out_dir)


def execute(experiment: str, *, profile: str, seeds: int | Sequence[int] | None, out: str | Path | None,
            rerun: bool, progress: Progress = no_progress, label: str | None = None,
            overrides: dict[str, Any]) -> RunRecord:
    """Plan the run (everything checked before any work), then serve it from the store or compute and
    store it, holding its lease meanwhile: another process computing it is waited for, not duplicated.
    ``label`` is stored in place of the profile's name (``falsify`` for falsifying settings)."""
    exp, config, chosen, key = plan_run(experiment, profile, seeds, overrides)
    out_dir = results_dir(out)
    store = Store(out_dir)
    store.check()
    leases = Leases(store)
    try:
        if leases.wait_for(key, rerun, progress) == "done":
            return load_stored(store, out_dir, key=key, config=config, seeds=chosen)
        computed = compute(exp.name, profile=profile, seeds=chosen, overrides=overrides, progress=progress)
        record = store_computed(store, out_dir, experiment=exp.name, key=key, profile=label or profile,
                                config=config, seeds=chosen, computed=computed)
        leases.forget(key)
        return record
    finally:
        leases.close()

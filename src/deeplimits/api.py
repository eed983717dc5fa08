"""The Python API: ``run`` an experiment, get its verdicts and figures back.

    >>> import deeplimits
    >>> record = deeplimits.run("parity", profile="quick", seeds=5, steps=10_000)
    >>> [(v.claim_id, v.status) for v in record.verdicts]

A finished run is served from the store (``./deeplimits-results/`` unless
``out`` or ``DEEPLIMITS_HOME`` say otherwise) unless ``rerun=True``.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from deeplimits import registry
from deeplimits.config import ConfigError, to_dict
from deeplimits.experiment import Progress, Results, Verdict, no_progress
from deeplimits.store import Store, run_key

MAX_SEED = 2**31 - 1
FALSIFY = "falsify"  # the profile label of a stored falsifying run
FIGURE_FORMATS = ("png", "svg")


@dataclass
class RunRecord:
    """One run: its results, verdicts, figure files, and where it came from."""

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
        return next(v for v in self.verdicts if v.claim_id == claim_id)


def results_dir(out: str | Path | None = None) -> Path:
    return Path(out or os.environ.get("DEEPLIMITS_HOME") or "deeplimits-results")


def resolve_seeds(seeds: int | Sequence[int] | None, default: int) -> tuple[int, ...]:
    """``None``: seeds 0..default-1; ``N``: seeds 0..N-1; a sequence: those seeds."""
    if seeds is None:
        return tuple(range(default))
    if isinstance(seeds, bool):
        raise ConfigError(f"seeds={seeds!r}: expected a count >= 1 or a list of seeds")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds={seeds}: expected a count >= 1")
        return tuple(range(seeds))
    chosen = tuple(seeds)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(f"seeds={list(chosen)}: expected distinct seeds, at least one")
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in chosen):
        raise ConfigError(f"seeds={list(chosen)}: each seed must be an integer in 0..{MAX_SEED}")
    return chosen


def provenance() -> dict[str, Any]:
    import jax
    import numpy

    from deeplimits import __version__

    device = jax.devices()[0]
    return {
        "deeplimits": __version__,
        "git_commit": _git_commit(),
        "jax": jax.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "device": f"{device.platform}: {getattr(device, 'device_kind', device)} x {len(jax.devices())}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _render(figure: Any) -> dict[str, bytes]:
    import matplotlib.pyplot as plt

    rendered = {}
    for fmt in FIGURE_FORMATS:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else {})
        rendered[fmt] = buffer.getvalue()
    plt.close(figure)
    return rendered


def _write_figures(out: Path, experiment: str, key: str,
                   figures: dict[str, dict[str, bytes]]) -> dict[str, dict[str, Path]]:
    folder = out / "figures" / experiment / key
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, dict[str, Path]] = {}
    for name, formats in figures.items():
        for fmt, data in formats.items():
            path = folder / f"{name}.{fmt}"
            tmp = path.with_suffix(f".{fmt}.part")
            tmp.write_bytes(data)
            tmp.replace(path)
            paths.setdefault(name, {})[fmt] = path
    return paths


MAX_MEMORY_MAPS = 20_000  # a third of Linux's default vm.max_map_count (65,530)


def _memory_maps() -> int:
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(1 for _ in maps)
    except OSError:  # not Linux: no such limit to watch
        return 0


def release_compiled_programs() -> bool:
    """Drop every compiled program once the process holds more than ``MAX_MEMORY_MAPS`` memory maps.

    XLA maps memory for each program it compiles, and ``train()`` keeps every distinct
    program for reuse, so a long session of runs (or of tests) would pass the kernel's
    limit on maps per process and crash in the compiler. Clearing at a threshold keeps
    the programs that runs share in between. Returns whether it cleared.
    """
    if _memory_maps() <= MAX_MEMORY_MAPS:
        return False
    import jax

    from deeplimits.engine.devices import forget_programs

    forget_programs()
    jax.clear_caches()
    return True


def run(experiment: str, *, profile: str = "quick", seeds: int | Sequence[int] | None = None,
        out: str | Path | None = None, rerun: bool = False, progress: Progress = no_progress,
        label: str | None = None, **overrides: Any) -> RunRecord:
    """Run ``experiment`` (or serve it from the store) and return its record.

    ``overrides`` are config fields, checked against their types and ranges. ``label``
    is stored in place of the profile's name (``falsify`` for falsifying settings, which
    the report keeps apart from the experiment's own runs).
    """
    exp = registry.get(experiment)
    config = exp.config_for(profile, **overrides)
    chosen = resolve_seeds(seeds, exp.default_seeds[profile])
    out_dir = results_dir(out)
    store = Store(out_dir)
    key = run_key(exp.name, exp.version, to_dict(config), chosen)

    stored = None if rerun else store.get(key)
    if stored is not None:
        figures = _write_figures(out_dir, exp.name, key, store.figures(key))
        record = RunRecord(key=key, experiment=exp.name, profile=stored.profile, config=config,
                           seeds=chosen, results=store.results(key), verdicts=list(stored.verdicts),
                           figures=figures, cached=True, created=stored.created,
                           provenance=stored.provenance, out=out_dir)
    else:
        try:
            results = exp.run(config, chosen, progress)
        finally:
            release_compiled_programs()
        verdicts = exp.judge(results)
        rendered = {name: _render(fig) for name, fig in exp.figures(results).items()}
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        prov = provenance()
        figures = _write_figures(out_dir, exp.name, key, rendered)
        store.save(key=key, profile=label or profile, results=results, verdicts=verdicts, figures=rendered,
                   created=created, provenance=prov)
        record = RunRecord(key=key, experiment=exp.name, profile=label or profile, config=config,
                           seeds=chosen, results=results, verdicts=verdicts, figures=figures,
                           cached=False, created=created, provenance=prov, out=out_dir)
    from deeplimits.report.html import write_report

    write_report(out_dir)
    return record


@dataclass
class FalsificationRecord:
    """A claim's falsifying setting and the run of it: ``falsified`` when it came out not_reproduced."""

    experiment: str
    claim_id: str
    why: str
    record: RunRecord

    @property
    def verdict(self) -> Verdict:
        return self.record.verdict(self.claim_id)

    @property
    def falsified(self) -> bool:
        return self.verdict.status == "not_reproduced"


def falsification_key(experiment: str, claim_id: str) -> str:
    """The run key of a claim's falsifying setting (where the store keeps what it gave)."""
    exp = registry.get(experiment)
    claim = next((c for c in exp.claims if c.id == claim_id), None)
    if claim is None:
        raise ConfigError(f"{experiment} has no claim {claim_id!r}; its claims: "
                          f"{', '.join(c.id for c in exp.claims)}")
    if claim.falsified_by is None:
        raise ConfigError(f"{claim_id} has no falsifying setting: {claim.unfalsifiable}")
    f = claim.falsified_by
    config = exp.config_for(f.profile, **f.overrides)
    return run_key(exp.name, exp.version, to_dict(config), resolve_seeds(f.seeds, f.seeds))


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
    """Names of the registered experiments."""
    return registry.names()

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
        "device": f"{device.platform}: {getattr(device, 'device_kind', device)}",
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


def run(experiment: str, *, profile: str = "quick", seeds: int | Sequence[int] | None = None,
        out: str | Path | None = None, rerun: bool = False, progress: Progress = no_progress,
        **overrides: Any) -> RunRecord:
    """Run ``experiment`` (or serve it from the store) and return its record.

    ``overrides`` are config fields, checked against their types and ranges.
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
        results = exp.run(config, chosen, progress)
        verdicts = exp.verdicts(results)
        rendered = {name: _render(fig) for name, fig in exp.figures(results).items()}
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        prov = provenance()
        figures = _write_figures(out_dir, exp.name, key, rendered)
        store.save(key=key, profile=profile, results=results, verdicts=verdicts, figures=rendered,
                   created=created, provenance=prov)
        record = RunRecord(key=key, experiment=exp.name, profile=profile, config=config,
                           seeds=chosen, results=results, verdicts=verdicts, figures=figures,
                           cached=False, created=created, provenance=prov, out=out_dir)
    from deeplimits.report.html import write_report

    write_report(out_dir)
    return record


def experiments() -> list[str]:
    """Names of the registered experiments."""
    return registry.names()

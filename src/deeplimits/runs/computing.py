"""Computing a run: train, judge, render its figures, with provenance; touches no store (any process may call it)."""

from __future__ import annotations

import datetime as _dt
import io
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplimits import registry
from deeplimits.experiment import Progress, Results, Verdict, no_progress

FIGURE_FORMATS = ("png", "svg")


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


def render_figure(figure: Any) -> dict[str, bytes]:
    import matplotlib.pyplot as plt

    rendered = {}
    for fmt in FIGURE_FORMATS:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else {})
        rendered[fmt] = buffer.getvalue()
    plt.close(figure)
    return rendered


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


@dataclass
class Computed:
    """A run computed but not yet stored: what a sweep's worker sends back to the driver."""

    results: Results
    verdicts: list[Verdict]
    figures: dict[str, dict[str, bytes]]  # name -> format -> bytes
    created: str
    provenance: dict[str, Any]


def compute(experiment: str, *, profile: str, seeds: tuple[int, ...], overrides: dict[str, Any],
            progress: Progress = no_progress) -> Computed:
    """Train and judge one run, render its figures; touches no store (any process may call it)."""
    exp = registry.get(experiment)
    config = exp.config_for(profile, **overrides)
    try:
        results = exp.run(config, seeds, progress)
    finally:
        release_compiled_programs()
    verdicts = exp.judge(results)
    rendered = {name: render_figure(fig) for name, fig in exp.figures(results).items()}
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Computed(results=results, verdicts=verdicts, figures=rendered, created=created, provenance=provenance())

"""Sweeps: an experiment over the Cartesian grid of some config fields, one task per grid point.

    >>> import deeplimits
    >>> s = deeplimits.sweep("parity", grid={"learning_rate": [0.01, 0.1]}, profile="smoke", seeds=2)
    >>> s.flips  # where along each axis a verdict changes

Each grid point is an ordinary run (same key, same store row as ``deeplimits run`` with
those settings), and each trains its seeds vectorised. Backends:

- ``local`` (default): the points one after another in this process.
- ``ray``: each point a Ray task (``pip install 'deeplimits[ray]'``); ``address`` joins an
  existing cluster, none starts a local one. A task whose worker dies is retried by Ray.

Workers only compute. Results travel back to the driver, which alone writes the store, one
transaction per point as it arrives: a driver killed mid-sweep loses no finished point and
leaves no partial one, and the same command again skips what is stored. A point that another
process is computing (its lease in the store) is waited for, not computed twice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeplimits import registry, runs
from deeplimits.config import ConfigError, check_key, field_types, parse_value, to_dict
from deeplimits.engine.devices import ENV_CACHE
from deeplimits.experiment import Progress, no_progress
from deeplimits.stats.flips import flips, value_text
from deeplimits.store import Store, StoredRun
from deeplimits.store.files import write_atomically

BACKENDS = ("local", "ray")
MAX_POINTS = 1_000
RAY_TASK_RETRIES = 3  # a task whose worker process dies is run again, at most this often


@dataclass(frozen=True)
class SweepPoint:
    settings: dict[str, Any]  # the grid axes' values at this point
    key: str  # its run key in the store
    run: StoredRun
    computed: bool  # computed by this call (False: it was stored already, or another process computed it)


@dataclass
class SweepRecord:
    id: str
    experiment: str
    profile: str
    axes: dict[str, list[Any]]  # axis -> its values, in grid order
    fixed: dict[str, Any]  # the other overrides, the same at every point
    seeds: tuple[int, ...]
    points: list[SweepPoint]  # grid order (the last axis varies fastest)
    flips: list[str]  # where along each axis a claim's verdict changes, in words
    figure: dict[str, Path]  # format -> file
    backend: str
    wall_s: float

    @property
    def computed(self) -> int:
        return sum(p.computed for p in self.points)


def parse_grid(config_cls: type, items: Sequence[str]) -> dict[str, list[Any]]:
    """``["key=v1,v2", ...]`` into ``{key: [v1, v2]}``, each value parsed to the field's type.

    For a field that is itself a list (e.g. parity's ``dims``) each comma-separated value is one
    point with a one-element list; separate points with ``;`` to give several elements each.
    """
    types = field_types(config_cls)
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ConfigError(f"--grid {item!r}: expected key=value1,value2,...")
        check_key(config_cls, key)
        if key in grid:
            raise ConfigError(f"--grid {key}: given twice; list all its values in one --grid")
        is_list = typing.get_origin(types[key]) is tuple
        parts = text.split(";") if is_list and ";" in text else text.split(",")
        parts = [p.strip() for p in parts]
        if not all(parts):
            raise ConfigError(f"--grid {item!r}: an empty value")
        grid[key] = [parse_value(types[key], p, key) for p in parts]
    return grid


@dataclass(frozen=True)
class SweepPlan:
    id: str
    experiment: str
    profile: str
    axes: dict[str, list[Any]]
    fixed: dict[str, Any]
    seeds: tuple[int, ...]
    points: list[tuple[dict[str, Any], Any, str]]  # (axis settings, config, run key)


def plan_sweep(experiment: Any, grid: Any, *, profile: str = "quick", seeds: Any = None,
               overrides: dict[str, Any] | None = None) -> SweepPlan:
    """Check the whole grid before any work: every point's config, the seeds, the size."""
    exp = registry.get(experiment)
    overrides = dict(overrides or {})
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("a sweep needs a grid: at least one config field with its values, e.g. "
                          "--grid learning_rate=0.01,0.1")
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        check_key(exp.Config, key)
        if key in overrides:
            raise ConfigError(f"{key} is both a grid axis and a fixed setting (--set); give it once")
        values = list(values) if isinstance(values, (list, tuple, range)) else [values]
        if not values:
            raise ConfigError(f"grid axis {key} has no values")
        if len(values) == 1:
            raise ConfigError(f"grid axis {key} has one value ({value_text(values[0])}): a sweep varies each axis "
                              f"over at least two values; for a fixed setting use --set {key}={value_text(values[0])}")
        axes[key] = values
    count = 1
    for values in axes.values():
        count *= len(values)
    if count > MAX_POINTS:
        raise ConfigError(f"the grid has {count} points; at most {MAX_POINTS} per sweep")
    chosen = runs.resolve_seeds(seeds, exp.default_seeds[profile])
    points, normal_axes = [], {k: [] for k in axes}
    for combination in itertools.product(*axes.values()):
        settings = dict(zip(axes, combination))
        _, config, _, key = runs.plan_run(exp.name, profile, chosen, {**overrides, **settings})
        normal = to_dict(config)
        points.append(({k: normal[k] for k in axes}, config, key))
        for k in axes:
            if normal[k] not in normal_axes[k]:
                normal_axes[k].append(normal[k])
    for k, values in axes.items():
        if len(normal_axes[k]) != len(values):
            raise ConfigError(f"grid axis {k}: values must be distinct (got {', '.join(map(str, values))})")
    fixed = {k: v for k, v in to_dict(exp.config_for(profile, **overrides)).items()
             if k in overrides}
    identity = json.dumps({"experiment": exp.name, "version": exp.version, "profile": profile,
                           "axes": normal_axes, "fixed": fixed, "seeds": list(chosen)},
                          sort_keys=True, separators=(",", ":"))
    return SweepPlan(id=hashlib.sha256(identity.encode()).hexdigest()[:16], experiment=exp.name, profile=profile,
                     axes=normal_axes, fixed=fixed, seeds=chosen, points=points)


def sweep(experiment: str, grid: dict[str, Sequence[Any]], *, profile: str = "quick",
          seeds: int | Sequence[int] | None = None, backend: str = "local", address: str | None = None,
          cpus_per_task: int = 1, out: str | Path | None = None, rerun: bool = False,
          progress: Progress = no_progress, **overrides: Any) -> SweepRecord:
    """Run ``experiment`` at every point of ``grid`` (``{field: [values]}``), on ``backend``.

    ``overrides`` are fixed config fields. Points already stored are skipped unless
    ``rerun``. ``progress("grid points", done, total)`` is called as points finish.
    """
    started = time.monotonic()
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: accepted: {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise ConfigError("an address is for the ray backend (--backend ray)")
    if not runs.is_integer(cpus_per_task) or cpus_per_task < 1:
        raise ConfigError(f"cpus_per_task={cpus_per_task!r}: expected an integer >= 1")
    plan = plan_sweep(experiment, grid, profile=profile, seeds=seeds, overrides=overrides)
    if backend == "ray":
        require_ray()
    out_dir = runs.results_dir(out)
    store = Store(out_dir)
    store.check()
    created = _now()
    point_rows = [{"settings": s, "key": k} for s, _, k in plan.points]
    store.save_sweep(sweep_id=plan.id, experiment=plan.experiment, profile=profile, axes=plan.axes,
                     fixed=plan.fixed, seeds=plan.seeds, points=point_rows, created=created)

    settings_of = {k: s for s, _, k in plan.points}
    config_of = {k: c for _, c, k in plan.points}
    computed: set[str] = set()
    total, done = len(plan.points), 0
    leases = runs.Leases(store)
    try:
        waiting = [k for _, _, k in plan.points]
        progress("grid points", 0, total)
        while waiting:
            mine, busy = [], []
            for key in waiting:
                state = leases.claim(key, rerun=rerun and key not in computed)
                if state == "done":
                    done += 1
                    progress("grid points", done, total)
                else:
                    (mine if state == "mine" else busy).append(key)
            tasks = [(key, {**overrides, **settings_of[key]}) for key in mine]
            for key, result in _execute(plan, tasks, backend, address, cpus_per_task):
                runs.store_computed(store, out_dir, experiment=plan.experiment, key=key, profile=profile,
                                   config=config_of[key], seeds=plan.seeds, computed=result)
                leases.forget(key)
                computed.add(key)
                done += 1
                progress("grid points", done, total)
            waiting = busy
            if waiting:  # computed by another process: wait for it (or for its lease to be abandoned)
                time.sleep(runs.Leases.POLL_S)
    finally:
        leases.close()

    points = []
    for settings, _, key in plan.points:
        points.append(SweepPoint(settings=settings, key=key, run=store.get(key), computed=key in computed))
    figure = sweep_figure_files(store, out_dir, plan, points, created)
    from deeplimits.report.html import write_report

    write_report(out_dir)
    return SweepRecord(id=plan.id, experiment=plan.experiment, profile=profile, axes=plan.axes, fixed=plan.fixed,
                       seeds=plan.seeds, points=points, flips=flips(plan.axes, points), figure=figure,
                       backend=backend, wall_s=time.monotonic() - started)


def require_ray() -> None:
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("the ray backend needs Ray, which is not installed: pip install 'deeplimits[ray]'")


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# Backends: each yields (run key, runs.Computed) as points finish, in any order.

def compute_sweep_point(experiment: str, profile: str, seeds: tuple[int, ...],
                        overrides: dict[str, Any]) -> runs.Computed:
    """One grid point, computed wherever it runs (this process or a Ray worker); stores nothing."""
    if os.environ.get(ENV_CACHE):  # a Ray worker: share compiled programs with the driver's cache
        from deeplimits.engine import enable_persistent_cache

        enable_persistent_cache()
    return runs.compute(experiment, profile=profile, seeds=seeds, overrides=overrides)


def _execute(plan: SweepPlan, tasks: list[tuple[str, dict[str, Any]]], backend: str, address: str | None,
             cpus_per_task: int) -> Iterator[tuple[str, runs.Computed]]:
    if not tasks:
        return
    if backend == "local":
        for key, overrides in tasks:
            yield key, compute_sweep_point(plan.experiment, plan.profile, plan.seeds, overrides)
    else:
        yield from _execute_on_ray(plan, tasks, address, cpus_per_task)


def _compilation_cache() -> str:
    """The driver's on-disk program cache (the CLI keeps one), for workers on the same machine; else off."""
    import jax

    return jax.config.jax_compilation_cache_dir or "off"


def init_ray(address: str | None = None, **settings: Any) -> None:
    """Join the Ray cluster at ``address``, or start a local one (``settings`` go to ``ray.init``).

    Ray starts its processes with ``fork`` + ``exec``; JAX warns at every fork of its
    (multithreaded) process, which here is harmless: the child runs no JAX before ``exec``.
    """
    import warnings

    import ray

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        # "local": always a new local cluster, even if RAY_ADDRESS names another
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 configure_logging=False, **settings)


def _execute_on_ray(plan: SweepPlan, tasks: list[tuple[str, dict[str, Any]]], address: str | None,
                    cpus_per_task: int) -> Iterator[tuple[str, runs.Computed]]:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        init_ray(address)
    try:
        remote = ray.remote(compute_sweep_point).options(
            num_cpus=cpus_per_task, max_retries=RAY_TASK_RETRIES, retry_exceptions=False,
            # each task gets one JAX device per core it has (at least two: results do not depend on the count)
            runtime_env={"env_vars": {"DEEPLIMITS_CPU_DEVICES": str(cpus_per_task), "MPLBACKEND": "Agg",
                                      ENV_CACHE: _compilation_cache()}})
        pending = {remote.remote(plan.experiment, plan.profile, plan.seeds, overrides): key
                   for key, overrides in tasks}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started_here:
            ray.shutdown()


def sweep_figure_files(store: Store, out_dir: Path, plan: SweepPlan, points: list[SweepPoint],
                       created: str) -> dict[str, Path]:
    """Draw the sweep, keep the PNG in the store (for the report) and export PNG and SVG files."""
    from deeplimits.report.sweeps import sweep_figure

    exp = registry.get(plan.experiment)
    rendered = runs.render_figure(sweep_figure(exp, plan.axes, points))
    store.save_sweep(sweep_id=plan.id, experiment=plan.experiment, profile=plan.profile, axes=plan.axes,
                     fixed=plan.fixed, seeds=plan.seeds,
                     points=[{"settings": p.settings, "key": p.key} for p in points], created=created,
                     figure=rendered["png"])
    files = {}
    for fmt, data in rendered.items():
        path = out_dir / "figures" / "sweeps" / f"{plan.experiment}-{plan.id}.{fmt}"
        write_atomically(path, data)
        files[fmt] = path
    return files

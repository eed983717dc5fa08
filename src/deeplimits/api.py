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
import numbers
import operator
import os
import platform
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deeplimits import registry
from deeplimits.config import ConfigError, to_dict
from deeplimits.experiment import Progress, Results, Verdict, no_progress
from deeplimits.store import Store, check_results_dir, run_key
from deeplimits.store.files import write_figures

MAX_SEED = 2**31 - 1
MAX_SEEDS = 1024  # per run: 128x a quick profile's 8 seeds, minutes to hours of training
FALSIFY = "falsify"  # the profile label of a stored falsifying run
FIGURE_FORMATS = ("png", "svg")


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


def results_dir(out: str | Path | None = None, *, write: bool = True) -> Path:
    """``out``, else ``$DEEPLIMITS_HOME``, else ``./deeplimits-results``, checked (:class:`StoreError`): a file
    there is refused, and so, with ``write``, is a directory this process cannot write to or create."""
    path = Path(out or os.environ.get("DEEPLIMITS_HOME") or "deeplimits-results")
    check_results_dir(path, write=write)
    return path


def resolve_seeds(seeds: int | Sequence[int] | None, default: int) -> tuple[int, ...]:
    """``None``: seeds 0..default-1; ``N``: seeds 0..N-1; a sequence: those seeds.

    Counts and seeds may be Python or NumPy integers; anything else (``2.0``, ``"2"``, ``True``)
    is refused with one line, as are more than :data:`MAX_SEEDS` seeds.
    """
    if seeds is None:
        return tuple(range(default))
    if is_integer(seeds):
        count = operator.index(seeds)
        if count < 1:
            raise ConfigError(f"seeds={count}: expected a count >= 1")
        _check_seed_count(count, default)
        return tuple(range(count))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ConfigError(f"seeds={seeds!r}: expected a count (an integer >= 1) or a list of seeds")
    listed = list(seeds)
    if not all(is_integer(s) and 0 <= s <= MAX_SEED for s in listed):
        raise ConfigError(f"seeds={listed!r}: each seed must be an integer in 0..{MAX_SEED}")
    chosen = tuple(operator.index(s) for s in listed)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(f"seeds={list(chosen)}: expected distinct seeds, at least one")
    _check_seed_count(len(chosen), default)
    return chosen


def is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_seed_count(count: int, default: int) -> None:
    if count > MAX_SEEDS:
        raise ConfigError(f"seeds={count}: at most {MAX_SEEDS} seeds per run (time and memory grow with seeds: "
                          f"{count} seeds cost about {count / default:.0f}x the profile's default of {default}); "
                          f"split the seeds over several runs")


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
    rendered = {name: _render(fig) for name, fig in exp.figures(results).items()}
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Computed(results=results, verdicts=verdicts, figures=rendered, created=created, provenance=provenance())


class Leases:
    """The leases this process holds in a store, renewed in the background while it computes them."""

    POLL_S = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, key: str, rerun: bool = False) -> str:
        """``"done"``, ``"mine"`` or ``"busy"`` (see :meth:`Store.claim`)."""
        state = self.store.claim(key, self.owner, rerun=rerun)
        if state == "mine":
            with self._lock:
                self.held.add(key)
            self._start()
        return state

    def wait_for(self, key: str, rerun: bool, notice: Progress = no_progress) -> str:
        """Claim ``key``, waiting while another live process holds it; ``"done"`` or ``"mine"``."""
        waited = False
        while (state := self.claim(key, rerun)) == "busy":
            if not waited:
                notice(f"waiting for {self.store.holder(key) or 'another process'}, which is computing this run",
                       0, 1)
                waited = True
            time.sleep(self.POLL_S)
        return state

    def forget(self, key: str) -> None:
        """The lease ended with the run's save (same transaction)."""
        with self._lock:
            self.held.discard(key)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._renew, name="deeplimits-leases", daemon=True)
            self._thread.start()

    def _renew(self) -> None:
        from deeplimits.store.sqlite import LEASE_RENEW_S

        while not self._stop.wait(LEASE_RENEW_S):
            with self._lock:
                keys = sorted(self.held)
            if keys:
                try:
                    self.store.renew(keys, self.owner)
                except Exception:  # a busy store: the next beat tries again
                    pass

    def close(self) -> None:
        """Give back every lease still held (a run that failed or was interrupted); stop renewing."""
        for key in sorted(self.held):
            try:
                self.store.release(key, self.owner)
            except Exception:  # closing after a failure: the lease also lapses when this process ends
                pass
        self.held.clear()
        self._stop.set()


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


def plan_run(experiment: Any, profile: str, seeds: Any,
             overrides: dict[str, Any]) -> tuple[Any, Any, tuple[int, ...], str]:
    """Check everything about a run before any work: ``(experiment, config, seeds, run key)``."""
    exp = registry.get(experiment)
    config = exp.config_for(profile, **overrides)
    chosen = resolve_seeds(seeds, exp.default_seeds[profile])
    return exp, config, chosen, run_key(exp.name, exp.version, to_dict(config), chosen)


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
    exp, config, chosen, key = plan_run(experiment, profile, seeds, overrides)
    out_dir = results_dir(out)
    store = Store(out_dir)
    store.check()
    leases = Leases(store)
    try:
        if leases.wait_for(key, rerun, progress) == "done":
            record = load_stored(store, out_dir, key=key, config=config, seeds=chosen)
        else:
            computed = compute(exp.name, profile=profile, seeds=chosen, overrides=overrides, progress=progress)
            record = store_computed(store, out_dir, experiment=exp.name, key=key, profile=label or profile,
                                    config=config, seeds=chosen, computed=computed)
            leases.forget(key)
    finally:
        leases.close()
    from deeplimits.report.html import write_report

    write_report(out_dir)
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

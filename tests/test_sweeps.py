"""Sweeps: the grid, resuming, the same results on Ray as locally, and killed drivers and workers."""

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import deeplimits
from deeplimits.builtin.gradient_failures.parity import Config
from deeplimits.cli import app
from deeplimits.config import ConfigError
from deeplimits.store import Store
from deeplimits.sweeps import parse_grid, plan_sweep

# A parity run of a few seconds: two SGD arms and the exact gradient-variance check at d <= 4.
TINY = dict(variance_max_dim=4, sampled_dims=(), dims=(3, 6))
TINY_ARGS = ["-s", "variance_max_dim=4", "-s", "sampled_dims=", "-s", "dims=3,6"]
GRID = {"learning_rate": [0.05, 0.5]}
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")


def test_the_grid_is_parsed_to_field_types_and_is_the_product_of_its_axes():
    grid = parse_grid(Config, ["learning_rate=0.1,1e-2", "dims=5,10", "steps=100,200"])
    assert grid == {"learning_rate": [0.1, 0.01], "dims": [(5,), (10,)], "steps": [100, 200]}
    assert parse_grid(Config, ["dims=5,10;30"]) == {"dims": [(5, 10), (30,)]}
    plan = plan_sweep("parity", grid, profile="smoke", seeds=2)
    assert len(plan.points) == 8 and len({key for *_, key in plan.points}) == 8
    assert [s for s, *_ in plan.points][2] == {"learning_rate": 0.1, "dims": [10], "steps": 100}
    # each point is the very run `deeplimits run` gives with those settings
    settings, _, key = plan.points[0]
    assert key == deeplimits.runs.plan_run("parity", "smoke", 2, {"learning_rate": 0.1, "dims": (5,), "steps": 100})[3]
    assert plan.id == plan_sweep("parity", grid, profile="smoke", seeds=2).id
    assert plan.id != plan_sweep("parity", grid, profile="smoke", seeds=3).id


@pytest.mark.parametrize("grid, overrides, message", [
    ({}, {}, "a sweep needs a grid"),
    ({"learning_rat": [0.1, 0.2]}, {}, "did you mean 'learning_rate'"),
    ({"learning_rate": []}, {}, "has no values"),
    ({"learning_rate": [0.0, -0.0]}, {}, "values must be distinct"),
    ({"learning_rate": [0.1, float("nan")]}, {}, "expected a finite number"),
    ({"learning_rate": [0.1, 0.3]}, {"learning_rate": 0.2}, "both a grid axis and a fixed setting"),
    ({"learning_rate": [0.1]}, {}, "grid axis learning_rate has one value .0.1.: a sweep varies each axis over at "
                                   "least two values; for a fixed setting use --set learning_rate=0.1"),
    ({"steps": list(range(1, 40)), "learning_rate": [i / 100 for i in range(1, 40)]}, {}, "at most 1000"),
])
def test_bad_grids_are_refused_before_any_work(grid, overrides, message):
    with pytest.raises(ConfigError, match=message):
        plan_sweep("parity", grid, profile="smoke", overrides=overrides)


@pytest.mark.parametrize("args, message", [
    (["sweep", "parity"], "a sweep needs a grid"),
    (["sweep", "parity", "--grid", "learning_rate=0.1,nan"], "expected a finite number"),
    (["sweep", "parity", "--grid", "learning_rate"], "expected key=value1,value2"),
    (["sweep", "parity", "--grid", "learning_rate=0.1,0.2", "--backend", "spark"], "accepted: local, ray"),
    (["sweep", "parity", "--grid", "learning_rate=0.1,0.2", "--address", "auto"], "--address is for the ray backend"),
    (["sweep", "parit", "--grid", "learning_rate=0.1,0.2"], "did you mean 'parity'"),
    (["sweep", "parity", "--grid", "learning_rate=0.1,0.2", "--seeds", "5000"], "at most 1024 seeds"),
    (["sweep", "parity", "--grid", "subset_size=1"], "grid axis subset_size has one value (1)"),
])
def test_bad_sweep_input_exits_2_with_one_line_and_stores_nothing(results_home, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1
    assert not (results_home / Store.FILENAME).exists()


def _arrays(store: Store, key: str) -> dict[str, np.ndarray]:
    results = store.results(key)
    out = {f"{arm}/{k}": v for arm, r in results.arms.items() for k, v in {**r.curves, **r.final}.items()}
    return {**out, **{f"diag/{k}": v for k, v in results.diagnostics.items()}}


def _same_results(a: Store, b: Store, keys) -> bool:
    for key in keys:
        x, y = _arrays(a, key), _arrays(b, key)
        if x.keys() != y.keys() or not all(np.array_equal(x[k], y[k], equal_nan=True) for k in x):
            return False
        if [v.to_dict() for v in a.get(key).verdicts] != [v.to_dict() for v in b.get(key).verdicts]:
            return False
    return True


def test_a_local_sweep_stores_every_point_draws_the_flips_and_resumes(results_home):
    seen = []
    record = deeplimits.sweep("parity", GRID, profile="smoke", seeds=2, progress=lambda *a: seen.append(a), **TINY)
    assert record.computed == 2 and [p.settings for p in record.points] == [{"learning_rate": 0.05},
                                                                           {"learning_rate": 0.5}]
    assert seen[0] == ("grid points", 0, 2) and seen[-1] == ("grid points", 2, 2)
    assert all(line.startswith(("parity-sgd-fails: ", "parity-gradient-variance: ")) for line in record.flips)
    assert record.figure["png"].read_bytes()[:4] == b"\x89PNG"
    html = (results_home / "report.html").read_text()
    assert f'id="sweep-{record.id}"' in html and "Where verdicts flip" in html
    # the same sweep again computes nothing; a point added to the grid is the only one computed
    assert deeplimits.sweep("parity", GRID, profile="smoke", seeds=2, **TINY).computed == 0
    wider = deeplimits.sweep("parity", {"learning_rate": [0.05, 0.5, 0.2]}, profile="smoke", seeds=2, **TINY)
    assert wider.computed == 1 and len(Store(results_home).runs()) == 3


def test_where_a_verdict_flips_is_found_between_neighbours():
    from types import SimpleNamespace

    from deeplimits.stats.flips import flips

    def point(lr, steps, status):
        verdict = SimpleNamespace(claim_id="c", status=status)
        return SimpleNamespace(settings={"lr": lr, "steps": steps}, run=SimpleNamespace(verdicts=[verdict]))

    points = [point(0.1, 10, "inconclusive"), point(0.1, 20, "reproduced"), point(1.0, 10, "not_reproduced"),
              point(1.0, 20, "reproduced")]
    assert flips({"lr": [0.1, 1.0], "steps": [10, 20]}, points) == [
        "c: inconclusive at lr=0.1 -> not_reproduced at lr=1.0 (at steps=10)",
        "c: inconclusive at steps=10 -> reproduced at steps=20 (at lr=0.1)",
        "c: not_reproduced at steps=10 -> reproduced at steps=20 (at lr=1.0)",
    ]
    alone = SimpleNamespace(settings={"lr": 0.1}, run=SimpleNamespace(
        verdicts=[SimpleNamespace(claim_id="c", status="reproduced")]))
    assert flips({"lr": [0.1]}, [alone]) == ["c: no flip along lr (reproduced throughout)"]


def _sweep_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from deeplimits.cli import main; main()", "sweep", "parity", "-p", "smoke",
            "-n", "2", "--out", str(out), *TINY_ARGS, *extra]


def _environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DEEPLIMITS_COMPILATION_CACHE": "off", "HOME": str(tmp_path / "home")}


def _stored_keys(out: Path) -> list[str]:
    path = out / Store.FILENAME
    if not path.exists():
        return []
    try:
        connection = sqlite3.connect(path, timeout=1)
        try:
            return [r[0] for r in connection.execute("SELECT key FROM runs")]
        finally:
            connection.close()
    except sqlite3.Error:
        return []


@pytest.mark.slow
def test_a_killed_driver_loses_no_finished_point_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "results"
    command = _sweep_command(out, "--grid", "learning_rate=0.05,0.5,0.2", "-s", "steps=1500")
    driver = subprocess.Popen(command, env=_environment(tmp_path), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not _stored_keys(out) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    finished = _stored_keys(out)
    assert 1 <= len(finished) < 3, "the driver was to be killed between two points"
    connection = sqlite3.connect(out / Store.FILENAME)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    store = Store(out)
    for key in finished:  # whole points: verdicts and figures with the run
        assert len(store.get(key).verdicts) == 2 and store.figures(key)
    again = subprocess.run(command, env=_environment(tmp_path), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(finished)} stored already" in again.stdout
    assert f"{3 - len(finished)} point(s) computed, {len(finished)} served from the store" in again.stdout
    assert len(_stored_keys(out)) == 3


def _processes_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if name in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
@needs_ray
@pytest.mark.skipif(not Path("/proc").exists(), reason="finds Ray's workers through /proc")
def test_on_ray_a_killed_worker_is_retried_and_the_results_are_the_local_backends(tmp_path):
    """A local Ray cluster of two CPUs; one worker is killed (SIGKILL) while it computes a grid point."""
    import threading

    import ray

    from deeplimits.sweeps import init_ray

    settings = dict(profile="smoke", seeds=2, steps=1000, **TINY)
    local = deeplimits.sweep("parity", GRID, out=tmp_path / "local", **settings)
    killed, stop = [], threading.Event()

    def kill_a_worker():
        while not killed and not stop.is_set():
            workers = _processes_named("ray::compute_sweep_point")
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.02)

    init_ray(num_cpus=2)
    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    try:
        on_ray = deeplimits.sweep("parity", GRID, backend="ray", out=tmp_path / "ray", **settings)
    finally:
        stop.set()
        killer.join()
        ray.shutdown()
    assert killed, "no Ray worker was seen computing a grid point"
    assert on_ray.computed == 2 and on_ray.id == local.id
    keys = [p.key for p in local.points]
    assert sorted(keys) == sorted(_stored_keys(tmp_path / "ray"))
    assert _same_results(Store(tmp_path / "local"), Store(tmp_path / "ray"), keys)


@pytest.mark.slow
def test_two_processes_starting_the_same_run_compute_it_once(tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "-c", "from deeplimits.cli import main; main()", "run", "parity", "-p", "smoke",
               "-n", "2", "--out", str(out), *TINY_ARGS, "-s", "steps=2000"]
    both = [subprocess.Popen(command, env=_environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in both]
    assert [p.returncode for p in both] == [0, 0], [e[-2000:] for _, e in outputs]
    served = [o for o, _ in outputs if "served from the store" in o]
    assert len(served) == 1, "exactly one of the two computed the run; the other waited for it"
    assert len(Store(out).runs()) == 1


def test_an_abandoned_lease_is_taken_over(tmp_path):
    from deeplimits.store import sqlite as store_module

    store = Store(tmp_path)
    assert store.claim("k", "a") == "mine" and store.claim("k", "b") == "busy" and store.claim("k", "a") == "mine"
    connection = sqlite3.connect(store.path)
    with connection:  # as if held by a process of this host that is gone
        connection.execute("UPDATE leases SET pid = ?", (_a_dead_pid(),))
    connection.close()
    assert store.claim("k", "b") == "mine"
    connection = sqlite3.connect(store.path)
    with connection:  # a live holder that stopped renewing
        connection.execute("UPDATE leases SET pid = ?, heartbeat = ?",
                           (os.getpid(), time.time() - store_module.LEASE_TIMEOUT_S - 1))
    connection.close()
    assert store.claim("k", "c") == "mine"
    assert store.holder("k") == f"pid {os.getpid()} on {os.uname().nodename}"


def _a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_sweep_record_lists_its_points_in_the_report_even_when_unfinished(tmp_path):
    """A sweep whose driver died is in the report with what it has, and says the command resumes it."""
    from deeplimits.report.html import build_report

    store = Store(tmp_path)
    store.save_sweep(sweep_id="abc", experiment="parity", profile="smoke", axes={"learning_rate": [0.1, 0.2]},
                     fixed={}, seeds=(0, 1), points=[{"settings": {"learning_rate": 0.1}, "key": "k1"},
                                                     {"settings": {"learning_rate": 0.2}, "key": "k2"}],
                     created="2026-12-02T00:00:00+00:00")
    html = build_report(tmp_path)
    assert 'id="sweep-abc"' in html and "0 of 2 stored" in html and "the same command resumes it" in html
    assert json.loads(json.dumps(store.sweeps()[0]["axes"])) == {"learning_rate": [0.1, 0.2]}


def test_the_sweep_figure_keeps_its_title_inside_and_its_legend_matches_the_markers():
    """A one-axis sweep is a one-column figure: the title is wrapped to its width, not clipped at both edges."""
    from types import SimpleNamespace

    from deeplimits import registry
    from deeplimits.report.sweeps import sweep_figure

    def point(lr, status):
        verdicts = [SimpleNamespace(claim_id=c, status=status, quantity="a measured quantity", estimate=0.5,
                                    low=0.4, high=0.6) for c in ("parity-sgd-fails", "parity-gradient-variance")]
        return SimpleNamespace(settings={"learning_rate": lr}, run=SimpleNamespace(verdicts=verdicts))

    fig = sweep_figure(registry.get("parity"), {"learning_rate": [0.1, 1.0]},
                       [point(0.1, "inconclusive"), point(1.0, "reproduced")])
    fig.canvas.draw()
    title = fig.get_suptitle()
    extent = fig._suptitle.get_window_extent()
    assert "\n" in title and 0 <= extent.x0 and extent.x1 <= fig.bbox.width
    handles = {h.get_label(): h for h in fig.legends[0].legend_handles}
    assert handles["inconclusive"].get_markerfacecolor() == "white"
    assert handles["reproduced"].get_markerfacecolor() != "white"

"""The Python API and the store: caching, reruns, and runs that are interrupted or killed."""

import os
import sqlite3
import subprocess
import sys

import pytest

import deeplimits
from deeplimits.config import ConfigError
from deeplimits.store import Store

SMOKE = dict(profile="smoke", seeds=2)


def test_run_returns_verdicts_figures_and_is_served_from_the_store(results_home):
    record = deeplimits.run("parity", **SMOKE, steps=200)
    assert not record.cached and record.config.steps == 200
    assert {v.claim_id for v in record.verdicts} == {"parity-sgd-fails", "parity-gradient-variance"}
    for formats in record.figures.values():
        assert formats["png"].read_bytes()[:4] == b"\x89PNG" and formats["svg"].exists()
    assert (results_home / "report.html").exists() and record.provenance["jax"]
    again = deeplimits.run("parity", **SMOKE, steps=200)
    assert again.cached and again.key == record.key
    assert [v.to_dict() for v in again.verdicts] == [v.to_dict() for v in record.verdicts]
    assert (again.results.arms["sgd-d8"].curves["accuracy"] == record.results.arms["sgd-d8"].curves["accuracy"]).all()
    fresh = deeplimits.run("parity", **SMOKE, steps=200, rerun=True)
    assert not fresh.cached and len(Store(results_home).runs()) == 1


def test_every_run_refreshes_the_report(results_home):
    deeplimits.run("parity", **SMOKE)
    html = (results_home / "report.html").read_text()
    assert "parity-sgd-fails" in html and "parity-gradient-variance" in html and "<script" not in html


@pytest.mark.parametrize("kwargs, message", [
    (dict(profile="fast"), "unknown profile 'fast'"),
    (dict(seeds=0), "seeds=0"),
    (dict(seeds=[1, 1]), "distinct"),
    (dict(dims=(0, 4)), "out of range"),
    (dict(stepz=3), "did you mean 'steps'"),
])
def test_bad_input_raises_and_stores_nothing(results_home, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        deeplimits.run("parity", **{**SMOKE, **kwargs})
    assert Store(results_home).runs() == []


def test_interrupt_leaves_no_partial_run_and_the_next_run_completes(results_home):
    def interrupt(label, done, total):
        if label == "sgd-d8" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deeplimits.run("parity", **SMOKE, progress=interrupt)
    assert Store(results_home).runs() == []
    assert not deeplimits.run("parity", **SMOKE).cached
    assert len(Store(results_home).runs()) == 1


@pytest.mark.slow
def test_a_killed_process_leaves_the_store_consistent(results_home):
    deeplimits.run("parity", **SMOKE)  # one finished run that must survive
    script = (
        "import os, signal, deeplimits\n"
        "def kill(label, done, total):\n"
        "    if label == 'gradient variance':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "deeplimits.run('parity', profile='smoke', seeds=3, progress=kill)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True)
    assert proc.returncode == -9
    connection = sqlite3.connect(results_home / Store.FILENAME)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    runs = Store(results_home).runs()
    assert [len(r.seeds) for r in runs] == [2]
    assert not deeplimits.run("parity", profile="smoke", seeds=3).cached


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="counts Linux memory maps")
def test_runs_release_their_compiled_programs_before_the_process_runs_out_of_maps(results_home, monkeypatch):
    """XLA maps memory for every compiled program; a session of runs that kept them all would pass
    the kernel's limit of 65,530 maps per process and crash in the compiler."""
    from deeplimits.runs import computing

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    assert computing.MAX_MEMORY_MAPS * 3 <= 65_530
    monkeypatch.setattr(computing, "MAX_MEMORY_MAPS", maps() + 500)  # as if the process were near the limit
    before = maps()
    for steps in (200, 300):  # each a new run, each compiling its programs anew
        deeplimits.run("parity", **SMOKE, steps=steps)
    assert maps() - before < 500  # one parity smoke run alone adds about 1,900 while it holds them


@pytest.mark.parametrize("experiment, seeds, overrides, message", [
    ("parity", 2.0, {}, "seeds=2.0: expected a count"),
    ("parity", "2", {}, "seeds='2': expected a count"),
    ("parity", [0, 1.5], {}, "each seed must be an integer"),
    ("parity", 100_000, {}, "at most 1024 seeds per run"),
    ("parity", 2, {"steps": 2.0}, "steps=2.0: expected int"),
    ("parity", 2, {"learning_rate": float("nan")}, "expected a finite number"),
    (None, 2, {}, "experiment must be given by name (a string), not None"),
    (123, 2, {}, "not 123"),
    ("PARITY", 2, {}, "did you mean 'parity'"),
])
def test_python_api_refuses_bad_types_with_one_clear_error(results_home, experiment, seeds, overrides, message):
    from deeplimits.registry import UnknownExperimentError

    with pytest.raises((ConfigError, UnknownExperimentError), match=message.replace("(", r"\(").replace(")", r"\)")):
        deeplimits.run(experiment, profile="smoke", seeds=seeds, **overrides)
    assert not (results_home / Store.FILENAME).exists()


def test_numpy_integers_and_equal_values_give_the_same_run():
    import numpy as np

    from deeplimits.builtin.gradient_failures.parity import Config
    from deeplimits.config import parse_assignments
    from deeplimits.runs import plan_run

    key = plan_run("parity", "smoke", 2, {"steps": 300, "learning_rate": 0.0})[3]
    assert plan_run("parity", "smoke", np.int64(2), {"steps": np.int64(300), "learning_rate": -0.0})[3] == key
    assert plan_run("parity", "smoke", [np.int32(0), 1], {"steps": 300, "learning_rate": np.float32(0)})[3] == key
    full_width = parse_assignments(Config, ["steps=３００", "learning_rate=-0"])
    assert plan_run("parity", "smoke", 2, full_width)[3] == key

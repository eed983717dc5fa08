import re

import pytest
from typer.testing import CliRunner

from deeplimits.cli import app
from deeplimits.store import Store

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_prints_verdict_table_and_serves_reruns_from_the_store(results_home):
    first = invoke("run", "parity", "--profile", "smoke", "--seeds", "2", "--set", "steps=200")
    assert first.exit_code == 0, first.output
    for text in ("parity-sgd-fails", "parity-gradient-variance", "95% interval", "figure:", "report (refreshed)",
                 "reproduced*", "* at a reduced budget: steps 200 (paper 50,000)\n"):
        assert text in first.output or text.replace("reproduced*", "inconclusive*") in first.output, text
    # not a terminal here: progress as plain lines, and no claim id or interval broken over lines
    lines = first.output.splitlines()
    assert any(line.startswith("parity sgd-d") and "elapsed" in line for line in lines), first.output
    for claim in ("parity-sgd-fails", "parity-gradient-variance"):
        row = next(line for line in lines if claim in line and "[" in line)
        assert re.search(r"\[-?[0-9.e+-]+, -?[0-9.e+-]+\]", row), row
    assert sum(line.startswith("  why: ") for line in lines) == 2
    assert "served from the store" in invoke("run", "parity", "-p", "smoke", "-n", "2", "-s", "steps=200").output
    runs = invoke("runs")
    assert runs.exit_code == 0 and "parity" in runs.output and "smoke" in runs.output
    listing = invoke("list")
    assert "parity-sgd-fails" in listing.output and "linear-periodic" in listing.output


def test_show_lists_claims_arms_fields_and_profiles():
    result = invoke("show", "parity")
    assert result.exit_code == 0
    for text in ("parity-sgd-fails", "expected", "sgd-d30", "failing", "control", "remedy", "subset_size",
                 "learning_rate", "50000", "paper", "quick", "smoke", "falsified by (quick profile, 5 seeds, "
                 "subset_size=1", "cannot be falsified: an identity", "(analytic)"):
        assert text in result.output, text


def test_show_prints_text_in_square_brackets_as_it_is_not_as_markup():
    result = invoke("show", "sorting")  # rich would read "[s, s + 1]" as a style tag and drop it
    assert result.exit_code == 0 and "test values in [s, s + 1] at length L" in result.output


@pytest.mark.slow
def test_falsify_runs_the_setting_and_says_whether_it_flipped(results_home):
    result = invoke("falsify", "portfolio", "--claim", "portfolio-variance-ratio")
    assert result.exit_code == 0, result.output
    for text in ("portfolio-variance-ratio", "not_reproduced", "falsified: yes"):
        assert text in result.output, text
    (stored,) = Store(results_home).runs()
    assert stored.profile == "falsify"


@pytest.mark.parametrize("args, message", [
    (["run", "parit"], "did you mean 'parity'"),
    (["run", "all", "parit"], "did you mean 'parity'"),
    (["run", "parity", "--set", "stepz=3"], "did you mean 'steps'"),
    (["run", "parity", "--set", "steps=ten"], "expected int"),
    (["run", "parity", "--set", "dims=0,5"], "out of range"),
    (["run", "parity", "--set", "steps=-4"], "out of range"),
    (["run", "parity", "--seeds", "0"], "seeds=0"),
    (["run", "parity", "--profile", "fast"], "unknown profile"),
    (["run", "parity", "linear-periodic", "--set", "dims=4"],
     "only parity accepts the key 'dims' (not linear-periodic)"),
    (["run", "all", "--set", "subset_size=3"], "only parity accepts the key 'subset_size' (not linear-periodic, "),
    (["run", "parity", "--set", "learning_rate=nan"], "learning_rate=nan: expected a finite number"),
    (["run", "parity", "--set", "learning_rate=-inf"], "expected a finite number"),
    (["run", "flat-activations", "--set", "bias_starts=nan,nan"], "expected a finite number"),
    (["run", "parity", "--seeds", "100000"], "at most 1024 seeds per run"),
    (["run", "PARITY"], "did you mean 'parity'"),
    (["show", "nope"], "unknown experiment"),
    (["falsify", "parity", "--claim", "parity-sgd-fail"], "no claim 'parity-sgd-fail'"),
    (["falsify", "parit"], "did you mean 'parity'"),
    (["run", "adversarial", "--set", "epsilons=-0.1,0.2"], "out of range"),
    (["run", "adversarial", "--set", "attack_epsilon=-0.01"], "out of range"),
    (["run", "adversarial", "--set", "epsilons="], "epsilons"),
    (["run", "color-inversion", "--set", "inversion_strength=1.5"], "out of range"),
    (["run", "overconfidence", "--set", "ensemble_size=1"], "out of range"),
])
def test_bad_input_exits_2_with_one_line_and_stores_nothing(results_home, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and result.output.count("error:") == 1
    assert Store(results_home).runs() == []


@pytest.mark.slow
def test_the_command_keeps_compiled_programs_on_disk(tmp_path):
    """`deeplimits` (a new process each time) writes its compiled programs to the persistent cache, so the
    next command with the same shapes skips the compiler; `off` keeps nothing, anywhere."""
    import os
    import shutil
    import subprocess
    import sys

    command = [sys.executable, "-c", "from deeplimits.cli import main; main()", "run", "parity", "-p", "smoke",
               "-n", "1", "-s", "steps=100", "-s", "variance_max_dim=4", "-s", "sampled_dims=",
               "--out", str(tmp_path / "results"), "--rerun"]
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "DEEPLIMITS_COMPILATION_CACHE")}
    env["HOME"] = str(tmp_path / "home")

    def run(**settings):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**env, **settings})
        assert done.returncode == 0, done.stderr[-2000:]

    default = tmp_path / "home" / ".cache" / "deeplimits" / "jax"
    run()
    assert len(list(default.iterdir())) > 0
    shutil.rmtree(default)
    run(DEEPLIMITS_COMPILATION_CACHE="off")
    assert not default.exists()

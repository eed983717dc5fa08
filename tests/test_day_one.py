"""What a new user meets first: results directories that cannot be written or are read-only, `list` showing the
report's verdicts, repeated names, one seed, file permissions, progress and display details."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import deeplimits
from deeplimits.cli import PlainProgress, app
from deeplimits.store import Store, StoreError

TINY = dict(steps=20, eval_every=20, dims=(3,), variance_max_dim=4, sampled_dims=())
TINY_ARGS = ["-s", "steps=20", "-s", "eval_every=20", "-s", "dims=3", "-s", "variance_max_dim=4",
             "-s", "sampled_dims="]
COMMAND = [sys.executable, "-c", "from deeplimits.cli import main; main()"]


def _invoke(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _environment(home: Path) -> dict[str, str]:
    return {**os.environ, "DEEPLIMITS_COMPILATION_CACHE": "off", "HOME": str(home), "MPLCONFIGDIR": str(home)}


def test_a_results_directory_that_cannot_be_created_is_one_line_and_exit_2(tmp_path):
    """/proc refuses new entries whatever its permission bits say (and root passes every bit)."""
    for command in (["run", "parity", "-p", "smoke", "-n", "1", *TINY_ARGS], ["report"]):
        done = subprocess.run([*COMMAND, *command, "--out", "/proc/deeplimits-nope"], capture_output=True,
                              text=True, timeout=300, env=_environment(tmp_path))
        assert done.returncode == 2, (command, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "error: results directory /proc/deeplimits-nope is not writable" in lines[0], lines
        assert "Traceback" not in done.stdout + done.stderr
    with pytest.raises(StoreError, match="not writable"):
        deeplimits.run("parity", profile="smoke", seeds=1, out="/proc/deeplimits-nope", **TINY)


READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


def _read_only(directory: Path):
    """A wrapper that runs a command with ``directory`` read-only. Root passes permission bits, so as root the
    command runs in a mount namespace of its own where the directory is a read-only bind mount (gone with the
    command); any other user gets the directory's write bits taken away."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda argv: argv
    wrap = lambda argv: ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_MOUNT,  # noqa: E731
                         str(directory), *argv]
    probe = subprocess.run(wrap(["sh", "-c", f"! touch {directory}/probe 2>/dev/null"]), capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no read-only bind mount here: {probe.stderr[-300:]!r}")
    return wrap


@pytest.mark.slow
def test_a_read_only_results_directory_can_be_listed_but_not_written(tmp_path):
    results, home = tmp_path / "results", tmp_path / "home"
    try:
        deeplimits.run("parity", profile="smoke", seeds=2, out=results, **TINY)
        before = {p.name: p.read_bytes() for p in results.iterdir() if p.is_file()}
        wrap = _read_only(results)
        (run,) = Store(results).runs()
        status = run.verdicts[0].status
        for command, expected in ((["runs"], (run.key, "smoke")), (["list"], (status, "smoke"))):
            done = subprocess.run(wrap([*COMMAND, *command, "--out", str(results)]), capture_output=True, text=True,
                                  timeout=300, env=_environment(home))
            assert done.returncode == 0, done.stderr[-2000:]
            assert all(text in done.stdout for text in expected), done.stdout
        done = subprocess.run(wrap([*COMMAND, "run", "parity", "-p", "smoke", "-n", "1", *TINY_ARGS, "--out",
                                    str(results / "sub")]), capture_output=True, text=True, timeout=300,
                              env=_environment(home))
        assert done.returncode == 2 and done.stderr.count("error:") == 1, done.stderr[-2000:]
        assert "it would be created in" in done.stderr and "not writable" in done.stderr
        assert {p.name: p.read_bytes() for p in results.iterdir() if p.is_file()} == before
    finally:
        results.chmod(0o755)


def _stored(store: Store, key: str, profile: str, status: str, created: str, budget: str = "") -> None:
    import numpy as np

    from deeplimits import registry
    from deeplimits.experiment import ArmResults, Results, Verdict

    results = Results(experiment="parity", version=registry.get("parity").version, config={"steps": 1},
                      seeds=(0, 1), arms={"sgd": ArmResults(steps=np.array([1]))})
    verdict = Verdict(claim_id="parity-sgd-fails", status=status, quantity="q", estimate=0.5, low=0.4, high=0.6,
                      n_seeds=2, rule="r", detail="d", budget=budget)
    store.save(key=key, profile=profile, results=results, verdicts=[verdict], figures={}, created=created,
               provenance={})


def test_list_shows_the_verdicts_the_report_shows_not_the_newest_run(results_home):
    """The experiment's own smoke run stands for it; the newer falsifying run and the newer quick sweep point
    (which would outrank smoke were it the experiment's own) do not."""
    store = Store(results_home)
    _stored(store, "own", "smoke", "reproduced", "2026-01-01T00:00:00+00:00", budget="reduced budget: steps 1")
    _stored(store, "falsifying", "falsify", "not_reproduced", "2026-01-02T00:00:00+00:00")
    _stored(store, "swept", "quick", "inconclusive", "2026-01-03T00:00:00+00:00")
    store.save_sweep(sweep_id="s", experiment="parity", profile="quick", axes={"steps": [1, 2]}, fixed={},
                     seeds=(0, 1), points=[{"settings": {"steps": 1}, "key": "swept"}], created="2026-01-03")
    listing = _invoke("list").output
    row = next(line for line in listing.splitlines() if "parity-sgd-fails" in line)
    assert "reproduced*" in row and "not_reproduced" not in row and "inconclusive" not in row, row
    assert "smoke" in row and "as in the report" in listing and "* measured below" in listing
    runs = _invoke("runs").output  # every stored run, with its profile and the reduced-budget mark
    assert all(text in runs for text in ("falsify", "quick", "smoke", "reproduced*", "not_reproduced"))


def test_an_experiment_named_twice_runs_and_prints_once(results_home):
    result = _invoke("run", "parity", "parity", "-p", "smoke", "-n", "2", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.count("parity-sgd-fails") and "[" in line]
    assert len(rows) == 1, result.output
    assert len(Store(results_home).runs()) == 1


def test_one_seed_is_explained_not_blamed_on_the_controls(results_home):
    result = CliRunner().invoke(app, ["run", "parity", "-p", "smoke", "-n", "1", *TINY_ARGS])
    assert result.exit_code == 0, result.output
    assert "with 1 seed there is no interval over seeds" in result.output
    assert "run has one seed, so there is no interval" in result.output
    assert "control did not succeed" not in result.output


def test_the_report_and_figures_get_the_users_umask_and_the_report_path_is_absolute(results_home):
    old = os.umask(0o022)
    try:
        result = _invoke("run", "parity", "-p", "smoke", "-n", "2", *TINY_ARGS)
    finally:
        os.umask(old)
    files = [results_home / "report.html", *(results_home / "figures").rglob("*.png")]
    assert len(files) > 1 and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files)
    path = re.search(r"report \(refreshed\): (\S+)", result.output).group(1)
    assert Path(path).is_absolute() and Path(path) == (results_home / "report.html").resolve()


def test_plain_progress_gives_no_estimate_before_it_means_something(monkeypatch, capsys):
    import deeplimits.cli as cli

    now = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: now[0])
    bar = PlainProgress()
    task = bar.add_task("parity sgd-d30", total=8)
    bar.update(task, 0, 8)
    now[0] += 0.2
    bar.update(task, 1, 8)
    now[0] += 30.0
    bar.update(task, 4, 8)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("parity sgd-d30: 0/8 (0%)") and "left" not in lines[0]
    assert not any("about 0 s left" in line for line in lines)
    assert lines[-1].startswith("parity sgd-d30: 4/8 (50%)") and lines[-1].endswith("about 30 s left")


def test_messages_are_sentences_and_settings_are_shown_rounded():
    result = CliRunner().invoke(app, ["run", "parity", "--set", "nosuchkey=1"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    accepted = message.split("Accepted: ")[1].rstrip(".").split(", ")
    assert "unknown config key 'nosuchkey'. Accepted: " in message and accepted == sorted(accepted)
    unknown = " ".join(CliRunner().invoke(app, ["show", "zzzz"]).output.split())
    known = unknown.split("Known: ")[1].rstrip(".").split(", ")
    assert known == sorted(known) and "parity" in known
    shown = _invoke("show", "adversarial").output
    assert "0.005208333333333333" not in shown and "≈0.00520833" in shown and "= 0.1 " in shown

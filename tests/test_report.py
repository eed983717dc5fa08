"""The HTML report: rendered from the store alone, every verdict in it, every image embedded."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from typer.testing import CliRunner

import deeplimits
from deeplimits import registry
from deeplimits.cli import app
from deeplimits.experiment import ArmResults, Results, Verdict
from deeplimits.report.catalogue import CATALOGUE, NOT_TURNED_INTO_EXPERIMENTS
from deeplimits.report.html import _checks, _lead, build_report, write_report
from deeplimits.store import Store

CLAIMS_MD = Path(__file__).resolve().parents[2] / "shared" / "CLAIMS.md"
PARITY_SMOKE = dict(profile="smoke", seeds=2, steps=200)
PORTFOLIO_SMOKE = dict(profile="smoke", seeds=2)


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_empty_store_lists_the_whole_catalogue(tmp_path):
    html = build_report(tmp_path)
    assert "No runs stored yet" in html
    for entry in CATALOGUE:
        assert f"<td>{entry.id}</td>" in html and entry.name in html
    for what, _source, why in NOT_TURNED_INTO_EXPERIMENTS:
        assert what in html and why in html
    assert html.count("no experiment yet") == sum(e.name not in registry.names() for e in CATALOGUE)
    assert not _images(html)


def test_one_run_puts_every_verdict_and_embeds_every_figure(results_home):
    record = deeplimits.run("parity", **PARITY_SMOKE)
    html = (results_home / "report.html").read_text()  # every run refreshes the report
    for v in record.verdicts:
        assert f'id="claim-{v.claim_id}"' in html and escape(v.quantity) in html
        assert f"{v.estimate:.4g}" in html and escape(v.rule) in html
    images = _images(html)
    assert len(images) == len(record.figures) and all(src.startswith("data:image/png;base64,") for src in images)
    assert record.key in html and record.provenance["jax"] in html
    for key in record.config.__dataclass_fields__:
        assert f"<code>{key}</code>" in html  # the full config


@pytest.mark.slow
def test_several_experiments_each_get_a_section_in_catalogue_order(results_home):
    parity = deeplimits.run("parity", **PARITY_SMOKE)
    portfolio = deeplimits.run("portfolio", **PORTFOLIO_SMOKE)
    html = build_report(results_home)
    assert html.index('id="exp-parity"') < html.index('id="exp-portfolio"')
    stored = [v for run in Store(results_home).runs() for v in run.verdicts]
    assert len(stored) == len(parity.verdicts) + len(portfolio.verdicts)
    for v in stored:
        assert f'id="claim-{v.claim_id}"' in html
    assert len(_images(html)) == len(parity.figures) + len(portfolio.figures)


@pytest.mark.slow
def test_the_most_thorough_run_is_shown_and_the_others_listed(results_home):
    smoke = deeplimits.run("parity", **PARITY_SMOKE)
    quick_like = deeplimits.run("parity", profile="quick", seeds=2, steps=400, eval_every=100, dims=(3, 8),
                                eval_samples=256, variance_max_dim=5)
    html = build_report(results_home)
    section = html[html.index('id="exp-parity"'):]
    assert f"run {quick_like.key}" in section and "Other stored runs of parity (1)" in section
    assert smoke.key in section


def _fake_run(store: Store, status: str, detail: str) -> None:
    results = Results(experiment="parity", version=registry.get("parity").version, config={"steps": 1},
                      seeds=(0, 1), arms={"sgd": ArmResults(steps=np.array([1]))})
    verdict = Verdict(claim_id="parity-sgd-fails", status=status, quantity="final accuracy", estimate=0.93,
                      low=0.91, high=0.95, n_seeds=2, rule="reproduced if <= 0.55", detail=detail)
    store.save(key="fake", profile="paper", results=results, verdicts=[verdict], figures={},
               created="2026-01-01T00:00:00+00:00", provenance={"jax": "x"})


def test_a_disagreement_is_said_in_words_with_its_numbers(tmp_path):
    _fake_run(Store(tmp_path), "not_reproduced", "d=30 accuracy 0.93 [0.91, 0.95] fails <= 0.55; control ok")
    html = build_report(tmp_path)
    assert "Our measurement disagrees with the source." in html
    assert "<li>d=30 accuracy 0.93 [0.91, 0.95] fails &lt;= 0.55</li>" in html and "<li>control ok</li>" in html
    assert "No verdict stored for this claim in this run." in html  # parity-gradient-variance: not in this run


def test_stored_text_is_escaped(tmp_path):
    _fake_run(Store(tmp_path), "inconclusive", "<script>alert(1)</script>")
    html = build_report(tmp_path)
    assert "<script>" not in html and "&lt;script&gt;" in html and "Inconclusive" in html
    _fake_run(Store(tmp_path), "inconclusive", "interval straddles a threshold: a 1 [0, 2] undecided on <= 1")
    assert "neither confirmed nor refuted</b>: the interval straddles a threshold." in build_report(tmp_path)


def test_checks_split_at_top_level_semicolons_only():
    assert _checks("a 1 [0; 2]; b (x; y); c") == ["a 1 [0; 2]", "b (x; y)", "c"]
    assert _checks("") == []
    detail = "control did not succeed, so the setup proves nothing: x 1 [0, 2] fails >= 3; y"
    assert _lead(detail) == "control did not succeed, so the setup proves nothing"
    assert _checks(detail) == ["x 1 [0, 2] fails >= 3", "y"] and _lead("x; y") == ""


def test_write_report_replaces_the_file_atomically(tmp_path):
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html" and path.read_text().startswith("<!doctype html>")
    assert not list(tmp_path.glob("*.part"))


def test_cli_report_prints_the_path_and_does_not_open_without_a_display(results_home, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = CliRunner().invoke(app, ["report", "--open"])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and "no display found" in result.output
    assert (results_home / "report.html").exists()


@pytest.mark.skipif(not CLAIMS_MD.exists(), reason=f"CLAIMS.md is not at {CLAIMS_MD}")
def test_catalogue_matches_claims_md():
    text = CLAIMS_MD.read_text(encoding="utf-8")
    listed = re.findall(r"^(?:### |- )([ABC]\d+) `([\w-]+)`", text, flags=re.MULTILINE)
    assert listed == [(e.id, e.name) for e in CATALOGUE]
    for experiment in registry.all_experiments():
        assert experiment.catalogue in {e.id for e in CATALOGUE}
        assert next(e for e in CATALOGUE if e.id == experiment.catalogue).name == experiment.name


def _chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium); "
                    ".ci/run installs it")
def test_report_renders_in_headless_chromium_without_errors(results_home, tmp_path):
    from playwright.sync_api import sync_playwright

    deeplimits.run("parity", **PARITY_SMOKE)
    deeplimits.run("portfolio", **PORTFOLIO_SMOKE)
    path = results_home / "report.html"
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(path.as_uri(), wait_until="load")
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    assert loaded and all(loaded)  # every embedded figure decodes
    assert widths[0] <= widths[1]  # nothing wider than the window: no sideways scrolling
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_each_claim_shows_its_falsifying_setting_and_what_it_gave(results_home):
    from deeplimits.runs import falsification_key

    record = deeplimits.run("parity", **PARITY_SMOKE)
    html = build_report(results_home)
    assert "Not run into this store yet" in html and "deeplimits falsify parity --claim parity-sgd-fails" in html
    assert "No setting can falsify it" in html  # parity-gradient-variance is an identity
    assert "Measured at a reduced budget" in html and "steps 200 (paper 50,000)" in html  # the smoke run
    results = Results(experiment="parity", version=record.results.version, config={"steps": 1}, seeds=(0, 1),
                      arms={"sgd": ArmResults(steps=np.array([1]))})
    flipped = Verdict(claim_id="parity-sgd-fails", status="not_reproduced", quantity="q", estimate=0.987,
                      low=0.95, high=1.02, n_seeds=5, rule="r", detail="d")
    Store(results_home).save(key=falsification_key("parity", "parity-sgd-fails"), profile="falsify",
                             results=results, verdicts=[flipped], figures={}, created="2026-01-02T00:00:00+00:00",
                             provenance={})
    html = build_report(results_home)
    falsify = html[html.index('id="claim-parity-sgd-fails"'):html.index('id="claim-parity-gradient-variance"')]
    assert "It gave" in falsify and "0.987" in falsify and "not reproduced" in falsify
    assert f"run {record.key}" in html  # the falsifying run is not shown as the experiment's run


def test_a_run_of_an_older_version_is_shown_only_as_a_stand_in_and_says_so(tmp_path):
    store = Store(tmp_path)
    _fake_run(store, "reproduced", "ok")
    html = build_report(tmp_path)
    assert "older than the\none installed" not in html and "run fake" in html
    results = Results(experiment="parity", version=registry.get("parity").version - 1, config={"steps": 1},
                      seeds=(0, 1), arms={"sgd": ArmResults(steps=np.array([1]))})
    store.save(key="older", profile="paper", results=results, verdicts=[], figures={},
               created="2026-02-01T00:00:00+00:00", provenance={})
    html = build_report(tmp_path)
    assert "run fake" in html  # the newer paper run of an older version does not replace it
    # now the only current run is gone
    store.save(key="fake", profile="paper", results=results, verdicts=[], figures={},
               created="2026-01-01T00:00:00+00:00", provenance={})
    assert "older than the\none installed" in build_report(tmp_path)


def test_a_verdict_decided_by_another_check_says_so_and_the_header_says_what_it_counts(tmp_path):
    from deeplimits.stats.rules import NOT_THE_MAIN

    _fake_run(Store(tmp_path), "not_reproduced", NOT_THE_MAIN + "MLP on shifted values 0.33 [0.26, 0.38] fails <= 0.1")
    html = build_report(tmp_path)
    assert "Our measurement disagrees with the source.</b> Decided by a check other than the measure shown" in html
    assert "<li>MLP on shifted values 0.33 [0.26, 0.38] fails &lt;= 0.1</li>" in html
    for label in ("catalogue entries", "entries with an experiment", "experiments with a stored run",
                  "claims reproduced", "claims not reproduced", "claims inconclusive"):
        assert f"</b>{label}</div>" in html, label

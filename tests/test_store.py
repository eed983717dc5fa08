import numpy as np
import pytest

from deeplimits.experiment import ArmResults, Results
from deeplimits.store import pack_results, run_key, unpack_results
from deeplimits.store.sqlite import SCHEMA_VERSION


def test_results_round_trip_through_the_blob():
    results = Results(
        experiment="x", version=2, config={"a": [1, 2]}, seeds=(0, 4),
        arms={"arm-1": ArmResults(steps=np.array([10, 20]), curves={"acc": np.ones((2, 2))},
                                  final={"acc": np.array([0.5, np.nan])}, diverged=np.array([False, True]),
                                  wall_s=1.5)},
        diagnostics={"v": np.arange(6.0).reshape(2, 3)}, wall_s=3.0)
    back = unpack_results(pack_results(results), experiment="x", version=2, config={"a": [1, 2]},
                          seeds=(0, 4), wall_s=3.0)
    arm = back.arms["arm-1"]
    assert np.array_equal(arm.steps, [10, 20]) and arm.wall_s == 1.5
    assert np.array_equal(arm.final["acc"], [0.5, np.nan], equal_nan=True)
    assert arm.diverged.tolist() == [False, True] and np.array_equal(back.diagnostics["v"], results.diagnostics["v"])


def test_run_key_is_canonical():
    assert run_key("p", 1, {"a": 1, "b": 2}, (0, 1)) == run_key("p", 1, {"b": 2, "a": 1}, (0, 1))
    assert run_key("p", 1, {"a": 1}, (0, 1)) != run_key("p", 2, {"a": 1}, (0, 1))
    assert run_key("p", 1, {"a": 1}, (0, 1)) != run_key("p", 1, {"a": 1}, (0, 2))


def test_a_store_written_before_the_new_verdict_fields_gains_them(tmp_path):
    import sqlite3

    from deeplimits.experiment import Verdict
    from deeplimits.store import Store

    old = sqlite3.connect(tmp_path / Store.FILENAME)  # the verdicts table as the first release wrote it
    old.executescript("""
        CREATE TABLE runs (key TEXT PRIMARY KEY, experiment TEXT NOT NULL, version INTEGER NOT NULL,
            profile TEXT NOT NULL, config TEXT NOT NULL, seeds TEXT NOT NULL, created TEXT NOT NULL,
            wall_s REAL NOT NULL, provenance TEXT NOT NULL, results BLOB NOT NULL);
        CREATE TABLE verdicts (run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
            claim_id TEXT NOT NULL, status TEXT NOT NULL, quantity TEXT NOT NULL, estimate REAL, low REAL,
            high REAL, n_seeds INTEGER NOT NULL, rule TEXT NOT NULL, detail TEXT NOT NULL,
            PRIMARY KEY (run_key, claim_id));
        INSERT INTO runs VALUES ('old', 'x', 1, 'quick', '{}', '[0, 1]', '2026-01-01', 1.0, '{}', x'');
        INSERT INTO verdicts VALUES ('old', 'c', 'reproduced', 'q', 0.5, 0.4, 0.6, 2, 'r', 'd');
    """)
    old.close()
    store = Store(tmp_path)
    (stored,) = store.runs()
    assert stored.verdicts[0].n_diverged == 0 and stored.verdicts[0].notes == "" and stored.verdicts[0].budget == ""
    results = Results(experiment="x", version=1, config={}, seeds=(0, 1), arms={"a": ArmResults(steps=np.array([1]))})
    verdict = Verdict(claim_id="c", status="inconclusive", quantity="q", estimate=0.5, low=0.1, high=0.9, n_seeds=1,
                      rule="r", detail="d", n_diverged=1, notes="n", budget="reduced budget: steps 1 (paper 2)")
    store.save(key="new", profile="quick", results=results, verdicts=[verdict], figures={}, created="2026-01-02",
               provenance={})
    assert store.get("new").verdicts == (verdict,)


# A store that is damaged, foreign or newer: one line, exit 2, the file untouched.

def _cli(*args):
    from typer.testing import CliRunner

    from deeplimits.cli import app

    return CliRunner().invoke(app, list(args))


def _foreign(path):
    import sqlite3

    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
    connection.close()


def _altered(sql):
    """A new, current store, then ``sql`` run on it behind deeplimits' back."""
    def damage(path):
        import sqlite3

        from deeplimits.store import Store

        Store(path.parent)._connect().close()
        connection = sqlite3.connect(path)
        connection.execute(sql)
        connection.close()

    return damage


@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(b"this is not a database, it is a shopping list\n" * 40),
     "is not a deeplimits store (not an SQLite database)"),
    (lambda path: path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000), "cannot be read"),
    (_foreign, "is not a deeplimits store (tables invoices)"),
    (_altered(f"PRAGMA user_version = {SCHEMA_VERSION + 1}"), "was written by a newer deeplimits"),
    (_altered("DROP TABLE verdicts"), "its table 'verdicts' is missing"),
    (_altered("ALTER TABLE runs ADD COLUMN colour TEXT NOT NULL DEFAULT 'red'"),
     "table 'runs' has columns that do not match this deeplimits (colour)"),
])
@pytest.mark.parametrize("command", [["run", "parity", "-p", "smoke", "-n", "1"], ["runs"], ["list"], ["report"],
                                     ["falsify", "parity"], ["sweep", "parity", "--grid", "learning_rate=0.1,0.2"]])
def test_a_bad_store_is_one_line_exit_2_and_left_untouched(results_home, damage, message, command):
    results_home.mkdir(parents=True)
    path = results_home / "deeplimits.sqlite"
    damage(path)
    before = {p.name: p.read_bytes() for p in results_home.iterdir()}
    result = _cli(*command)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1 and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in results_home.iterdir()} == before


def test_an_unversioned_store_is_migrated_and_versioned(tmp_path):
    import sqlite3

    from deeplimits.store import Store
    from deeplimits.store.sqlite import SCHEMA_VERSION

    connection = sqlite3.connect(tmp_path / Store.FILENAME)
    connection.executescript("CREATE TABLE runs (key TEXT PRIMARY KEY, experiment TEXT NOT NULL, version INTEGER "
                             "NOT NULL, profile TEXT NOT NULL, config TEXT NOT NULL, seeds TEXT NOT NULL, created "
                             "TEXT NOT NULL, wall_s REAL NOT NULL, provenance TEXT NOT NULL, results BLOB NOT NULL);")
    connection.close()
    assert Store(tmp_path).runs() == []
    connection = sqlite3.connect(tmp_path / Store.FILENAME)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "verdicts", "figures", "leases", "sweeps"} <= tables
    connection.close()


@pytest.mark.parametrize("where", ["file", "under-file"])
@pytest.mark.parametrize("command", [["run", "parity", "-p", "smoke", "-n", "1"], ["runs"], ["list"], ["report"],
                                     ["falsify", "parity"], ["sweep", "parity", "--grid", "learning_rate=0.1,0.2"]])
def test_a_results_directory_that_is_a_file_is_refused_before_any_work(tmp_path, where, command):
    target = tmp_path / "results.txt"
    target.write_text("mine")
    out = target if where == "file" else target / "inner"
    result = _cli(*command, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "is a file" in result.output or "which is a file" in result.output
    assert result.output.count("error:") == 1 and target.read_text() == "mine"


def test_a_failed_save_leaves_no_figure_files(results_home, monkeypatch):
    import deeplimits
    from deeplimits.store import Store

    def broken_save(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Store, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        deeplimits.run("parity", profile="smoke", seeds=1, steps=100, variance_max_dim=4, sampled_dims=())
    figures = results_home / "figures"
    assert not figures.exists() or not any(p.is_file() for p in figures.rglob("*"))


def test_concurrent_report_refreshes_never_collide(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from deeplimits.report.html import write_report

    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: write_report(tmp_path), range(48)))
    assert len(set(paths)) == 1 and paths[0].read_text().rstrip().endswith("</html>")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]

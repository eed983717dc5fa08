import numpy as np

from deeplimits.experiment import ArmResults, Results
from deeplimits.store import pack_results, run_key, unpack_results


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

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

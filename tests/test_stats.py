import numpy as np
import pytest

from deeplimits.stats import FAIL, PASS, UNSURE, Interval, at_least, at_most, decide, describe, mean_interval, tail_mean, within


def test_interval_contains_the_known_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 0.1, size=50)
    iv = mean_interval(values)
    assert iv.low < 3.0 < iv.high and iv.estimate == pytest.approx(values.mean())
    assert iv == mean_interval(values)


def test_interval_edge_cases():
    one = mean_interval(np.array([0.7]))
    assert one.estimate == 0.7 and np.isnan(one.low) and one.n == 1
    flat = mean_interval(np.full(5, 0.5))
    assert (flat.low, flat.high) == (0.5, 0.5)
    with_nan = mean_interval(np.array([1.0, np.nan, 1.0, 1.0]))
    assert with_nan.n == 3 and with_nan.estimate == 1.0
    assert mean_interval(np.array([np.nan])).n == 0


def test_rules_judge_the_whole_interval():
    iv = Interval(0.5, 0.48, 0.52, 5)
    assert within(iv, 0.45, 0.55) == PASS and within(iv, 0.5, 0.6) == UNSURE and within(iv, 0.6, 0.7) == FAIL
    assert at_least(iv, 0.4) == PASS and at_least(iv, 0.5) == UNSURE and at_least(iv, 0.6) == FAIL
    assert at_most(iv, 0.6) == PASS and at_most(iv, 0.5) == UNSURE and at_most(iv, 0.4) == FAIL
    assert at_least(Interval(0.9, np.nan, np.nan, 1), 0.1) == UNSURE


def test_a_failed_control_makes_the_verdict_inconclusive():
    good = describe("x", Interval(0.5, 0.49, 0.51, 5), PASS, "ok")
    bad_control = describe("control", Interval(0.6, 0.55, 0.65, 5), FAIL, ">= 0.95")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=good, controls=(bad_control,))
    assert verdict.status == "inconclusive" and "control" in verdict.detail
    assert decide(claim_id="c", quantity="q", rule="r", main=good).status == "reproduced"
    failed = describe("x", Interval(0.9, 0.88, 0.92, 5), FAIL, "near 0.5")
    assert decide(claim_id="c", quantity="q", rule="r", main=failed).status == "not_reproduced"


def test_tail_mean():
    curve = np.arange(20.0).reshape(2, 10)
    assert tail_mean(curve, 0.2).tolist() == [8.5, 18.5]
    assert tail_mean(curve[:, :1], 0.1).tolist() == [0.0, 10.0]


def test_first_step_at_most_per_seed():
    from deeplimits.stats import first_step_at_most

    steps = np.array([10, 20, 30])
    curve = np.array([[5.0, 1.0, 0.5], [0.1, 9.0, 9.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(first_step_at_most(steps, curve, 1.0), [20, 10, np.nan])

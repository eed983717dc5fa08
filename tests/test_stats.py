import numpy as np
import pytest
from scipy import stats

from deeplimits.stats import (
    FAIL,
    PASS,
    UNSURE,
    Interval,
    at_least,
    at_most,
    decide,
    describe,
    mean_interval,
    note,
    resampled_interval,
    share_interval,
    statistic_interval,
    tail_mean,
    within,
)
from deeplimits.stats.rules import CONTROL_FAILED, DIVERGED

COVERAGE_REPS = 4_000  # the standard error of a measured coverage of 0.95 is then 0.0034


def _coverage(draw, true_mean: float, n: int) -> float:
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(COVERAGE_REPS):
        iv = mean_interval(draw(rng, n))
        hits += iv.low <= true_mean <= iv.high
    return hits / COVERAGE_REPS


@pytest.mark.parametrize("n", [5, 8])
def test_mean_interval_holds_its_coverage_on_normal_values(n):
    assert _coverage(lambda rng, size: rng.normal(3.0, 0.5, size), 3.0, n) >= 0.93


@pytest.mark.parametrize("n", [5, 8])
def test_mean_interval_holds_its_coverage_on_skewed_values(n):
    sigma = 0.5  # lognormal: skewness 1.75
    assert _coverage(lambda rng, size: rng.lognormal(0.0, sigma, size), np.exp(sigma**2 / 2), n) >= 0.90


def test_mean_interval_is_the_student_t_interval():
    x = np.array([0.1, 0.4, 0.35, 0.2, 0.9])
    half = stats.t.ppf(0.975, df=4) * x.std(ddof=1) / np.sqrt(5)
    iv = mean_interval(x)
    assert iv.low == pytest.approx(x.mean() - half, rel=1e-12) and iv.high == pytest.approx(x.mean() + half, rel=1e-12)
    assert iv.method == "t" and iv.n == 5 and iv.n_missing == 0 and (iv.worst_low, iv.worst_high) == (iv.low, iv.high)


def test_share_interval_is_clopper_pearson_and_never_covers_less_than_95():
    none = share_interval(np.zeros(5, bool))
    assert none.estimate == 0.0 and none.low == 0.0
    assert none.high == pytest.approx(1 - 0.025 ** (1 / 5), rel=1e-9)  # closed form when no seed hits
    every = share_interval(np.ones(8, bool))
    assert every.high == 1.0 and every.low == pytest.approx(0.025 ** (1 / 8), rel=1e-9)
    for n in (5, 8):  # exact coverage, summed over every outcome k
        for p in (0.1, 0.3, 0.5, 0.8):
            covered = sum(stats.binom.pmf(k, n, p) for k in range(n + 1)
                          if share_interval(np.arange(n) < k).low <= p <= share_interval(np.arange(n) < k).high)
            assert covered >= 0.95, (n, p)


def test_statistic_interval_is_a_reproducible_bca_bootstrap():
    x = np.random.default_rng(3).normal(1.0, 1.0, 200)
    iv = statistic_interval(x, np.median)
    assert iv.method == "bca" and iv.low < 1.0 < iv.high and iv == statistic_interval(x, np.median)
    assert iv.estimate == pytest.approx(np.median(x))


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
    assert (flat.low, flat.high) == (0.5, 0.5) and flat.method == "exact"
    with_nan = mean_interval(np.array([1.0, np.nan, 1.0, 1.0]))
    assert with_nan.n == 3 and with_nan.estimate == 1.0 and with_nan.n_missing == 1
    assert mean_interval(np.array([np.nan])).n == 0


def test_diverged_seeds_widen_what_is_judged_to_all_they_could_change():
    values = np.array([0.99, 0.98, 0.99, 0.97, np.nan])
    unbounded = mean_interval(values)
    assert unbounded.n == 4 and unbounded.n_missing == 1 and unbounded.seeds == 5
    assert (unbounded.worst_low, unbounded.worst_high) == (-np.inf, np.inf)
    assert at_least(unbounded, 0.9) == UNSURE  # the left-out seed could have scored anything
    bounded = mean_interval(values, bounds=(0.0, 1.0))
    with_zero = mean_interval(np.array([0.99, 0.98, 0.99, 0.97, 0.0]))
    assert bounded.worst_low == pytest.approx(with_zero.low) and bounded.worst_low < bounded.low
    assert at_least(bounded, 0.9) == UNSURE and at_most(bounded, 1.5) == PASS
    assert "1 of 5 seeds diverged" in str(bounded)
    check = describe("accuracy", bounded, at_least(bounded, 0.9), ">= 0.9")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=check)
    assert verdict.status == "inconclusive" and verdict.detail.startswith(DIVERGED)
    assert verdict.n_seeds == 4 and verdict.n_diverged == 1


def test_a_diverged_control_makes_the_verdict_inconclusive():
    main = describe("x", Interval(0.5, 0.49, 0.51, 5), PASS, "ok")
    control = mean_interval(np.array([1.0, 1.0, 1.0, np.nan]), bounds=(0.0, 1.0))
    guard = describe("control", control, at_least(control, 0.95), ">= 0.95")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=main, controls=(guard,))
    assert verdict.status == "inconclusive" and verdict.detail.startswith(CONTROL_FAILED)
    assert verdict.n_diverged == 1


def test_notes_are_shown_and_never_judged():
    good = describe("x", Interval(0.5, 0.49, 0.51, 5), PASS, "ok")
    aside = note("speed", Interval(3.0, 2.0, 4.0, 5), "iterations 3 [2, 4]")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=good, notes=(aside,))
    assert verdict.status == "reproduced" and verdict.notes == "iterations 3 [2, 4]"
    assert "iterations" not in verdict.detail
    with pytest.raises(ValueError, match="notes"):
        decide(claim_id="c", quantity="q", rule="r", main=good, extra=(aside,))
    with pytest.raises(ValueError, match="note"):
        decide(claim_id="c", quantity="q", rule="r", main=good, notes=(good,))


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


def test_an_interval_of_a_bounded_quantity_stays_within_its_bounds():
    values = np.array([1.0, 0.998, 1.0, 0.9995, 1.0])
    free, bounded = mean_interval(values), mean_interval(values, bounds=(0.0, 1.0))
    assert free.high > 1.0 and bounded.high == 1.0 and bounded.low == free.low
    assert mean_interval(np.array([0.0, 0.01]), bounds=(0.0, 1.0)).low == 0.0
    assert np.isnan(mean_interval(np.array([0.5]), bounds=(0.0, 1.0)).low)  # one seed: still no interval
    with_diverged = mean_interval(np.array([1.0, 0.998, 1.0, np.nan]), bounds=(0.0, 1.0))
    assert 0.0 <= with_diverged.worst_low and with_diverged.worst_high <= 1.0
    error = mean_interval(np.array([0.01, 0.03, 0.0]), bounds=(0.0, np.inf))  # an error: one open end
    assert error.low == 0.0 and error.high == mean_interval(np.array([0.01, 0.03, 0.0])).high
    open_diverged = mean_interval(np.array([0.01, 0.03, 0.0, np.nan]), bounds=(0.0, np.inf))
    assert open_diverged.worst_low == 0.0 and open_diverged.worst_high == np.inf  # a diverged error could be any


def test_one_seed_is_said_to_be_too_few_not_a_failed_control():
    from deeplimits.stats.rules import TOO_FEW_SEEDS

    one = mean_interval(np.array([1.0]), bounds=(0.0, 1.0))
    main = describe("x", one, at_most(one, 0.6), "<= 0.6")
    control = describe("control", one, at_least(one, 0.9), ">= 0.9")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=main, controls=(control,))
    assert verdict.status == "inconclusive" and verdict.detail.startswith(TOO_FEW_SEEDS)
    assert CONTROL_FAILED not in verdict.detail
    # a control that fails outright is still a failed control, however many seeds
    failed = describe("control", Interval(0.2, 0.1, 0.3, 5), FAIL, ">= 0.9")
    assert decide(claim_id="c", quantity="q", rule="r", main=main,
                  controls=(failed,)).detail.startswith(CONTROL_FAILED)


def test_a_verdict_decided_by_another_check_than_the_one_shown_says_so():
    from deeplimits.stats.rules import NOT_THE_MAIN

    shown = describe("shown", Interval(0.0, 0.0, 0.0, 5), PASS, "<= 0.1")
    other = describe("other", Interval(0.3, 0.25, 0.35, 5), FAIL, "<= 0.1")
    verdict = decide(claim_id="c", quantity="q", rule="r", main=shown, extra=(other,))
    assert verdict.status == "not_reproduced" and verdict.detail.startswith(NOT_THE_MAIN + "other")
    assert not decide(claim_id="c", quantity="q", rule="r", main=other, extra=(shown,)).detail.startswith(NOT_THE_MAIN)


def test_a_bootstrap_over_items_brackets_its_estimate_and_narrows_with_more_items():
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 1.0, size=400)

    def widths(n):
        iv = resampled_interval(n, lambda seeds, items: float(np.mean(values[:n][items])), n_seeds=1)
        assert iv.estimate == pytest.approx(np.mean(values[:n])) and iv.low < iv.estimate < iv.high and iv.n == 1
        assert iv.method == "two-way"
        return iv.high - iv.low

    assert widths(400) < 0.7 * widths(100)  # ~1/sqrt(n): half as wide at four times the items
    t = mean_interval(values)
    assert widths(400) == pytest.approx(t.high - t.low, rel=0.15)  # a mean's bootstrap agrees with Student t
    assert resampled_interval(10, lambda seeds, items: np.nan, n_seeds=3).n == 0


def test_the_two_way_interval_carries_the_spread_between_seeds():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 1.0, size=(6, 300))  # (seeds, items)
    offsets = np.array([-1.5, -1.0, -0.5, 0.5, 1.0, 1.5])[:, None]  # each seed's model a little off

    def pooled_mean(values):
        return lambda seeds, items: float(values[seeds][:, items].mean())

    same = resampled_interval(300, pooled_mean(noise), n_seeds=6)
    spread = resampled_interval(300, pooled_mean(noise + offsets), n_seeds=6)
    assert spread.n == 6 and spread.low < spread.estimate < spread.high
    assert spread.high - spread.low > 3 * (same.high - same.low)  # the seeds' spread dominates, as it should
    # the seeds' part: the Student-t interval of the six seed means (the jackknife of a mean is s^2 / S exactly;
    # the items' small part adds a little variance and degrees of freedom)
    t = mean_interval((noise + offsets).mean(axis=1))
    assert spread.high - spread.low == pytest.approx(t.high - t.low, rel=0.1)


@pytest.mark.parametrize(("n_seeds", "seed_spread", "item_spread", "statistic"),
                         [(4, 1.0, 0.1, "mean"), (4, 0.5, 0.5, "mean"), (4, 0.1, 1.0, "mean"), (2, 1.0, 0.1, "mean"),
                          (4, 0.5, 0.1, "log ratio"), (2, 0.5, 0.1, "log ratio")])
def test_the_two_way_interval_covers_the_truth_of_seeds_crossed_with_items(n_seeds, seed_spread, item_spread,
                                                                           statistic):
    """Coverage by simulation: value = seed effect + item effect + noise over 200 items, whichever part dominates,
    at 4 and at 2 seeds; a pooled mean (truth 0) and the log of a ratio of two pooled means (truth log 2, as the
    eps50 ratios are judged). A two-way percentile bootstrap covered 0.74 where the seeds dominate at 4 seeds;
    an interval too wide to mean anything would cover nearly always."""
    rng = np.random.default_rng(7)
    reps, hits = 300, 0
    for rep in range(reps):
        values = (rng.normal(0, seed_spread, (n_seeds, 1)) + rng.normal(0, item_spread, (1, 200))
                  + rng.normal(0, 0.5, (n_seeds, 200)))
        if statistic == "mean":
            truth, measure = 0.0, lambda seeds, items, v=values: float(v[seeds][:, items].mean())
        else:
            other = rng.normal(0, seed_spread / 2, (n_seeds, 1)) + rng.normal(0, 0.5, (n_seeds, 200))
            truth = np.log(2.0)
            measure = lambda seeds, items, v=values, w=other: float(  # noqa: E731
                np.log((4 + v[seeds][:, items]).mean() / (2 + w[seeds][:, items]).mean()))
        iv = resampled_interval(200, measure, n_seeds=n_seeds, n_resamples=200, seed=rep)
        hits += iv.low <= truth <= iv.high
    assert 0.91 <= hits / reps <= 0.995  # 95% nominal; 300 repetitions have a standard error of 1.3 points

"""Every registered experiment, on its smoke profile: shapes, verdicts, figures, determinism."""

import functools
import os
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplimits import registry
from deeplimits.config import ConfigError, parse_assignments, to_dict
from deeplimits.experiment import STATUSES, Results

SEEDS = (0, 1)


class SmokeRuns(NamedTuple):
    batch: Results  # seeds SEEDS
    again: Results  # the same seeds, computed a second time
    alone: Results  # seed 1 alone


@functools.cache
def smoke_runs(name: str) -> SmokeRuns:
    """The three runs every contract check reads, computed back to back: the rerun and the seed alone reuse
    the batch's compiled programs (the seed alone is padded to the batch's shapes), so an experiment costs
    one compilation here, not three."""
    exp = registry.get(name)
    config = exp.config_for("smoke")
    return SmokeRuns(exp.run(config, SEEDS), exp.run(config, SEEDS), exp.run(config, (1,)))


def smoke_run(name: str) -> Results:
    return smoke_runs(name).batch


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_smoke_run_has_the_declared_shapes(name):
    exp = registry.get(name)
    config = exp.config_for("smoke")
    results = smoke_run(name)
    assert results.experiment == name and results.version == exp.version
    assert results.seeds == SEEDS and results.config == to_dict(config)
    assert set(results.arms) == {a.name for a in exp.arms(config)}
    for arm_name, arm in results.arms.items():
        for curve in arm.curves.values():
            assert curve.shape == (len(SEEDS), len(arm.steps)), arm_name
        for final in arm.final.values():
            assert final.shape == (len(SEEDS),), arm_name
        assert arm.diverged is not None and arm.diverged.shape == (len(SEEDS),)
    for key, value in results.diagnostics.items():
        assert isinstance(value, np.ndarray), key


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_every_claim_gets_a_verdict_and_a_figure(name):
    exp = registry.get(name)
    results = smoke_run(name)
    verdicts = exp.verdicts(results)
    assert [v.claim_id for v in verdicts] == [c.id for c in exp.claims]
    for v in verdicts:
        assert v.status in STATUSES and v.n_seeds == len(SEEDS) and v.rule and v.detail
    figures = exp.figures(results)
    assert set(figures) >= {c.id for c in exp.claims}
    for name, fig in figures.items():
        plots = [ax for ax in fig.axes if ax.has_data() and not ax.images]
        images = [ax for ax in fig.axes if ax.images]
        assert plots or images, name
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in plots), name  # plotted axes: labelled
        assert all(ax.get_title() for ax in images), name  # image panels: each says what it shows
        plt.close(fig)


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_same_seeds_give_bit_identical_results(name):
    first, again = smoke_runs(name).batch, smoke_runs(name).again
    for arm in first.arms:
        for key, value in {**first.arms[arm].curves, **first.arms[arm].final}.items():
            other = {**again.arms[arm].curves, **again.arms[arm].final}[key]
            assert np.array_equal(value, other, equal_nan=True), (arm, key)
    for key, value in first.diagnostics.items():
        assert np.array_equal(value, again.diagnostics[key], equal_nan=True), key


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_seed_alone_equals_seed_in_the_batch(name):
    alone, batch = smoke_runs(name).alone, smoke_runs(name).batch
    for arm in batch.arms:
        for key, value in {**batch.arms[arm].curves, **batch.arms[arm].final}.items():
            single = {**alone.arms[arm].curves, **alone.arms[arm].final}[key]
            assert np.array_equal(single[0], value[1], equal_nan=True), (arm, key)


@pytest.mark.parametrize("name", registry.names())
def test_claims_declare_valid_budgets_and_falsifying_settings(name):
    import dataclasses

    exp = registry.get(name)
    fields = {f.name for f in dataclasses.fields(exp.Config)}
    for claim in exp.claims:
        assert claim.kind in ("trained", "analytic")
        assert set(claim.budget) <= fields, claim.id
        f = claim.falsified_by
        if f is not None:
            exp.config_for(f.profile, **f.overrides)  # a valid config, or ConfigError
            assert f.seeds >= 2 and f.why, claim.id


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_a_run_below_the_papers_budget_is_labelled_so(name):
    exp = registry.get(name)
    results = smoke_run(name)
    for claim, verdict in zip(exp.claims, exp.judge(results)):
        cut = [b for b in claim.budget if results.config[b] < getattr(exp.Config(), b)]
        assert bool(verdict.budget) == bool(cut), claim.id
        assert all(f"{b} {results.config[b]:,} (paper " in verdict.budget for b in cut), verdict.budget


def _float_fields(exp):
    """(name, is a list) of every field that holds floats: float, a tuple of floats, or float-or-none."""
    import typing

    from deeplimits.config import field_types

    for name, tp in field_types(exp.Config).items():
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is float or (origin is not tuple and float in args):
            yield name, False
        elif origin is tuple and args[0] is float:
            yield name, True


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_no_float_field_accepts_a_non_finite_value(name, bad):
    """A NaN passes every range check (it compares false), so each float field of every experiment refuses it."""
    exp = registry.get(name)
    checked = 0
    for field, is_tuple in _float_fields(exp):
        value = (1.0, bad) if is_tuple else bad
        with pytest.raises(ConfigError, match="expected a finite number"):
            exp.config_for("quick", **{field: value})
        overrides = parse_assignments(exp.Config, [f"{field}={'1,' if is_tuple else ''}{bad}"])
        with pytest.raises(ConfigError, match="expected a finite number"):
            exp.config_for("quick", **overrides)
        checked += 1
    assert checked >= 1, f"{name} has no float field to check"


@pytest.mark.parametrize("name", registry.names()[:1])
def test_tests_of_one_experiment_share_a_worker(name, request):
    """Under `pytest -n N` an experiment's tests run on one worker, so they share its computed runs (conftest.py):
    the group is in the test's id. pytest-xdist's grouping silently stopped working with pytest 9.2."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        pytest.skip("one process (-n 0): no workers to group tests on")
    assert request.node.nodeid.endswith(f"@{name}"), request.node.nodeid

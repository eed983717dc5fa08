"""A broken trainer is caught: with every learning rate at 0 the controls fail, and no claim
that rests on training comes out `reproduced` (or `not_reproduced`): only `inconclusive`."""

import dataclasses
import functools

import pytest

from deeplimits import registry
from deeplimits.stats.rules import CONTROL_FAILED


@functools.cache
def untrained_verdicts(name: str):
    exp = registry.get(name)
    results = exp.run(exp.config_for("smoke", **exp.untrained), (0, 1, 2, 3))
    return {v.claim_id: v for v in exp.judge(results)}


def _rate_fields(exp) -> set[str]:
    return {f.name for f in dataclasses.fields(exp.Config)
            if "learning_rate" in f.name or f.name.endswith("_step")}


@pytest.mark.parametrize("name", registry.names())
def test_untrained_sets_every_learning_rate_to_zero(name):
    exp = registry.get(name)
    assert _rate_fields(exp) and set(exp.untrained) == _rate_fields(exp)
    assert all(all(v == 0 for v in value) if isinstance(value, tuple) else value == 0
               for value in exp.untrained.values())


@pytest.mark.slow
@pytest.mark.parametrize(("name", "claim_id"), [(e.name, c.id) for e in registry.all_experiments()
                                                 for c in e.claims if c.kind == "trained"])
def test_a_trainer_that_does_not_move_makes_every_trained_claim_inconclusive(name, claim_id):
    verdict = untrained_verdicts(name)[claim_id]
    assert verdict.status == "inconclusive", verdict.detail
    assert verdict.detail.startswith(CONTROL_FAILED), verdict.detail

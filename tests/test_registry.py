import pytest

from deeplimits import registry
from deeplimits.experiment import PROFILES, ROLES, Claim, Experiment
from deeplimits.registry import UnknownExperimentError, register


def test_builtin_experiments_are_registered():
    assert {"parity", "linear-periodic"} <= set(registry.names())


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(UnknownExperimentError, match="did you mean 'parity'"):
        registry.get("parit")


def test_duplicates_are_rejected():
    class Again(Experiment):
        name = "parity"
        claims = ()

    with pytest.raises(ValueError, match="already registered"):
        register(Again)

    class SameClaim(Experiment):
        name = "a-new-name"
        claims = (Claim("parity-sgd-fails", "", "", "", unfalsifiable="a test double"),)

    with pytest.raises(ValueError, match="claim ids already in use"):
        register(SameClaim)
    assert "a-new-name" not in registry.names()


@pytest.mark.parametrize("name", registry.names())
def test_every_experiment_declares_the_contract(name):
    exp = registry.get(name)
    assert set(PROFILES) <= set(exp.profiles) and set(exp.profiles) == set(exp.default_seeds)
    assert exp.profiles["paper"] == {}, "paper must be the Config defaults (the source's settings)"
    assert exp.claims and all(c.id.startswith(name.split("-")[0]) for c in exp.claims)
    assert exp.__module__ and __import__(exp.__module__, fromlist=["x"]).__doc__.strip()
    for profile in exp.profiles:
        arms = exp.arms(exp.config_for(profile))
        roles = {a.role for a in arms}
        assert roles <= set(ROLES) and "failing" in roles and "control" in roles
        assert len({a.name for a in arms}) == len(arms)
    for f in exp.Config.__dataclass_fields__.values():
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"

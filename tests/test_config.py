import pytest

from deeplimits.builtin.gradient_failures.parity import Config
from deeplimits.config import ConfigError, build_config, from_dict, parse_assignments, to_dict


def test_defaults_are_the_papers_settings():
    config = build_config(Config, {})
    assert (config.dims, config.width_factor, config.learning_rate, config.batch_size, config.steps,
            config.eval_every, config.eval_samples) == ((5, 10, 30), 10, 0.01, 128, 50_000, 100, 500)
    assert config.subset_size is None


def test_assignments_are_parsed_to_the_field_types():
    overrides = parse_assignments(Config, ["dims=4, 8", "learning_rate=0.5", "subset_size=3", "steps=7"])
    assert overrides == {"dims": (4, 8), "learning_rate": 0.5, "subset_size": 3, "steps": 7}
    assert parse_assignments(Config, ["subset_size=none"]) == {"subset_size": None}
    config = build_config(Config, {**overrides, "eval_every": 7})
    assert config.dims == (4, 8) and isinstance(config.learning_rate, float)


@pytest.mark.parametrize("assignment, message", [
    ("stepz=3", "unknown config key 'stepz'; did you mean 'steps'?"),
    ("steps=abc", "steps='abc': expected int"),
    ("steps=-1", "steps=-1 is out of range; accepted: 1 to 10000000"),
    ("dims=0,5", "dims=0 is out of range"),
    ("learning_rate=fast", "expected float"),
    ("nonsense", "expected key=value"),
])
def test_bad_assignments_give_one_line_errors(assignment, message):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("(", r"\(")) as info:
        build_config(Config, parse_assignments(Config, [assignment]))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("overrides", [
    {"steps": 2.5}, {"steps": True}, {"dims": "five"}, {"subset_size": 6}, {"eval_every": 10**6},
    {"dims": (5, 5)}, {"dims": ()},
])
def test_python_overrides_are_checked_too(overrides):
    with pytest.raises(ConfigError):
        build_config(Config, overrides)


def test_dict_round_trip():
    config = build_config(Config, {"dims": (3, 7), "steps": 300, "eval_every": 100})
    assert from_dict(Config, to_dict(config)) == config

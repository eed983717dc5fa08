"""The pieces behind `extrapolation` and `sorting`, against exact answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits import registry
from deeplimits.builtin.generalization import extrapolation as ex
from deeplimits.builtin.generalization import sorting as so


def test_projectile_range_and_the_fitted_laws_are_exact_without_noise():
    assert ex.projectile_range(10.0, 45.0) == pytest.approx(100 / 9.81)
    assert ex.projectile_range(np.array([10.0]), np.array([15.0]))[0] == pytest.approx(50 / 9.81)
    config = registry.get("extrapolation").config_for("smoke", noise=0.0, trials=(1, 4, 64))
    np.testing.assert_allclose(1 / ex.fit_law(config, (0, 1))[..., 0], 9.81, rtol=1e-6)  # g from one trial on
    drag = ex.fit_law(config, (0, 1), approximate=True)  # (S, T, 2): b, c of v^2 sin(2 theta) (b + c v)
    np.testing.assert_allclose(drag[:, 1:], np.broadcast_to([1 / 9.81, 0.0], (2, 2, 2)), atol=1e-9)
    linear = registry.get("extrapolation").config_for("smoke", noise=0.0, trials=(3, 64), target="linear")
    np.testing.assert_allclose(ex.fit_law(linear, (0,)), np.broadcast_to([1.0, 1 / 3, -8.0], (1, 2, 3)), atol=1e-9)
    x, r = ex.trials_of(linear, 0, 5)
    assert r == pytest.approx(x[:, 0] + x[:, 1] / 3 - 8)


@pytest.mark.parametrize("target", ["range", "linear"])
def test_a_predictor_that_stops_at_the_edge_of_the_box_is_far_off_so_the_falsifier_can_fail(target):
    config = registry.get("extrapolation").config_for("quick", target=target)
    stopped = ex.stopped_at_the_edge(config)
    assert stopped["inside"] == 0.0
    assert stopped["shell-1.5-2"] >= 1.4 * ex.OUTSIDE_MIN  # 0.92 (range), 0.295 (linear): the rule sees it
    # a linear extrapolation with its slopes 10% off stays well below the threshold on the linear target
    grid, scale = ex.test_points(config)
    truth = ex.observed_quantity(config, grid[:, 0], grid[:, 1])
    centre = ex.observed_quantity(config, *(np.array([c]) for c in ex.box(config)[0]))[0]
    if target == "linear":
        assert ex.relative_errors(centre + 1.1 * (truth - centre), truth, scale)["shell-1.5-2"] < ex.OUTSIDE_MIN / 2


def test_test_points_fall_in_the_box_or_one_of_its_two_shells():
    config = registry.get("extrapolation").config_for("smoke")
    grid, scale = ex.test_points(config)
    masks = ex.region_masks(scale)
    assert sum(m.astype(int) for m in masks.values()).tolist() == [1] * len(grid)
    inside = grid[masks["inside"]]
    assert inside[:, 0].min() >= 10 and inside[:, 0].max() <= 20 and inside[:, 1].min() >= 30
    assert grid[:, 0].min() == pytest.approx(5.0) and grid[:, 1].max() == pytest.approx(75.0)  # the box scaled by 2
    errors = ex.relative_errors(1.1 * np.ones(len(grid)), np.ones(len(grid)), scale)
    assert errors == pytest.approx({r: 0.1 for r in ex.REGIONS})


def test_trials_needed_takes_the_first_count_at_one_percent_and_censors_at_twice_the_largest():
    counts = np.array([4, 8, 16])
    errors = np.array([[0.5, 0.009, 0.001], [0.5, 0.2, 0.1], [0.01, 0.5, 0.001]])
    assert ex.trials_needed(counts, errors).tolist() == [8, 32, 4]


def test_sorting_scores_worked_by_hand():
    values = np.array([[0.3, 0.1, 0.2]])
    assert so.true_ranks(values).tolist() == [[2, 0, 1]]
    assert so.score(np.array([[2, 0, 1]]), values) == {"exact": 1.0, "per_position": 1.0, "kendall_tau": 1.0}
    # identity ranks: output 0.3, 0.1, 0.2 against 0.1, 0.2, 0.3; pairs (0,1), (0,2) discordant, (1,2) concordant
    assert so.score(np.array([[0, 1, 2]]), values) == pytest.approx(
        {"exact": 0.0, "per_position": 0.0, "kendall_tau": -1 / 3})
    # two elements at rank 0: positions 0 and 1 get no single value; position 2 is right
    assert so.score(np.array([[2, 0, 0]]), values)["per_position"] == pytest.approx(1 / 3)
    # tau of the scores, not of the ranks rounded from them: the order can be right where the ranks are not
    scores = np.array([[0.9, 0.1, 0.2]])
    assert so.decode(scores).tolist() == [[2, 0, 0]]
    assert so.score(so.decode(scores), values, scores) == pytest.approx(
        {"exact": 0.0, "per_position": 1 / 3, "kendall_tau": 1.0})


def test_normalised_ranks_count_only_the_unmasked_elements():
    values = jnp.array([[0.3, 0.1, 0.2, 0.0], [0.5, 0.9, 0.7, 0.8]])
    mask = jnp.array([[True, True, True, False], [True, True, True, True]])
    np.testing.assert_allclose(so.normalised_ranks(values, mask), [[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 1 / 3, 2 / 3]])


def test_the_comparator_is_antisymmetric_and_counts_what_each_element_beats():
    comparator = so.Comparator(key=jax.random.key(0))
    values = jnp.array([0.3, 0.1, 0.7, 0.5])
    g = comparator.pairwise(values)
    np.testing.assert_allclose(g, -g.T, atol=1e-6)
    np.testing.assert_allclose(jnp.diag(g), 0.0, atol=1e-6)
    np.testing.assert_allclose(comparator(values, jnp.ones(4, bool)), jnp.sum(g > 0, axis=1) / 3)  # normalised


def test_rankers_read_any_length_up_to_the_longest_and_ignore_what_is_masked():
    config = registry.get("sorting").config_for("smoke")
    for arm in ("mlp", "transformer", "comparator"):
        net = so.model_factory(config, arm)(jax.random.key(0))
        for length in (config.train_length, config.longest):
            assert net(jnp.linspace(0, 1, length), jnp.ones(length, bool)).shape == (length,)
        values, mask = jnp.array([0.3, 0.1, 0.2, 0.6]), jnp.array([True, True, True, False])
        changed = values.at[3].set(5.0)  # a padded slot's value must not matter
        np.testing.assert_allclose(net(values, mask)[:3], net(changed, mask)[:3], atol=1e-6)


def test_a_linear_target_must_stay_positive_on_the_doubled_box():
    from deeplimits.config import ConfigError

    with pytest.raises(ConfigError, match="needs it positive"):
        registry.get("extrapolation").config_for("quick", target="linear", speed_range=(4.0, 8.0))
    registry.get("extrapolation").config_for("quick", target="range", speed_range=(4.0, 8.0))


@pytest.mark.parametrize(("name", "setting", "message"), [
    ("extrapolation", "speed_range=20,10", "min < max"),
    ("extrapolation", "angle_range=30", "min < max"),
    ("extrapolation", "angle_range=10,80", "scaled by 2"),
    ("extrapolation", "trials=", "trials"),
    ("sorting", "test_lengths=0", "out of range"),
    ("sorting", "test_lengths=", "test_lengths"),
    ("sorting", "judged_shift=3", "is not one of shifts"),
])
def test_bad_settings_exit_2_and_store_nothing(results_home, name, setting, message):
    from typer.testing import CliRunner

    from deeplimits.cli import app
    from deeplimits.store import Store

    result = CliRunner().invoke(app, ["run", name, "--set", setting])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1
    assert Store(results_home).runs() == []

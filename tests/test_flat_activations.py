import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.config import ConfigError
from deeplimits.experiments.gradient_failures.flat_activations import (
    Config,
    SingleIndex,
    flat,
    forward_only_update,
    nearest_step,
    sample,
    smooth,
    target_direction,
    prediction_cost,
    thresholds,
)

Z = jnp.arange(55.0)


def test_flat_rounds_down_to_the_nearest_threshold():
    r = jnp.array([-3.0, 0.0, 0.99, 1.0, 26.5, 53.999, 54.0, 80.0])
    np.testing.assert_array_equal(flat(r, Z), [0, 0, 0, 1, 26, 53, 54, 54])
    uneven = jnp.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(flat(jnp.array([-5.0, 0.4, 0.5, 1.9, 7.0]), uneven), [-1, -1, 0.5, 0.5, 2])


def test_smooth_approximation_by_hand_and_in_the_limit():
    z = jnp.array([0.0, 1.0, 3.0])
    r = 1.5
    by_hand = 0 + 1 / (1 + np.exp(-2 * (r - 1))) + 2 / (1 + np.exp(-2 * (r - 3)))
    assert float(smooth(jnp.array(r), z, 2.0)) == pytest.approx(by_hand, rel=1e-6)
    away = jnp.array([0.5, 2.0, 2.9, 10.0])  # sharp enough, away from the thresholds: ũ = u
    np.testing.assert_allclose(smooth(away, z, 200.0), flat(away, z), atol=1e-6)


def test_forward_only_rule_is_the_mean_residual_times_the_input():
    """grad_fn = E[(u(wᵀx + b) - y) (x, 1)], checked against a batch computed by hand."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=(7, 4)).astype(np.float32)
    y = np.array([3, 0, 5, 2, 2, 7, 1], dtype=np.float32)
    w, b = np.array([0.5, -1.0, 2.0, 0.25], np.float32), np.float32(3.2)
    model = SingleIndex(jnp.asarray(w), jnp.asarray(b))
    z = jnp.arange(10.0)
    loss, direction = forward_only_update(z)(model, (jnp.asarray(g), None, jnp.asarray(y)))
    u = np.clip(np.floor(g @ w + b), 0, 9)
    residual = u - y
    np.testing.assert_allclose(direction.weight, (residual[:, None] * g).mean(axis=0), rtol=1e-6)
    assert float(direction.bias) == pytest.approx(residual.mean(), rel=1e-6)
    assert float(loss) == pytest.approx(0.5 * np.mean(residual**2), rel=1e-6)
    assert np.abs(residual).sum() > 0  # the batch is not already fitted


def test_forward_only_rule_vanishes_at_the_target():
    config = Config(dims=20)
    direction = target_direction(config, 0)
    batch = sample(direction, jax.random.key(1), 500, config)
    exact = SingleIndex(config.spread * direction, jnp.asarray(config.offset))
    _, update = forward_only_update(thresholds(config))(exact, batch)
    assert float(jnp.abs(update.weight).max()) < 1e-6 and abs(float(update.bias)) < 1e-6


def test_labels_cover_the_steps_and_inputs_are_standard():
    config = Config()
    g, r, y = sample(target_direction(config, 0), jax.random.key(2), 20_000, config)
    assert float(jnp.std(g)) == pytest.approx(1.0, abs=0.01)
    assert float(jnp.mean(r)) == pytest.approx(config.offset, abs=0.2)
    assert float(jnp.std(r)) == pytest.approx(config.spread, rel=0.02)
    assert len(np.unique(y)) >= 50 and set(np.unique(y)) <= set(range(55))


def test_nearest_step():
    np.testing.assert_array_equal(nearest_step(jnp.array([-2.0, 0.4, 0.6, 26.49, 70.0]), Z), [0, 0, 1, 26, 54])


def test_prediction_cost_counts_parameters_exactly():
    config = Config()
    assert prediction_cost(config, "forward-only")[0] == 101
    parameters, flops = prediction_cost(config, "end-to-end")
    assert parameters == (100 * 100 + 100) * 3 + 101
    assert flops >= 2 * (100 * 100 * 3 + 100)  # at least the multiply-adds
    assert prediction_cost(config, "multi-class")[0] == (100 * 100 + 100) * 2 + 100 * 55 + 55
    assert prediction_cost(config, "forward-only")[1] < flops / 100


def test_inconsistent_settings_are_refused():
    with pytest.raises(ConfigError, match="not a multiple of eval_every"):
        Config(forward_only_iterations=5_100, eval_every=250)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.builtin.gradient_failures.flat_activations import (
    AUTHORS_OFFSETS,
    OURS,
    Config,
    SingleIndex,
    bias_start,
    flat,
    forward_only_update,
    nearest_step,
    prediction_cost,
    relative_distance,
    sample,
    shifted,
    smooth,
    target,
)
from deeplimits.config import ConfigError

Z = jnp.arange(55.0)


def test_flat_rounds_down_to_the_nearest_threshold():
    r = jnp.array([-3.0, 0.0, 0.99, 1.0, 26.5, 53.999, 54.0, 80.0])
    np.testing.assert_array_equal(flat(r, Z), [0, 0, 0, 1, 26, 53, 54, 54])
    uneven = jnp.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(flat(jnp.array([-5.0, 0.4, 0.5, 1.9, 7.0]), uneven), [-1, -1, 0.5, 0.5, 2])


def test_smooth_approximation_by_hand_and_in_the_limit():
    """ũ = z_0 + Σ Δz_i σ(c (r - z_{i+1}) / Δz_i + shift), each sigmoid as sharp relative to its step."""
    z = jnp.array([0.0, 1.0, 3.0])
    r = 1.5
    by_hand = 0 + 1 / (1 + np.exp(-(2 * (r - 1) / 1 + 0.5))) + 2 / (1 + np.exp(-(2 * (r - 3) / 2 + 0.5)))
    assert float(smooth(jnp.array(r), z, 2.0, 0.5)) == pytest.approx(by_hand, rel=1e-6)
    away = jnp.array([0.5, 2.0, 2.9, 10.0])  # sharp enough, away from the thresholds: ũ = u
    np.testing.assert_allclose(smooth(away, z, 500.0), flat(away, z), atol=1e-6)


def test_the_authors_thresholds():
    """b* + ({-100, -95, ..., 95} ∪ {-5, ..., 5 fine}): 52 distinct values (three repeat)."""
    assert len(AUTHORS_OFFSETS) == 52 and np.all(np.diff(AUTHORS_OFFSETS) > 0)
    assert {-100, 95, -0.2, 0.1, 0.15, 0.175} <= set(AUTHORS_OFFSETS.tolist())
    t = target(Config(), 3)
    np.testing.assert_allclose(t["z"] - t["b"], AUTHORS_OFFSETS, atol=1e-5)


def test_forward_only_rule_is_the_mean_residual_times_the_input():
    """grad_fn = E[(u(wᵀx + b) - y) (x, 1)], checked against a batch computed by hand."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 4)).astype(np.float32)
    y = np.array([3, 0, 5, 2, 2, 7, 1], dtype=np.float32)
    w, b = np.array([0.5, -1.0, 2.0, 0.25], np.float32), np.float32(3.2)
    model = SingleIndex(jnp.asarray(w), jnp.asarray(b))
    loss, direction = forward_only_update(model, (jnp.asarray(x), None, jnp.asarray(y), jnp.arange(10.0)))
    u = np.clip(np.floor(x @ w + b), 0, 9)
    residual = u - y
    np.testing.assert_allclose(direction.weight, (residual[:, None] * x).mean(axis=0), rtol=1e-6)
    assert float(direction.bias) == pytest.approx(residual.mean(), rel=1e-6)
    assert float(loss) == pytest.approx(0.5 * np.mean(residual**2), rel=1e-6)
    assert np.abs(residual).sum() > 0  # the batch is not already fitted


@pytest.mark.parametrize("setting", ["authors", "ours"])
def test_forward_only_rule_vanishes_at_the_target(setting):
    config = Config(dims=20, setting=setting)
    t = target(config, 0)
    batch = sample(t, jax.random.key(1), 500, config)
    scale = 1.0 / config.dims if setting == "authors" else 1.0  # the models read g * scale
    exact = SingleIndex(t["a"] / scale, t["b"])
    _, update = forward_only_update(exact, batch)
    assert float(jnp.abs(update.weight).max()) < 1e-6 and abs(float(update.bias)) < 1e-6


def test_a_shifted_start_trains_the_same_model():
    """Moving the bias start into thresholds and labels changes nothing but the frame: the loss of
    (w, b0 + b) on the target equals the loss of (w, b) on the shifted target."""
    config = Config(dims=20)
    t = target(config, 1)
    start = bias_start(t, config, -2.0)
    x, r, y, z = sample(t, jax.random.key(2), 300, config)
    xs, rs, ys, zs = sample(shifted(t, start), jax.random.key(2), 300, config)
    np.testing.assert_allclose(rs, r - start, atol=1e-5)
    np.testing.assert_allclose(ys, y - start, atol=1e-5)
    w = jnp.linspace(-1, 1, 20)
    plain = smooth(SingleIndex(w, start + 0.3)(x), z, 50.0, 2.5) - y
    moved = smooth(SingleIndex(w, jnp.asarray(0.3))(xs), zs, 50.0, 2.5) - ys
    np.testing.assert_allclose(plain, moved, atol=1e-4)


def test_labels_cover_the_steps_in_our_setting_and_the_authors_scale():
    config = Config(**OURS)
    x, r, y, _ = sample(target(config, 0), jax.random.key(2), 20_000, config)
    assert float(jnp.std(x)) == pytest.approx(1.0, abs=0.01)
    assert float(jnp.mean(r)) == pytest.approx(config.offset, abs=0.2)
    assert float(jnp.std(r)) == pytest.approx(config.spread, rel=0.02)
    assert len(np.unique(y)) >= 50 and set(np.unique(y)) <= set(range(55))
    authors = Config()
    t = target(authors, 0)
    x, r, y, _ = sample(t, jax.random.key(3), 20_000, authors)
    assert float(jnp.std(x)) == pytest.approx(1 / 100, rel=0.02)  # x = g / d
    assert float(jnp.std(r)) == pytest.approx(float(jnp.linalg.norm(t["a"])), rel=0.02)  # ||v*|| / d ~ 0.1
    assert 3 <= len(np.unique(y)) <= 10  # the data meet a handful of uneven steps near b*


def test_relative_distance_is_in_units_of_the_local_step():
    z = jnp.array([0.0, 1.0, 1.1, 3.0])
    r = jnp.array([0.05, 0.5, 1.05, 1.104, 2.9, -1.0, 5.0])
    np.testing.assert_allclose(relative_distance(r, z), [0.05, 0.5, 0.5, 0.004 / 1.9, 0.1 / 1.9, 1.0, 1.0],
                               rtol=1e-4)


def test_nearest_step():
    np.testing.assert_array_equal(nearest_step(jnp.array([-2.0, 0.4, 0.6, 26.49, 70.0]), Z), [0, 0, 1, 26, 54])


def test_prediction_cost_counts_parameters_exactly():
    config = Config()
    assert prediction_cost(config, "forward-only")[0] == 101
    parameters, flops = prediction_cost(config, "end-to-end")
    assert parameters == (100 * 100 + 100) * 3 + 101
    assert flops >= 2 * (100 * 100 * 3 + 100)  # at least the multiply-adds
    assert prediction_cost(config, "multi-class")[0] == (100 * 100 + 100) * 2 + 100 * 52 + 52
    assert prediction_cost(config, "forward-only")[1] < flops / 100


def test_inconsistent_settings_are_refused():
    with pytest.raises(ConfigError, match="not a multiple of eval_every"):
        Config(forward_only_iterations=5_100, eval_every=250)

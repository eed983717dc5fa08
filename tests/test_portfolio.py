import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.builtin.gradient_failures.portfolio import (
    Allocation,
    batch_loss,
    decomposition_objective,
    end_to_end_objective,
    exact_objective,
    per_example_noise,
    sample_returns,
)
from deeplimits.engine import authors_truncated_normal, derive_key


def _grad(objective, model, x, y, z):
    batch = (jnp.array([x]), jnp.array([y]), z[None])
    return jax.grad(batch_loss(objective))(model, batch).weight


def test_estimators_have_the_same_expectation_over_every_z():
    """E_z grad(-z^T p) = grad(-e_y^T p): enumerate every z with z_y = 1 (k = 5)."""
    k, y, x = 5, 2, 3
    model = Allocation(key=jax.random.key(0), n_inputs=7, stocks=k)
    model = eqx.tree_at(lambda m: m.weight, model, 3 * model.weight)  # a non-uniform allocation
    others = [jnp.array(signs) for signs in itertools.product([-1.0, 1.0], repeat=k - 1)]
    zs = [jnp.insert(s, y, 1.0) for s in others]
    mean_end_to_end = sum(_grad(end_to_end_objective, model, x, y, z) for z in zs) / len(zs)
    decomposition = _grad(decomposition_objective, model, x, y, jnp.zeros(k))
    np.testing.assert_allclose(mean_end_to_end, decomposition, atol=1e-7)
    assert float(jnp.abs(decomposition).sum()) > 0.1  # not trivially zero
    single = _grad(end_to_end_objective, model, x, y, zs[0])
    assert not np.allclose(single, decomposition, atol=1e-3)  # one draw of z is noisy


def test_returns_have_the_best_stock_at_one_and_fair_coins_elsewhere():
    best = jnp.array([0, 3, 1])
    x, y, z = sample_returns(best, derive_key("t", "r", 0), 20_000, 5)
    assert np.array_equal(y, best[x]) and np.all(z[np.arange(len(y)), y] == 1.0)
    others = np.asarray(z)[np.arange(5)[None, :] != np.asarray(y)[:, None]]
    assert set(np.unique(others)) == {-1.0, 1.0} and abs(others.mean()) < 0.02


def test_noise_at_a_uniform_allocation_matches_the_closed_form():
    """At W = 0: decomposition noise (k-1)/k^3 (1 - 1/d) exactly; end-to-end about k times it."""
    d, k = 40, 16
    model = Allocation(key=jax.random.key(0), n_inputs=d, stocks=k)
    model = eqx.tree_at(lambda m: m.weight, model, jnp.zeros((d, k)))
    best = jax.random.randint(jax.random.key(1), (d,), 0, k)
    noise = per_example_noise(model, best, jax.random.key(2), 40_000)
    exact_decomposition = (k - 1) / k**3 * (1 - 1 / d)
    assert float(noise["decomposition"]) == pytest.approx(exact_decomposition, rel=1e-5)
    exact_end_to_end = (k - 1) / k**2 - (k - 1) / (d * k**3)
    assert float(noise["end-to-end"]) == pytest.approx(exact_end_to_end, rel=0.02)
    assert float(exact_objective(model, best)) == pytest.approx(-1 / k)


def test_the_authors_initialisation():
    """Weights truncated normal (2 std) with std 1/sqrt(d), the bias zero (dec_vs_e2e_stocks.py)."""
    d, k = 1000, 50
    model = Allocation(key=jax.random.key(3), n_inputs=d, stocks=k)
    w = np.asarray(model.weight)
    assert np.all(np.asarray(model.bias) == 0) and np.max(np.abs(w)) <= 2 / np.sqrt(d) + 1e-7
    assert np.std(w) == pytest.approx(0.8796 / np.sqrt(d), rel=0.02)  # a truncated normal's std is 0.88 of its scale
    assert Allocation(key=jax.random.key(3), n_inputs=d, stocks=k, bias=False).bias is None


def test_the_layer_is_kept_transposed_with_the_authors_draw():
    """The weight is W (k, d) transposed, one contiguous row per input, drawn as W so every seed keeps its
    numbers; its logits for input x are the column W[:, x]."""
    d, k = 7, 5
    key = jax.random.key(5)
    model = Allocation(key=key, n_inputs=d, stocks=k)
    w = authors_truncated_normal(key, (k, d), fan_in=d)
    assert model.weight.shape == (d, k) and np.array_equal(model.weight, w.T)
    assert np.array_equal(model.logits(jnp.array(3)), w[:, 3])


def test_one_examples_bias_gradient_is_its_logit_gradient():
    """The bias and the column W[:, x] receive the same gradient from one example: the bias's noise is the
    logit noise, and only its signal (the mean over all inputs) differs."""
    k, d = 6, 9
    model = Allocation(key=jax.random.key(4), n_inputs=d, stocks=k)
    z = jnp.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    grads = jax.grad(batch_loss(end_to_end_objective))(model, (jnp.array([4]), jnp.array([2]), z[None]))
    np.testing.assert_allclose(grads.bias, grads.weight[4], rtol=1e-6)  # the weight is W transposed: row x
    assert float(jnp.abs(grads.weight).sum() - jnp.abs(grads.weight[4]).sum()) == 0.0


def test_bias_signal_at_a_uniform_allocation_is_the_imbalance_of_the_best_stocks():
    """At W = 0 the decomposition logit gradient of input x is -(e_y - 1/k)/k, so the bias's mean gradient
    is -(freq - 1/k)/k with freq the share of inputs whose best stock is each k: signal ||.||^2."""
    d, k = 40, 8
    model = Allocation(key=jax.random.key(0), n_inputs=d, stocks=k)
    model = eqx.tree_at(lambda m: m.weight, model, jnp.zeros((d, k)))
    best = jax.random.randint(jax.random.key(1), (d,), 0, k)
    freq = np.bincount(np.asarray(best), minlength=k) / d
    noise = per_example_noise(model, best, jax.random.key(2), 256)
    assert float(noise["bias-signal"]) == pytest.approx(np.sum((freq - 1 / k) ** 2) / k**2, rel=1e-5)

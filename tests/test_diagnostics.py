"""Closed-form checks of the gradient-variance diagnostic."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deeplimits.diagnostics import (
    all_parities,
    all_sign_vectors,
    gradient_scale_sq,
    per_example_jacobian,
    split_sample_variance,
    target_gradients,
    variance_over_targets,
)
from deeplimits.engine import one_hidden_layer_relu


def test_parities_are_the_orthogonal_walsh_hadamard_functions():
    d = 4
    x, h = all_sign_vectors(d), all_parities(d)
    assert x.shape == (16, 4) and set(np.unique(x)) == {-1.0, 1.0} and len({tuple(r) for r in x.tolist()}) == 16
    assert np.array_equal(h @ h.T, 16 * np.eye(16))
    subset = 0b0101  # coordinates 0 and 2
    assert np.array_equal(h[subset], x[:, 0] * x[:, 2])


@pytest.mark.parametrize("d", [3, 6, 9])
def test_parity_variance_matches_its_closed_form(d):
    """With every hinge margin active, grad F_h = -E[h g] and by Parseval
    Var = G^2 / 2^d - ||g(1,...,1)||^2 / 4^d exactly (g = dp/dw)."""
    model = one_hidden_layer_relu(key=jax.random.key(d), in_size=d, width=10 * d)
    x = all_sign_vectors(d)
    assert float(jnp.max(jnp.abs(jax.vmap(model)(x)))) < 1.0  # margins active
    grads = target_gradients(model, x, all_parities(d), optax.losses.hinge_loss)
    variance = float(variance_over_targets(grads))
    g_sq = float(gradient_scale_sq(model, x))
    g_ones = per_example_jacobian(model, x)[0]  # row 0 is x = (1, ..., 1)
    closed = g_sq / 2**d - float(jnp.sum(g_ones**2)) / 4**d
    assert variance == pytest.approx(closed, rel=1e-4)
    assert variance <= g_sq / 2**d


def test_variance_over_targets_of_known_vectors():
    grads = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    assert float(variance_over_targets(grads)) == pytest.approx((1 + 1 + 9 + 9) / 4)


def test_split_sample_variance_is_unbiased_where_the_plain_one_is_not():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(64, 5))
    true_variance = float(variance_over_targets(jnp.asarray(true)))
    noise = 0.5
    split, plain = [], []
    for _ in range(400):
        a = true + noise * rng.normal(size=true.shape)
        b = true + noise * rng.normal(size=true.shape)
        split.append(float(split_sample_variance(jnp.asarray(a), jnp.asarray(b))))
        plain.append(float(variance_over_targets(jnp.asarray(a))))
    assert np.mean(split) == pytest.approx(true_variance, rel=0.02)
    assert np.mean(plain) > true_variance + 0.9 * 5 * noise**2 * (63 / 64)  # biased by the noise


def test_jacobian_of_a_linear_output_layer_is_the_hidden_activation():
    model = one_hidden_layer_relu(key=jax.random.key(0), in_size=3, width=4)
    x = jnp.array([[1.0, -1.0, 0.5]])
    jac = per_example_jacobian(model, x)
    hidden = jax.nn.relu(model.layers[0](x[0]))
    # ravel_pytree orders leaves as the tree: layer0 W, b, layer1 W, b
    assert np.allclose(jac[0, -5:-1], hidden) and float(jac[0, -1]) == 1.0


@pytest.mark.parametrize("chunk", [128, 250, 1000])
def test_chunked_target_gradients_equal_the_one_shot_mean(chunk):
    model = one_hidden_layer_relu(key=jax.random.key(0), in_size=5, width=7)
    x = jax.random.normal(jax.random.key(1), (1000, 5))
    targets = jax.random.normal(jax.random.key(2), (9, 1000))

    def square(p, y):
        return 0.5 * (p - y) ** 2

    jac = per_example_jacobian(model, x)
    dloss = jax.vmap(model)(x)[None, :] - targets  # d/dp of the square loss
    expected = dloss @ jac / 1000
    np.testing.assert_allclose(target_gradients(model, x, targets, square, chunk=chunk), expected,
                               rtol=1e-5, atol=1e-6)

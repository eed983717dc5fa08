import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.builtin.gradient_failures.parity import hidden_subset, sample_parity, solve_gf2
from deeplimits.engine import derive_key


def test_labels_are_the_parity_of_the_hidden_subset():
    subset = jnp.array([True, False, True, False])
    x, y = sample_parity(subset, derive_key("t", "a", 0), 64)
    assert np.array_equal(y, x[:, 0] * x[:, 2])
    assert set(np.unique(x)) == {-1.0, 1.0}


def test_hidden_subset_sizes():
    assert int(hidden_subset(30, 7, seed=3).sum()) == 7
    sizes = [int(hidden_subset(30, None, seed=s).sum()) for s in range(40)]
    assert 10 < np.mean(sizes) < 20  # v* uniform in {0,1}^30: |v*| ~ Binomial(30, 1/2)
    assert np.array_equal(hidden_subset(30, None, 3), hidden_subset(30, None, 3))


@pytest.mark.parametrize("d", [1, 5, 30])
def test_gf2_elimination_recovers_the_subset(d):
    rng = np.random.default_rng(d)
    secret = rng.integers(0, 2, d, dtype=np.uint8)
    a = rng.integers(0, 2, (d + 20, d), dtype=np.uint8)
    b = a @ secret % 2
    assert np.array_equal(solve_gf2(a, b), secret)


def test_the_sampled_variance_estimate_is_unbiased_against_the_exact_enumeration():
    """At d = 6, where every parity and point can be enumerated, the split-sample estimate from random parities
    and two samples of x averages to the exact Var(H, F, w) (within 4 standard errors of 60 estimates)."""
    import jax

    from deeplimits.builtin.gradient_failures.parity import _split_sample_at_init, hinge
    from deeplimits.diagnostics import all_parities, all_sign_vectors, target_gradients, variance_over_targets
    from deeplimits.engine import one_hidden_layer_relu

    d = 6
    model = one_hidden_layer_relu(key=derive_key("parity", "test-variance", 0), in_size=d, width=10 * d)
    exact = float(variance_over_targets(target_gradients(model, all_sign_vectors(d), all_parities(d), hinge)))
    estimates = []
    for r in range(60):
        k_a, k_b, k_h = jax.random.split(jax.random.key(r), 3)
        x_a, x_b = (jax.random.rademacher(k, (512, d), dtype=jnp.float32) for k in (k_a, k_b))
        subsets = jax.random.bernoulli(k_h, 0.5, (32, d))
        estimates.append(float(_split_sample_at_init(model, x_a, x_b, subsets)[0]))
    estimates = np.array(estimates)
    assert abs(estimates.mean() - exact) <= 4 * estimates.std() / np.sqrt(len(estimates))
    assert estimates.std() > 0.05 * exact  # the estimates do vary: the check is not trivially met

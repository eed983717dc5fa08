import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.experiments.gradient_failures.parity import hidden_subset, sample_parity, solve_gf2
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

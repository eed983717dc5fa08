import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.builtin.gradient_failures.pwl_curves import (
    EXACT_FILTER,
    Config,
    curve_matrix,
    input_correlation,
    least_squares_control,
    patch_correlation,
    patches,
    sample_curves,
    second_difference,
    whitening,
)
from deeplimits.config import ConfigError
from deeplimits.diagnostics import condition_number, gd_iterations_to, gd_relative_error, log_log_slope


@pytest.mark.parametrize("n", [3, 10, 100, 400])
def test_second_difference_inverts_the_curve_matrix_exactly(n):
    assert np.array_equal(second_difference(n) @ curve_matrix(n), np.eye(n))
    assert np.array_equal(curve_matrix(n) @ second_difference(n), np.eye(n))


def test_a_curve_is_the_curve_matrix_times_its_code_exactly():
    """f(x) = Σ a_i [x - θ_i + 1]_+ from the definition equals W p; dyadic slopes keep it exact."""
    n, kinks, slopes = 30, np.array([3, 17, 29]), np.array([0.5, -0.75, 0.25])
    x = np.arange(n)
    f = np.sum(slopes[:, None] * np.maximum(x[None, :] - kinks[:, None] + 1, 0), axis=0)
    p = np.zeros(n)
    p[kinks] = slopes
    assert np.array_equal(curve_matrix(n) @ p, f)
    assert np.array_equal(second_difference(n) @ f, p)


def test_sampled_curves_follow_the_definition():
    n, k, count = 50, 3, 400
    f, p = (np.asarray(a, np.float64) for a in sample_curves(jax.random.key(0), count, n, k))
    assert np.all(np.count_nonzero(p, axis=1) == k)  # k distinct kinks per curve
    assert np.all(np.abs(p) <= 1.0) and p[p != 0].min() < -0.9 and p[p != 0].max() > 0.9
    np.testing.assert_allclose(f, p @ curve_matrix(n).T, rtol=1e-6, atol=1e-5)
    kink_positions = np.nonzero(p)[1]
    assert len(np.unique(kink_positions)) > 0.9 * n  # kinks spread over the whole range


def test_patches_with_the_exact_filter_give_the_code():
    f, p = sample_curves(jax.random.key(1), 20, 60, 3)
    np.testing.assert_allclose(patches(f) @ jnp.asarray(EXACT_FILTER, jnp.float32), p, atol=1e-4)
    assert patches(f).shape == (20, 60, 3) and float(patches(f)[0, 0, 1]) == 0.0  # zero before the start


def test_expected_correlations_match_sampled_curves():
    n, k = 12, 3
    f, _ = sample_curves(jax.random.key(2), 200_000, n, k)
    f = np.asarray(f, np.float64)
    np.testing.assert_allclose(f.T @ f / len(f), input_correlation(n, k), rtol=0.03, atol=0.02)
    x = np.asarray(patches(jnp.asarray(f)), np.float64).reshape(-1, 3)
    np.testing.assert_allclose(x.T @ x / len(x), patch_correlation(n, k), rtol=0.03)


@pytest.mark.parametrize("m", [5, 50, 200])
def test_condition_number_of_the_discrete_laplacian_is_known(m):
    """tridiag(-1, 2, -1) of size m has eigenvalues 2 - 2cos(jπ/(m+1)): κ = cot²(π / (2(m+1)))."""
    laplacian = 2 * np.eye(m) - np.eye(m, k=1) - np.eye(m, k=-1)
    assert condition_number(laplacian) == pytest.approx(1 / np.tan(np.pi / (2 * (m + 1))) ** 2, rel=1e-9)
    assert condition_number(np.diag([4.0, 2.0, 0.5])) == pytest.approx(8.0)
    assert condition_number(np.diag([1.0, 0.0])) == np.inf


def test_log_log_slope_recovers_a_power_law():
    sizes = np.array([25, 50, 100, 400])
    assert log_log_slope(sizes, 3 * sizes**3.5) == pytest.approx(3.5, abs=1e-12)
    per_seed = np.stack([sizes**2.0, 7 * sizes**-1.0])
    np.testing.assert_allclose(log_log_slope(sizes, per_seed), [2.0, -1.0], atol=1e-12)


def test_gradient_descent_prediction_equals_iterating_it():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    hessian = a @ a.T + 0.05 * np.eye(6)
    target = rng.normal(size=(3, 6))  # three outputs sharing the Hessian
    step = 1.0 / np.linalg.eigvalsh(hessian)[-1]
    theta, errors = np.zeros_like(target), []
    initial = np.trace(target @ hessian @ target.T)
    for _ in range(41):
        errors.append(np.trace((theta - target) @ hessian @ (theta - target).T) / initial)
        theta = theta - step * (theta - target) @ hessian  # gradient of ½ Σ (θ - θ*)ᵀ H (θ - θ*)
    np.testing.assert_allclose(gd_relative_error(hessian, target, step, np.arange(41)), errors, rtol=1e-9)
    needed = gd_iterations_to(hessian, target, step, 0.05)
    assert errors[int(needed)] <= 0.05 < errors[int(needed) - 1]
    assert gd_iterations_to(np.diag([1.0, 0.5]), np.array([1.0, 1.0]), 2.5, 0.01) == np.inf  # diverges
    assert gd_iterations_to(np.diag([1.0, 0.0]), np.array([1.0, 1.0]), 1.0, 0.01) == 1  # null: no loss


def test_whitening_brings_the_condition_number_to_about_one():
    n, k = 100, 3
    exact = patch_correlation(n, k)
    assert condition_number(exact) > 1e6
    m = whitening(n, k, 2_000, jax.random.key(3))
    assert condition_number(m @ exact @ m) < 1.2


def test_least_squares_control_recovers_the_inverse():
    config = Config(points=20, control_curves=200, test_curves=50, sizes=(8, 16))
    f, p = sample_curves(jax.random.key(4), 50, 20, 3)
    control = least_squares_control(config, (0,), {"f": f[None], "p": p[None]})
    assert control.final["kink_error"][0] < 1e-5 and control.final["error"][0] < 1e-9


@pytest.mark.parametrize("overrides, message", [
    ({"snapshots": (500, 750)}, "not a multiple of 500"),
    ({"conditioned_snapshots": (10, 600)}, "not a multiple of 10 up to 500"),
    ({"pieces": 30, "points": 20, "control_curves": 100}, "exceeds points"),
    ({"points": 120, "control_curves": 100}, "needs at least n curves"),
])
def test_inconsistent_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Config(**overrides)

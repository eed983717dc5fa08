"""Diagnostics that explain failures: gradient variance across targets, conditioning, calibration."""
from deeplimits.diagnostics.calibration import (
    brier_score,
    debiased_squared_ece,
    excess_ece_interval,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
    squared_ece_interval,
)
from deeplimits.diagnostics.conditioning import (
    condition_number,
    gd_iterations_to,
    gd_relative_error,
    log_log_slope,
)
from deeplimits.diagnostics.gradient_variance import (
    all_parities,
    all_sign_vectors,
    gradient_scale_sq,
    per_example_jacobian,
    split_sample_variance,
    target_gradients,
    variance_over_targets,
)

__all__ = ["all_parities", "all_sign_vectors", "brier_score", "condition_number", "debiased_squared_ece",
           "excess_ece_interval", "expected_calibration_error", "fit_temperature", "negative_log_likelihood",
           "softmax", "squared_ece_interval", "gd_iterations_to", "gd_relative_error", "gradient_scale_sq",
           "log_log_slope", "per_example_jacobian", "split_sample_variance", "target_gradients",
           "variance_over_targets"]

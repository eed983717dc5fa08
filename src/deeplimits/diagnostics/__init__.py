"""Diagnostics that explain failures: gradient variance across targets."""
from deeplimits.diagnostics.gradient_variance import (
    all_parities,
    all_sign_vectors,
    gradient_scale_sq,
    per_example_jacobian,
    split_sample_variance,
    target_gradients,
    variance_over_targets,
)

__all__ = ["all_parities", "all_sign_vectors", "gradient_scale_sq", "per_example_jacobian",
           "split_sample_variance", "target_gradients", "variance_over_targets"]

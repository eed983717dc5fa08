"""Conditioning of realizable least-squares problems, and what it predicts for gradient descent.

For the loss ½ E[(θᵀx − y)²] with y = θ*ᵀx exactly, the Hessian is H = E[x xᵀ] and
gradient descent from θ = 0 with step η leaves the error (I − ηH)ᵗ θ*. Along the
eigenvector v_j of H (eigenvalue λ_j) the excess loss decays as (1 − ηλ_j)^{2t},
so with the largest stable step η ≈ 1/λ_max the slowest direction needs about
κ = λ_max/λ_min iterations: the condition number is the runtime.

Everything here is float64 NumPy: it computes exact expectations, not training.
"""

from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 1e18  # beyond this, "never" for any budget a user could run


def condition_number(matrix: np.ndarray) -> float:
    """The 2-norm condition number σ_max/σ_min (inf for a singular matrix)."""
    return float(np.linalg.cond(np.asarray(matrix, dtype=np.float64), 2))


def log_log_slope(sizes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of log(values) against log(sizes), along the last axis.

    ``values`` is ``(N,)`` or ``(S, N)``; the slope is a float or ``(S,)``.
    """
    x = np.log(np.asarray(sizes, dtype=np.float64))
    y = np.log(np.asarray(values, dtype=np.float64))
    x = x - x.mean()
    return ((y - y.mean(axis=-1, keepdims=True)) @ x) / (x @ x)


def _modes(hessian: np.ndarray, target: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Per eigen-direction: initial excess loss λ_j ||Θ* v_j||² and the decay factor (1 − ηλ_j)²."""
    eigenvalues, vectors = np.linalg.eigh(np.asarray(hessian, dtype=np.float64))
    projections = np.atleast_2d(np.asarray(target, dtype=np.float64)) @ vectors  # (rows, dims)
    weights = eigenvalues * np.sum(projections**2, axis=0)
    return weights, (1.0 - step * eigenvalues) ** 2


def gd_relative_error(hessian: np.ndarray, target: np.ndarray, step: float,
                      iterations: np.ndarray) -> np.ndarray:
    """Excess loss after t full-batch GD steps from zero, relative to the loss at zero.

    ``target`` is θ* as ``(dims,)`` or one row per output ``(outputs, dims)``
    (outputs share the Hessian, as the rows of a linear layer do).
    """
    weights, decay = _modes(hessian, target, step)
    t = np.asarray(iterations, dtype=np.float64)[..., None]
    return np.sum(weights * decay**t, axis=-1) / np.sum(weights)


def gd_iterations_to(hessian: np.ndarray, target: np.ndarray, step: float, tolerance: float) -> float:
    """The fewest GD steps after which the relative excess loss is <= ``tolerance`` (inf if never)."""
    weights, decay = _modes(hessian, target, step)
    if np.any(decay[weights > 0] >= 1.0):
        return float("inf")

    def reached(t: float) -> bool:
        return float(np.sum(weights * decay**t) / np.sum(weights)) <= tolerance

    if reached(0):
        return 0.0
    low, high = 0.0, 1.0
    while not reached(high):  # the error falls monotonically, so bracket, then bisect
        low, high = high, high * 2
        if high > MAX_ITERATIONS:
            return float("inf")
    while high - low > 1:
        middle = np.floor((low + high) / 2)
        low, high = (low, middle) if reached(middle) else (middle, high)
    return float(high)

"""Models shared by several experiments."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np


def one_hidden_layer_relu(*, key: jax.Array, in_size: int, width: int) -> eqx.nn.MLP:
    """SSS17's network for §2: one fully connected ReLU layer, one linear output unit."""
    return eqx.nn.MLP(in_size, "scalar", width, depth=1, activation=jax.nn.relu, key=key)


def authors_truncated_normal(key: jax.Array, shape: tuple[int, ...], *, fan_in: int) -> jax.Array:
    """The SSS17 authors' weights (TensorFlow's ``truncated_normal`` with std 1/sqrt(fan_in)): a standard
    normal redrawn beyond 2, divided by sqrt(fan_in). Portfolio, tuple-lines and flat-activations draw
    their weights with it; the division (not a product with 1/sqrt) keeps portfolio's and
    flat-activations' stored numbers bit for bit (tuple-lines multiplied before its version 4)."""
    return jax.random.truncated_normal(key, -2.0, 2.0, shape) / np.sqrt(fan_in)


def flat_grad_size(model: eqx.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(leaf.size for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))

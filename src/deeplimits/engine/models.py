"""Models shared by several experiments."""

from __future__ import annotations

import equinox as eqx
import jax


def one_hidden_layer_relu(*, key: jax.Array, in_size: int, width: int) -> eqx.nn.MLP:
    """SSS17's network for §2: one fully connected ReLU layer, one linear output unit."""
    return eqx.nn.MLP(in_size, "scalar", width, depth=1, activation=jax.nn.relu, key=key)


def flat_grad_size(model: eqx.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(leaf.size for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))

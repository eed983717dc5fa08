"""Every random draw starts from a key derived from (experiment, arm, seed).

The derivation uses a stable hash (CRC-32) of the names, so a seed means the
same thing on every machine and in every batch of seeds.
"""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np


def _tag(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def derive_key(experiment: str, arm: str, seed: int) -> jax.Array:
    """The JAX key for one (experiment, arm, seed)."""
    key = jax.random.key(seed)
    key = jax.random.fold_in(key, _tag(experiment))
    return jax.random.fold_in(key, _tag(arm))


def derive_keys(experiment: str, arm: str, seeds: tuple[int, ...]) -> jax.Array:
    """Keys for several seeds, stacked along a leading seed axis: ``(S,)``."""
    return jnp.stack([derive_key(experiment, arm, s) for s in seeds])


def numpy_rng(experiment: str, arm: str, seed: int) -> np.random.Generator:
    """A NumPy generator for arms that run outside JAX (solvers, scikit-learn)."""
    return np.random.default_rng([_tag(experiment), _tag(arm), seed])

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


def random_signs(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent uniform ±1 (float32) of ``shape``, 32 from each random word.

    ``jax.random.rademacher`` spends a 32-bit word on each sign; in the parity loop that
    was about a quarter of a training step (measured). Each bit of a
    ``jax.random.bits`` word is an independent fair coin, so this draws the same
    distribution from 32 times fewer words.
    """
    size = int(np.prod(shape, dtype=np.int64))
    words = jax.random.bits(key, (-(-size // 32),), jnp.uint32)  # (ceil(size / 32),)
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1  # (words, 32): bit j of word i
    return (1.0 - 2.0 * bits.reshape(-1)[:size].astype(jnp.float32)).reshape(shape)

"""Convolutions as one matrix product over patches, for the small images our experiments train on.

XLA's CPU convolution is slow on small images (its gradient more so): the digits CNN trained
13x slower with ``eqx.nn.Conv2d`` (``benchmarks/conv_paths.py``), and so did tuple-lines' 5x5
convolutions. Gathering each pixel's k x k neighbourhood and multiplying by one matrix computes
the same cross-correlation; the tests check it equals ``eqx.nn.Conv2d`` with the same weights.
Images here are channels-last, ``(H, W, C)``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def patches(h: jax.Array, size: int) -> jax.Array:
    """The ``size x size`` neighbourhood of every pixel (zero padding): ``(H, W, C) -> (H, W, size² C)``,
    feature ``(size i + j) C + c`` being channel ``c`` at offset ``(i, j)``."""
    height, width = h.shape[:2]
    pad = size // 2
    padded = jnp.pad(h, ((pad, pad), (pad, pad), (0, 0)))
    return jnp.concatenate([padded[i:i + height, j:j + width] for i in range(size) for j in range(size)], axis=-1)


class PatchConv(eqx.Module):
    """A ``size x size`` convolution with same padding (odd ``size``): ``(H, W, C_in) -> (H, W, C_out)``.

    Initialised as PyTorch's and Equinox's default (uniform in ±1/sqrt(size² C_in)); :func:`from_conv2d`
    takes the weights of an ``eqx.nn.Conv2d`` (``(C_out, C_in, size, size)``) instead.
    """

    weight: jax.Array  # (size² C_in, C_out)
    bias: jax.Array  # (C_out,)
    size: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, size: int = 3, *, key: jax.Array):
        if size % 2 != 1:
            raise ValueError(f"PatchConv size={size}: expected an odd kernel size (same padding)")
        bound = 1.0 / np.sqrt(size * size * in_channels)
        k_w, k_b = jax.random.split(key)
        self.weight = jax.random.uniform(k_w, (size * size * in_channels, out_channels), minval=-bound, maxval=bound)
        self.bias = jax.random.uniform(k_b, (out_channels,), minval=-bound, maxval=bound)
        self.size = size

    def __call__(self, h: jax.Array) -> jax.Array:
        return patches(h, self.size) @ self.weight + self.bias


def from_conv2d(weight: jax.Array, bias: jax.Array) -> PatchConv:
    """The PatchConv computing what ``eqx.nn.Conv2d`` with ``weight (C_out, C_in, k, k)`` and ``bias`` does."""
    out_channels, in_channels, size, _ = weight.shape
    conv = PatchConv(in_channels, out_channels, size, key=jax.random.key(0))
    flat = jnp.transpose(weight, (2, 3, 1, 0)).reshape(size * size * in_channels, out_channels)
    return eqx.tree_at(lambda m: (m.weight, m.bias), conv, (flat, jnp.ravel(bias)))


def max_pool_2x2(h: jax.Array) -> jax.Array:
    """2x2 max-pooling, stride 2, no padding (an odd last row or column is dropped):
    ``(H, W, C) -> (H // 2, W // 2, C)``."""
    height, width, channels = h.shape
    h = h[:2 * (height // 2), :2 * (width // 2)]
    return h.reshape(height // 2, 2, width // 2, 2, channels).max(axis=(1, 3))

"""Variance of the full gradient over random targets, at a fixed parameter w.

SSS17 define, for a family H of targets h and F_h(w) = E_x[loss(p_w(x), h(x))],

    Var(H, F, w) = E_h || grad F_h(w) - E_h' grad F_h'(w) ||^2,

and show (Theorem 1) that for pairwise orthogonal targets with E[h^2] <= 1 it is
at most G(w)^2 / |H|, with G(w)^2 = E_x || d p_w(x) / dw ||^2. When that is
tiny, the gradient hardly depends on which target is being learned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (prediction, target) -> scalar


def per_example_jacobian(model: eqx.Module, x: jax.Array) -> jax.Array:
    """d p_w(x) / dw for every row of ``x (N, d)``, flattened: ``(N, P)``."""
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def predict(flat, xi):
        return eqx.combine(unravel(flat), static)(xi)

    flat, unravel = ravel_pytree(params)
    return jax.vmap(jax.grad(predict), in_axes=(None, 0))(flat, x)


def target_gradients(model: eqx.Module, x: jax.Array, targets: jax.Array, loss: LossFn,
                     *, chunk: int = 4096) -> jax.Array:
    """Full gradient of E_x loss(p_w(x), h(x)) for each row of ``targets (H, N)``: ``(H, P)``.

    The expectation is the exact mean over the given points ``x (N, d)``, computed
    as (dloss/dp) @ jacobian over chunks of ``chunk`` points, so memory stays at
    ``chunk x P`` whatever N is. Padding rows carry zero weight.
    """
    n = x.shape[0]
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n if n > chunk else 0
    size = chunk if n > chunk else n
    weight = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)]).reshape(-1, size)
    xs = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]).reshape(-1, size, x.shape[1])
    ts = jnp.concatenate([targets, jnp.zeros((targets.shape[0], pad), targets.dtype)], axis=1)
    ts = ts.reshape(targets.shape[0], -1, size).transpose(1, 0, 2)  # (chunks, H, size)
    dloss_of = jax.vmap(jax.vmap(jax.grad(loss)), in_axes=(None, 0))

    def add_chunk(total, part):
        x_c, t_c, w_c = part
        jac = per_example_jacobian(model, x_c)  # (size, P)
        dloss = dloss_of(jax.vmap(model)(x_c), t_c) * w_c  # (H, size)
        return total + dloss @ jac, None

    n_params = per_example_jacobian(model, x[:1]).shape[1]
    total, _ = jax.lax.scan(add_chunk, jnp.zeros((targets.shape[0], n_params)), (xs, ts, weight))
    return total / n


def gradient_scale_sq(model: eqx.Module, x: jax.Array) -> jax.Array:
    """G(w)^2 = E_x || d p_w(x) / dw ||^2 over the points ``x (N, d)``."""
    jac = per_example_jacobian(model, x)
    return jnp.mean(jnp.sum(jac**2, axis=1))


def variance_over_targets(grads: jax.Array) -> jax.Array:
    """E_h || g_h - E_h' g_h' ||^2 for ``grads (H, P)``, one row per target."""
    centred = grads - jnp.mean(grads, axis=0)
    return jnp.mean(jnp.sum(centred**2, axis=1))


def split_sample_variance(grads_a: jax.Array, grads_b: jax.Array) -> jax.Array:
    """Unbiased Var over targets from gradients estimated on two independent samples of x.

    With one sample, Monte Carlo noise in each g_h adds about G^2/N to the variance
    and hides anything smaller. The cross products of two independent estimates
    have the right expectation: E<g_h^A, g_h^B> = ||g_h||^2, and for h != h',
    E<g_h^A, g_h'^B> = <g_h, g_h'>. Can be negative when the true value is below
    the noise.
    """
    n_targets = grads_a.shape[0]
    same = jnp.sum(grads_a * grads_b)  # sum_h <a_h, b_h>
    all_pairs = jnp.dot(jnp.sum(grads_a, axis=0), jnp.sum(grads_b, axis=0))  # sum_{h,h'}
    mean_sq_norm = same / n_targets
    sq_norm_of_mean = (all_pairs - same) / (n_targets * (n_targets - 1))
    return mean_sq_norm - sq_norm_of_mean


@functools.partial(jax.jit, static_argnums=0)  # one program, not one per operation: exact integers either way
def all_sign_vectors(d: int) -> jax.Array:
    """Every x in {-1, +1}^d, ``(2^d, d)``; row j has x_i = 1 - 2 * bit_i(j)."""
    bits = (jnp.arange(2**d)[:, None] >> jnp.arange(d)[None, :]) & 1
    return (1 - 2 * bits).astype(jnp.float32)


@functools.partial(jax.jit, static_argnums=0)
def all_parities(d: int) -> jax.Array:
    """h_S(x_j) = prod_{i in S} x_{j,i} for every subset S (row) and point j (column).

    With subsets and points both indexed by bit masks this is (-1)^popcount(S & j),
    the Walsh-Hadamard matrix: ``(2^d, 2^d)``, rows pairwise orthogonal.
    """
    masks = jnp.arange(2**d, dtype=jnp.uint32)
    odd = jax.lax.population_count(masks[:, None] & masks[None, :]) & 1
    return (1 - 2 * odd.astype(jnp.int32)).astype(jnp.float32)

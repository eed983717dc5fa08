"""L-infinity attacks on classifiers of images in [0, 1]: FGSM, PGD, random signs, and the exact worst case
for a linear model.

FGSM (Goodfellow et al. 2015): one step of size eps along the sign of the loss gradient.
PGD (Madry et al. 2018): a uniform random start in the eps-ball, then ``steps`` steps of
``step_size`` along the gradient's sign, each projected back onto the eps-ball and the
pixel range. Untargeted attacks ascend the cross-entropy of the true label; targeted
ones descend that of the target. All attack one network on a batch ``(N, 8, 8)``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


def _loss_gradient(net: eqx.Module, x: jax.Array, labels: jax.Array) -> jax.Array:
    """Gradient of the summed cross-entropy with respect to the images: ``(N, ...) -> (N, ...)``."""
    def loss(images):
        return jnp.sum(optax.softmax_cross_entropy_with_integer_labels(jax.vmap(net)(images), labels))

    return jax.grad(loss)(x)


def fgsm(net: eqx.Module, x: jax.Array, labels: jax.Array, eps: jax.Array, *, targeted: bool = False) -> jax.Array:
    """One step of size eps; ``labels`` are the true labels (untargeted) or the targets (``targeted``)."""
    direction = -1.0 if targeted else 1.0
    return jnp.clip(x + direction * eps * jnp.sign(_loss_gradient(net, x, labels)), 0.0, 1.0)


def pgd(net: eqx.Module, x: jax.Array, labels: jax.Array, eps: jax.Array, *, key: jax.Array, steps: int,
        step_size: jax.Array, targeted: bool = False) -> jax.Array:
    """PGD with a random start; ``labels`` are the true labels (untargeted) or the targets (``targeted``)."""
    direction = -1.0 if targeted else 1.0
    start = jnp.clip(x + jax.random.uniform(key, x.shape, minval=-eps, maxval=eps), 0.0, 1.0)

    def step(_, adv):
        adv = adv + direction * step_size * jnp.sign(_loss_gradient(net, adv, labels))
        return jnp.clip(jnp.clip(adv, x - eps, x + eps), 0.0, 1.0)

    return jax.lax.fori_loop(0, steps, step, start)


def strongest_predictions(net: eqx.Module, x: jax.Array, labels: jax.Array, eps: jax.Array, *, key: jax.Array,
                          steps: int, restarts: int, step_scale: float, targeted: bool = False) -> jax.Array:
    """The network's predictions under FGSM and under PGD from ``restarts`` random starts, ``steps`` steps of
    ``step_scale * eps / steps`` each (Madry et al.: 2.5, so a walk can cross the ball from any start):
    ``(N, ...) -> (1 + restarts, N)``, FGSM first. An image is fooled by the strongest attack if any row is."""
    def predict(images):
        return jnp.argmax(jax.vmap(net)(images), axis=-1)

    def restart(k):
        return predict(pgd(net, x, labels, eps, key=k, steps=steps, step_size=step_scale * eps / steps,
                           targeted=targeted))

    walks = jax.lax.map(restart, jax.random.split(key, restarts))
    return jnp.concatenate([predict(fgsm(net, x, labels, eps, targeted=targeted))[None], walks])


def random_signs_noise(x: jax.Array, eps: jax.Array, *, key: jax.Array) -> jax.Array:
    """The control: each pixel moved by +eps or -eps at random (the same size as the attacks), clipped."""
    return jnp.clip(x + eps * jax.random.rademacher(key, x.shape, dtype=x.dtype), 0.0, 1.0)


def linear_worst_case(weights: np.ndarray, bias: np.ndarray, x: np.ndarray, labels: np.ndarray,
                      eps: float) -> np.ndarray:
    """Whether an L-infinity perturbation of size ``eps`` (within [0, 1]) can change the prediction of the linear
    classifier ``argmax(x @ weights.T + bias)``, computed exactly: ``(K, D), (K,), (N, D), (N,) -> (N,) bool``.

    The prediction changes if some class j beats the true class y. The margin (w_y - w_j) x + b_y - b_j is linear
    in x and the allowed set is a box (the eps-ball intersected with [0, 1]^D), so its minimum is at the corner
    x_i -> clip(x_i - eps sign(w_yi - w_ji), 0, 1), for each j: no attack can do better.
    """
    differences = weights[labels][:, None, :] - weights[None, :, :]  # (N, K, D): w_y - w_j
    corner = np.clip(x[:, None, :] - eps * np.sign(differences), 0.0, 1.0)  # (N, K, D)
    margins = np.einsum("nkd,nkd->nk", differences, corner) + (bias[labels][:, None] - bias[None, :])  # (N, K)
    margins[np.arange(len(labels)), labels] = np.inf  # the true class does not compete with itself
    return margins.min(axis=1) < 0

"""Image classifiers for 8x8 digits and the dataset path through :func:`train`.

The whole training set goes to the devices once, as part of each seed's ``data``;
every step draws its batch by indexing it with random indices inside the compiled
loop, so nothing is copied from the host per step. The model factory and the
optimizer are parameters: an experiment's failing arm is whatever learner a user
passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.engine.conv import PatchConv, max_pool_2x2
from deeplimits.engine.train import TrainLog, train
from deeplimits.experiment import Progress, no_progress

ModelFactory = Callable[[jax.Array], eqx.Module]  # key -> model mapping one (8, 8) image to logits (10,)
# x (B, 8, 8), y (B,), key -> the batch the loss sees (augmentation; adversarial examples)
Transform = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
Perturb = Callable[[eqx.Module, jax.Array, jax.Array, jax.Array], jax.Array]  # model, x, y, key -> x


class DigitsCNN(eqx.Module):
    """Two 3x3 convolutions (ReLU), 2x2 max-pooling, one linear layer: ``(8, 8) -> (10,)`` logits."""

    conv1: PatchConv
    conv2: PatchConv
    head: eqx.nn.Linear

    def __init__(self, *, key: jax.Array, channels: tuple[int, int] = (16, 32), n_classes: int = 10):
        k1, k2, k3 = jax.random.split(key, 3)
        self.conv1 = PatchConv(1, channels[0], 3, key=k1)
        self.conv2 = PatchConv(channels[0], channels[1], 3, key=k2)
        self.head = eqx.nn.Linear(channels[1] * 16, n_classes, key=k3)

    def __call__(self, image: jax.Array) -> jax.Array:
        h = jax.nn.relu(self.conv1(image[..., None]))  # (8, 8, C1)
        h = jax.nn.relu(self.conv2(h))  # (8, 8, C2)
        h = max_pool_2x2(h)  # (4, 4, C2)
        return self.head(h.ravel())


class DigitsMLP(eqx.Module):
    """A ReLU MLP on the 64 flattened pixels: ``(8, 8) -> (10,)``."""

    mlp: eqx.nn.MLP

    def __init__(self, *, key: jax.Array, width: int = 128, depth: int = 2, n_classes: int = 10):
        self.mlp = eqx.nn.MLP(64, n_classes, width, depth, activation=jax.nn.relu, key=key)

    def __call__(self, image: jax.Array) -> jax.Array:
        return self.mlp(image.ravel())


def digits_cnn(key: jax.Array) -> DigitsCNN:
    return DigitsCNN(key=key)


def digits_mlp(key: jax.Array) -> DigitsMLP:
    return DigitsMLP(key=key)


def per_seed(array: np.ndarray, n_seeds: int) -> jax.Array:
    """The same array for every seed: ``(...) -> (S, ...)`` (``train`` takes per-seed data)."""
    return jnp.broadcast_to(jnp.asarray(array), (n_seeds, *np.shape(array)))


def fit_classifier(
    *,
    keys: jax.Array,
    model: ModelFactory,
    optimizer: optax.GradientTransformation,
    x: np.ndarray,
    y: np.ndarray,
    eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    steps: int,
    batch_size: int,
    eval_every: int,
    transform: Transform | None = None,
    perturb: Perturb | None = None,
    label_smoothing: float = 0.0,
    n_classes: int = 10,
    progress: Progress = no_progress,
    label: str = "train",
) -> TrainLog:
    """Minibatch training with softmax cross-entropy, one model per key; accuracy on each eval set.

    ``transform(x, y, key)`` changes each batch before the step (e.g. inverts half of it);
    ``perturb(model, x, y, key)`` replaces it by inputs chosen against the current model
    (adversarial training; no gradient flows through the choice). Metrics:
    ``accuracy/<name>`` for each eval set, curves ``(S, E)``.
    """
    n_seeds = keys.shape[0]
    data = {"x": per_seed(x, n_seeds), "y": per_seed(y, n_seeds),
            **{f"eval/{name}": (per_seed(ex, n_seeds), per_seed(ey, n_seeds)) for name, (ex, ey) in eval_sets.items()}}
    n_train = int(np.shape(x)[0])

    def sample_batch(seed_data, key):
        k_index, k_transform, k_perturb = jax.random.split(key, 3)
        index = jax.random.randint(k_index, (batch_size,), 0, n_train)
        xb, yb = seed_data["x"][index], seed_data["y"][index]
        if transform is not None:
            xb = transform(xb, yb, k_transform)
        return xb, yb, k_perturb

    def loss(net, batch):
        xb, yb, key = batch
        if perturb is not None:
            xb = jax.lax.stop_gradient(perturb(net, xb, yb, key))
        targets = optax.smooth_labels(jax.nn.one_hot(yb, n_classes), label_smoothing)
        return jnp.mean(optax.softmax_cross_entropy(jax.vmap(net)(xb), targets))

    def evaluate(net, seed_data, key):
        sets = {name[5:]: value for name, value in seed_data.items() if name.startswith("eval/")}
        return {f"accuracy/{name}": jnp.mean(jnp.argmax(jax.vmap(net)(ex), axis=-1) == ey)
                for name, (ex, ey) in sets.items()}

    return train(keys=keys, init=model, loss=loss, optimizer=optimizer, sample_batch=sample_batch,
                 evaluate=evaluate, data=data, steps=steps, eval_every=eval_every, progress=progress, label=label)


@eqx.filter_jit
def _logits(net: eqx.Module, x: jax.Array) -> jax.Array:
    return jax.vmap(net)(x)


def logits_of_one(net: eqx.Module, x: np.ndarray) -> np.ndarray:
    """One network's logits on ``x``: ``(N, ...) -> (N, classes)``."""
    return np.asarray(_logits(net, jnp.asarray(x)))

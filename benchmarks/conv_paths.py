"""The digits CNN with Equinox's Conv2d and with our patch convolution (engine.conv.PatchConv), side by side in one run.

    python benchmarks/conv_paths.py [--steps 500] [--seeds 4]

Same network, initialisation scheme, data, optimizer and training loop (``engine.classify.fit_classifier``);
only the convolution differs. Prints each wall time (compile included, then a second run of the same shapes
that reuses the compiled program) and their ratio.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import optax

from deeplimits.data import load_digits
from deeplimits.engine import derive_keys
from deeplimits.engine.classify import DigitsCNN, fit_classifier


class Conv2dCNN(eqx.Module):
    """DigitsCNN with eqx.nn.Conv2d layers (channels first)."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    head: eqx.nn.Linear

    def __init__(self, *, key, channels=(16, 32)):
        k1, k2, k3 = jax.random.split(key, 3)
        self.conv1 = eqx.nn.Conv2d(1, channels[0], 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(channels[0], channels[1], 3, padding=1, key=k2)
        self.head = eqx.nn.Linear(channels[1] * 16, 10, key=k3)

    def __call__(self, image):
        h = jax.nn.relu(self.conv1(image[None]))
        h = jax.nn.relu(self.conv2(h))
        h = h.reshape(h.shape[0], 4, 2, 4, 2).max(axis=(2, 4))
        return self.head(h.ravel())


def timed(model, steps: int, seeds: int) -> float:
    digits = load_digits()
    start = time.perf_counter()
    fit_classifier(keys=derive_keys("benchmark", "conv", tuple(range(seeds))), model=model,
                   optimizer=optax.adam(1e-3), x=digits.x_train, y=digits.y_train,
                   eval_sets={"test": (digits.x_test, digits.y_test)}, steps=steps, batch_size=64,
                   eval_every=steps)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    from deeplimits.engine import use_every_core

    use_every_core()
    rows = {}
    for name, model in (("eqx.nn.Conv2d", lambda key: Conv2dCNN(key=key)), ("PatchConv (patches)",
                                                                             lambda key: DigitsCNN(key=key))):
        rows[name] = (timed(model, args.steps, args.seeds), timed(model, args.steps, args.seeds))
        print(f"{name:20s} first run {rows[name][0]:7.1f} s   again {rows[name][1]:7.1f} s", flush=True)
    (a, a2), (b, b2) = rows.values()
    print(f"ratio Conv2d / PatchConv: first run {a / b:.1f}x, again {a2 / b2:.1f}x "
          f"({args.seeds} seeds x {args.steps} steps of 64 images)")


if __name__ == "__main__":
    main()

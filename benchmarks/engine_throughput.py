"""Model-steps per second of the training engine on the parity d = 30 network.

Compares, in one run on one machine:
  scan x1   the engine (jit(vmap(scan))) with 1 seed (padded to a block of 8, see engine/train.py)
  scan x8   the engine with 8 seeds
  plain x1  a plain Python loop calling a jitted single-model step (the engine's loop="python")

Compilation is excluded by timing two step counts and using the difference
(best of two timings each, after a warm-up call).
Run: python benchmarks/engine_throughput.py [--short N] [--long N]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax

from deeplimits.engine import derive_keys
from deeplimits.experiments.gradient_failures import parity


def timed(seeds: tuple[int, ...], steps: int, loop: str) -> float:
    config = parity.Config(dims=(30,), steps=steps, eval_every=steps)
    start = time.perf_counter()
    parity.train_sgd(config, 30, seeds, parity.no_progress) if loop == "scan" else _plain(config, seeds)
    return time.perf_counter() - start


def _plain(config: parity.Config, seeds: tuple[int, ...]) -> None:
    import jax.numpy as jnp
    import optax

    from deeplimits.engine import one_hidden_layer_relu, train

    subsets = jnp.stack([parity.hidden_subset(30, None, s) for s in seeds])
    train(keys=derive_keys(parity.NAME, "sgd-d30", seeds),
          init=lambda key: one_hidden_layer_relu(key=key, in_size=30, width=300),
          loss=lambda m, b: jnp.mean(parity.hinge(jax.vmap(m)(b[0]), b[1])),
          optimizer=optax.sgd(config.learning_rate),
          sample_batch=lambda s, key: parity.sample_parity(s, key, config.batch_size),
          evaluate=lambda m, s, key: {}, data=subsets, steps=config.steps, eval_every=config.eval_every,
          loop="python")


def rate(seeds: tuple[int, ...], loop: str, short: int, long: int) -> float:
    timed(seeds, short, loop)  # warm-up: backend start-up and tracing caches
    t_short = min(timed(seeds, short, loop) for _ in range(2))
    t_long = min(timed(seeds, long, loop) for _ in range(2))
    return (long - short) * len(seeds) / (t_long - t_short)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=1_000)
    parser.add_argument("--long", type=int, default=5_000)
    args = parser.parse_args()
    rows = {
        "scan x1": rate((0,), "scan", args.short, args.long),
        "scan x8": rate(tuple(range(8)), "scan", args.short, args.long),
        "plain x1": rate((0,), "python", args.short // 4, args.long // 4),
    }
    print(f"parity d=30, width 300, batch 128, SGD; {platform.machine()}, {jax.devices()[0].platform}, "
          f"jax {jax.__version__}")
    for name, value in rows.items():
        print(f"  {name:<9} {value:9.0f} model-steps/s  ({value / rows['plain x1']:.1f}x plain)")


if __name__ == "__main__":
    main()

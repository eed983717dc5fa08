"""Where the slowest quick profiles' steps spend their time, against what the CPU can do (issue 22).

Each line times one compiled training step of an experiment's arm, scanned over many steps for one
seed, next to the part that a faster implementation could not remove without changing what is
computed: the batch's random draws (flat-activations), the bytes a dense Adam update of a 1000 x 1000
layer must move (portfolio), the FLOPs of an auto-encoder step (pwl-curves). References measured in
the same run: this machine's memory bandwidth (a scanned copy of a 64 MB array) and a large matrix
product's FLOP rate.

    python benchmarks/floors.py
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import deeplimits  # noqa: F401  (one JAX device per core, as the experiments run)
from deeplimits.builtin.gradient_failures import flat_activations as flat
from deeplimits.builtin.gradient_failures import portfolio, pwl_curves

STEPS = 500


def seconds_per_step(step, carry, steps: int = STEPS) -> float:
    """Median over three timings of ``steps`` scanned applications of ``step(carry, t) -> carry``."""
    run = jax.jit(lambda c: jax.lax.scan(lambda c, t: (step(c, t), None), c, jnp.arange(steps))[0])
    jax.block_until_ready(run(carry))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(run(carry))
        times.append(time.perf_counter() - start)
    return sorted(times)[1] / steps


def references() -> tuple[float, float]:
    """(memory bandwidth in GB/s: read and write of a 64 MB array, GFLOP/s of a 1024^3 matrix product)."""
    big = jnp.ones(16 * 2**20)
    copy = seconds_per_step(lambda a, t: a * 1.0000001, big, steps=50)
    a = jnp.ones((1024, 1024))
    matmul = seconds_per_step(lambda m, t: (m @ a) * 1e-3, a, steps=20)
    return 2 * big.nbytes / copy / 1e9, 2 * 1024**3 / matmul / 1e9


def flat_activations() -> None:
    config = flat.Config()  # the authors' setting, as the quick profile trains it
    data = flat.target(config, 0)
    key = jax.random.key(0)
    init, loss, _, optimizer, _ = flat.setup(config, flat.approximation_arm(0.0))
    model = init(key)
    params, static = eqx.partition(model, eqx.is_array)

    def draw(c, t):
        x, r, y, _ = flat.sample(data, jax.random.fold_in(key, t), config.batch_size, config)
        return c + jnp.sum(x) + jnp.sum(y)

    def train_step(c, t):
        p, state = c
        batch = flat.sample(data, jax.random.fold_in(key, t), config.batch_size, config)
        grads = eqx.filter_grad(loss)(eqx.combine(p, static), batch)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state

    sampling = seconds_per_step(draw, jnp.zeros(()))
    whole = seconds_per_step(train_step, (params, optimizer.init(params)))
    print(f"flat-activations approximation step (batch {config.batch_size}, d = {config.dims}): "
          f"{whole * 1e6:.0f} us, of which drawing the batch {sampling * 1e6:.0f} us ({sampling / whole:.0%}); "
          f"{config.iterations:,} steps x 8 seeds on 2 cores: {whole * config.iterations * 4:.1f} s per arm")


def portfolio_step(bandwidth: float) -> None:
    config = portfolio.Config()
    k = 1000
    setting = portfolio.settings(config)[""]
    best = portfolio.best_stocks(config, k, 0)
    model = portfolio.Allocation(key=jax.random.key(0), n_inputs=config.n_inputs, stocks=k, bias=True)
    loss = portfolio.batch_loss(portfolio.end_to_end_objective)
    optimizer = setting.optimizer

    def train_step(c, t):
        m, state = c
        batch = portfolio.sample_returns(best, jax.random.fold_in(jax.random.key(1), t), config.batch_size, k)
        grads = eqx.filter_grad(loss)(m, batch)
        updates, state = optimizer.update(grads, state, m)
        return optax.apply_updates(m, updates), state

    def gradient_only(c, t):
        batch = portfolio.sample_returns(best, jax.random.fold_in(jax.random.key(1), t), config.batch_size, k)
        grads = eqx.filter_grad(loss)(c, batch)
        return jax.tree.map(lambda a, g: a + 1e-9 * g, c, grads)

    whole = seconds_per_step(train_step, (model, optimizer.init(model)))
    gradient = seconds_per_step(gradient_only, model)
    # a dense Adam step reads W, its gradient and both moments and writes W and both moments: 7 arrays
    floor = 7 * model.weight.nbytes / (bandwidth * 1e9)
    print(f"portfolio Adam step at k = {k}, d = {config.n_inputs}: {whole * 1e3:.2f} ms (the batch's gradient "
          f"alone {gradient * 1e3:.2f} ms); moving the 7 dense 4 MB arrays of an Adam step at this machine's "
          f"bandwidth takes {floor * 1e3:.2f} ms; {config.steps:,} steps x 8 seeds on 2 cores: "
          f"{whole * config.steps * 4:.1f} s per arm")


def pwl_autoencoder(gflops: float) -> None:
    config = pwl_curves.Config()
    n, k = config.points, config.pieces
    widths = (*config.encoder_widths, 2 * k, *config.decoder_widths)
    model = pwl_curves.AutoEncoder(key=jax.random.key(0), n=n, widths=widths)
    optimizer = optax.adam(1e-3)
    scale = pwl_curves.curve_scale(n, k)

    def train_step(c, t):
        m, state = c
        f = pwl_curves.sample_curves(jax.random.fold_in(jax.random.key(1), t), config.autoencoder_batch, n, k)[0]
        grads = eqx.filter_grad(lambda m: jnp.mean((jax.vmap(m)(f / scale) - f / scale) ** 2))(m)
        updates, state = optimizer.update(grads, state, m)
        return optax.apply_updates(m, updates), state

    carry = (model, optimizer.init(model))
    whole = seconds_per_step(train_step, carry)
    step = jax.jit(lambda c: train_step(c, 0))
    flops = step.lower(carry).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, list | tuple) else flops)["flops"]
    print(f"pwl-curves auto-encoder step (batch {config.autoencoder_batch}, widths {widths}): {whole * 1e3:.2f} ms, "
          f"{flops / 1e6:.0f} MFLOP: {flops / whole / 1e9:.0f} GFLOP/s against {gflops:.0f} GFLOP/s of a large "
          f"matrix product on one device")


def main() -> None:
    bandwidth, gflops = references()
    print(f"references: memory bandwidth {bandwidth:.1f} GB/s (a 64 MB array read and written), "
          f"{gflops:.0f} GFLOP/s (a 1024^3 matrix product), one device")
    flat_activations()
    portfolio_step(bandwidth)
    pwl_autoencoder(gflops)


if __name__ == "__main__":
    main()

"""The training loop shared by every experiment.

The step loop is a ``lax.scan`` compiled once; it runs in chunks of
``eval_every`` steps so that Python can evaluate, report progress and honour
Ctrl-C between chunks. The step key of step ``t`` is ``fold_in(train_key, t)``,
so results do not depend on the chunking.

Seeds are spread over the devices (on a CPU, one per core: see
``engine/devices.py``) and trained in *rounds*, one after another: a round gives
each device one *instance*. An instance is one model (``seeds_by="map"``, the default on a CPU) or a block of
:func:`seed_block` models vectorised with ``vmap`` (``"vmap"``, the default on an
accelerator). On a CPU ``vmap`` pays where a model is so small that a step is
mostly per-operation overhead: linear-periodic's d = 20 network trained 1.9x
faster in blocks of 4 than one by one, its d = 1 network 3.3x (8 seeds on 2
cores, the same run); a network whose batch already fills a core gains nothing
and pays for the padding, so experiments with small models ask for ``vmap``.
Whatever the number of seeds, every seed is computed by the same programs (the
initialisation and each chunk see one round's shapes), so seed ``s`` run alone is
bit-identical to seed ``s`` inside a batch, and runs with 2, 4 or 8 seeds compile
nothing twice; seeds are padded (with copies, whose results are dropped) to fill
the last round. Progress counts steps times rounds.

``loop="python"`` is the plain reference path: one seed at a time, one jitted
step per Python iteration. Tests check that both paths agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from deeplimits.engine import devices
from deeplimits.experiment import Progress, no_progress

Model = Any
Batch = Any
LossFn = Callable[[Model, Batch], jax.Array]
GradFn = Callable[[Model, Batch], tuple[jax.Array, Model]]
SEED_BLOCK = {"cpu": 4}  # models per instance with seeds_by="vmap", by backend (8 elsewhere)
SEEDS = PartitionSpec("seeds")


@dataclass
class TrainLog:
    """What :func:`train` returns. Arrays carry the seed axis first."""

    steps: np.ndarray  # (E,) step count at each eval
    metrics: dict[str, np.ndarray]  # name -> (S, E, *shape); all NaN for a seed that diverged
    loss: np.ndarray  # (S, E) mean training loss over each chunk
    diverged: np.ndarray  # (S,) True where the loss became NaN or infinite
    models: Model  # final models, stacked along the seed axis
    wall_s: float


def seed_models(models: Model, n_seeds: int) -> list[Model]:
    """The seed axis of stacked models (``TrainLog.models``) as a list of single models."""
    params, static = eqx.partition(models, eqx.is_array)
    return [eqx.combine(jax.tree.map(lambda leaf, s=s: leaf[s], params), static) for s in range(n_seeds)]


def _split_keys(keys: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    parts = jax.vmap(lambda k: jax.random.split(k, 3))(keys)  # (S, 3)
    return parts[:, 0], parts[:, 1], parts[:, 2]


def _chunk_lengths(steps: int, eval_every: int) -> list[int]:
    full, rest = divmod(steps, eval_every)
    return [eval_every] * full + ([rest] if rest else [])


def seed_block() -> int:
    """Models per ``vmap`` instance: 4 on a CPU (8 seeds fill two cores without padding), 8 elsewhere."""
    return SEED_BLOCK.get(jax.default_backend(), 8)


def default_seeds_by() -> Literal["vmap", "map"]:
    """``map`` on a CPU (one model per core is as fast and needs no padding), ``vmap`` elsewhere."""
    return "map" if jax.default_backend() == "cpu" else "vmap"


def train(
    *,
    keys: jax.Array,
    init: Callable[[jax.Array], Model],
    loss: LossFn,
    optimizer: optax.GradientTransformation,
    sample_batch: Callable[[Any, jax.Array], Batch],
    evaluate: Callable[[Model, Any, jax.Array], dict[str, jax.Array]],
    steps: int,
    eval_every: int,
    data: Any = None,
    grad_fn: GradFn | None = None,
    progress: Progress = no_progress,
    label: str = "train",
    loop: Literal["scan", "python"] = "scan",
    seeds_by: Literal["auto", "vmap", "map"] = "auto",
) -> TrainLog:
    """Train one model per key (``keys`` is ``(S,)``) and evaluate every ``eval_every`` steps.

    ``data`` is a per-seed pytree (leading seed axis), e.g. each seed's hidden target;
    ``sample_batch(data, key)`` draws a batch inside the compiled loop;
    ``evaluate(model, data, key)`` returns metrics (scalars, or arrays such as a
    reconstruction, which come back as ``(S, E, *shape)``); ``grad_fn(model, batch) ->
    (loss, grads)`` replaces the gradient (default: the gradient of ``loss``) for
    non-gradient update rules. ``seeds_by`` chooses the instance (module docstring):
    ``"auto"`` is :func:`default_seeds_by`.
    """
    if steps < 1 or eval_every < 1:
        raise ValueError(f"steps and eval_every must be >= 1, got {steps} and {eval_every}")
    if seeds_by not in ("auto", "vmap", "map"):
        raise ValueError(f"seeds_by={seeds_by!r}: expected 'auto', 'vmap' or 'map'")
    grad_fn = grad_fn or eqx.filter_value_and_grad(loss)
    n_seeds = keys.shape[0]
    block = 1
    if loop == "scan":
        block = seed_block() if (default_seeds_by() if seeds_by == "auto" else seeds_by) == "vmap" else 1
        per_round = block * devices.mesh().size
        pad = np.arange(-n_seeds % per_round) % n_seeds  # copies of real seeds, dropped at the end
        if pad.size:
            keys = jnp.concatenate([keys, keys[pad]])
            data = jax.tree.map(lambda leaf: jnp.concatenate([leaf, leaf[pad]]), data)
    init_keys, train_keys, eval_keys = _split_keys(keys)

    def step(params, opt_state, static, data, train_key, t):
        model = eqx.combine(params, static)
        value, grads = grad_fn(model, sample_batch(data, jax.random.fold_in(train_key, t)))
        grads = eqx.filter(grads, eqx.is_inexact_array)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    def metrics_of(params, static, data, eval_key, index):
        return evaluate(eqx.combine(params, static), data, jax.random.fold_in(eval_key, index))

    start = time.perf_counter()
    run = _train_scan if loop == "scan" else _train_python
    steps_at, metrics, losses, diverged, params, static = run(
        step, metrics_of, init, optimizer, data, init_keys, train_keys, eval_keys,
        _chunk_lengths(steps, eval_every), progress, label, *((block,) if loop == "scan" else ()),
    )
    diverged = diverged[:n_seeds]
    metrics = {k: np.where(diverged.reshape((-1,) + (1,) * (v.ndim - 1)), np.nan, v[:n_seeds])
               for k, v in metrics.items()}
    params = jax.tree.map(lambda leaf: np.asarray(leaf[:n_seeds]), params)
    static = jax.tree.map(lambda leaf: leaf[:n_seeds] if eqx.is_array(leaf) else leaf, static)
    return TrainLog(
        steps=np.asarray(steps_at), metrics=metrics, loss=losses[:n_seeds], diverged=diverged,
        models=eqx.combine(params, static), wall_s=time.perf_counter() - start,
    )


def _chunk_program(step, metrics_of, static, length: int, block: int, mesh):
    """One chunk of ``length`` steps for every seed: each device loops over its instances."""

    def one_seed(params, opt_state, diverged, data, train_key, eval_key, t0, eval_index):
        # The loss is summed in the carry, in step order, so that every path
        # (batched, alone, plain loop) adds the same numbers the same way.
        def body(carry, t):
            params, opt_state, diverged, total = carry
            params, opt_state, value = step(params, opt_state, static, data, train_key, t)
            return (params, opt_state, diverged | ~jnp.isfinite(value), total + value), None

        carry = (params, opt_state, diverged, jnp.zeros((), jnp.float32))
        (params, opt_state, diverged, total), _ = jax.lax.scan(body, carry, t0 + jnp.arange(length))
        return params, opt_state, diverged, total / length, metrics_of(params, static, data, eval_key, eval_index)

    def instance(seeds, i, t0, eval_index):
        if block == 1:
            return one_seed(*jax.tree.map(lambda leaf: leaf[i], seeds), t0, eval_index)
        sliced = jax.tree.map(lambda leaf: jax.lax.dynamic_slice_in_dim(leaf, i * block, block), seeds)
        return jax.vmap(one_seed, in_axes=(0,) * 6 + (None, None))(*sliced, t0, eval_index)

    def on_device(seeds, count, t0, eval_index):
        # `count` (instances on this device) is a run-time value, so XLA never unrolls
        # or simplifies the loop for a particular number of seeds.
        local = jax.tree.leaves(seeds)[0].shape[0]
        shapes = jax.eval_shape(lambda: instance(seeds, 0, t0, eval_index))
        out = jax.tree.map(lambda s: jnp.zeros((local,) + s.shape[(block > 1):], s.dtype), shapes)

        def body(i, out):
            values = instance(seeds, i, t0, eval_index)
            return jax.tree.map(
                lambda o, v: jax.lax.dynamic_update_slice_in_dim(o, v if block > 1 else v[None], i * block, 0),
                out, values)

        return jax.lax.fori_loop(0, count[0], body, out)

    return jax.shard_map(on_device, mesh=mesh, in_specs=(SEEDS, SEEDS, PartitionSpec(), PartitionSpec()),
                         out_specs=SEEDS, check_vma=False)


def _train_scan(step, metrics_of, init, optimizer, data, init_keys, train_keys, eval_keys,
                chunks, progress, label, block):
    """Seeds in rounds of one instance per device, one round after another: every program (the
    models' initialisation, each chunk) sees the same shapes whatever the number of seeds, so runs
    with 2, 4 or 8 seeds share them (in memory, and on disk with the persistent cache)."""
    mesh = devices.mesh()
    per_round = block * mesh.size  # the padded seed count is a whole number of rounds
    n_seeds = init_keys.shape[0]
    rounds = [slice(first, first + per_round) for first in range(0, n_seeds, per_round)]
    programs: dict[int, Callable] = {}
    total = sum(chunks) * len(rounds)
    progress(label, 0, total)
    finished = []
    for number, seeds in enumerate(rounds):
        finished.append(_train_round(
            step, metrics_of, init, optimizer, jax.tree.map(lambda leaf, s=seeds: leaf[s], data),
            init_keys[seeds], train_keys[seeds], eval_keys[seeds], chunks, programs, block, mesh,
            lambda done, base=number * sum(chunks): progress(label, base + done, total)))
    steps_at = finished[0][0]
    # A model's non-float arrays (an index, a mask) carry the seed axis too: every round's.
    static = jax.tree.map(
        lambda *leaves: np.concatenate([np.asarray(leaf) for leaf in leaves]) if eqx.is_array(leaves[0])
        else leaves[0], *[f[-1] for f in finished])
    metrics = {k: np.concatenate([f[1][k] for f in finished]) for k in finished[0][1]}
    params = jax.tree.map(lambda *leaves: np.concatenate([np.asarray(leaf) for leaf in leaves]),
                          *[f[4] for f in finished])
    return (steps_at, metrics, np.concatenate([f[2] for f in finished]),
            np.concatenate([f[3] for f in finished]), params, static)


def _train_round(step, metrics_of, init, optimizer, data, init_keys, train_keys, eval_keys,
                 chunks, programs, block, mesh, progress):
    sharded = NamedSharding(mesh, SEEDS)
    models = eqx.filter_vmap(init)(init_keys)
    params, static = eqx.partition(models, eqx.is_inexact_array)
    if any(eqx.is_array(leaf) for leaf in jax.tree.leaves(static)):
        programs = {}  # the programs hold this round's own constants: never another round's
    opt_state = jax.vmap(optimizer.init)(params)
    diverged = jnp.zeros(init_keys.shape[0], dtype=bool)
    state = jax.device_put((params, opt_state, diverged), sharded)
    fixed = jax.device_put((data, train_keys, eval_keys), sharded)
    # One instance per device in a round. `count` stays a run-time loop bound, as it was when a
    # device looped over all its seeds, so that the programs (and results) are unchanged by rounds.
    count = jax.device_put(jnp.ones(mesh.size, jnp.int32), sharded)
    steps_at, losses, metric_rows = [], [], []
    done = 0
    for index, length in enumerate(chunks):
        args = ((*state, *fixed), count, jnp.asarray(done), jnp.asarray(index))
        if length not in programs:
            programs[length] = devices.compiled(_chunk_program(step, metrics_of, static, length, block, mesh),
                                                *args)
        params, opt_state, diverged, loss, metrics = programs[length](*args)
        state = (params, opt_state, diverged)
        done += length
        steps_at.append(done)
        losses.append(np.asarray(loss))
        metric_rows.append({k: np.asarray(v) for k, v in metrics.items()})
        progress(done)
    metrics = {k: np.stack([row[k] for row in metric_rows], axis=1) for k in metric_rows[0]}
    params, _, diverged = state
    return steps_at, metrics, np.stack(losses, axis=1), np.asarray(diverged), params, static


def _train_python(step, metrics_of, init, optimizer, data, init_keys, train_keys, eval_keys,
                  chunks, progress, label):
    """Reference path: each seed alone, one jitted single-model step per iteration."""
    per_seed = []
    total = sum(chunks) * init_keys.shape[0]
    done_all = 0
    progress(label, 0, total)
    for s in range(init_keys.shape[0]):
        params, static = eqx.partition(init(init_keys[s]), eqx.is_inexact_array)
        opt_state = optimizer.init(params)
        seed_data = jax.tree.map(lambda leaf, s=s: leaf[s], data)
        jit_step = jax.jit(lambda p, o, t, k=train_keys[s], x=seed_data, st=static: step(p, o, st, x, k, t))
        jit_metrics = jax.jit(lambda p, i, k=eval_keys[s], x=seed_data, st=static: metrics_of(p, st, x, k, i))
        diverged, done, losses, rows = False, 0, [], []
        for index, length in enumerate(chunks):
            total_loss = np.float32(0.0)
            for t in range(done, done + length):
                params, opt_state, value = jit_step(params, opt_state, jnp.asarray(t))
                total_loss = np.float32(total_loss + np.float32(value))
                diverged |= not np.isfinite(total_loss)
            done += length
            done_all += length
            losses.append(total_loss / np.float32(length))
            rows.append({k: np.asarray(v) for k, v in jit_metrics(params, index).items()})
            progress(label, done_all, total)
        per_seed.append((params, diverged, np.array(losses), rows, static))
    steps_at = list(np.cumsum(chunks))
    metrics = {
        k: np.stack([np.stack([r[k] for r in rows]) for *_, rows, _ in per_seed])
        for k in per_seed[0][3][0]
    }
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *[p for p, *_ in per_seed])
    static = jax.tree.map(lambda *leaves: np.stack(leaves) if eqx.is_array(leaves[0]) else leaves[0],
                          *[st for *_, st in per_seed])
    return (steps_at, metrics, np.stack([loss for _, _, loss, _, _ in per_seed]),
            np.array([d for _, d, *_ in per_seed]), params, static)

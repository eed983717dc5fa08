"""The performance suite: the engine against the same work done by hand, side by side, in one run.

Every row runs in its own process; rounds interleave the rows (A, B, C, A, B, C, ...)
so that a row cannot profit from a quiet minute the others did not get; the table
gives the median over rounds and the range. Rates are model-steps per second of
the parity d = 30 network (width 300, batch 128, hinge loss, SGD) unless a row
says otherwise; compilation is left out by timing two step counts after a warm-up
and dividing the difference.

    python benchmarks/suite.py                       # every row, 3 rounds; JSON in benchmarks/results/
    python benchmarks/suite.py --rows engine-1 scan-1 --rounds 5
    python benchmarks/suite.py --baseline-src /tmp/old/src   # add the engine rows of another checkout

Rows:
  engine-S          parity.train_sgd (the engine as an experiment uses it) with S seeds
  before-engine-S   the same from the checkout given by --baseline-src (same run, same machine)
  scan-1            a hand-written jit(lax.scan) of one model: the same sampler, network, loss and SGD
  numpy-1           one model by hand in NumPy (forward, hinge, backward, SGD)
  torch-eager-1     PyTorch eager, one model (skipped with a message where PyTorch does not import)
  torch-vmap-8      torch.func.vmap over 8 models
  matmul-peak       GFLOP/s of a 2048 x 2048 float32 product (XLA, every core)
  matmul-shapes-S   the parity step's two products at its very shapes for S models, spread over the
                    devices as the engine does: the most these shapes allow (GFLOP/s, model-steps/s)
  compile           seconds of the first train() in a process, the same again, and another learning rate
  tuple-lines-e2e   the tuple-lines quick CNN (k = 3, end-to-end, 1 seed): steps/s
  pwl-ARM           the pwl-curves quick arms (fully-connected, conditioned, autoencoder; 8 seeds)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

D, WIDTH, BATCH, LR = 30, 300, 128, 0.01
# Multiply-adds of one step: forward x W1 and the gradient of W1 (B d W each), the output layer and its
# gradient (B W each); 2 FLOP per multiply-add.
FLOP_PER_STEP = 2 * (2 * BATCH * D * WIDTH + 2 * BATCH * WIDTH)
SEED_COUNTS = (1, 8, 32, 128)
HERE = Path(__file__).resolve().parent


def _difference_rate(run, short: int, long: int, models: int = 1) -> float:
    """Model-steps/s from two step counts after a warm-up of both (compilation excluded)."""
    run(short), run(long)
    t_short = min(_timed(run, short) for _ in range(2))
    t_long = min(_timed(run, long) for _ in range(2))
    return (long - short) * models / max(t_long - t_short, 1e-9)


def _timed(run, steps: int) -> float:
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


# --- rows (each runs in a fresh process) -------------------------------------------------------------

def row_engine(seeds: int) -> dict:
    from deeplimits.builtin.gradient_failures import parity

    def run(steps):
        config = parity.Config(dims=(D,), steps=steps, eval_every=steps)
        parity.train_sgd(config, D, tuple(range(seeds)), parity.no_progress)

    rate = _difference_rate(run, 500, 2_500, seeds)
    return {"model_steps_per_s": rate, "gflops": rate * FLOP_PER_STEP / 1e9}


def row_scan() -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from deeplimits.builtin.gradient_failures import parity
    from deeplimits.engine import derive_key, one_hidden_layer_relu

    optimizer = optax.sgd(LR)
    subset = parity.hidden_subset(D, None, 0)

    def loss(model, batch):
        x, y = batch
        return jnp.mean(parity.hinge(jax.vmap(model)(x), y))

    @jax.jit(static_argnums=2)
    def fit(key, subset, steps):
        params, static = eqx.partition(one_hidden_layer_relu(key=key, in_size=D, width=WIDTH), eqx.is_array)

        def body(carry, t):
            params, state = carry
            batch = parity.sample_parity(subset, jax.random.fold_in(key, t), BATCH)
            grads = jax.grad(lambda p: loss(eqx.combine(p, static), batch))(params)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, optimizer.init(params)), jnp.arange(steps))
        return params

    key = derive_key("benchmark", "scan", 0)
    rate = _difference_rate(lambda n: jax.block_until_ready(fit(key, subset, n)), 500, 2_500)
    return {"model_steps_per_s": rate, "gflops": rate * FLOP_PER_STEP / 1e9}


def row_numpy() -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((D, WIDTH)) / np.sqrt(D)).astype(np.float32)
    b1 = np.zeros(WIDTH, np.float32)
    w2 = (rng.standard_normal(WIDTH) / np.sqrt(WIDTH)).astype(np.float32)
    subset = rng.integers(0, 2, D).astype(bool)

    def run(steps):
        nonlocal w1, b1, w2
        for _ in range(steps):
            x = (1 - 2 * rng.integers(0, 2, (BATCH, D), dtype=np.int8)).astype(np.float32)
            y = np.prod(np.where(subset, x, 1), axis=1)
            h = np.maximum(x @ w1 + b1, 0)
            out = h @ w2
            d_out = np.where(y * out < 1, -y, 0).astype(np.float32) / BATCH
            d_h = np.outer(d_out, w2) * (h > 0)
            w2 -= LR * (h.T @ d_out)
            w1 -= LR * (x.T @ d_h)
            b1 -= LR * d_h.sum(0)

    rate = _difference_rate(run, 200, 1_000)
    return {"model_steps_per_s": rate, "gflops": rate * FLOP_PER_STEP / 1e9}


def _torch_or_skip():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_parity(torch, models: int):
    """``models`` independent parity networks as one stacked set of weights."""
    gen = torch.Generator().manual_seed(0)
    w1 = (torch.randn(models, D, WIDTH, generator=gen) / D**0.5).requires_grad_()
    b1 = torch.zeros(models, 1, WIDTH, requires_grad=True)
    w2 = (torch.randn(models, WIDTH, 1, generator=gen) / WIDTH**0.5).requires_grad_()
    subset = torch.randint(0, 2, (D,), generator=gen).bool()
    return gen, [w1, b1, w2], subset


def row_torch_eager() -> dict:
    torch = _torch_or_skip()
    if torch is None:
        return {"skipped": "PyTorch does not import here (it is never a dependency of deeplimits)"}
    gen, params, subset = _torch_parity(torch, 1)
    optimizer = torch.optim.SGD(params, lr=LR)

    def run(steps):
        for _ in range(steps):
            x = torch.randint(0, 2, (1, BATCH, D), generator=gen).float() * 2 - 1
            y = torch.where(subset, x, torch.ones(())).prod(-1)
            out = (torch.relu(x @ params[0] + params[1]) @ params[2]).squeeze(-1)
            loss = torch.clamp(1 - y * out, min=0).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    rate = _difference_rate(run, 200, 1_000)
    return {"model_steps_per_s": rate, "gflops": rate * FLOP_PER_STEP / 1e9, "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def row_torch_vmap(models: int = 8) -> dict:
    torch = _torch_or_skip()
    if torch is None:
        return {"skipped": "PyTorch does not import here (it is never a dependency of deeplimits)"}
    from torch.func import grad, vmap

    gen, params, subset = _torch_parity(torch, models)
    params = [p.detach() for p in params]

    def loss(w1, b1, w2, x, y):
        out = (torch.relu(x @ w1 + b1) @ w2).squeeze(-1)
        return torch.clamp(1 - y * out, min=0).mean()

    per_model = vmap(grad(loss, argnums=(0, 1, 2)))

    def run(steps):
        for _ in range(steps):
            x = torch.randint(0, 2, (models, BATCH, D), generator=gen).float() * 2 - 1
            y = torch.where(subset, x, torch.ones(())).prod(-1)
            grads = per_model(*params, x, y)
            for p, g in zip(params, grads):
                p.sub_(LR * g)

    rate = _difference_rate(run, 100, 500, models)
    return {"model_steps_per_s": rate, "gflops": rate * FLOP_PER_STEP / 1e9, "torch": torch.__version__}


def row_matmul_peak(n: int = 2048) -> dict:
    import jax

    a = jax.random.normal(jax.random.key(0), (n, n))

    @jax.jit
    def repeat(a):
        return jax.lax.fori_loop(0, 10, lambda i, b: (a @ b) * (1.0 / n), a)

    jax.block_until_ready(repeat(a))
    best = min(_timed(lambda _: jax.block_until_ready(repeat(a)), 0) for _ in range(3))
    return {"gflops": 10 * 2 * n**3 / best / 1e9}


def row_matmul_shapes(models: int) -> dict:
    """The parity step's two big products, at its shapes, for ``models`` models spread like the engine's."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()[:max(1, min(models, len(jax.devices())))]), ("seeds",))
    spec = PartitionSpec("seeds")
    key = jax.random.key(0)
    x = jax.random.rademacher(key, (models, BATCH, D), dtype=jnp.float32)
    w = jax.random.normal(key, (models, D, WIDTH)) * 0.1
    x, w = jax.device_put((x, w), NamedSharding(mesh, spec))

    def local(x, w, steps):
        def body(i, w):
            h = jnp.einsum("sbd,sdw->sbw", x, w)  # forward
            g = jnp.einsum("sbd,sbw->sdw", x, h)  # gradient of W1
            return w - 1e-6 * g
        return jax.lax.fori_loop(0, steps, body, w)

    def run(steps):
        fn = jax.jit(jax.shard_map(lambda x, w: local(x, w, steps), mesh=mesh, in_specs=(spec, spec),
                                   out_specs=spec, check_vma=False))
        jax.block_until_ready(fn(x, w))

    rate = _difference_rate(run, 200, 1_000, models)
    flops = 2 * 2 * BATCH * D * WIDTH  # the two products only
    return {"model_steps_per_s": rate * flops / FLOP_PER_STEP, "gflops": rate * flops / 1e9}


def row_compile() -> dict:
    start = time.perf_counter()
    from deeplimits.builtin.gradient_failures import parity

    imported = time.perf_counter() - start

    def once(lr):
        config = parity.Config(dims=(D,), steps=100, eval_every=100, learning_rate=lr)
        return _timed(lambda _: parity.train_sgd(config, D, tuple(range(8)), parity.no_progress), 0)

    return {"import_s": imported, "first_s": once(LR), "repeat_s": once(LR), "other_lr_s": once(LR / 2)}


def row_tuple_lines() -> dict:
    from deeplimits import registry
    from deeplimits.builtin.gradient_failures import tuple_lines

    exp = registry.get("tuple-lines")

    def run(steps):
        config = exp.config_for("quick", end_to_end_steps=steps, eval_every=steps)
        tuple_lines.train_arm(config, "end-to-end-k3", 3, (0,), tuple_lines.no_progress)

    return {"model_steps_per_s": _difference_rate(run, 20, 100)}


def row_pwl(arm: str) -> dict:
    import jax.numpy as jnp
    import numpy as np

    from deeplimits import registry
    from deeplimits.builtin.gradient_failures import pwl_curves as pwl
    from deeplimits.engine import derive_key

    exp = registry.get("pwl-curves")
    seeds = tuple(range(8))
    base = exp.config_for("quick")
    n, k = base.points, base.pieces
    test = [pwl.sample_curves(derive_key(pwl.NAME, "test", s), base.test_curves, n, k) for s in seeds]
    data = {"f": jnp.stack([f for f, _ in test]), "p": jnp.stack([p for _, p in test]),
            "whiten": jnp.asarray(np.stack([pwl.whitening(n, k, base.whitening_curves, pwl.whitening_key(n, s))
                                            for s in seeds]), jnp.float32)}

    def run(steps):
        if arm == "conditioned":
            config = exp.config_for("quick", conditioned_iterations=steps, conditioned_eval_every=steps,
                                    conditioned_snapshots=(steps,))
        else:
            config = exp.config_for("quick", iterations=steps, eval_every=steps, snapshots=(steps,))
        if arm == "autoencoder":
            pwl.train_autoencoder(config, seeds, data, pwl.no_progress)
        else:
            pwl.train_encoder(config, arm, seeds, data, pwl.no_progress)

    return {"model_steps_per_s": _difference_rate(run, 200, 1_000, len(seeds))}


ROWS = {
    **{f"engine-{s}": (row_engine, (s,)) for s in SEED_COUNTS},
    "scan-1": (row_scan, ()),
    "numpy-1": (row_numpy, ()),
    "torch-eager-1": (row_torch_eager, ()),
    "torch-vmap-8": (row_torch_vmap, ()),
    "matmul-peak": (row_matmul_peak, ()),
    **{f"matmul-shapes-{s}": (row_matmul_shapes, (s,)) for s in (1, 8, 128)},
    "compile": (row_compile, ()),
    "tuple-lines-e2e": (row_tuple_lines, ()),
    **{f"pwl-{arm}": (row_pwl, (arm,)) for arm in ("fully-connected", "conditioned", "autoencoder")},
}


# --- the driver --------------------------------------------------------------------------------------

def _one_row(name: str) -> None:
    """Run one row in this process and print its result as one JSON line."""
    import deeplimits  # noqa: F401  (asks for one JAX device per core before JAX starts)

    row = name.removeprefix("before-")
    fn, args = ROWS[row]
    result = fn(*args)
    import jax

    result.update(devices=len(jax.devices()), platform=jax.default_backend(), jax=jax.__version__)
    print("RESULT " + json.dumps(result))


def _spawn(name: str, baseline_src: str | None, timeout: float) -> dict:
    env = dict(os.environ)
    if name.startswith("before-"):
        env["PYTHONPATH"] = baseline_src + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, __file__, "--row", name], capture_output=True, text=True,
                              env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    result = json.loads(lines[-1][len("RESULT "):])
    result["process_s"] = time.perf_counter() - start
    return result


def _summary(samples: list[dict]) -> dict:
    ok = [s for s in samples if "error" not in s and "skipped" not in s]
    if not ok:
        return samples[0] if samples else {"error": "not run"}
    out = {"rounds": len(ok), "devices": ok[0].get("devices"), "platform": ok[0].get("platform")}
    for key in sorted({k for s in ok for k, v in s.items() if isinstance(v, (int, float)) and k != "devices"}):
        values = [s[key] for s in ok if key in s]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def _fmt(entry: dict | None, key: str) -> str:
    if not entry or key not in entry:
        return ""
    m = entry[key]
    return f"{m['median']:,.0f} [{m['min']:,.0f}, {m['max']:,.0f}]" if m["median"] >= 100 else \
        f"{m['median']:.2f} [{m['min']:.2f}, {m['max']:.2f}]"


def _print_table(summary: dict[str, dict]) -> None:
    ref = summary.get("torch-eager-1", {}).get("model_steps_per_s", {}).get("median")
    peak = summary.get("matmul-peak", {}).get("gflops", {}).get("median")
    print(f"\n{'row':<22} {'model-steps/s: median [range]':>34} {'GFLOP/s':>24} {'vs torch eager':>15} "
          f"{'of matmul peak':>15}")
    for name, entry in summary.items():
        if "error" in entry or "skipped" in entry:
            print(f"{name:<22} {entry.get('error') or entry.get('skipped')}")
            continue
        if name == "compile":
            print(f"{name:<22} first train() {_fmt(entry, 'first_s')} s, same again {_fmt(entry, 'repeat_s')} s, "
                  f"another learning rate {_fmt(entry, 'other_lr_s')} s, import {_fmt(entry, 'import_s')} s")
            continue
        rate = entry.get("model_steps_per_s", {}).get("median")
        parity_row = name.removeprefix("before-").split("-")[0] in ("engine", "scan", "numpy", "torch", "matmul")
        ratio = f"{rate / ref:.2f}x" if rate and ref and parity_row else ""
        gflops = entry.get("gflops", {}).get("median")
        share = f"{gflops / peak:.0%}" if gflops and peak and name != "matmul-peak" else ""
        print(f"{name:<22} {_fmt(entry, 'model_steps_per_s'):>34} {_fmt(entry, 'gflops'):>24} {ratio:>15} "
              f"{share:>15}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=None, help=f"rows to run (default: all): {', '.join(ROWS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", default=None, help="a checkout's src/ folder: adds before-engine-S rows")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed to one row's process")
    parser.add_argument("--json", default=None, help="where to write the results (default benchmarks/results/)")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        return _one_row(args.row)
    rows = args.rows or list(ROWS)
    unknown = [r for r in rows if r.removeprefix("before-") not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
    if args.baseline_src:
        rows += [f"before-{r}" for r in rows if r.startswith("engine-")]
    samples: dict[str, list[dict]] = {r: [] for r in rows}
    for round_ in range(args.rounds):
        for name in rows:
            result = _spawn(name, args.baseline_src, args.timeout)
            samples[name].append(result)
            shown = result.get("model_steps_per_s") or result.get("gflops") or result.get("first_s")
            print(f"round {round_ + 1}/{args.rounds} {name}: "
                  f"{result.get('error') or result.get('skipped') or f'{shown:,.1f}'}", flush=True)
    summary = {name: _summary(s) for name, s in samples.items()}
    _print_table(summary)
    out = Path(args.json) if args.json else HERE / "results" / f"suite-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                               "python": platform.python_version(), "baseline_src": args.baseline_src,
                               "rounds": args.rounds, "summary": summary, "samples": samples}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

"""Where seeds run: one JAX device per CPU core, and a cache of compiled programs.

XLA runs one program on a CPU with little parallelism for models this small, so
the engine spreads seeds over one *host device per core* (``jax_num_cpu_devices``),
each running its share one after another. That has to be set before JAX starts
its backends, which is why ``import deeplimits`` calls :func:`use_every_core`
first. ``DEEPLIMITS_CPU_DEVICES`` overrides the count; it is never below two (see
:data:`MIN_CPU_DEVICES`: a one-device program rounds differently).
If JAX has already started, the engine uses the devices it has: results are
the same, only slower.

A compiled program is kept under a fingerprint of its lowered text (and of its
input and output structure), so a second
``train()`` with the same model, shapes, update rule and chunk length reuses it
(tracing is repeated, compiling is not). :func:`enable_persistent_cache` keeps
them on disk across processes too (the CLI does).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ENV_DEVICES = "DEEPLIMITS_CPU_DEVICES"
# XLA compiles a one-device program differently from a partitioned one: parity's losses differed in
# the last bits between 1 device and 2 or 3 (2 and 3 agreed). At least two devices, even on one core,
# make results independent of the machine's core count (and of a Ray task's CPUs).
MIN_CPU_DEVICES = 2
ENV_CACHE = "DEEPLIMITS_COMPILATION_CACHE"

_programs: dict[str, Any] = {}
stats = {"compiled": 0, "reused": 0}


def use_every_core() -> int | None:
    """Ask JAX for one CPU device per core; returns the count asked for, or None if too late."""
    import jax

    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "") and \
            not os.environ.get(ENV_DEVICES):
        return None  # the user chose a count through XLA's own flag
    count = device_count()
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backends already started: keep what they have
        return None
    return count


def device_count() -> int:
    """CPU devices to ask for: ``DEEPLIMITS_CPU_DEVICES``, else one per core, never fewer than
    :data:`MIN_CPU_DEVICES` (bad input: one line, exit 2)."""
    wanted = os.environ.get(ENV_DEVICES, "").strip()
    if not wanted:
        return max(MIN_CPU_DEVICES, usable_cores())
    if not wanted.isdigit() or int(wanted) < 1:
        sys.stderr.write(f"{ENV_DEVICES}={wanted!r}: expected a whole number of devices >= 1\n")
        raise SystemExit(2)
    return max(MIN_CPU_DEVICES, int(wanted))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def mesh():
    """A one-axis mesh (``seeds``) over every device of the default backend."""
    import jax
    from jax.sharding import Mesh

    return Mesh(np.array(jax.devices()), ("seeds",))


def compiled(fn: Callable, *args: Any) -> Callable:
    """``jax.jit(fn)`` compiled for ``args``, or the program compiled before for the same text."""
    import jax

    lowered = jax.jit(fn).lower(*args)
    # Two programs that compute the same but return {"a": x} and {"b": x} must not share. The
    # text names outputs only in debug attributes, so the tree structures are keyed explicitly.
    text = f"{lowered.as_text()}\n{lowered.in_tree}\n{lowered.out_tree}"
    key = hashlib.sha256(text.encode()).hexdigest()
    program = _programs.get(key)
    if program is None:
        program = _programs[key] = lowered.compile()
        stats["compiled"] += 1
    else:
        stats["reused"] += 1
    return program


def side_by_side(fn: Callable, calls: list[tuple]) -> list[Any]:
    """``fn(*args)`` for every ``args`` of ``calls``, the i-th on device i mod n, all launched before any
    is awaited, so the devices (cores) work side by side; results come back as NumPy, in order.

    For measurements made one seed at a time (a diagnostic at initialisation): each call runs the same
    one-device program wherever it is placed, so the numbers are those of one device after another.
    """
    import equinox as eqx
    import jax

    every = jax.devices()
    launched = [fn(*jax.tree.map(lambda leaf, d=every[i % len(every)]: jax.device_put(leaf, d)
                                 if eqx.is_array(leaf) else leaf, args))
                for i, args in enumerate(calls)]
    return [jax.device_get(out) for out in launched]


def forget_programs() -> None:
    """Drop the kept programs (with ``jax.clear_caches()``, to give their memory back)."""
    _programs.clear()


def enable_persistent_cache(path: str | Path | None = None) -> Path | None:
    """Keep compiled programs on disk (``DEEPLIMITS_COMPILATION_CACHE``, else ``path``); ``off`` disables."""
    import jax

    chosen = os.environ.get(ENV_CACHE) or path
    if not chosen or str(chosen).lower() == "off":
        return None
    folder = Path(chosen).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a cache is an optimisation: never a reason to fail a run
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder

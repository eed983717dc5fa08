"""One sweep on the local backend and on a local Ray cluster, side by side in one run, as a user runs it.

Each backend runs the same `deeplimits sweep` command (a fresh results directory and a fresh
compiled-program cache each, so both compile from scratch), then the same command again (every
point stored: the cost of resuming). A third row times starting and stopping a local Ray cluster
alone. Overhead per task = (Ray's sweep time - local's) / points, measured inside the command
(the "in X s" it prints), so Python's start-up is not in it.

    python benchmarks/sweep_backends.py [--grid learning_rate=0.01,0.05,0.1 --grid steps=500,1000,2000]
                                        [--set variance_max_dim=4 ...] [--seeds 4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DONE = re.compile(r"(\d+) point\(s\) computed, (\d+) served from the store, in ([0-9.]+) s")


def sweep(grid: list[str], fixed: list[str], seeds: int, backend: str, scratch: Path) -> dict[str, float]:
    command = [sys.executable, "-c", "from deeplimits.cli import main; main()", "sweep", "parity", "-p", "smoke",
               "-n", str(seeds), "--backend", backend, "--out", str(scratch / "results")]
    for item in grid:
        command += ["--grid", item]
    for item in fixed:
        command += ["--set", item]
    env = {**os.environ, "XDG_CACHE_HOME": str(scratch / "cache")}
    row = {}
    for attempt in ("first", "again"):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{backend} sweep failed:\n{done.stderr[-3000:]}")
        computed, served, inside = DONE.search(done.stdout).groups()
        row[f"{attempt}_wall_s"] = round(wall, 2)
        row[f"{attempt}_sweep_s"] = float(inside)
        row[f"{attempt}_computed"] = int(computed)
    return row


def ray_start_stop() -> float:
    code = ("import time; t = time.perf_counter(); import ray; from deeplimits.sweeps import init_ray; "
            "init_ray(num_cpus=2); ray.shutdown(); print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    return round(float(done.stdout.split()[-1]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="append", default=None)
    parser.add_argument("--set", dest="fixed", action="append", default=None)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", default=str(HERE / "results" / "sweep_backends.json"))
    args = parser.parse_args()
    grid = args.grid or ["learning_rate=0.01,0.05,0.1", "steps=500,1000,2000"]
    fixed = args.fixed or ["variance_max_dim=4", "sampled_dims="]
    rows: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    for _ in range(args.rounds):
        for backend in ("local", "ray"):  # interleaved rounds: the machine's load hits both alike
            with tempfile.TemporaryDirectory() as scratch:
                rows[backend].append(sweep(grid, fixed, args.seeds, backend, Path(scratch)))
    start_stop = ray_start_stop()
    points = rows["local"][0]["first_computed"]
    print(f"parity smoke, {args.seeds} seeds, grid {' x '.join(grid)} ({points} points), "
          f"{' '.join(fixed)}; {os.cpu_count()} cores")
    for backend, measured in rows.items():
        for i, r in enumerate(measured):
            print(f"  {backend:<5} round {i}: sweep {r['first_sweep_s']:.1f} s (command {r['first_wall_s']:.1f} s); "
                  f"again, all stored: {r['again_sweep_s']:.1f} s (command {r['again_wall_s']:.1f} s)")
    local = sorted(r["first_sweep_s"] for r in rows["local"])[len(rows["local"]) // 2]
    ray = sorted(r["first_sweep_s"] for r in rows["ray"])[len(rows["ray"]) // 2]
    print(f"  ray / local: {ray / local:.2f}; overhead per task: {(ray - local) / points:.2f} s "
          f"(includes starting the cluster; start + stop alone: {start_stop:.1f} s)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"grid": grid, "fixed": fixed, "seeds": args.seeds, "rows": rows,
                                           "ray_start_stop_s": start_stop, "machine": platform.machine(),
                                           "cores": os.cpu_count()}, indent=1))


if __name__ == "__main__":
    main()

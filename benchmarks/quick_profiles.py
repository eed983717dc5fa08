"""Wall time of every experiment's quick profile, the way a user runs it: `deeplimits run all --profile quick`.

Each experiment is recomputed (``rerun=True``) into a scratch results directory, in one process
as the CLI does, so compiled programs are shared the way they are in a real session. Prints the
time per experiment and per arm, and writes them as JSON.

    python benchmarks/quick_profiles.py [--experiments parity portfolio] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import deeplimits
from deeplimits.engine import devices

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="*", default=None, help="default: every registered experiment")
    parser.add_argument("--json", default=str(HERE / "results" / "quick_profiles.json"))
    args = parser.parse_args()
    names = args.experiments or deeplimits.experiments()
    out, total = {}, 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            start = time.perf_counter()
            record = deeplimits.run(name, profile="quick", out=scratch, rerun=True)
            wall = time.perf_counter() - start
            total += wall
            arms = {arm: round(r.wall_s, 1) for arm, r in record.results.arms.items()}
            out[name] = {"wall_s": round(wall, 1), "arms_s": arms,
                         "verdicts": {v.claim_id: v.status for v in record.verdicts}}
            print(f"{name:<18} {wall:7.1f} s   slowest arms: "
                  f"{', '.join(f'{a} {s:.0f} s' for a, s in sorted(arms.items(), key=lambda x: -x[1])[:3])}",
                  flush=True)
    print(f"{'all':<18} {total:7.1f} s   ({total / 60:.1f} min; programs compiled {devices.stats['compiled']}, "
          f"reused {devices.stats['reused']})")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                "total_s": round(total, 1), "experiments": out}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

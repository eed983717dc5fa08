"""Planning a run: everything checked before any work (experiment, config, seeds, results directory) and its key."""

from __future__ import annotations

import numbers
import operator
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deeplimits import registry
from deeplimits.config import ConfigError, to_dict
from deeplimits.store import check_results_dir, run_key

MAX_SEED = 2**31 - 1
MAX_SEEDS = 1024  # per run: 128x a quick profile's 8 seeds, minutes to hours of training


def results_dir(out: str | Path | None = None, *, write: bool = True) -> Path:
    """``out``, else ``$DEEPLIMITS_HOME``, else ``./deeplimits-results``, checked (:class:`StoreError`): a file
    there is refused, and so, with ``write``, is a directory this process cannot write to or create."""
    path = Path(out or os.environ.get("DEEPLIMITS_HOME") or "deeplimits-results")
    check_results_dir(path, write=write)
    return path


def resolve_seeds(seeds: int | Sequence[int] | None, default: int) -> tuple[int, ...]:
    """``None``: seeds 0..default-1; ``N``: seeds 0..N-1; a sequence: those seeds.

    Counts and seeds may be Python or NumPy integers; anything else (``2.0``, ``"2"``, ``True``)
    is refused with one line, as are more than :data:`MAX_SEEDS` seeds.
    """
    if seeds is None:
        return tuple(range(default))
    if is_integer(seeds):
        count = operator.index(seeds)
        if count < 1:
            raise ConfigError(f"seeds={count}: expected a count >= 1")
        _check_seed_count(count, default)
        return tuple(range(count))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ConfigError(f"seeds={seeds!r}: expected a count (an integer >= 1) or a list of seeds")
    listed = list(seeds)
    if not all(is_integer(s) and 0 <= s <= MAX_SEED for s in listed):
        raise ConfigError(f"seeds={listed!r}: each seed must be an integer in 0..{MAX_SEED}")
    chosen = tuple(operator.index(s) for s in listed)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(f"seeds={list(chosen)}: expected distinct seeds, at least one")
    _check_seed_count(len(chosen), default)
    return chosen


def is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_seed_count(count: int, default: int) -> None:
    if count > MAX_SEEDS:
        raise ConfigError(f"seeds={count}: at most {MAX_SEEDS} seeds per run (time and memory grow with seeds: "
                          f"{count} seeds cost about {count / default:.0f}x the profile's default of {default}); "
                          f"split the seeds over several runs")


def plan_run(experiment: Any, profile: str, seeds: Any,
             overrides: dict[str, Any]) -> tuple[Any, Any, tuple[int, ...], str]:
    """Check everything about a run before any work: ``(experiment, config, seeds, run key)``."""
    exp = registry.get(experiment)
    config = exp.config_for(profile, **overrides)
    chosen = resolve_seeds(seeds, exp.default_seeds[profile])
    return exp, config, chosen, run_key(exp.name, exp.version, to_dict(config), chosen)


def falsification_key(experiment: str, claim_id: str) -> str:
    """The run key of a claim's falsifying setting (where the store keeps what it gave)."""
    exp = registry.get(experiment)
    claim = next((c for c in exp.claims if c.id == claim_id), None)
    if claim is None:
        raise ConfigError(f"{experiment} has no claim {claim_id!r}; its claims: "
                          f"{', '.join(c.id for c in exp.claims)}")
    if claim.falsified_by is None:
        raise ConfigError(f"{claim_id} has no falsifying setting: {claim.unfalsifiable}")
    f = claim.falsified_by
    config = exp.config_for(f.profile, **f.overrides)
    return run_key(exp.name, exp.version, to_dict(config), resolve_seeds(f.seeds, f.seeds))

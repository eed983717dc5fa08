"""Runs: the one layer that plans, computes, leases and stores a run, used by ``deeplimits.run`` and by sweeps.

- :mod:`~deeplimits.runs.plan`: everything checked before any work, and the run key;
- :mod:`~deeplimits.runs.computing`: train, judge and render a run in any process (a Ray worker too);
- :mod:`~deeplimits.runs.leases`: which process computes which run;
- :mod:`~deeplimits.runs.records`: the record of a run and the path every run takes (``execute``).

It depends on the registry, the experiments' contract, the engine and the store, never on the
facade (``deeplimits.api``), the sweeps or the report.
"""

from deeplimits.runs.computing import Computed, compute, provenance, release_compiled_programs, render_figure
from deeplimits.runs.leases import Leases
from deeplimits.runs.plan import (
    MAX_SEEDS,
    falsification_key,
    is_integer,
    plan_run,
    resolve_seeds,
    results_dir,
)
from deeplimits.runs.records import RunRecord, execute, load_stored, store_computed

__all__ = ["MAX_SEEDS", "Computed", "Leases", "RunRecord", "compute", "falsification_key", "is_integer",
           "load_stored", "plan_run", "provenance", "release_compiled_programs", "render_figure", "resolve_seeds",
           "execute", "results_dir", "store_computed"]

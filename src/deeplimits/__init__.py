"""deeplimits: runnable, falsifiable experiments on the limits of gradient-based deep learning.

    >>> import deeplimits
    >>> deeplimits.experiments()[:3]
    ['parity', 'linear-periodic', 'tuple-lines']
    >>> record = deeplimits.run("parity", profile="quick", seeds=5)
    >>> [(v.claim_id, v.status) for v in record.verdicts]
    >>> deeplimits.write_report()  # ./deeplimits-results/report.html, rendered from the store

The experiments that ship with deeplimits live in ``deeplimits.builtin.<family>.<name>``.
"""

__version__ = "0.1.0"

# One JAX device per CPU core, which must be asked for before JAX starts (engine/devices.py).
from deeplimits.engine.devices import use_every_core  # noqa: E402

use_every_core()

from deeplimits.api import FalsificationRecord, RunRecord, experiments, falsify, run, write_report  # noqa: E402
from deeplimits.config import ConfigError  # noqa: E402
from deeplimits.experiment import (  # noqa: E402
           Arm,
           ArmResults,
           Claim,
           Experiment,
           Falsification,  # noqa: E402
           Results,
           Verdict,
)
from deeplimits.registry import register  # noqa: E402
from deeplimits.sweeps import SweepRecord, sweep  # noqa: E402

__all__ = ["Arm", "ArmResults", "Claim", "ConfigError", "Experiment", "Falsification", "FalsificationRecord",
           "Results", "RunRecord", "SweepRecord", "Verdict", "__version__", "experiments", "falsify", "register", "run",
           "sweep", "write_report"]

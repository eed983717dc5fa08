"""deeplimits: runnable, falsifiable experiments on the limits of gradient-based deep learning.

    >>> import deeplimits
    >>> deeplimits.experiments()
    ['parity', 'linear-periodic']
    >>> record = deeplimits.run("parity", profile="quick", seeds=5)
    >>> [(v.claim_id, v.status) for v in record.verdicts]
"""

__version__ = "0.1.0"

# One JAX device per CPU core, which must be asked for before JAX starts (engine/devices.py).
from deeplimits.engine.devices import use_every_core  # noqa: E402

use_every_core()

from deeplimits.api import FalsificationRecord, RunRecord, experiments, falsify, run  # noqa: E402
from deeplimits.config import ConfigError  # noqa: E402
from deeplimits.experiment import Arm, ArmResults, Claim, Experiment, Results, Verdict  # noqa: E402
from deeplimits.registry import register  # noqa: E402
from deeplimits.sweeps import SweepRecord, sweep  # noqa: E402

from deeplimits.experiment import Falsification  # noqa: E402

__all__ = ["Arm", "ArmResults", "Claim", "ConfigError", "Experiment", "Falsification", "FalsificationRecord",
           "Results", "RunRecord", "SweepRecord", "Verdict", "__version__", "experiments", "falsify", "register", "run",
           "sweep"]

import importlib
import pkgutil

import deeplimits


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(deeplimits.__path__, "deeplimits.")]
    assert "deeplimits.experiments.gradient_failures.parity" in names
    for name in names:
        importlib.import_module(name)


def test_facade_exports_the_public_api():
    for name in ("run", "experiments", "Claim", "Verdict", "Arm", "Results", "RunRecord"):
        assert hasattr(deeplimits, name), name

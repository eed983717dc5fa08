import os
import shutil
import tempfile
from collections import defaultdict

import pytest

from deeplimits.engine import enable_persistent_cache
from deeplimits.runs import release_compiled_programs

_CACHE: list[str] = []
# Set by the controlling process of a `pytest -n N` run, read by its workers: one cache for all of them.
_SHARED_CACHE = "DEEPLIMITS_TEST_PROGRAM_CACHE"


def pytest_configure(config):
    """One on-disk cache of compiled programs for the session, shared by its xdist workers. Tests rerun the
    same programs (a rerun for bit-identity, a seed alone, the untrained check) after the in-memory programs
    were dropped (release_compiled_programs); loading one from disk took 5.6 s where compiling it again took
    33 s (tuple-lines' smoke run)."""
    folder = os.environ.get(_SHARED_CACHE)
    if folder is None:  # the controlling process (or a run without workers) owns the folder
        folder = tempfile.mkdtemp(prefix="deeplimits-xla-")
        os.environ[_SHARED_CACHE] = folder
        _CACHE.append(folder)
    enable_persistent_cache(folder)


def pytest_unconfigure(config):
    for folder in _CACHE:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under `pytest -n N` (the default, pyproject.toml), tests that share one experiment's computed runs
    (the contract's smoke runs, the untrained runs, a shared falsifying run) and its compiled programs go
    to the same worker: each is marked with its experiment's group. The quick-profile verdicts (one to four
    minutes each) go first, so that the last test a worker picks up is a short one."""
    from deeplimits import registry

    items.sort(key=lambda item: not item.nodeid.startswith("tests/test_science.py"))  # stable: file order kept

    names = set(registry.names())
    for item in items:
        params = getattr(item, "callspec", None)
        name = params.params.get("name") if params else None
        if name in names:
            item.add_marker(pytest.mark.xdist_group(name))


@pytest.fixture(autouse=True)
def results_home(tmp_path, monkeypatch):
    """Every test writes its results to its own directory, never ./deeplimits-results."""
    home = tmp_path / "results"
    monkeypatch.setenv("DEEPLIMITS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def release_compiled_programs_between_tests():
    """Each `train()` compiles programs of its own; XLA maps memory for every one, and a whole
    test session would pass Linux's 65,530 maps per process (a segfault in the compiler)."""
    yield
    release_compiled_programs()


@pytest.fixture(autouse=True)
def close_figures_between_tests():
    """A test that builds figures and keeps them open would make matplotlib warn (an error here) once more
    than 20 are open, in whichever later test happens to open the 21st."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


_FILE_SECONDS: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    """Setup, call and teardown of every test, summed per file (fixtures that train count where they run)."""
    _FILE_SECONDS[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    """Where the suite's time goes, per test file: what each closing note reports of CI."""
    if not _FILE_SECONDS:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.write_sep("=", f"time per test file ({total:.0f} s in tests)")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {100 * seconds / total:5.1f}%  {path}")

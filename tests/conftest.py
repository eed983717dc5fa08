import pytest

from deeplimits.api import release_compiled_programs


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

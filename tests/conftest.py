import pytest


@pytest.fixture(autouse=True)
def results_home(tmp_path, monkeypatch):
    """Every test writes its results to its own directory, never ./deeplimits-results."""
    home = tmp_path / "results"
    monkeypatch.setenv("DEEPLIMITS_HOME", str(home))
    return home

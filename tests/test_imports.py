import importlib
import pkgutil

import deeplimits


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(deeplimits.__path__, "deeplimits.")]
    assert "deeplimits.builtin.gradient_failures.parity" in names
    for name in names:
        importlib.import_module(name)


def test_facade_exports_the_public_api():
    for name in ("run", "experiments", "Claim", "Verdict", "Arm", "Results", "RunRecord"):
        assert hasattr(deeplimits, name), name


def test_experiments_can_be_listed_again_and_after_a_run(results_home):
    """The subpackage of the built-in experiments is not called `experiments`: importing it (the registry
    does, on first use) must not replace the function of that name on the package."""
    first = deeplimits.experiments()
    assert deeplimits.experiments() == first and "parity" in first
    deeplimits.run("parity", profile="smoke", seeds=1, steps=20, eval_every=20, variance_max_dim=4, sampled_dims=(),
                   dims=(3,))
    assert deeplimits.experiments() == first


def test_every_public_callable_says_what_it_does():
    import inspect

    for name in deeplimits.__all__:
        member = getattr(deeplimits, name)
        if callable(member):
            assert inspect.getdoc(member), f"deeplimits.{name} has no docstring for help()"
    for name in ("verdict",):
        assert inspect.getdoc(getattr(deeplimits.RunRecord, name))
    for name in ("verdict", "falsified"):
        assert inspect.getdoc(getattr(deeplimits.FalsificationRecord, name))


def test_the_report_can_be_rendered_from_python(results_home):
    path = deeplimits.write_report()
    assert path == results_home / "report.html" and "deeplimits report" in path.read_text()

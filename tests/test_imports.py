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


def _imports_of_every_module() -> dict[str, set[str]]:
    """Module -> the deeplimits modules it imports (at the top or inside a function), read from the source."""
    import ast
    from pathlib import Path

    root = Path(deeplimits.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.startswith("deeplimits")}
    return {name: {m for m in found if m in graph} for name, found in graph.items()}


def test_the_layers_depend_in_one_direction():
    """cli -> api / sweeps -> runs -> registry, experiments' contract, engine, store; the report renders from the
    store and never reaches back into the facade or the sweeps; runs never reach into the report."""
    graph = _imports_of_every_module()
    top = {"deeplimits.api", "deeplimits.sweeps", "deeplimits.cli"}
    for name, imported in graph.items():
        layer = name.split(".")[1] if "." in name else ""
        if layer in ("report", "runs", "store", "stats", "engine", "diagnostics", "data", "builtin"):
            assert not imported & top, f"{name} imports {sorted(imported & top)}"
        if layer in ("runs", "store", "stats", "engine"):
            assert not any(m.startswith("deeplimits.report") for m in imported), name
    # and no circle through the facade, the sweeps, the runs, the report and the store
    core = {n for n in graph if n.split(".")[1:2] and n.split(".")[1] in ("api", "sweeps", "runs", "report", "store")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(m == goal or (m in core and m not in seen and reaches(m, goal, seen | {m}))
                   for m in graph[start] if m in core)

    circles = [n for n in core if reaches(n, n, {n})]
    assert not circles, f"import circles through {sorted(circles)}"

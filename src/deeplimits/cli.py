"""The command line: ``deeplimits run | falsify | sweep | list | show | runs | report``.

Bad input (unknown experiment, unknown or ill-typed ``--set`` key, out-of-range
values) prints one line to stderr and exits with code 2 before anything runs.
"""

from __future__ import annotations

import math
import os
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from deeplimits import api, registry
from deeplimits.config import ConfigError, describe_range, describe_type, field_types, fields, parse_assignments
from deeplimits.experiment import PROFILES
from deeplimits.registry import UnknownExperimentError
from deeplimits.runs import resolve_seeds, results_dir
from deeplimits.store import Store, StoreError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Runnable, falsifiable experiments on the limits of gradient-based deep learning.")
# Not a terminal (a pipe, a file, a CI log): wide enough that ids and intervals are never wrapped.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
BAD_INPUT = (ConfigError, UnknownExperimentError, StoreError)
STATUS_STYLE = {"reproduced": "green", "not_reproduced": "red", "inconclusive": "yellow"}

OutOption = typer.Option(None, "--out", help="results directory (default: $DEEPLIMITS_HOME or ./deeplimits-results)")


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def _value(value: Any) -> str:
    """A setting for display: lists comma-separated, floats to 6 significant digits, marked ≈ where that is
    not the exact value (≈0.00520833 for 0.005208333333333333)."""
    if isinstance(value, (tuple, list)):
        return ",".join(_value(v) for v in value)
    if isinstance(value, float):
        short = f"{value:.6g}"
        return short if float(short) == value else f"≈{short}"  # marked: this text is not the exact setting
    return "none" if value is None else str(value)


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


@app.command()
def run(
    experiments: list[str] = typer.Argument(..., help="experiment names, or 'all'"),
    profile: str = typer.Option("quick", "--profile", "-p",
                                help=f"{', '.join(PROFILES)}, or one of an experiment's own (see `show`)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", "-n",
                                        help="number of seeds (default: the experiment's for the "
                                             "profile, see `show`)"),
    assignments: list[str] = typer.Option([], "--set", "-s", help="config override key=value (repeatable)"),
    out: Optional[Path] = OutOption,
    rerun: bool = typer.Option(False, "--rerun", help="recompute even if the run is stored"),
) -> None:
    """Run experiments and print each claim's verdict with its 95% interval over seeds."""
    plans = _plan(experiments, profile, seeds, assignments, out)
    table = Table(title=f"verdicts ({profile} profile)")
    for column in ("experiment", "claim", "verdict", "measured", "95% interval", "seeds"):
        table.add_column(column, no_wrap=True)
    notes: list[str] = []
    for name, overrides in plans:
        try:
            with _progress() as bar:
                record = api.run(name, profile=profile, seeds=seeds, out=out, rerun=rerun,
                                 progress=_advance(bar, name), **overrides)
        except KeyboardInterrupt:
            errors.print(f"interrupted: nothing was stored for {name}")
            raise typer.Exit(code=130) from None
        except StoreError as exc:
            raise _fail(str(exc)) from None
        if record.cached:
            console.print(f"{name}: served from the store (run {record.key}); --rerun recomputes it")
        for arm, result in record.results.arms.items():
            if result.diverged is not None and result.diverged.any():
                bad = [str(s) for s, d in zip(record.seeds, result.diverged) if d]
                console.print(f"[yellow]{name}/{arm}: seeds {', '.join(bad)} diverged (NaN or inf loss); "
                              f"left out of the intervals[/]")
        for v in record.verdicts:
            table.add_row(name, v.claim_id, _verdict(v), _fmt(v.estimate),
                          f"[{_fmt(v.low)}, {_fmt(v.high)}]", _seeds(v))
            figure = record.figures.get(v.claim_id, {}).get("png")
            budget = f"\n  * at a {v.budget}" if v.budget else ""
            notes.append(f"{v.claim_id}: measured = {v.quantity}{budget}\n  why: {v.detail}\n"
                         f"  figure: {figure or 'none'}")
    console.print(table)
    console.print("\n".join(notes), highlight=False, soft_wrap=True, markup=False)  # "[s, s + 1]" is no tag
    console.print(f"report (refreshed): {(results_dir(out) / 'report.html').resolve()}", highlight=False,
                  soft_wrap=True)


def _seeds(v) -> str:
    return f"{v.n_seeds} ({v.n_diverged} diverged)" if v.n_diverged else str(v.n_seeds)


@app.command()
def falsify(
    experiments: list[str] = typer.Argument(..., help="experiment names, or 'all'"),
    claims: list[str] = typer.Option([], "--claim", "-c", help="only these claims (repeatable)"),
    out: Optional[Path] = OutOption,
    rerun: bool = typer.Option(False, "--rerun", help="recompute even if the run is stored"),
) -> None:
    """Run each claim's falsifying setting: where the claim must come out not_reproduced.

    A verdict that can never come out the other way is worth nothing; this shows that each
    one can. Exits 1 if a setting did not falsify its claim.
    """
    try:
        names = _unique_names(experiments)
        known = {c.id for n in names for c in registry.get(n).claims}
        unknown = [c for c in claims if c not in known]
        if unknown:
            raise ConfigError(f"no claim {unknown[0]!r} in {', '.join(names)}; claims: {', '.join(sorted(known))}")
        Store(results_dir(out)).check()
    except BAD_INPUT as exc:
        raise _fail(str(exc)) from None
    lines, missed = [], 0
    for name in names:
        exp = registry.get(name)
        wanted = [c.id for c in exp.claims if not claims or c.id in claims]
        try:
            with _progress() as bar:
                done = api.falsify(name, wanted, out=out, rerun=rerun, progress=_advance(bar, f"{name} falsify"))
        except KeyboardInterrupt:
            errors.print(f"interrupted: nothing was stored for {name}")
            raise typer.Exit(code=130) from None
        except StoreError as exc:
            raise _fail(str(exc)) from None
        for claim in exp.claims:
            if claim.id in wanted and claim.falsified_by is None:
                lines.append(f"{claim.id}: no falsifying setting; {escape(claim.unfalsifiable)}")
        for f in done:
            v = f.verdict
            missed += not f.falsified
            flipped = "[green]falsified: yes[/]" if f.falsified else "[red]falsified: NO[/]"
            lines.append(f"{f.claim_id}: {_status(v.status)} {_fmt(v.estimate)} [{_fmt(v.low)}, {_fmt(v.high)}], "
                         f"{flipped}\n  setting: {escape(f.why)} (run {f.record.key})")
    console.print("falsifying settings: each claim must come out not_reproduced", highlight=False)
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
    if missed:
        errors.print(f"{missed} claim(s) did not come out not_reproduced in their falsifying setting", highlight=False)
        raise typer.Exit(code=1)


def _unique_names(names: list[str]) -> list[str]:
    """The experiments named (``all``: every one), each once, in the order given: ``run parity parity`` runs it once.
    Every name is checked, beside ``all`` too: ``run all parit`` is refused, not read as ``all``."""
    named = [registry.get(n).name for n in names if n != "all"]  # an unknown name: KeyError, near names
    return registry.names() if "all" in names else list(dict.fromkeys(named))


def _plan(names: list[str], profile: str, seeds: Optional[int], assignments: list[str],
          out: Optional[Path] = None) -> list[tuple[str, dict]]:
    """Check every name, profile, override, seed count and the results directory before anything runs."""
    try:
        chosen = _unique_names(names)
        _check_shared_keys(chosen, assignments)
        plans = []
        for name in chosen:
            exp = registry.get(name)
            overrides = parse_assignments(exp.Config, assignments)
            exp.config_for(profile, **overrides)
            resolve_seeds(seeds, exp.default_seeds[profile])
            plans.append((exp.name, overrides))
        Store(results_dir(out)).check()
    except BAD_INPUT as exc:
        raise _fail(str(exc)) from None
    if seeds == 1:
        errors.print("note: with 1 seed there is no interval over seeds, so verdicts that rest on one come out "
                     "inconclusive; give --seeds 2 or more for a verdict", highlight=False, soft_wrap=True)
    for name, _ in plans:
        default = registry.get(name).default_seeds[profile]
        if seeds is not None and seeds > 4 * default:
            errors.print(f"note: {name} with {seeds} seeds takes about {seeds / default:.0f}x the time and memory "
                         f"of its {default} default seeds", highlight=False, soft_wrap=True)
    return plans


def _check_shared_keys(chosen: list[str], assignments: list[str]) -> None:
    """With several experiments, a ``--set`` key that only some of them have is named with those that do."""
    if len(chosen) < 2:
        return
    for item in assignments:
        key = item.partition("=")[0].strip()
        having = [n for n in chosen if key in {f.name for f in fields(registry.get(n).Config)}]
        if having and len(having) < len(chosen):
            lacking = [n for n in chosen if n not in having]
            raise ConfigError(f"--set {item}: only {', '.join(having)} accept{'s' if len(having) == 1 else ''} "
                              f"the key {key!r} (not {', '.join(lacking)}); run "
                              f"{'it' if len(having) == 1 else 'them'} on {'its' if len(having) == 1 else 'their'} "
                              f"own: deeplimits run {' '.join(having)} --set {item}")


def _progress() -> Any:
    """A live bar on a terminal; elsewhere (a pipe, a CI log) plain lines as work advances."""
    if not console.is_terminal:
        return PlainProgress()
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


class PlainProgress:
    """Progress as lines: at the start, at each tenth done (at most one line every few seconds), at the end."""

    EVERY_S = 5.0
    ESTIMATE_AFTER_S = 5.0

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, description: str, total: int) -> int:
        self.tasks.append({"description": description, "total": total, "done": -1, "start": time.monotonic(),
                           "printed": -1.0, "tenth": -1})
        return len(self.tasks) - 1

    def update(self, task_id: int, completed: int, total: int) -> None:
        task = self.tasks[task_id]
        task.update(done=completed, total=total)
        now = time.monotonic()
        tenth = int(10 * completed / total) if total else 10
        finished = completed >= total
        if finished or task["printed"] < 0 or (tenth > task["tenth"] and now - task["printed"] >= self.EVERY_S):
            if finished and task["tenth"] == 11:
                return  # already said it is done
            elapsed = now - task["start"]
            # an estimate only once there is something to extrapolate from (not "about 0 s left" after one chunk)
            left = f", about {_duration(elapsed * (total - completed) / completed)} left" \
                if 0 < completed < total and elapsed >= self.ESTIMATE_AFTER_S else ""
            console.print(f"{task['description']}: {completed}/{total} ({100 * completed / max(total, 1):.0f}%), "
                          f"{_duration(elapsed)} elapsed{left}", highlight=False, soft_wrap=True)
            task.update(printed=now, tenth=11 if finished else tenth)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _advance(bar: Progress, experiment: str):
    tasks: dict[str, Any] = {}

    def update(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(f"{experiment} {label}", total=total)
        bar.update(tasks[label], completed=done, total=total)

    return update


@app.command()
def sweep(
    experiment: str = typer.Argument(..., help="experiment name"),
    grid: list[str] = typer.Option([], "--grid", "-g",
                                   help="a grid axis, key=v1,v2,... (repeatable; the grid is their product)"),
    profile: str = typer.Option("quick", "--profile", "-p", help=f"{', '.join(PROFILES)}"),
    seeds: Optional[int] = typer.Option(None, "--seeds", "-n", help="seeds per grid point"),
    assignments: list[str] = typer.Option([], "--set", "-s", help="a fixed config override key=value (repeatable)"),
    backend: str = typer.Option("local", "--backend", "-b", help="local (this process) or ray"),
    address: Optional[str] = typer.Option(None, "--address",
                                          help="a Ray cluster to join (ray backend; none starts a local one)"),
    cpus_per_task: int = typer.Option(1, "--cpus-per-task", help="CPUs each grid point's task asks Ray for"),
    out: Optional[Path] = OutOption,
    rerun: bool = typer.Option(False, "--rerun", help="recompute grid points that are stored"),
) -> None:
    """Run an experiment over a grid of settings, one task per grid point; stored points are skipped.

    Prints each point's verdicts, where along each axis a verdict flips, and the sweep figure.
    """
    from deeplimits import sweeps

    try:
        exp = registry.get(experiment)
        axes = sweeps.parse_grid(exp.Config, grid)
        overrides = parse_assignments(exp.Config, assignments)
        plan = sweeps.plan_sweep(exp.name, axes, profile=profile, seeds=seeds, overrides=overrides)
        if backend not in sweeps.BACKENDS:
            raise ConfigError(f"--backend {backend!r}: accepted: {', '.join(sweeps.BACKENDS)}")
        if address is not None and backend != "ray":
            raise ConfigError("--address is for the ray backend: add --backend ray")
        if cpus_per_task < 1:
            raise ConfigError(f"--cpus-per-task {cpus_per_task}: expected an integer >= 1")
        if backend == "ray":
            sweeps.require_ray()
        store = Store(results_dir(out))
        store.check()
    except BAD_INPUT as exc:
        raise _fail(str(exc)) from None
    stored = sum(store.get(key) is not None for *_, key in plan.points) if not rerun else 0
    console.print(f"sweep {plan.id}: {exp.name}, {len(plan.points)} grid points "
                  f"({' x '.join(f'{k} {len(v)}' for k, v in plan.axes.items())}), {len(plan.seeds)} seeds each, "
                  f"{profile} profile, {backend} backend; {stored} stored already", highlight=False, soft_wrap=True)
    try:
        with _progress() as bar:
            record = sweeps.sweep(exp.name, axes, profile=profile, seeds=seeds, backend=backend, address=address,
                                  cpus_per_task=cpus_per_task, out=out, rerun=rerun,
                                  progress=_advance(bar, exp.name), **overrides)
    except KeyboardInterrupt:
        errors.print("interrupted: the grid points finished so far are stored; the same command resumes")
        raise typer.Exit(code=130) from None
    except BAD_INPUT as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"sweep {record.id} ({profile} profile)")
    for axis in record.axes:
        table.add_column(axis, no_wrap=True)
    claims = [c.id for c in exp.claims]
    for claim in claims:
        table.add_column(claim, no_wrap=True)
    for point in record.points:
        verdicts = {v.claim_id: v for v in point.run.verdicts}
        table.add_row(*[_value(point.settings[a]) for a in record.axes],
                      *[f"{_status(verdicts[c].status)} {_fmt(verdicts[c].estimate)} "
                        f"[{_fmt(verdicts[c].low)}, {_fmt(verdicts[c].high)}]" if c in verdicts else "-"
                        for c in claims])
    console.print(table)
    console.print("where verdicts flip:\n  " + "\n  ".join(record.flips), highlight=False, soft_wrap=True,
                  markup=False)
    console.print(f"{record.computed} point(s) computed, {len(record.points) - record.computed} served from the "
                  f"store, in {record.wall_s:.1f} s\nfigure: {record.figure.get('png')}\n"
                  f"report (refreshed): {(results_dir(out) / 'report.html').resolve()}", highlight=False,
                  soft_wrap=True)


@app.command("list")
def list_experiments(out: Optional[Path] = OutOption) -> None:
    """Every experiment, its claims, its source, and the verdicts the report shows for it."""
    from deeplimits.report.html import chosen_run, own_runs

    try:
        store = Store(results_dir(out, write=False))
        own = own_runs(store.runs(), store.sweeps())
    except StoreError as exc:
        raise _fail(str(exc)) from None
    table = Table()
    for column in ("experiment", "claims", "source", "verdicts (as in the report)", "profile"):
        table.add_column(column, overflow="fold")
    starred = False
    for exp in registry.all_experiments():
        shown = chosen_run(exp.name, own[exp.name])[0] if exp.name in own else None
        verdicts = {v.claim_id: v for v in shown.verdicts} if shown else {}
        starred |= any(v.budget for v in verdicts.values())
        table.add_row(exp.name, "\n".join(c.id for c in exp.claims),
                      "\n".join(c.source for c in exp.claims),
                      "\n".join(_verdict(verdicts[c.id]) if c.id in verdicts else "-" for c in exp.claims),
                      (shown.profile + ("" if shown.version == exp.version else
                                        f" (version {shown.version}; current {exp.version})")) if shown else "-")
    console.print(table)
    console.print("verdicts of each experiment's most thorough stored run (paper, then quick, then smoke), "
                  "as in the report" + ("; * measured below the source's budget (deeplimits show NAME)"
                                        if starred else ""), highlight=False, soft_wrap=True)


def _verdict(v) -> str:
    """A verdict's status, with ``*`` where it was measured below the source's budget."""
    return _status(v.status) + ("*" if v.budget else "")


@app.command()
def show(experiment: str = typer.Argument(..., help="experiment name")) -> None:
    """Claims, arms, config fields and profiles of one experiment."""
    try:
        exp = registry.get(experiment)
    except UnknownExperimentError as exc:
        raise _fail(str(exc)) from None
    console.print(f"[bold]{exp.name}[/] (version {exp.version}): {escape(exp.title)}")
    for claim in exp.claims:
        f = claim.falsified_by
        falsifiable = (f"falsified by ({f.profile} profile, {f.seeds} seeds, "
                       f"{', '.join(f'{k}={_value(v)}' for k, v in f.overrides.items()) or 'as it is'}): {f.why}"
                       if f else f"cannot be falsified: {claim.unfalsifiable}")
        console.print(f"\n[bold]claim {claim.id}[/] ({claim.kind})\n  {escape(claim.statement)}\n  source: "
                      f"{escape(claim.source)}\n  expected: {escape(claim.expected)}\n  {escape(falsifiable)}",
                      highlight=False)
    console.print("\n[bold]arms[/] (quick profile)")
    for arm in exp.arms(exp.config_for("quick")):
        console.print(f"  {arm.name:<18} {arm.role:<8} {arm.description}", highlight=False, markup=False)
    console.print("\n[bold]config[/] (defaults are the source's settings, i.e. the paper profile; "
                  "override with --set key=value)")
    types = field_types(exp.Config)
    for f in fields(exp.Config):
        by_profile = [f"{p}: {_value(exp.profiles[p][f.name])}" for p in ("quick", "smoke")
                      if f.name in exp.profiles[p]]
        accepted = describe_range(f)
        console.print(f"  [bold]{f.name}[/] = {_value(f.default)}  ({describe_type(types[f.name])}"
                      f"{'; ' + accepted if accepted else ''}{'; ' + ', '.join(by_profile) if by_profile else ''})"
                      f"\n      {escape(f.metadata.get('help', ''))}", highlight=False, soft_wrap=True)
    console.print("\n[bold]profiles[/]")
    for name in exp.profiles:
        console.print(f"  {name:<6} {exp.profile_notes.get(name, '')} "
                      f"(default {exp.default_seeds[name]} seeds)", highlight=False, markup=False)


@app.command()
def runs(out: Optional[Path] = OutOption) -> None:
    """Stored runs: experiment, run key, seeds, when, how long, verdicts."""
    try:
        stored = Store(results_dir(out, write=False)).runs()
    except StoreError as exc:
        raise _fail(str(exc)) from None
    if not stored:
        console.print("no runs stored yet")
        return
    table = Table()
    for column in ("experiment", "run key", "profile", "seeds", "when (UTC)", "wall time", "verdicts"):
        table.add_column(column, overflow="fold")
    for r in stored:
        table.add_row(r.experiment, r.key, r.profile, str(len(r.seeds)), r.created, f"{r.wall_s:.1f} s",
                      "\n".join(f"{v.claim_id}: {_verdict(v)}" for v in r.verdicts))
    console.print(table)
    if any(v.budget for r in stored for v in r.verdicts):
        console.print("* measured below the source's budget (deeplimits show NAME)", highlight=False)


@app.command()
def report(
    out: Optional[Path] = OutOption,
    open_: bool = typer.Option(False, "--open", help="open the report in a browser when a display is available"),
) -> None:
    """Render the HTML report from the stored runs (it never trains) and print where it is."""
    from deeplimits.report.html import write_report

    try:
        directory = results_dir(out)
        Store(directory).check()
        path = write_report(directory)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    size = path.stat().st_size
    size_text = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
    console.print(f"report: {path.resolve()} ({size_text}, self-contained)", highlight=False, soft_wrap=True)
    if open_:
        if not _display_available():
            console.print("no display found: open the file above in a browser", highlight=False, soft_wrap=True)
        elif not webbrowser.open(path.resolve().as_uri()):
            console.print("no browser could be started: open the file above yourself", highlight=False,
                          soft_wrap=True)


def _display_available() -> bool:
    """A browser window can appear: always on macOS and Windows, with an X or Wayland display on Linux."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main() -> None:
    from deeplimits.engine import enable_persistent_cache

    # Compiled programs on disk: a second command with the same shapes skips XLA's compiler.
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    enable_persistent_cache(cache_home / "deeplimits" / "jax")
    app()


if __name__ == "__main__":
    main()

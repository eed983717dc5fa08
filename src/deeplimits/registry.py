"""One registry of experiments, filled by a decorator.

Every module under ``deeplimits.builtin`` (the experiments that ship with deeplimits)
is imported on first use, so adding an experiment means adding one file.

Duplicate names are rejected; unknown names get the nearest registered name as a
hint. Third-party packages add experiments through the ``deeplimits.experiments``
entry-point group (each entry point is a module to import, which registers).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import TypeVar

from deeplimits.experiment import Experiment

E = TypeVar("E", bound=type[Experiment])

_REGISTRY: dict[str, Experiment] = {}
_loaded = False


class UnknownExperimentError(KeyError):
    """No experiment of that name; the message names the nearest match."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: E) -> E:
    """Class decorator: register an experiment under ``cls.name``."""
    name = cls.name
    if name in _REGISTRY:
        raise ValueError(f"an experiment named {name!r} is already registered")
    claim_ids = [c.id for c in cls.claims]
    taken = {c.id for e in _REGISTRY.values() for c in e.claims}
    clash = sorted(taken.intersection(claim_ids))
    if clash or len(set(claim_ids)) != len(claim_ids):
        raise ValueError(f"experiment {name!r}: claim ids already in use: {clash or claim_ids}")
    _REGISTRY[name] = cls()
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import deeplimits.builtin as builtin

    # Every module under deeplimits.builtin registers itself: a new experiment is a new file.
    for module in pkgutil.walk_packages(builtin.__path__, builtin.__name__ + "."):
        importlib.import_module(module.name)
    for ep in entry_points(group="deeplimits.experiments"):
        importlib.import_module(ep.value)


def _catalogue_order(exp: Experiment) -> tuple[str, int, str]:
    entry = exp.catalogue or "~"
    return (entry[:1], int(entry[1:] or 0) if entry[1:].isdigit() else 0, exp.name)


def names() -> list[str]:
    """Registered experiment names, in catalogue order (A1, A2, ..., then uncatalogued)."""
    return [e.name for e in all_experiments()]


def get(name: str) -> Experiment:
    """The experiment called ``name``; raises with the nearest match if there is none."""
    _load()
    if not isinstance(name, str):
        raise UnknownExperimentError(f"experiment must be given by name (a string), not {name!r}; "
                                     f"known: {', '.join(sorted(_REGISTRY))}.")
    if name in _REGISTRY:
        return _REGISTRY[name]
    near = difflib.get_close_matches(name.strip().lower(), list(_REGISTRY), n=1, cutoff=0.4)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise UnknownExperimentError(f"unknown experiment {name!r}{hint or '.'} Known: {', '.join(sorted(_REGISTRY))}.")


def all_experiments() -> list[Experiment]:
    _load()
    return sorted(_REGISTRY.values(), key=_catalogue_order)

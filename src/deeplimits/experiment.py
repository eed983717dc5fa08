"""The contract every experiment follows: claims, arms, results, verdicts.

An experiment runs the method a source says fails (role ``failing``), the remedy
it says works (``remedy``) and a positive control that must succeed
(``control``), and turns measurements into one :class:`Verdict` per claim.
Results are plain NumPy arrays with the seed axis first, so statistics, the
store and the figures never need to know which experiment produced them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Role = Literal["failing", "remedy", "control", "sweep"]
Status = Literal["reproduced", "not_reproduced", "inconclusive"]
# `sweep`: a point between control and failing arm, measured and drawn but not judged.
ROLES: tuple[str, ...] = ("failing", "remedy", "control", "sweep")
STATUSES: tuple[str, ...] = ("reproduced", "not_reproduced", "inconclusive")
PROFILES: tuple[str, ...] = ("smoke", "quick", "paper")
FALSIFY = "falsify"  # the profile label of a stored falsifying run (the report shows it beside its claim)


@dataclass(frozen=True)
class Falsification:
    """A setting in which the claim must come out ``not_reproduced``: proof that it can.

    ``overrides`` go on top of ``profile``; ``why`` says what changes and why the claim
    must then fail. ``deeplimits falsify`` runs it, the tests assert the outcome and the
    report shows what it gave.
    """

    why: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "smoke"
    seeds: int = 4


@dataclass(frozen=True)
class Claim:
    """One claim from the literature, in the source's terms.

    ``kind``: ``trained`` when the verdict rests on trained arms (a broken trainer must
    make it inconclusive), ``analytic`` when it is an exact or sampled computation at a
    fixed network (no training). ``falsified_by``: the setting where the claim must fail;
    a claim no setting can falsify says why in ``unfalsifiable`` instead. ``budget``: the
    config fields that set the budget of the claim's failing arm; a run below the
    paper's values there is labelled "reduced budget".
    """

    id: str
    statement: str
    source: str
    expected: str
    kind: Literal["trained", "analytic"] = "trained"
    falsified_by: Falsification | None = None
    unfalsifiable: str = ""
    budget: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.falsified_by is None) == (not self.unfalsifiable):
            raise ValueError(f"claim {self.id!r}: give either a falsifying setting (falsified_by) or, "
                             f"if no setting can falsify it, why not (unfalsifiable)")


@dataclass(frozen=True)
class Arm:
    """One method inside an experiment and the part it plays."""

    name: str
    role: Role
    description: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"arm {self.name!r}: role {self.role!r} is not one of {ROLES}")


@dataclass(frozen=True)
class Verdict:
    """A claim's outcome, computed from measurements, with its interval over seeds."""

    claim_id: str
    status: Status
    quantity: str  # what `estimate` measures, with its unit
    estimate: float
    low: float  # 95% interval over seeds (NaN when fewer than 2 seeds)
    high: float
    n_seeds: int  # seeds that entered the main interval
    rule: str  # the rule and its thresholds, in words
    detail: str  # why this status, with the numbers behind it
    n_diverged: int = 0  # the most seeds any check had to leave out (diverged runs)
    notes: str = ""  # measured and shown, not judged ("; "-separated)
    budget: str = ""  # "reduced budget: ..." when the failing arm ran below the paper's budget

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ArmResults:
    """What one arm measured. Curves are ``(seeds, evals)``; finals are ``(seeds,)``."""

    steps: np.ndarray  # (E,) the training step at which each evaluation was taken (the curves' x axis)
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (S, E)
    final: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (S,)
    diverged: np.ndarray | None = None  # (S,) True where the loss became NaN/inf
    wall_s: float = 0.0


@dataclass
class Results:
    """Everything a run measured; the store keeps it and verdicts are recomputed from it."""

    experiment: str
    version: int
    config: dict[str, Any]
    seeds: tuple[int, ...]
    arms: dict[str, ArmResults]
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)  # seed axis first
    wall_s: float = 0.0


def reduced_budget(claim: Claim, config_cls: type, config: Mapping[str, Any]) -> str:
    """The label of a run below the paper's budget, e.g. ``reduced budget: steps 20,000 (paper 50,000)``."""
    paper = {f.name: f.default for f in dataclasses.fields(config_cls)}
    cut = [f"{name} {config[name]:,} (paper {paper[name]:,})" for name in claim.budget
           if isinstance(paper.get(name), (int, float)) and config.get(name) is not None
           and config[name] < paper[name]]
    return "reduced budget: " + ", ".join(cut) if cut else ""


class Progress(Protocol):
    """Called as work advances: ``progress(label, done, total)``."""

    def __call__(self, label: str, done: int, total: int) -> None: ...


def no_progress(label: str, done: int, total: int) -> None:
    """The progress callback for silent runs."""


class Experiment:
    """Base class of a registered experiment; subclasses fill in the class attributes.

    ``Config`` is a frozen dataclass whose defaults are the source's own settings
    (the ``paper`` profile); ``profiles`` maps each profile name to the fields it
    overrides. Fields declare their help text and range with :func:`deeplimits.config.param`.
    """

    name: ClassVar[str]
    catalogue: ClassVar[str] = ""  # the entry in CLAIMS.md, e.g. "A1"; orders listings
    version: ClassVar[int]
    title: ClassVar[str]
    family: ClassVar[str]
    claims: ClassVar[tuple[Claim, ...]]
    Config: ClassVar[type]
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]]
    profile_notes: ClassVar[Mapping[str, str]] = {}  # profile -> how it differs from the source
    default_seeds: ClassVar[Mapping[str, int]] = {"smoke": 2, "quick": 8, "paper": 8}
    untrained: ClassVar[Mapping[str, Any]] = {}  # overrides that set every learning rate to 0 (a broken trainer)

    def arms(self, config: Any) -> tuple[Arm, ...]:
        raise NotImplementedError

    def run(self, config: Any, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        raise NotImplementedError

    def verdicts(self, results: Results) -> list[Verdict]:
        raise NotImplementedError

    def figures(self, results: Results) -> dict[str, Figure]:
        raise NotImplementedError

    def judge(self, results: Results) -> list[Verdict]:
        """The verdicts of ``results``, one per claim, each labelled with a reduced budget."""
        verdicts = self.verdicts(results)
        if [v.claim_id for v in verdicts] != [c.id for c in self.claims]:
            raise RuntimeError(f"{self.name}: verdicts {[v.claim_id for v in verdicts]} do not match its claims")
        return [dataclasses.replace(v, budget=reduced_budget(claim, self.Config, results.config))
                for claim, v in zip(self.claims, verdicts)]

    def config_for(self, profile: str, **overrides: Any) -> Any:
        """The validated config of ``profile`` with ``overrides`` applied on top."""
        from deeplimits.config import ConfigError, build_config

        if profile not in self.profiles:
            raise ConfigError(
                f"unknown profile {profile!r} for {self.name}; accepted: {', '.join(self.profiles)}"
            )
        return build_config(self.Config, {**self.profiles[profile], **overrides})

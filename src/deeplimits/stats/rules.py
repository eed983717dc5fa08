"""Verdict rules: compare an interval with thresholds, and never trust a failed control.

A rule passes only when the whole 95% interval is on the claimed side of the
threshold, fails when the whole interval is on the other side, and is
inconclusive when the interval straddles it. Seeds that diverged widen the
interval judged to everything they could have changed (``Interval.worst_low``,
``worst_high``), so a check they could flip is undecided. A failed positive
control makes every claim it guards inconclusive: a broken setup proves nothing.

What is measured but not judged is a note (:func:`note`): it is shown beside the
verdict and never counts as a passed check.
"""

from __future__ import annotations

from dataclasses import dataclass

from deeplimits.experiment import Verdict
from deeplimits.stats.intervals import Interval

PASS, FAIL, UNSURE = "pass", "fail", "unsure"
INFO = "info"  # a note: measured and shown, never judged
# how an inconclusive verdict's detail begins (the report sets these apart from the checks)
CONTROL_FAILED = "control did not succeed, so the setup proves nothing: "
DIVERGED = "seeds that diverged could change the outcome: "
STRADDLES = "interval straddles a threshold: "
TOO_FEW_SEEDS = "run has one seed, so there is no interval over seeds to judge (run 2 or more): "
NOT_THE_MAIN = "decided by a check other than the measure shown (which did not fail): "
LEADS = (CONTROL_FAILED, DIVERGED, STRADDLES, TOO_FEW_SEEDS, NOT_THE_MAIN)


def at_least(interval: Interval, threshold: float) -> str:
    """Is the quantity >= threshold? Judged on the interval, not the point."""
    if interval.n < 2:
        return UNSURE
    if interval.worst_low >= threshold:
        return PASS
    if interval.worst_high < threshold:
        return FAIL
    return UNSURE


def at_most(interval: Interval, threshold: float) -> str:
    """Is the quantity <= threshold? Judged on the interval, not the point."""
    if interval.n < 2:
        return UNSURE
    if interval.worst_high <= threshold:
        return PASS
    if interval.worst_low > threshold:
        return FAIL
    return UNSURE


def within(interval: Interval, low: float, high: float) -> str:
    """Does the quantity lie in [low, high]? Judged on the interval, not the point."""
    if interval.n < 2:
        return UNSURE
    if low <= interval.worst_low and interval.worst_high <= high:
        return PASS
    if interval.worst_high < low or interval.worst_low > high:
        return FAIL
    return UNSURE


@dataclass(frozen=True)
class Check:
    """One measured condition of a rule, with the words that explain it."""

    name: str
    interval: Interval
    outcome: str  # PASS, FAIL or UNSURE; INFO for a note
    text: str  # e.g. "d=30 final accuracy 0.50 [0.49, 0.51] within [0.45, 0.55]"


def decide(*, claim_id: str, quantity: str, rule: str, main: Check,
           extra: tuple[Check, ...] = (), controls: tuple[Check, ...] = (),
           notes: tuple[Check, ...] = ()) -> Verdict:
    """Combine the main check, further checks and the controls into one verdict.

    Controls first: if any control did not pass, the verdict is inconclusive.
    Then every check must pass for ``reproduced``; any failed check gives
    ``not_reproduced``; anything else is ``inconclusive``. ``notes`` are shown,
    never judged. ``n_seeds`` counts the seeds that entered the main interval;
    ``n_diverged`` the most seeds any check or control had to leave out.
    """
    checks = (main, *extra)
    judged = (*checks, *controls)
    if any(c.outcome not in (PASS, FAIL, UNSURE) for c in judged):
        raise ValueError(f"{claim_id}: a check or control that is not judged belongs in notes")
    if any(c.outcome != INFO for c in notes):
        raise ValueError(f"{claim_id}: notes are made with note(), not judged")
    failed_controls = [c for c in controls if c.outcome != PASS]
    # undecided only because one seed gives no interval: say so, rather than blame the controls
    too_few = [c for c in judged if c.outcome == UNSURE and c.interval.seeds == 1]
    if too_few and not any(c.outcome == FAIL for c in judged):
        status = "inconclusive"
        why = TOO_FEW_SEEDS + "; ".join(c.text for c in too_few)
    elif failed_controls:
        status = "inconclusive"
        why = CONTROL_FAILED + "; ".join(c.text for c in failed_controls)
    elif all(c.outcome == PASS for c in checks):
        status = "reproduced"
        why = "; ".join(c.text for c in (*checks, *controls))
    elif any(c.outcome == FAIL for c in checks):
        status = "not_reproduced"
        why = (NOT_THE_MAIN if main.outcome != FAIL else "") + "; ".join(
            c.text for c in sorted(checks, key=lambda c: c.outcome != FAIL))
    else:
        unsure = [c for c in checks if c.outcome == UNSURE]
        lead = DIVERGED if any(c.interval.n_missing for c in unsure) else STRADDLES
        status = "inconclusive"
        why = lead + "; ".join(c.text for c in unsure)
    iv = main.interval
    return Verdict(claim_id=claim_id, status=status, quantity=quantity,
                   estimate=float(iv.estimate), low=float(iv.low), high=float(iv.high),
                   n_seeds=iv.n, rule=rule, detail=why,
                   n_diverged=max(c.interval.n_missing for c in judged),
                   notes="; ".join(c.text for c in notes))


def describe(name: str, interval: Interval, outcome: str, condition: str) -> Check:
    mark = {PASS: "meets", FAIL: "fails", UNSURE: "undecided on"}[outcome]
    return Check(name, interval, outcome, f"{name} {interval} {mark} {condition}")


def note(name: str, interval: Interval, text: str) -> Check:
    """A measurement shown beside the verdict and never judged."""
    return Check(name, interval, INFO, text)

"""Interval estimates over seeds and verdict rules (no plotting here)."""
from deeplimits.stats.intervals import (
    Interval,
    first_step_at_most,
    mean_interval,
    resampled_interval,
    share_interval,
    statistic_interval,
    tail_mean,
)
from deeplimits.stats.rules import FAIL, INFO, PASS, UNSURE, Check, at_least, at_most, decide, describe, note, within

__all__ = ["FAIL", "INFO", "PASS", "UNSURE", "Check", "Interval", "at_least", "at_most", "decide", "describe",
           "first_step_at_most", "mean_interval", "note", "resampled_interval", "share_interval", "statistic_interval",
           "tail_mean", "within"]

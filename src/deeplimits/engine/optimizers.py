"""Optimizers whose learning rate is an input of the compiled program, not a constant in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optax


def runtime_learning_rate(factory: Callable[..., optax.GradientTransformation], learning_rate: Any,
                          **settings: Any) -> optax.GradientTransformation:
    """``factory(learning_rate, **settings)`` with the learning rate held in the optimizer's state.

    A learning rate written into the program as a constant makes every arm, run or test
    that changes only the rate (a grid of rates, an ablation, the untrained check at 0)
    compile a program of its own. Held in the state (Optax's ``inject_hyperparams``) it
    is an input, and they all share one. ``settings`` (β, ε, momentum, ...) stay
    constants. For SGD the updates are bit-identical to ``factory``'s own (tested); for
    Adam XLA folds a constant rate into its arithmetic in another order, so they agree
    to float32 rounding only, and the experiments keep Adam's rate a constant.
    ``learning_rate`` may be a schedule.
    """
    return optax.inject_hyperparams(factory, static_args=tuple(settings))(learning_rate=learning_rate, **settings)

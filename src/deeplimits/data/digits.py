"""scikit-learn's 8x8 handwritten digits, split once for every experiment that uses them.

1,797 images of 8 x 8 pixels with 17 grey levels (0..16), shipped inside scikit-learn
(no download). Pixels are scaled to [0, 1], so one grey level is 1/16. The split is
stratified by class and fixed by ``SPLIT_SEED``: 60% train, 20% validation, 20% test.
Seeds change a network's initialisation and batch order, never the split, so every
seed and every arm is judged on the same test images.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

GREY_LEVEL = 1.0 / 16.0  # one step of the scanner's 17 grey levels, in [0, 1] units
SPLIT_SEED = 0
VALIDATION_SHARE = TEST_SHARE = 0.2
N_CLASSES = 10


@dataclass(frozen=True)
class Digits:
    """The three splits; images ``(N, 8, 8)`` float32 in [0, 1], labels ``(N,)`` int32. Read-only."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.cache
def load_digits() -> Digits:
    """The digits, scaled and split (computed once per process)."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    data = sklearn_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=TEST_SHARE, stratify=y,
                                                      random_state=SPLIT_SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=VALIDATION_SHARE / (1 - TEST_SHARE), stratify=y_rest, random_state=SPLIT_SEED)
    return Digits(*(_read_only(np.ascontiguousarray(a)) for a in (x_train, y_train, x_val, y_val, x_test, y_test)))

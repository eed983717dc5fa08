"""Generalization beyond the training data: extrapolation and sorting."""

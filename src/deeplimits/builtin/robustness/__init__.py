"""Robustness of trained classifiers: adversarial examples, colour inversion, overconfidence."""

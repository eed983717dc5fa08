"""Data shared by several experiments."""
from deeplimits.data.digits import GREY_LEVEL, Digits, load_digits

__all__ = ["GREY_LEVEL", "Digits", "load_digits"]

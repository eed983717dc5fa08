"""Typed, range-checked experiment configs.

A config is a frozen dataclass whose fields are declared with :func:`param`,
which records the help text and the accepted range next to the default. Both
the CLI (``--set key=value`` strings) and the Python API (keyword arguments)
go through :func:`build_config`, so a bad value gets the same one-line
:class:`ConfigError` whichever way it arrives.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import typing
import unicodedata
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A config value or key was rejected; the message is one line for the user."""


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple[Any, ...] | None = None, min_len: int = 1, distinct: bool = False) -> Any:
    """A config field: default, help text, and accepted range (inclusive); ``distinct``
    asks a tuple field for values that differ from each other."""
    return dataclasses.field(
        default=default,
        metadata={"help": help, "min": min, "max": max, "choices": choices, "min_len": min_len,
                  "distinct": distinct},
    )


def fields(config_cls: type) -> list[dataclasses.Field]:
    return list(dataclasses.fields(config_cls))


def field_types(config_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


def describe_type(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        return f"comma-separated {args[0].__name__}s"
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        return f"{describe_type(inner[0])} or none"
    return tp.__name__


def describe_range(f: dataclasses.Field) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    lo, hi = meta.get("min"), meta.get("max")
    text = f"{lo} to {hi}" if lo is not None and hi is not None else (
        f">= {lo}" if lo is not None else f"<= {hi}" if hi is not None else "")
    return f"{text}, distinct" if meta.get("distinct") else text


def parse_value(tp: Any, text: str, key: str) -> Any:
    """Parse a ``--set`` string into the field's type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    text = unicodedata.normalize("NFKC", text).strip()  # full-width digits read as the ASCII ones
    if origin is tuple:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(parse_value(args[0], p, key) for p in parts)
    if type(None) in args:
        if text.lower() in ("none", "null", ""):
            return None
        inner = next(a for a in args if a is not type(None))
        return parse_value(inner, text, key)
    if tp is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={text!r}: expected true or false")
    try:
        return tp(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected {describe_type(tp)}") from None


def parse_assignments(config_cls: type, assignments: list[str]) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` into typed overrides for ``config_cls``."""
    types = field_types(config_cls)
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        check_key(config_cls, key)
        out[key] = parse_value(types[key], value, key)
    return out


def check_key(config_cls: type, key: str) -> None:
    names = [f.name for f in fields(config_cls)]
    if key not in names:
        near = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown config key {key!r}{hint or '.'} Accepted: {', '.join(sorted(names))}.")


def _check_scalar(tp: Any, value: Any, key: str) -> Any:
    """The one place every config value passes: types, NumPy scalars, and non-finite numbers."""
    if isinstance(value, (bool, np.bool_)):
        if tp is bool:
            return bool(value)
        raise ConfigError(f"{key}={value!r}: expected {describe_type(tp)}")
    if tp is float and isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ConfigError(f"{key}={number!r}: expected a finite number (NaN and infinity are not accepted)")
        return number + 0.0  # -0.0 and 0.0 are the same setting (and the same run key)
    if tp is int and isinstance(value, numbers.Integral):
        return int(value)
    if tp in (bool, str) and isinstance(value, tp):
        return value
    raise ConfigError(f"{key}={value!r}: expected {describe_type(tp)}")


def _check_type(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        if isinstance(value, (numbers.Number, str)) and not isinstance(value, (bool, np.bool_)):
            value = (value,)
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}={value!r}: expected {describe_type(tp)}")
        return tuple(_check_scalar(args[0], v, key) for v in value)
    if type(None) in args:
        if value is None:
            return None
        return _check_type(next(a for a in args if a is not type(None)), value, key)
    return _check_scalar(tp, value, key)


def _check_range(f: dataclasses.Field, value: Any) -> None:
    if value is None:
        return
    meta = f.metadata
    items = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and len(value) < meta.get("min_len", 1):
        raise ConfigError(f"{f.name}: needs at least {meta['min_len']} value(s)")
    if isinstance(value, tuple) and meta.get("distinct") and len(set(value)) != len(value):
        raise ConfigError(f"{f.name}={','.join(map(str, value))}: values must be distinct")
    for v in items:
        bad = (
            (meta.get("choices") and v not in meta["choices"])
            or (meta.get("min") is not None and v < meta["min"])
            or (meta.get("max") is not None and v > meta["max"])
        )
        if bad:
            raise ConfigError(f"{f.name}={v!r} is out of range; accepted: {describe_range(f)}")


def build_config(config_cls: type, overrides: dict[str, Any]) -> Any:
    """Defaults of ``config_cls`` with ``overrides``, every value type- and range-checked."""
    types = field_types(config_cls)
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        check_key(config_cls, key)
        values[key] = _check_type(types[key], value, key)
    for f in fields(config_cls):
        _check_range(f, values.get(f.name, f.default))
    try:
        return config_cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    return build_config(config_cls, {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

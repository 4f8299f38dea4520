"""Checked reading of TOML and JSON values: typed readers whose errors say where the value sits.

A :class:`Place` names where a value sits (a file's table and key, a command-line flag, a JSON
field path) and makes its room's exception, so that every refusal is one located line::

    suite.toml: [suite] repeats: expected an integer >= 1, got 0
    --slurm-time: expected an integer, got '1:00:00'
    timing.step_s: expected a list of numbers, got 'x'

A reader takes a value and its place and returns the value checked (and converted), or raises
the place's exception. Each room keeps its own words: a reader's ``expected`` text says what the
room expects, and a place shows a refused value its room's way (cut short, or in full).
:class:`Fields` reads a table's or an object's keys, each at its own place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

T = TypeVar("T")

SHOWN_LIMIT = 40  # characters of a value a message quotes; a longer one is cut with "..."


def shown(value: Any) -> str:
    """``value`` as a message quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 3] + "..."


def shown_key(key: str) -> str:
    """A key as written in TOML: bare when it can be, quoted otherwise, so a key holding a line
    break or spaces cannot split or blur the one-line message."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def is_integer(value: Any) -> bool:
    """An int, and not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _field_path(name: str, key: str) -> str:
    return f"{name}.{key}"


def _table_key(name: str, key: str) -> str:
    # an empty key ("" = 1 in TOML) has always been named by its table alone
    return f"{name} {shown_key(key)}" if key else name


@dataclass(frozen=True)
class Place:
    """Where a value sits, as its errors name it, and the exception its room raises.

    ``show`` quotes a refused value; ``key_name`` names a key inside this place (a JSON field
    path by default: ``timing`` -> ``timing.step_s``).
    """

    name: str
    exception: Callable[[str], Exception]
    show: Callable[[Any], str] = shown
    key_name: Callable[[str, str], str] = _field_path

    def error(self, problem: str) -> Exception:
        """The exception for ``problem`` here (to raise): ``NAME: problem``."""
        return self.exception(f"{self.name}: {problem}")

    def expected(self, what: str, value: Any, *, item: bool = False) -> Exception:
        """``expected WHAT, got VALUE`` (``got the item VALUE`` for one item of a list)."""
        got = f"the item {self.show(value)}" if item else self.show(value)
        return self.error(f"expected {what}, got {got}")

    def key(self, key: str) -> Place:
        """The place of ``key`` inside this one."""
        return replace(self, name=self.key_name(self.name, key))


def table_place(
    path: str,
    table: str,
    exception: Callable[[str], Exception],
    *,
    show: Callable[[Any], str] = shown,
) -> Place:
    """A TOML table's place, ``FILE: [table]``; its keys' are ``FILE: [table] key``."""
    return Place(f"{path}: [{table}]", exception, show, key_name=_table_key)


# -- readers: (value, place, ...) -> the value checked, or the place's exception ---------------


def flag(value: Any, place: Place) -> bool:
    if not isinstance(value, bool):
        raise place.expected("true or false", value)
    return value


def integer(
    value: Any, place: Place, *, minimum: int | None = None, expected: str | None = None
) -> int:
    """An integer, at least ``minimum``. A refusal says ``an integer`` for a wrong type and
    ``an integer >= MINIMUM`` for a small one, or ``expected`` for both when given."""
    if not is_integer(value):
        raise place.expected(expected or "an integer", value)
    if minimum is not None and value < minimum:
        raise place.expected(expected or f"an integer >= {minimum}", value)
    return value


def _as_float(value: Any) -> float:
    """``value`` as a float; nan when it is no number (a string or a bool is none either)."""
    if isinstance(value, bool | str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def finite_number(value: Any, place: Place) -> float:
    """A number (an int, a float, anything float() takes but a string or a bool), finite:
    TOML and Python's JSON both allow nan and inf."""
    number = _as_float(value)
    if not math.isfinite(number):
        raise place.expected("a finite number", value)
    return number


def positive_number(value: Any, place: Place) -> float:
    """A finite number > 0, as a float."""
    number = _as_float(value)
    if not 0 < number < math.inf:
        raise place.expected("a number > 0", value)
    return number


def text(value: Any, place: Place) -> str:
    if not isinstance(value, str):
        raise place.expected("a string", value)
    return value


def nonempty_text(value: Any, place: Place) -> str:
    """A string with more than white space in it."""
    if not isinstance(value, str) or not value.strip():
        raise place.expected("a non-empty string", value)
    return value


def choice(value: Any, place: Place, options: Sequence[T]) -> T:
    """One of ``options``: ``expected one of 'a', 'b', got ...``."""
    if value not in options:
        raise place.expected(f"one of {', '.join(map(repr, options))}", value)
    return value


def mapping(
    value: Any,
    place: Place,
    *,
    expected: str = "a table",
    show: Callable[[Any], str] | None = None,
) -> Mapping[str, Any]:
    """A table (JSON: an object). ``show`` quotes a refused value instead of the place's way
    (a record names its type)."""
    if not isinstance(value, Mapping):
        got = (show or place.show)(value)
        raise place.error(f"expected {expected}, got {got}")
    return value


def tables(value: Any, place: Place, *, expected: str = "tables") -> list[Mapping[str, Any]]:
    """A list of tables (TOML's ``[[key]]``)."""
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise place.expected(expected, value)
    return value


def listed(
    value: Any,
    place: Place,
    *,
    expected: str = "a list",
    kinds: type | tuple[type, ...] = list,
) -> Sequence[Any]:
    """A list (``kinds``: a tuple too, for values from Python rather than a file), its items
    unchecked."""
    if not isinstance(value, kinds):
        raise place.expected(expected, value)
    return cast(Sequence[Any], value)


def items(
    value: Any, place: Place, read_item: Callable[[Any, Place], T], *, expected: str
) -> tuple[T, ...]:
    """A list, each item read by ``read_item`` at the list's own place; an absent (None) item
    is "missing"."""
    return tuple(
        required(item, place, read_item) for item in listed(value, place, expected=expected)
    )


def integers(value: Any, place: Place, *, expected: str = "a list of integers") -> tuple[int, ...]:
    """A list of integers; a refusal quotes the whole value."""
    if not isinstance(value, list) or not all(map(is_integer, value)):
        raise place.expected(expected, value)
    return tuple(value)


def required(value: Any, place: Place, read: Callable[..., T], *args: Any, **options: Any) -> T:
    """``read(value, place, ...)``, or "missing" when the value is absent (None)."""
    if value is None:
        raise place.error("missing")
    return read(value, place, *args, **options)


def optional(
    value: Any, place: Place, read: Callable[..., T], *args: Any, **options: Any
) -> T | None:
    """``read(value, place, ...)``, or None when the value is absent (None)."""
    return None if value is None else read(value, place, *args, **options)


class Fields:
    """A table's (or JSON object's) values, read key by key, each at its own place."""

    def __init__(self, data: Mapping[str, Any], place: Place):
        self.data = data
        self.place = place

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def place_of(self, key: str) -> Place:
        return self.place.key(key)

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Refuse the first key not in ``allowed``, listing them."""
        known = sorted(allowed)
        for key in self.data:
            if key not in known:
                raise self.place_of(key).error(f"unknown key; allowed: {', '.join(known)}")

    def required(self, key: str, read: Callable[..., T], *args: Any, **options: Any) -> T:
        """The key's value read by ``read``; "missing" when absent."""
        return required(self.data.get(key), self.place_of(key), read, *args, **options)

    def optional(self, key: str, read: Callable[..., T], *args: Any, **options: Any) -> T | None:
        """The key's value read by ``read``; None when absent."""
        return optional(self.data.get(key), self.place_of(key), read, *args, **options)

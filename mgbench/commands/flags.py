"""Flags several commands share, and the parsers that turn a flag's text into a value or a clean
usage error. Light: the command line builds every command's parser before it runs one, so
nothing here (or in a command's ``setup_arguments``) may import numpy, scipy or a framework.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from mgbench.analysis.claim import (
    DEFAULT_ALPHA,
    DEFAULT_CLAIM,
    DEFAULT_CLAIMS,
    DEFAULT_MIN_EFFECT_PCT,
    SEED_QUESTION,
    Claims,
    parse_claim,
)
from mgbench.config import hardware_specs  # spec names only: reads no file

REPORT_FORMATS = ("md", "csv", "latex", "html", "json")
DEFAULT_VIRTUAL_GPU_MEMORY_MB = 4096


# -- value parsers -------------------------------------------------------------------------------


def claim_spec(text: str) -> str:
    """``--claim``'s value, checked: ``LOW:HIGH``, ``A/B=LOW:HIGH`` or ``A/B=none``."""
    try:
        parse_claim(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--claim: {error}") from error
    return text


def _number(
    text: str, *, example: str, within: Callable[[float], bool], bounds: str, shown: str = ""
) -> float:
    """``text`` as a number ``within`` accepts, else a usage error saying what was expected
    (``example`` when it is no number, ``bounds`` when it is out of them) and what was given."""
    given = repr(shown or text)
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected {example}, got {given}") from error
    if not within(value):
        raise argparse.ArgumentTypeError(f"expected {bounds}, got {given}")
    return value


def percent(text: str) -> float:
    """``"5%"`` or ``"5"`` -> 5.0."""
    return _number(
        text.strip().removesuffix("%"),
        example="a percentage like 5%",
        within=lambda value: value >= 0,
        bounds="a percentage >= 0",
        shown=text,
    )


def significance(text: str) -> float:
    """``"0.05"`` -> 0.05: a significance level, strictly between 0 and 1."""
    return _number(
        text,
        example="a number like 0.05",
        within=lambda value: 0 < value < 1,
        bounds="a level between 0 and 1",
    )


def strategy_ratio(text: str) -> tuple[str, str]:
    """``"inplace/concat"`` -> ("inplace", "concat")."""
    numerator, sep, denominator = text.partition("/")
    if not sep or not numerator or not denominator:
        raise argparse.ArgumentTypeError(f"--ratio expects A/B, like inplace/concat; got {text!r}")
    return numerator, denominator


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected integers like 2,4, got {text!r}") from error


def name_list(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def milliseconds(text: str) -> float:
    """``"250"`` -> 250.0: a time in milliseconds, >= 0."""
    return _number(
        text,
        example="milliseconds like 250",
        within=lambda value: 0 <= value < math.inf,
        bounds="a time >= 0 ms",
    )


def minutes(text: str) -> float:
    """``"8"`` -> 8.0: a duration in minutes, > 0."""
    return _number(
        text,
        example="minutes like 8 or 7.5",
        within=lambda value: 0 < value < math.inf,
        bounds="minutes > 0",
    )


# -- shared flags ----------------------------------------------------------------------------------


def add_claim(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--claim",
        type=claim_spec,
        action="append",
        default=[],
        metavar="[A/B=]LOW:HIGH",
        help=f"the claimed speed-up of {DEFAULT_CLAIM.a} over {DEFAULT_CLAIM.b} in %% "
        f"(default {DEFAULT_CLAIM.range_arg}, {DEFAULT_CLAIM.source}); "
        f"{SEED_QUESTION.pair_arg}=LOW:HIGH gives the seed's question a range (it has none: "
        "read against 0); repeatable",
    )


def claims(args: argparse.Namespace) -> Claims:
    """The default claims, with the ranges ``--claim`` gave (the last one per pair wins)."""
    found = DEFAULT_CLAIMS
    for text in args.claim:
        found = parse_claim(text, found)
    return found


def add_significance(parser: argparse.ArgumentParser, *, alpha: float = DEFAULT_ALPHA) -> None:
    parser.add_argument(
        "--alpha",
        type=significance,
        default=alpha,
        help="significance level; confidence intervals are at 1 - alpha",
    )


def add_min_effect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-effect",
        type=float,
        default=DEFAULT_MIN_EFFECT_PCT,
        help="smallest change in %% that counts",
    )


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=REPORT_FORMATS, default="md")


def add_virtual_gpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--virtual-gpus", type=int, default=0, help="split the first GPU in N")
    parser.add_argument("--virtual-gpu-memory-mb", type=int, default=DEFAULT_VIRTUAL_GPU_MEMORY_MB)


def add_hardware(
    parser: argparse.ArgumentParser,
    *,
    required: bool,
    help: str | None = None,
    metavar: str = "NAME|FILE.toml",
) -> None:
    parser.add_argument(
        "--hardware",
        required=required,
        metavar=metavar,
        help=help
        or f"a shipped hardware spec ({', '.join(hardware_specs.names())}) or your own TOML file",
    )

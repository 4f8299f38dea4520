"""The ``[slurm]`` suite table and ``--slurm-*`` options: how ``--executor slurm`` asks for nodes.

::

    [slurm]
    partition = "gpu"
    account = "proj42"
    gpus_per_node = 8
    time_min = 30                      # each job's limit; default: the cell timeout + 1 min
    sbatch = ["--qos=high", "--constraint=h100"]   # more #SBATCH lines, each "--key[=value]"
    setup = ["module load cuda/12.4"]  # shell lines the job script runs before the worker

Every value is checked here, once for the table (errors name the file, table and key) and once
for the command-line flags merged over it (errors name the flag). Pure: no submitit, no Slurm.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mgbench.config.checks import Fields, Place, integer, listed, text

TIME_MARGIN_MIN = 1  # a job's limit over its cell's timeout, so the worker's own timeout acts first

TABLE_KEYS = ("partition", "account", "gpus_per_node", "time_min", "sbatch", "setup")
# The command-line flag of each table key it can override (``setup`` is the table's only).
FLAGS = {
    "partition": "--slurm-partition",
    "account": "--slurm-account",
    "gpus_per_node": "--slurm-gpus-per-node",
    "time_min": "--slurm-time",
    "sbatch": "--slurm-sbatch",
}

# #SBATCH options mgbench writes itself: a line setting one would contradict it, so it is
# refused, naming the key to use instead where there is one.
_MANAGED = {
    "partition": "the partition key",
    "account": "the account key",
    "gpus-per-node": "the gpus_per_node key",
    "time": "the time_min key",
    "exclusive": "mgbench (every job takes whole nodes)",
    "nodes": "mgbench (one node per job; a multiworker cell's job, one per worker)",
    "ntasks-per-node": "mgbench (one task per job)",
    "ntasks": "mgbench (one task per node)",
    "array": "mgbench (one job per process)",
    "wrap": "submitit (its job script)",
    "chdir": "submitit (its job script)",
    "gres": "the gpus_per_node key",
    "no-requeue": "mgbench (a measurement is never silently rerun)",
    "output": "submitit (its log files)",
    "error": "submitit (its log files)",
    "open-mode": "submitit (its log files)",
    "signal": "submitit (its timeout signal)",
    "job-name": "mgbench",
}
_SBATCH_LINE = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(.+))?")


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    account: str | None = None
    gpus_per_node: int | None = None  # None: no GPUs asked for (many sites then hide them)
    time_min: int | None = None  # None: each job's limit is its cell's timeout + the margin
    sbatch_lines: tuple[str, ...] = ()  # more ``#SBATCH`` options, each "--key" or "--key=value"
    setup: tuple[str, ...] = ()  # shell lines run in the job script before the worker

    def sbatch_parameters(self) -> dict[str, str | bool]:
        """The extra lines as ``{key: value}`` (``True`` for a bare ``--flag``); a later line
        with the same key wins, so a ``--slurm-sbatch`` flag overrides the table's line."""
        parameters: dict[str, str | bool] = {}
        for line in self.sbatch_lines:
            match = _SBATCH_LINE.fullmatch(line)
            assert match is not None, line  # validated when the options were made
            parameters[match[1]] = True if match[2] is None else match[2]
        return parameters

    def time_limit_min(self, timeout_s: float, cell: str = "a cell") -> int:
        """The time limit of a job whose worker may run ``timeout_s``: ``time_min`` when given,
        else the timeout rounded up to minutes plus the margin. ValueError when ``time_min``
        leaves no margin: Slurm would kill the job before the worker's own timeout recorded it."""
        least = math.ceil(timeout_s / 60) + TIME_MARGIN_MIN
        if self.time_min is None:
            return least
        if self.time_min < least:
            raise ValueError(
                f"{self.time_min} min is shorter than the timeout of {cell} ({timeout_s:g} s) "
                f"plus {TIME_MARGIN_MIN} min: expected at least {least}, or leave it out"
            )
        return self.time_min


def parse_slurm_table(data: Any, place: Place) -> SlurmOptions:
    """A validated ``[slurm]`` table; ``place`` names the table (its keys' errors name them)."""
    if not isinstance(data, Mapping):
        raise place.error("expected a table")
    Fields(data, place).check_keys(TABLE_KEYS)
    values = {key: _READERS[key](value, place.key(key)) for key, value in data.items()}
    return _with(SlurmOptions(), values)


def _flag_name(_: str, key: str) -> str:
    return FLAGS.get(key, key)


# Where an override sits: each key's place is its flag (``--slurm-time: ...``).
_COMMAND_LINE = Place("the command line", ValueError, show=repr, key_name=_flag_name)


def merge_overrides(options: SlurmOptions, overrides: Mapping[str, Any]) -> SlurmOptions:
    """``options`` with the command line's values over them: ``overrides`` maps a table key to
    its flag's value (``sbatch``: the lines, appended after the table's). ValueError naming the
    flag when a value is bad."""
    for key in overrides:
        if key not in FLAGS:
            raise ValueError(f"no --slurm-* flag sets {key!r}; known: {', '.join(FLAGS)}")
    values = {key: _READERS[key](value, _COMMAND_LINE.key(key)) for key, value in overrides.items()}
    if "sbatch" in values:
        values["sbatch"] = options.sbatch_lines + values["sbatch"]
    return _with(options, values)


def given_flags(overrides: Mapping[str, Any]) -> list[str]:
    """The flags behind ``overrides``, as the user typed them (for "only with" errors)."""
    return [FLAGS.get(key, key) for key in overrides]


def _with(options: SlurmOptions, values: Mapping[str, Any]) -> SlurmOptions:
    fields = {"sbatch": "sbatch_lines"}
    return replace(options, **{fields.get(key, key): value for key, value in values.items()})


def _name(value: Any, place: Place) -> str:
    name = text(value, place)
    if not name or any(c.isspace() for c in name):
        raise place.expected("a name without spaces", name)
    return name


def _count(value: Any, place: Place) -> int:
    return integer(value, place, minimum=1)


def _lines(value: Any, place: Place) -> tuple[str, ...]:
    shape = "a list of strings"
    lines = listed(value, place, expected=shape, kinds=(list, tuple))
    for line in lines:
        if not isinstance(line, str):
            raise place.expected(shape, line, item=True)
        # One script line each: a line break would smuggle in lines nobody wrote as such.
        if "\n" in line or "\r" in line:
            raise place.error(f"a line must not hold a line break, got {place.show(line)}")
        if not line.strip():
            raise place.error("a line must not be empty")
    return tuple(lines)


def _sbatch_lines(value: Any, place: Place) -> tuple[str, ...]:
    lines = _lines(value, place)
    for line in lines:
        _check_sbatch_line(line, place)
    return lines


def _check_sbatch_line(line: str, place: Place) -> None:
    if not line.startswith("--"):
        raise place.expected("an sbatch option like '--qos=high'", line)
    match = _SBATCH_LINE.fullmatch(line)
    if match is None:
        raise place.expected("'--name' or '--name=value' (no spaces around '=')", line)
    owner = _MANAGED.get(match[1])
    if owner is not None:
        raise place.error(f"{place.show(line)}: --{match[1]} is set by {owner}")


# The reader of each table key (the flags' values are read by the same).
_READERS: dict[str, Callable[[Any, Place], Any]] = {
    "partition": _name,
    "account": _name,
    "gpus_per_node": _count,
    "time_min": _count,
    "sbatch": _sbatch_lines,
    "setup": _lines,
}

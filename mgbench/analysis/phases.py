"""A worker process's fixed cost, phase by phase, from its records (pure: no I/O).

The worker records its phases (:mod:`mgbench.trackers.phases`); the launcher's ``wall_s`` holds
them and, beyond them, the process's exit after its record was written, which
:func:`process_phases_s` adds as ``exit``. :func:`median_phases_s` gives a group of processes'
medians, phase by phase (``benchmarks/process_phases.py`` tabulates them before and after a
change of the harness).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from mgbench.records.record import Record
from mgbench.trackers.phases import EXIT, INTERPRETER, ISOLATED_PHASES, PAIRED_PHASES

WALL = "wall"  # the launcher's wall time of the process, beside its phases
# Every phase in the order it runs: a paired process's, the isolated ones' own before the last.
ORDER = (
    *PAIRED_PHASES[:-1],
    *(p for p in ISOLATED_PHASES if p not in PAIRED_PHASES),
    *PAIRED_PHASES[-1:],
    EXIT,
)


def process_phases_s(record: Record) -> dict[str, float] | None:
    """The process's recorded phases, in order, then ``exit``: the launcher's ``wall_s`` beyond
    them (the process exiting after its record was written, and the few ms spent starting it
    before its age is counted). None unless its phases start at its creation (they hold
    ``interpreter_and_imports``, recorded since it was measured) and ``wall_s`` is known."""
    recorded = record.phases_s
    if recorded is None or INTERPRETER not in recorded or record.wall_s is None:
        return None
    return {**recorded, EXIT: record.wall_s - sum(recorded.values())}


def median_phases_s(records: Iterable[Record]) -> tuple[int, dict[str, float]]:
    """How many of ``records`` are ok with their phases measured from their creation, and the
    median of each phase over them (in the order the phases ran), then the median ``wall``.
    A phase some processes lack (an isolated process's among paired ones) is the median of those
    that have it."""
    measured = [
        (phases, record.wall_s)
        for record in records
        if record.ok and (phases := process_phases_s(record)) is not None
    ]
    # in the order they run (the store writes a record's keys sorted), unknown names after
    names = sorted(
        dict.fromkeys(name for phases, _ in measured for name in phases),
        key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER),
    )
    medians = {
        name: statistics.median(phases[name] for phases, _ in measured if name in phases)
        for name in names
    }
    if measured:
        medians[WALL] = statistics.median(wall for _, wall in measured if wall is not None)
    return len(measured), medians

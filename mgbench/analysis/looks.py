"""A run until decided, from its records: the look after a paired cell's latest process (its
comparisons at the design's adjusted level and the design's stop decision), the spreads an
earlier run's records lend its futility, and the p-value a sequential row brings to the Holm
reading across rows.

The design and its decision rule are :mod:`mgbench.analysis.sequential`'s; the launcher asks
for a look through the ``mgbench run`` command (it cannot import this room). Pure functions over
records: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mgbench.analysis import multiplicity, sequential, stats
from mgbench.analysis.claim import DEFAULT_CLAIMS, Claims
from mgbench.analysis.comparisons import PairedComparison, paired_comparisons
from mgbench.config.suite import Cell
from mgbench.records.record import DECIDED, FUTILE, Record


@dataclass(frozen=True)
class CellLook:
    """One look at a paired cell run until decided, after ``processes`` of its processes."""

    cell: Cell
    design: sequential.SequentialDesign
    processes: int
    comparisons: tuple[PairedComparison, ...]  # at ``design.look_alpha(processes)``
    decision: sequential.StopDecision

    @property
    def look(self) -> int:
        """Which look this is: the first follows the second process."""
        return self.processes - 1

    @property
    def ending(self) -> str | None:
        """How the look ends the cell when it stops it: ``decided`` or ``futile``; None when it
        goes on, or stops for no other reason than its last process (the maximum)."""
        if not self.decision.stop:
            return None
        if self.decision.decided:
            return DECIDED
        return FUTILE if self.decision.futile else None


def look_at(
    cell: Cell,
    records: Sequence[Record],
    *,
    claims: Claims = DEFAULT_CLAIMS,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    priors: Mapping[str, Mapping[tuple[str, str], sequential.PriorSpread]] | None = None,
) -> CellLook | None:
    """The look after ``cell``'s latest process, from its ``records`` so far (others are left
    out); None when the cell has a fixed number of processes or fewer than two processes gave
    rounds (there is no look before the second). ``priors`` (by cell id, then pair: what
    :func:`prior_spreads` reads from an earlier run) feed the futility judgement."""
    if cell.sequential_max is None:
        return None
    found = paired_comparisons(
        [r for r in records if r.cell_id == cell.cell_id],
        alpha=alpha,
        claims=claims,
        min_effect_pct=min_effect_pct,
    )
    runs = [c.sequential for c in found if c.sequential is not None]
    if not runs or max(run.processes for run in runs) < 2:
        return None
    design = runs[0].design
    processes = min(max(run.processes for run in runs), design.max_processes)
    cell_priors = (priors or {}).get(cell.cell_id)
    decision = sequential.stop_decision(design, found, processes, min_effect_pct, cell_priors)
    return CellLook(cell, design, processes, tuple(found), decision)


def prior_spreads(
    earlier: Sequence[Record], rounds_by_cell: Mapping[str, int], source: str
) -> dict[str, dict[tuple[str, str], sequential.PriorSpread]]:
    """What an earlier run's records lend futility: for each paired cell of ``rounds_by_cell``
    (cell id -> this run's rounds per process) that the earlier run ran with >= 2 processes,
    each pair's variance of a process mean, moved to this run's rounds. The earlier run's
    process means (log of the trimmed means the interval reads) vary by ``s0^2``, of which
    ``w / R0`` is rounds' noise (``w``: one round's pooled variance, ``R0`` its rounds per
    process); at ``R`` rounds that part is ``w / R``, and the variance is never taken below it."""
    out: dict[str, dict[tuple[str, str], sequential.PriorSpread]] = {}
    for comparison in paired_comparisons(list(earlier)):
        estimate = comparison.estimate
        cell_id = comparison.cell.cell_id
        if estimate is None or estimate.processes < 2 or cell_id not in rounds_by_cell:
            continue
        means = np.log1p(np.asarray(estimate.per_process_pct, float) / 100)
        then = estimate.rounds / estimate.processes
        now = rounds_by_cell[cell_id]
        variance = float(means.var(ddof=1)) + estimate.within_var * (1 / now - 1 / then)
        variance = max(variance, estimate.within_var / now)
        if not math.isfinite(variance):
            continue
        out.setdefault(cell_id, {})[(comparison.a, comparison.b)] = sequential.PriorSpread(
            variance, estimate.processes - 1, f"{source} ({estimate.processes} processes)"
        )
    return out


def row_p_value(
    comparison: PairedComparison, range_pct: tuple[float, float] | None, min_effect_pct: float
) -> float:
    """The p-value behind a row's verdict against ``range_pct`` (its table's claim; None: a
    question), for Holm across rows: the sequential one for a cell run until decided (its looks
    counted), else :func:`multiplicity.verdict_p_value`; 1 for a row without an estimate or
    verdict."""
    estimate, verdict = comparison.estimate, comparison.verdict
    if estimate is None or verdict is None:
        return 1.0
    if comparison.sequential is not None:
        return sequential.sequential_p_value(
            comparison.sequential.design, estimate, verdict, range_pct, min_effect_pct
        )
    return multiplicity.verdict_p_value(estimate, verdict, range_pct, min_effect_pct)

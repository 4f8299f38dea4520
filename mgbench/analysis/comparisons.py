"""Comparisons as data: the paired in-process comparisons (the headline), the claim's unpaired
cross-check, a run against an earlier run, and the strategy ratios a gate checks. Each returns
dataclasses holding numbers and verdicts (:mod:`mgbench.analysis.claim`); nothing is formatted
here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mgbench.analysis import paired, stats
from mgbench.analysis.cells import CellKey, CellResult, MemoryRow, by_key_and_strategy
from mgbench.analysis.claim import DEFAULT_CLAIMS, Claim, Claims, Verdict
from mgbench.config.suite import Cell
from mgbench.records.record import Record, not_needed_ending
from mgbench.vocabulary import WRAPPERS

if TYPE_CHECKING:  # the design's module reads comparisons: imported where a design is made
    from mgbench.analysis.sequential import SequentialDesign

MAXIMUM = "maximum"  # a sequential cell that ran all its processes without a look stopping it
OPEN = "open"  # ...that has not ended yet (interrupted, processes left out by a deadline)


@dataclass(frozen=True)
class SequentialRun:
    """How a paired cell run until decided went: its design, the processes its estimate read,
    and how it ended: ``decided`` or ``futile`` (a look stopped it), :data:`MAXIMUM` or
    :data:`OPEN`."""

    design: SequentialDesign
    processes: int
    ending: str

    @property
    def looks_taken(self) -> int:
        """A look follows each process from the second on."""
        return max(self.processes - 1, 0)


def sequential_design(cell: Cell, alpha: float) -> SequentialDesign | None:
    """The group-sequential design a paired cell ran under (``sequential_max``, recorded in
    the cell), at ``alpha``; None for a cell with a fixed number of processes."""
    if cell.sequential_max is None:
        return None
    from mgbench.analysis.sequential import SequentialDesign

    return SequentialDesign(max_processes=cell.sequential_max, alpha=alpha)


def _sequential_ending(group: Sequence[Record], design: SequentialDesign) -> str:
    endings = [e for r in group if (e := not_needed_ending(r.status, r.reason))]
    if endings:
        return endings[0]
    ran = sum(r.status != "skipped" for r in group)
    return MAXIMUM if ran >= design.max_processes else OPEN


@dataclass(frozen=True)
class PairedComparison:
    """Strategy A against B on one workload, from every paired process that holds both
    (``cell`` is the first one's).

    ``estimate`` is None when no process gave at least 2 rounds; ``claim`` is the claim (or the
    question) this comparison is about, and ``verdict`` its CI against the claimed range (or,
    for a question, against 0 and the minimum effect); both are None for any other pair (an A/A
    calibration pair, say), whose CI is read against 0.
    """

    key: CellKey
    a: str
    b: str
    cell: Cell
    runs: int
    ok: int
    statuses: tuple[str, ...]  # of the runs that did not succeed
    reasons: tuple[str, ...]  # their reasons, e.g. why a backend cannot pair
    estimate: paired.PairedEstimate | None
    verdict: Verdict | None
    notes: tuple[str, ...] = ()  # processes left out of the estimate, and why
    claim: Claim | None = None
    # Set when the cell ran until decided: ``estimate`` is then at the level its design gives
    # after the processes it read (``design.look_alpha``), adjusted for the looks taken.
    sequential: SequentialRun | None = None

    @property
    def label(self) -> str:
        return f"{self.key.label} {self.a}-vs-{self.b}"

    @property
    def is_claim(self) -> bool:
        """True when a claim or a question is about this pair (it has a verdict)."""
        return self.claim is not None

    @property
    def against_range(self) -> bool:
        """True when this pair is read against a claimed range (not against 0)."""
        return self.claim is not None and self.claim.has_range


def paired_comparisons(
    records: Sequence[Record],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    claims: Claims = DEFAULT_CLAIMS,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
) -> list[PairedComparison]:
    """One comparison per (workload, A, B) of the paired records, in order of first appearance.

    Each record is one process and counts in the comparison of each pair it holds
    (:func:`process_pairs`); an ok one's rounds give ``Paired.log_ratios(A, B)``, and the
    processes are the groups of ``paired.estimate`` at level ``1 - alpha``; for a cell run
    until decided, at its design's ``look_alpha`` after those processes (from 2), so the
    interval holds at ``1 - alpha`` whichever look stopped it.
    """
    groups: dict[tuple[CellKey, str, str], list[Record]] = {}
    for record in records:
        for a, b in process_pairs(record.cell):
            groups.setdefault((CellKey.of(record.cell), a, b), []).append(record)
    return [
        _paired_comparison(key, a, b, group, alpha, claims.about(a, b), min_effect_pct)
        for (key, a, b), group in groups.items()
    ]


def paired_verdict(claim: Claim, estimate: paired.PairedEstimate, min_effect_pct: float) -> Verdict:
    """A paired estimate read against ``claim``: its range, or 0 and the minimum effect."""
    if claim.range_pct is not None:
        return paired.range_verdict(estimate, claim.range_pct)
    return paired.change_verdict(estimate, min_effect_pct)


def process_pairs(cell: Cell) -> list[tuple[str, str]]:
    """The comparisons (A, B) one paired process gives: its cell's ``strategy`` against its
    ``versus`` for a process of two (an A/A pair included); for a process of more, every pair of
    its strategies, the earlier in the vocabulary's ``WRAPPERS`` order first. None for an
    isolated cell."""
    if cell.versus is None:
        return []
    if not cell.also:
        return [(cell.strategy, cell.versus)]
    held = cell.paired_strategies
    in_order = sorted(held, key=lambda s: WRAPPERS.index(s) if s in WRAPPERS else len(WRAPPERS))
    return list(itertools.combinations(in_order, 2))


def _paired_comparison(
    key: CellKey,
    a: str,
    b: str,
    group: list[Record],
    alpha: float,
    about: Claim | None,
    min_effect_pct: float,
) -> PairedComparison:
    per_process, notes = [], []
    ok = [(r, r.paired) for r in group if r.ok and r.paired is not None]
    for record, timings in ok:
        where = f"{record.cell_id} repeat {record.repeat}"
        try:
            ratios = timings.log_ratios(a, b)
        except ValueError as error:
            notes.append(f"{where}: left out of the paired estimate: {error}")
            continue
        if len(ratios) < 2:
            notes.append(f"{where}: left out of the paired estimate: {len(ratios)} round(s) < 2")
            continue
        per_process.append(ratios)
    design = sequential_design(group[0].cell, alpha)
    sequential = None
    level = alpha
    if design is not None:
        sequential = SequentialRun(design, len(per_process), _sequential_ending(group, design))
        if len(per_process) > design.max_processes:
            notes.append(
                f"{group[0].cell_id}: {len(per_process)} paired processes, more than its "
                f"sequential design's {design.max_processes}: its interval is adjusted for "
                f"{design.looks} looks only (records of several runs merged?)"
            )
        if len(per_process) >= 2:  # one process: no look; its verdict is inconclusive anyway
            level = design.look_alpha(min(len(per_process), design.max_processes))
    estimate = paired.estimate(per_process, level) if per_process else None
    verdict = None
    if estimate is not None and about is not None:
        verdict = paired_verdict(about, estimate, min_effect_pct)
    failed = [r for r in group if not r.ok]
    return PairedComparison(
        key=key,
        a=a,
        b=b,
        cell=group[0].cell,
        runs=len(group),
        ok=len(ok),
        statuses=tuple(sorted({r.status for r in failed})),
        reasons=tuple(sorted({r.reason for r in failed if r.reason})),
        estimate=estimate,
        verdict=verdict,
        notes=tuple(notes),
        claim=about,
        sequential=sequential,
    )


@dataclass(frozen=True)
class ClaimPair:
    """A claim's (or a question's) two strategies from their isolated cells on one workload."""

    key: CellKey
    a: CellResult  # the strategy claimed faster
    b: CellResult
    comparison: stats.Comparison  # a over b
    verdict: Verdict
    claim: Claim


def claim_pairs(
    cells: Sequence[CellResult],
    claim: Claim,
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[ClaimPair]:
    """The claim's A over B, per model x image size x batch x replica count x backend: against
    its range, or (a question) with :func:`stats.change_verdict`."""
    pairs = []
    for ratio in strategy_ratios(
        cells, claim.a, claim.b, alpha=alpha, min_effect_pct=min_effect_pct, seed=seed
    ):
        if ratio.comparison is None:
            continue
        if claim.range_pct is not None:
            verdict = stats.range_verdict(ratio.comparison, claim.range_pct)
        else:
            verdict = stats.change_verdict(ratio.comparison)
        pairs.append(
            ClaimPair(
                ratio.key, ratio.numerator, ratio.denominator, ratio.comparison, verdict, claim
            )
        )
    return pairs


@dataclass(frozen=True)
class StrategyRatio:
    """Two strategies on one workload inside one run; no comparison when either has no success."""

    key: CellKey
    numerator: CellResult
    denominator: CellResult
    comparison: stats.Comparison | None  # numerator over denominator


def strategy_ratios(
    cells: Sequence[CellResult],
    numerator: str,
    denominator: str,
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[StrategyRatio]:
    """Every workload on which both strategies ran, in order of first appearance."""
    ratios = []
    for key, strategies in by_key_and_strategy(cells).items():
        top, bottom = strategies.get(numerator), strategies.get(denominator)
        if top is None or bottom is None:
            continue
        comparison = None
        if top.processes and bottom.processes:
            comparison = stats.compare(
                top.processes,
                bottom.processes,
                alpha=alpha,
                min_effect_pct=min_effect_pct,
                seed=seed,
            )
        ratios.append(StrategyRatio(key, top, bottom, comparison))
    return ratios


@dataclass(frozen=True)
class RunChange:
    """One cell id in a run against an earlier (baseline) run."""

    cell_id: str
    before: CellResult | None  # None: not in the baseline
    after: CellResult | None  # None: not in the new run
    comparison: stats.Comparison | None  # after over before; None unless both succeeded


def run_changes(
    before: Sequence[CellResult],
    after: Sequence[CellResult],
    *,
    alpha: float = stats.DEFAULT_ALPHA,
    min_effect_pct: float = stats.DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
) -> list[RunChange]:
    """Cells only in the baseline first, then every cell of the new run in its order."""
    old = {cell.cell_id: cell for cell in before}
    new_ids = {cell.cell_id for cell in after}
    changes = [RunChange(c.cell_id, c, None, None) for c in before if c.cell_id not in new_ids]
    for cell in after:
        base = old.get(cell.cell_id)
        comparison = None
        if base is not None and base.processes and cell.processes:
            comparison = stats.compare(
                cell.processes,
                base.processes,
                alpha=alpha,
                min_effect_pct=min_effect_pct,
                seed=seed,
            )
        changes.append(RunChange(cell.cell_id, base, cell, comparison))
    return changes


def memory_saving_pct(a: MemoryRow, b: MemoryRow, device: str) -> float | None:
    """How much less TF peak memory strategy ``a`` needs than ``b`` on ``device``, in %.

    TF allocator peaks only, never NVML: NVML's process figure is what TF reserved from the
    driver on a physical GPU (with virtual GPUs, the whole ``memory_limit`` of each, the same for
    every strategy), so it cannot show what one split saves on one logical device.
    """
    peak_a, peak_b = a.tf_peak_bytes.get(device), b.tf_peak_bytes.get(device)
    if peak_a is None or not peak_b:
        return None
    return (1 - peak_a / peak_b) * 100

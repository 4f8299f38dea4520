"""How many warm-up steps a paired process needs, decided from its records (pure: no I/O).

A paired process runs each strategy's first step (the trace), then ``warmup_steps`` more of
each, untimed for the estimate, then its rounds (``mgbench.trackers.paired``). The warm-up is
enough when the first round is not slower than the later ones: were it slower, the rounds'
estimate would carry the start-up of whichever strategy leads round 0. Fewer warm-up steps are
justified only when the data show the steps they would drop were already at the steady pace.

The rule (:func:`warmup_check`, :func:`steps_needed`), per process and strategy, against the
median of that strategy's block medians in rounds 1 onward (the steady pace):

* round 0's *excess*: its block median over the steady pace, as a log ratio; each process
  gives the mean over its strategies (they share the process, so they are not independent);
* each recorded warm-up step's excess (records keep ``paired.warmup_step_s`` since phases were
  recorded), the same way, by its index;
* a step, or round 0, is *at the steady pace* when the median of the processes' excesses is at
  most :data:`TOLERANCE_PCT`. The warm-up needed is the fewest steps after which every later
  warm-up step and round 0 are at the steady pace; when round 0 itself is not, the warm-up is
  too short to cut (``None``), and the one-sided Wilcoxon signed-rank test says how clearly.

Decided on the published CPU runs (results/*, 2026-11-30 to 2026-12-07; medians over processes):
with 2 warm-up steps, round 0 ran slower than the later rounds in the imagenet runs (ResNet50
+6.2%, 15 processes, one-sided Wilcoxon p = 0.002; MobileNetV2 +1.5%, 15, p = 0.09), the
paired-cost run (MobileNetV2 +15.9%, 9) and the claim run (ResNet50 +18.3%, 2); with 3 (the
calibration runs) still +1.4% (MobileNetV2, 101 processes) and +1.9% (ResNet50, 10). No run
shows a warm-up step to spare, so the warm-up is not cut (``benchmarks/process_phases.py
warmup`` reruns the check on any run folders).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from scipy import stats as sps

from mgbench.records.record import Record

# A step slower than the steady pace by at most this much (median over processes) is at it:
# below what a CPU run's rounds can tell apart (a round's log ratio scatters ~6-14% there).
TOLERANCE_PCT = 1.0


@dataclass(frozen=True)
class WarmupCheck:
    """Excess over the steady pace, in percent: the median over processes, and how many."""

    warmup_steps: int  # the processes' warm-up steps per strategy
    processes: int
    round0_excess_pct: float
    round0_p_value: float  # one-sided Wilcoxon signed-rank: round 0 slower than the steady pace
    # by warm-up step index (0: the first step after the trace), from the processes recording
    # their warm-up steps; empty when none did
    warmup_excess_pct: tuple[float, ...]
    warmup_processes: int


def _excess(seconds: float, steady_s: float) -> float:
    return math.log(seconds / steady_s)


def _pct(log_ratio: float) -> float:
    return math.expm1(log_ratio) * 100


def warmup_check(records: Iterable[Record]) -> WarmupCheck:
    """The check over the ok paired processes of ``records`` with at least two rounds, all with
    the same warm-up (a ValueError names the counts when they differ, or when there is none)."""
    round0: list[float] = []
    by_step: list[list[float]] = []
    counts: set[int] = set()
    for record in records:
        paired = record.paired
        if not record.ok or paired is None or len(paired.rounds) < 2:
            continue
        counts.add(record.cell.warmup_steps)
        k = len(paired.strategies)
        steady = [
            statistics.median(statistics.median(r.blocks[label]) for r in paired.rounds[1:])
            for label in range(k)
        ]
        first_round = paired.rounds[0].blocks
        round0.append(
            statistics.fmean(
                _excess(statistics.median(first_round[x]), steady[x]) for x in range(k)
            )
        )
        if paired.warmup_step_s is not None:
            steps = min(len(each) for each in paired.warmup_step_s)
            by_step.append(
                [
                    statistics.fmean(
                        _excess(paired.warmup_step_s[x][j], steady[x]) for x in range(k)
                    )
                    for j in range(steps)
                ]
            )
    if not round0:
        raise ValueError("no ok paired process with two rounds or more to check the warm-up by")
    if len(counts) > 1:
        raise ValueError(f"processes with different warm-ups ({sorted(counts)}): check each apart")
    steps = min((len(each) for each in by_step), default=0)
    return WarmupCheck(
        warmup_steps=counts.pop(),
        processes=len(round0),
        round0_excess_pct=_pct(statistics.median(round0)),
        round0_p_value=float(sps.wilcoxon(round0, alternative="greater").pvalue)
        if len(round0) > 1 and any(round0)
        else 1.0,
        warmup_excess_pct=tuple(
            _pct(statistics.median(each[j] for each in by_step)) for j in range(steps)
        ),
        warmup_processes=len(by_step),
    )


def steps_needed(check: WarmupCheck, tolerance_pct: float = TOLERANCE_PCT) -> int | None:
    """The fewest warm-up steps after which the rest of the warm-up and round 0 run at the
    steady pace; None when round 0 does not (the warm-up is too short to cut). Without recorded
    warm-up steps, the warm-up as it is when round 0 is at the steady pace."""
    if check.round0_excess_pct > tolerance_pct:
        return None
    needed = len(check.warmup_excess_pct)
    while needed > 0 and check.warmup_excess_pct[needed - 1] <= tolerance_pct:
        needed -= 1
    return needed if check.warmup_excess_pct else check.warmup_steps

"""A stand-in for :mod:`mgbench.analysis.sequential` while that module is written elsewhere:
the same API, the simplest valid design (Bonferroni over the looks: each look's interval at
``alpha / looks``), and a stop rule that stops once every claimed comparison is decided.
``conftest.py`` installs it only when the real module is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as sps

from mgbench.analysis import multiplicity
from mgbench.analysis.claim import Outcome


@dataclass(frozen=True)
class SequentialDesign:
    max_processes: int
    alpha: float = 0.05
    spending: str = "Bonferroni (test fake)"

    @property
    def looks(self) -> int:
        return self.max_processes - 1

    def look_alpha(self, processes: int) -> float:
        if not 2 <= processes <= self.max_processes:
            raise ValueError(f"processes must be in 2..{self.max_processes}, got {processes}")
        return self.alpha / self.looks

    def critical_value(self, processes: int) -> float:
        return float(sps.t.ppf(1 - self.look_alpha(processes) / 2, processes - 1))

    @property
    def description(self) -> str:
        return f"looks after 2..{self.max_processes} paired processes, {self.spending} spending"


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    reason: str
    decided: bool
    futile: bool


def stop_decision(design, comparisons: Sequence, processes: int, min_effect_pct: float):
    judged = [c for c in comparisons if c.claim is not None]
    look = f"after {processes} processes (look {processes - 1} of {design.looks})"
    if judged and all(
        c.verdict is not None and c.verdict.outcome is not Outcome.INCONCLUSIVE for c in judged
    ):
        return StopDecision(True, f"decided {look}", True, False)
    if processes >= design.max_processes:
        return StopDecision(True, f"the most processes, {processes}, reached", False, False)
    return StopDecision(False, "", False, False)


def sequential_p_value(design, estimate, verdict, range_pct, min_effect_pct):
    fixed = multiplicity.verdict_p_value(estimate, verdict, range_pct, min_effect_pct)
    return min(1.0, fixed * design.looks)

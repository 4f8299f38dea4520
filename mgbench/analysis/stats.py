"""Statistics as pure functions over samples (numpy and scipy.stats underneath).

The unit of replication is the process: a cell's throughput is the mean over its processes of
each process's images/s, and confidence intervals come from a two-level bootstrap that resamples
processes, then the timed steps within each resampled process. Significance is a two-sided
Mann-Whitney U test on per-process throughputs: steps of one process are not independent, and a
test that pooled them would call process-to-process drift a difference (a null simulation with
10% process CV found it "significant" about two times in three). With n processes a side, the
smallest two-sided p is 2/C(2n, n): 4 a side are needed for p < 0.05, 5 for p < 0.01. A
difference is *detected* only when the U test is significant, the bootstrap CI excludes zero,
and the estimate is at least the minimum effect. The CI's level is ``1 - alpha``, so the interval
and the test speak at one level.

A verdict needs data that can reach ``alpha``: below :data:`MIN_BOOTSTRAP_PROCESSES` a side the
bootstrap understates the spread between processes, and below :func:`processes_to_reach` a side
the U test cannot go under ``alpha`` whatever the data. Such comparisons are *inconclusive*, and
say how many processes a side would decide (:func:`processes_to_decide`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from mgbench.analysis.claim import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT_PCT,
    Outcome,
    Verdict,
    placed_against_claim,
)

DEFAULT_RESAMPLES = 2000
# A percentile interval's ends are order statistics of the resamples: at 95% from 2,000 each end
# rests on 50 resamples beyond it, at 99% on only 10 (its ends then move by a few tenths of a
# percent from seed to seed). The count grows with 1 / alpha so that every level keeps 50.
MIN_TAIL_RESAMPLES = 50
CONFIDENCE = 0.95
CV_WARNING = 0.10
MIN_STEP_SAMPLES = 9
MIN_PROCESSES = 4  # the fewest per side with which a U test can reach p < 0.05
MIN_BOOTSTRAP_PROCESSES = 5  # fewer units: a bootstrap understates the spread between them


@dataclass(frozen=True)
class ProcessSample:
    """One process's timed steps: per-step seconds and the images each step trained on.

    ``gap_factor`` = timed wall time / sum of step times (>= 1: time between steps), so a
    resampled process keeps the same definition of throughput as the measured one.
    """

    step_s: tuple[float, ...]
    images_per_step: int
    gap_factor: float = 1.0

    @property
    def images_per_s(self) -> float:
        return self.images_per_step * len(self.step_s) / (sum(self.step_s) * self.gap_factor)

    def step_rates(self) -> np.ndarray:
        return self.images_per_step / (np.asarray(self.step_s) * self.gap_factor)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mean: float
    stdev: float  # sample standard deviation (ddof=1); 0 for one sample
    cv: float
    p90: float


def median(values: Sequence[float]) -> float:
    if not len(values):
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))


def describe(values: Sequence[float]) -> Summary:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("describe() needs at least one value")
    mean = float(data.mean())
    stdev = float(data.std(ddof=1)) if data.size > 1 else 0.0
    return Summary(
        n=int(data.size),
        median=float(np.median(data)),
        mean=mean,
        stdev=stdev,
        cv=stdev / mean if mean else float("inf"),
        p90=float(np.percentile(data, 90)),
    )


def throughput(processes: Sequence[ProcessSample]) -> float:
    """The cell's images/s: the mean over processes (the unit of replication)."""
    if not processes:
        raise ValueError("no processes")
    return float(np.mean([p.images_per_s for p in processes]))


def bootstrap_throughputs(
    processes: Sequence[ProcessSample], rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """Throughput under resampling of processes, then of steps within each process."""
    if not processes:
        raise ValueError("no processes")
    chosen = rng.integers(0, len(processes), size=(resamples, len(processes)))
    sizes = {len(p.step_s) for p in processes}
    if len(sizes) == 1:
        return _bootstrap_equal_sizes(processes, rng, chosen, sizes.pop())
    rates = np.empty(resamples)
    for b in range(resamples):
        values = []
        for index in chosen[b]:
            process = processes[index]
            steps = np.asarray(process.step_s)
            picked = steps[rng.integers(0, steps.size, size=steps.size)]
            values.append(
                process.images_per_step * steps.size / (picked.sum() * process.gap_factor)
            )
        rates[b] = np.mean(values)
    return rates


_BLOCK = 1000  # resamples drawn at once: bounds the memory of a 100,000-resample bootstrap


def _bootstrap_equal_sizes(
    processes: Sequence[ProcessSample], rng: np.random.Generator, chosen: np.ndarray, size: int
) -> np.ndarray:
    """The loop above, vectorised where every process timed ``size`` steps. numpy's bounded
    integers with one bound come out the same drawn in one call or in consecutive ones, so this
    draws exactly the resamples the loop draws (a test holds it to that): published intervals
    stay as they were, and a 99% gate's 10,000 resamples cost what 2,000 did."""
    steps = np.asarray([p.step_s for p in processes], dtype=float)
    images = np.asarray([p.images_per_step for p in processes], dtype=float)
    gaps = np.asarray([p.gap_factor for p in processes], dtype=float)
    rates = np.empty(chosen.shape[0])
    for start in range(0, chosen.shape[0], _BLOCK):
        block = chosen[start : start + _BLOCK]
        picks = rng.integers(0, size, size=(*block.shape, size))
        sums = steps[block[..., None], picks].sum(axis=-1)
        rates[start : start + _BLOCK] = (images[block] * size / (sums * gaps[block])).mean(axis=1)
    return rates


def resamples_for(alpha: float) -> int:
    """Bootstrap resamples for a ``1 - alpha`` percentile interval: at least
    :data:`MIN_TAIL_RESAMPLES` beyond each end, never fewer than :data:`DEFAULT_RESAMPLES`,
    rounded up to a thousand (0.05: 2,000; 0.01: 10,000; 0.001: 100,000)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    needed = math.ceil(round(MIN_TAIL_RESAMPLES / (alpha / 2), 6))
    return max(DEFAULT_RESAMPLES, math.ceil(needed / 1000) * 1000)


def _interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def throughput_ci(
    processes: Sequence[ProcessSample], *, seed: int = 0, resamples: int = DEFAULT_RESAMPLES
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    return _interval(bootstrap_throughputs(processes, rng, resamples))


@dataclass(frozen=True)
class Comparison:
    """``candidate`` against ``baseline``: positive ``change_pct`` means candidate is faster."""

    change_pct: float
    ci_pct: tuple[float, float]
    p_value: float
    significant: bool
    min_effect_pct: float
    alpha: float
    processes: tuple[int, int] = (0, 0)  # (candidate, baseline)

    @property
    def detected(self) -> bool:
        return self.significant and abs(self.change_pct) >= self.min_effect_pct

    @property
    def can_decide(self) -> bool:
        """Enough processes a side for a bootstrap CI and for the U test to reach alpha."""
        n1, n2 = self.processes
        return min(n1, n2) >= MIN_BOOTSTRAP_PROCESSES and smallest_u_p_value(n1, n2) < self.alpha

    @property
    def confidence_label(self) -> str:
        return confidence_label(self.alpha)


def confidence_label(alpha: float) -> str:
    """``"95%"`` for alpha 0.05: the level of a CI at this alpha."""
    return f"{(1 - alpha) * 100:.4g}%"


def smallest_u_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided Mann-Whitney U p-value any data can give: ``2 / C(n1 + n2, n1)``."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n1 + n2, n1))


def processes_to_reach(alpha: float) -> int:
    """The fewest processes a side (equal sides) with which the U test can go below ``alpha``."""
    n = 1
    while smallest_u_p_value(n, n) >= alpha:
        n += 1
    return n


def processes_to_decide(comparison: Comparison, target_half_pct: float) -> int | None:
    """Processes a side that would bring the CI's half-width to ``target_half_pct`` (it shrinks
    as 1/sqrt(n)), the U test within reach of alpha, and the bootstrap on 5 units at least.

    None below :data:`MIN_BOOTSTRAP_PROCESSES` a side: there the CI comes from resampling steps
    of a process or two, so its width measures the steps' noise, not how far processes
    disagree, and scaling it says nothing (a 1-against-1 comparison once read "about 441
    processes a side would decide"). :func:`processes_needed_text` then asks for the floor."""
    n1, n2 = comparison.processes
    floor = decide_floor(comparison)
    if min(n1, n2) < MIN_BOOTSTRAP_PROCESSES:
        return None
    half = (comparison.ci_pct[1] - comparison.ci_pct[0]) / 2
    if target_half_pct <= 0 or half <= 0:
        return floor
    per_side = 2 / (1 / n1 + 1 / n2)  # equal sides with the same variance of the difference
    return max(floor, math.ceil(per_side * (half / target_half_pct) ** 2))


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: reject where the adjusted p is
    below alpha, and the chance that any true null among them is rejected stays at most alpha
    whatever their dependence (Holm 1979)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def compare(
    candidate: Sequence[ProcessSample],
    baseline: Sequence[ProcessSample],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
    resamples: int | None = None,
) -> Comparison:
    """Throughput change of candidate over baseline in %, with a bootstrap CI at level
    ``1 - alpha`` (from :func:`resamples_for` resamples unless given) and a U test."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if resamples is None:
        resamples = resamples_for(alpha)
    rng = np.random.default_rng(seed)
    boot = bootstrap_throughputs(candidate, rng, resamples) / bootstrap_throughputs(
        baseline, rng, resamples
    )
    low, high = _interval((boot - 1) * 100, 1 - alpha)
    change = (throughput(candidate) / throughput(baseline) - 1) * 100
    if min_effect_pct < 0:
        raise ValueError(f"the minimum effect must be >= 0%, got {min_effect_pct}")
    rates_a = np.array([p.images_per_s for p in candidate])
    rates_b = np.array([p.images_per_s for p in baseline])
    if np.array_equal(np.sort(rates_a), np.sort(rates_b)):
        p_value = 1.0  # identical samples: scipy's U test is undefined here, and nothing differs
    else:
        p_value = float(sps.mannwhitneyu(rates_a, rates_b, alternative="two-sided").pvalue)
    significant = p_value < alpha and not (low <= 0 <= high)
    return Comparison(
        change,
        (low, high),
        p_value,
        significant,
        min_effect_pct,
        alpha,
        (len(candidate), len(baseline)),
    )


def too_few_processes(comparison: Comparison) -> str:
    """Why a comparison with too few processes cannot decide."""
    n1, n2 = comparison.processes
    if smallest_u_p_value(n1, n2) >= comparison.alpha:
        return (
            f"{n1} and {n2} processes: the U test cannot go below p = "
            f"{smallest_u_p_value(n1, n2):.2g} >= alpha {comparison.alpha:g}"
        )
    return (
        f"{n1} and {n2} processes: fewer than {MIN_BOOTSTRAP_PROCESSES} a side, the bootstrap "
        "understates the spread between processes"
    )


NEEDED_SHOWN_UP_TO = 1000


def processes_needed_text(needed: int | None, floor: int = MIN_BOOTSTRAP_PROCESSES) -> str:
    """How many processes a side would decide, in words; past a thousand the count means only
    that the estimate sits on a decision edge, so it is not printed as if it were a plan.
    ``None`` (too few processes to estimate any count) asks for ``floor`` a side first."""
    if needed is None:
        return (
            f"run at least {floor} processes a side: with fewer, the spread between processes "
            "is not measured, so no count that would decide can be estimated"
        )
    if needed > NEEDED_SHOWN_UP_TO:
        return (
            f"more than {NEEDED_SHOWN_UP_TO:,} processes a side would be needed "
            "(the estimate sits near a decision edge)"
        )
    return f"about {needed} processes a side would decide"


def decide_floor(comparison: Comparison) -> int:
    """The fewest processes a side that can give a verdict at the comparison's alpha."""
    return max(MIN_BOOTSTRAP_PROCESSES, processes_to_reach(comparison.alpha))


def _inconclusive(comparison: Comparison, target_half_pct: float, why: str) -> Verdict:
    needed = processes_to_decide(comparison, target_half_pct)
    text = processes_needed_text(needed, decide_floor(comparison))
    return Verdict(Outcome.INCONCLUSIVE, f"{why}; {text}", processes_needed=needed)


def change_verdict(comparison: Comparison) -> Verdict:
    """faster / slower (U test significant, CI off 0, |change| >= the minimum effect), no
    difference (CI inside +-minimum effect), or inconclusive with the processes that would decide.
    """
    c, m = comparison, comparison.min_effect_pct
    size = abs(c.change_pct)
    # Half-width that would decide: inside +-m if the estimate is below m, off 0 if above.
    target = m - size if size < m else size
    if not c.can_decide:
        return _inconclusive(c, target, too_few_processes(c))
    if c.detected:
        return Verdict(Outcome.FASTER if c.change_pct > 0 else Outcome.SLOWER)
    if -m < c.ci_pct[0] and c.ci_pct[1] < m:
        return Verdict(Outcome.NO_DIFFERENCE, f"{c.confidence_label} CI inside ±{m:g}%")
    return _inconclusive(c, target, f"the {c.confidence_label} CI is too wide")


def range_verdict(comparison: Comparison, range_pct: tuple[float, float]) -> Verdict:
    """The unpaired comparison's CI against the claimed range [L, U], by
    :func:`mgbench.analysis.claim.placed_against_claim`; inconclusive below 5 processes a side
    whatever the CI says."""
    target = min(abs(comparison.change_pct - edge) for edge in range_pct)
    if not comparison.can_decide:
        return _inconclusive(comparison, target, too_few_processes(comparison))
    placed = placed_against_claim(comparison.ci_pct, range_pct)
    if placed is None:
        return _inconclusive(comparison, target, "the CI straddles an edge of the claim")
    return placed

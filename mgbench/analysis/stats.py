"""Statistics as pure functions over samples (numpy and scipy.stats underneath).

The unit of replication is the process: a cell's throughput is the mean over its processes of
each process's images/s, and confidence intervals come from a two-level bootstrap that resamples
processes, then the timed steps within each resampled process. Significance is a two-sided
Mann-Whitney U test on per-process throughputs: steps of one process are not independent, and a
test that pooled them would call process-to-process drift a difference (a null simulation with
10% process CV found it "significant" about two times in three). With n processes a side, the
smallest two-sided p is 2/C(2n, n): 4 a side are needed for p < 0.05, 5 for p < 0.01. A
difference is *detected* only when the U test is significant, the bootstrap CI excludes zero,
and the estimate is at least the minimum effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

DEFAULT_RESAMPLES = 2000
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT_PCT = 2.0
CONFIDENCE = 0.95
CV_WARNING = 0.10
MIN_STEP_SAMPLES = 9
MIN_PROCESSES = 4  # the fewest per side with which a U test can reach p < 0.05


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
    rates = np.empty(resamples)
    chosen = rng.integers(0, len(processes), size=(resamples, len(processes)))
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


def _interval(samples: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
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

    @property
    def detected(self) -> bool:
        return self.significant and abs(self.change_pct) >= self.min_effect_pct


def compare(
    candidate: Sequence[ProcessSample],
    baseline: Sequence[ProcessSample],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> Comparison:
    """Throughput change of candidate over baseline in %, with a bootstrap CI and a U test."""
    rng = np.random.default_rng(seed)
    boot = bootstrap_throughputs(candidate, rng, resamples) / bootstrap_throughputs(
        baseline, rng, resamples
    )
    low, high = _interval((boot - 1) * 100)
    change = (throughput(candidate) / throughput(baseline) - 1) * 100
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if min_effect_pct < 0:
        raise ValueError(f"the minimum effect must be >= 0%, got {min_effect_pct}")
    rates_a = np.array([p.images_per_s for p in candidate])
    rates_b = np.array([p.images_per_s for p in baseline])
    if np.array_equal(np.sort(rates_a), np.sort(rates_b)):
        p_value = 1.0  # identical samples: scipy's U test is undefined here, and nothing differs
    else:
        p_value = float(sps.mannwhitneyu(rates_a, rates_b, alternative="two-sided").pvalue)
    significant = p_value < alpha and not (low <= 0 <= high)
    return Comparison(change, (low, high), p_value, significant, min_effect_pct, alpha)


NO_DIFFERENCE = "no detectable difference"
SLOWER = "slower"
WITHIN = "faster, within the claimed {low:g}-{high:g}%"
BELOW = "faster, below the claim"
ABOVE = "faster, above the claim"


def claim_verdict(comparison: Comparison, claim_pct: tuple[float, float]) -> str:
    """Place a detected speed-up against a claimed range; see the README for the rules."""
    low, high = claim_pct
    if not comparison.detected or comparison.change_pct == 0:
        return NO_DIFFERENCE
    if comparison.change_pct < 0:
        return SLOWER
    if comparison.change_pct < low:
        return BELOW
    if comparison.change_pct > high:
        return ABOVE
    return WITHIN.format(low=low, high=high)


def change_verdict(comparison: Comparison) -> str:
    if not comparison.detected:
        return NO_DIFFERENCE
    return "faster" if comparison.change_pct > 0 else SLOWER

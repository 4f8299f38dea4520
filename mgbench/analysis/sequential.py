"""Stopping when decided: a group-sequential design over the paired interval, with its error rate.

A paired comparison's interval (:func:`mgbench.analysis.paired.estimate`) is Student's t over the
processes' 20% trimmed means: after ``k`` processes, ``centre +- c x s_k / sqrt(k)`` with
``c = t(1 - alpha/2, k - 1)``. Looking after every process and stopping once the interval decides
would read up to ``K - 1`` such intervals and inflate the chance that one of them misses the true
effect far above alpha. This module gives the look after ``k`` processes (``k = 2 .. K``, ``K``
the most paired processes a comparison may get) a wider critical value ``c_k`` such that

    P(some look's interval misses the true centre) = alpha,

so any verdict read from any look (the first decided one, the last one) is wrong with probability
at most alpha, whatever rule chose when to stop.

**Why the critical values can be computed once.** With i.i.d. normal process means (the model
``paired`` assumes: ``y[p, r] = mu + u[p] + e[p, r]``, so a process mean varies by
``sigma^2 / R + tau^2``), the running t statistics ``T_k = (mean_k - mu) / (s_k / sqrt(k))`` are
invariant to location and scale: their joint law is pivotal (free of ``mu``, ``sigma`` and
``tau``). So ``c_2 .. c_K`` are found by simulating standard normal sequences
(:data:`SEQUENCES`, seeded by :data:`SEED`, cached per design): Lan and DeMets' alpha spending
gives each look its share, ``alpha(t_k) - alpha(t_{k-1})`` at information fraction
``t_k = k / K`` (the variance of the mean falls as ``1 / k``), and ``c_k`` is the value that the
simulated ``|T_k|`` of the sequences that crossed no earlier look exceed with that probability.
The first look's ``c_2`` is the exact ``t(1 - alpha(2/K)/2, 1)``; with ``K = 2`` the one look
spends all of alpha and is the fixed design's interval. The Monte Carlo's own error in the
realised family-wise rate is about ``sqrt(alpha / SEQUENCES)`` (0.0004 at alpha 0.05).

Two spending functions (:data:`SPENDING_FUNCTIONS`): O'Brien-Fleming-type
``4 - 4 Phi(z(1 - alpha/4) / sqrt(t))`` (``alpha / 2`` a side, as ldbounds and gsDesign spend
it) spends almost nothing early and keeps the last look's critical value near the fixed design's;
Pocock-type ``alpha ln(1 + (e - 1) t)`` spends evenly, so it can stop earlier but widens every
later look. ``benchmarks/sequential.py`` simulates both on the noise measured here
(``results/sequential/sequential.md``) and :data:`CHOSEN_SPENDING` is the one its rule chose
(the one deciding most often, both keeping the error rate): O'Brien-Fleming-type reached a
verdict in 36.5% of the sequences on average over the 168 cases (Pocock-type 28.0%, the fixed
design 39.5%) with 3.78 processes on average (3.55; 4.50). The first looks have 1 and 2 df, where
even a generous share of alpha leaves the interval far too wide to decide (Pocock's first two
critical values with K = 6 are 28 and 9.4), so what Pocock spends early buys little and widens
its last look to 3.89 (O'Brien-Fleming 2.86, the fixed design 2.57).

**The reports' intervals unchanged.** The look-``k`` interval ``centre +- c_k s_k / sqrt(k)`` is
``paired.estimate(groups, alpha_k')`` at the nominal level ``alpha_k' = 2 t.sf(c_k, k - 1)``
(:meth:`SequentialDesign.look_alpha`), so ``range_verdict``, ``change_verdict`` and the report
read it as they read any interval; only its level is the design's.

**Futility** (:func:`stop_decision`) is non-binding: it can stop a run, never decide a
verdict, and the critical values assume the run went on to ``K``; so stopping for futility only
leaves verdicts inconclusive and cannot raise the error rate. An undecided comparison is futile
when its conditional power (:func:`conditional_power`: the chance that the last look decides,
were the true effect the current estimate and the processes to come spread as the seen ones,
averaged over draws of those processes so that the last look's own sample sd is random too) is
below :data:`FUTILITY_POWER`, judged from :data:`FUTILITY_FROM_PROCESSES` processes on. Both
were chosen by the rule of ``benchmarks/sequential.py`` (the fewest processes among thresholds
5, 10, 20% judged from 3 or 4 processes that lose at most 1 decided verdict in 100 on average
and 5 in any case, over the K = 6 cases): 10% from 3 processes lost 0.80 in 100 on average
(2.6 at worst) and used 4.33 processes on average against 5.44 without futility; 20% from 3
lost 1.9 (5.3 at worst). Stopping a comparison the design would decide less than one time in
ten is where processes are saved: the truth near a deciding edge, which no number of processes
the design allows would settle.

**Futility with a prior** (:class:`PriorSpread`, :func:`pooled_spread`, :func:`futility_from`,
:func:`futility_threshold`) pools an earlier run's spread of the same comparison with the run's
own, so that futility can be judged at the first look, after 2 processes; it still only stops,
so the error rate holds (no case over alpha + 2 SE in the study, where each simulated sequence
gets its own prior: an independent earlier run of P0 processes of the same case, its variance
times a factor f). Judged on a correct prior of a 3-process earlier run (P0 = 3, f = 1, what
the CPU main job gives) over the K = 6 cases, the rule picked conditional power below 5% from
2 processes (:data:`FUTILITY_POWER_WITH_PRIOR`, :data:`FUTILITY_FROM_PROCESSES_WITH_PRIOR`):
it lost 0.72 decided verdicts in 100 on average (2.1 at worst) for 4.18 processes, and at K =
3, where futility without a prior never judges before the last look, 0.01 (0.08) for 2.42
processes instead of 2.97. Below 10% from 2 lost 1.6 (4.0), over the rule. A prior from a
noisier day (f = 2) loses 1.1 (4.1), just over the rule's mean; a quieter one (f = 0.5) 0.64
(1.7); a 6-process prior about what a 3-process one does. Conditional power must draw the last
look's sd for this to hold: taking the pooled spread as known, the same priors lost 2 to 10 in
100 (6.0 below 10% from 2 at P0 = 3, f = 1), since a pooled prior cuts the link between a
tight-looking own spread and the last look's sample sd. At this CPU's main-job noise (round sd
9%, tau 4%, truth 0) and K = 3 a comparison gets 2.2 to 2.4 processes with a prior against 3.0
without.

**With Holm across rows.** A report reads one claim on several rows (:mod:`multiplicity`). The
spending controls the looks within a row: each row's verdict is wrong with probability at most
alpha however many looks it took. Holm controls the rows: it needs from each row a p-value ``p``
with ``P(p <= a and the verdict is wrong) <= a`` for every ``a``. :func:`sequential_p_value` is
the smallest ``a`` at which the design spending ``a`` (the same spending function, the same
``K``) would have reached the row's verdict at one of the looks it took; were the verdict wrong,
``p <= a`` means some look's interval at level ``a`` missed the true effect, which happens with
probability ``a``. So Holm over these p-values holds the family-wise error across rows and looks
at alpha, and a row whose adjusted p-value is below alpha keeps its verdict family-wise; a row's
own verdict is at the design's alpha, and ``p < alpha`` exactly when it was decided.

Pure functions over numbers and comparisons: no I/O, no TensorFlow.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

from mgbench.analysis import paired
from mgbench.analysis.claim import (
    DEFAULT_ALPHA,
    Outcome,
    Verdict,
)
from mgbench.analysis.comparisons import PairedComparison

SEED = 23  # the number
SEQUENCES = 400_000  # simulated standard normal sequences per design
MAX_PROCESSES = 30  # the design's simulation holds SEQUENCES x (K - 1) numbers
# A look needs a spread between processes, so the first comes after the 2nd. The design's own
# arithmetic (t on k - 1 df, c_2 .. c_K, looks = K - 1) is built on that fact and spells it 2;
# this name is for callers that count processes (the plan's shortest run until decided).
FIRST_LOOK_PROCESSES = 2
FUTILITY_POWER = 0.10  # below this conditional power an undecided comparison stops
# Futility is judged once the spread is seen on 2 df: conditional power draws the processes to
# come around the spread seen so far, so a spread that looks wide by chance on 2 df is mostly
# undone by the draws; on 1 df it is not (benchmarks/sequential.py: futility, and the text above).
FUTILITY_FROM_PROCESSES = 3
# With an earlier run's spread of the same comparison pooled in (PriorSpread), futility is judged
# once the pooled spread has as many df as FUTILITY_FROM_PROCESSES processes alone give, but never
# before this look, and at the stricter threshold FUTILITY_POWER_WITH_PRIOR: the pair chosen by
# benchmarks/sequential.py's futility rule with a prior (the text above).
FUTILITY_FROM_PROCESSES_WITH_PRIOR = 2
FUTILITY_POWER_WITH_PRIOR = 0.05
P_VALUE_FLOOR = 1e-6  # below the simulation's resolution; sequential_p_value reports no less


def obrien_fleming_spent(fraction: float, alpha: float) -> float:
    """Lan-DeMets' O'Brien-Fleming-type spending, two-sided and symmetric as ldbounds and
    gsDesign spend it: each side spends ``alpha / 2`` by ``2 - 2 Phi(z(1 - alpha/4) / sqrt(t))``,
    so ``4 - 4 Phi(z(1 - alpha/4) / sqrt(t))`` in all by information fraction ``t`` (all of alpha
    at t = 1)."""
    if fraction >= 1:
        return alpha
    return float(4 * sps.norm.sf(sps.norm.isf(alpha / 4) / math.sqrt(fraction)))


def pocock_spent(fraction: float, alpha: float) -> float:
    """Lan-DeMets' Pocock-type spending, ``alpha ln(1 + (e - 1) t)`` (all of alpha at t = 1)."""
    if fraction >= 1:
        return alpha
    return alpha * math.log1p((math.e - 1) * fraction)


SPENDING_FUNCTIONS: dict[str, Callable[[float, float], float]] = {
    "obrien-fleming": obrien_fleming_spent,
    "pocock": pocock_spent,
}
SPENDING_NAMES = {"obrien-fleming": "O'Brien-Fleming-type", "pocock": "Pocock-type"}
# What benchmarks/sequential.py chose (results/sequential/sequential.md): see its choice rule.
CHOSEN_SPENDING = "obrien-fleming"


# -- the critical values ------------------------------------------------------------------------


def critical_values_from_sample(
    abs_statistics: np.ndarray, spent: Sequence[float], first_critical: float
) -> np.ndarray:
    """Each look's critical value from simulated ``|statistic|`` paths (rows: paths, columns:
    looks) under the null, with ``spent[j]`` the cumulative alpha by look ``j``: the first look's
    is given (exact), and look ``j``'s is the value that the paths which crossed no earlier look
    exceed in a share ``spent[j] - spent[j - 1]`` of all paths. Shared by the design (t
    statistics) and its check against the normal-theory constants (z statistics)."""
    paths, looks = abs_statistics.shape
    if len(spent) != looks:
        raise ValueError(f"{len(spent)} spent levels for {looks} looks")
    critical = np.empty(looks)
    critical[0] = first_critical
    alive = abs_statistics[:, 0] <= first_critical
    for look in range(1, looks):
        values = abs_statistics[alive, look]
        crossings = max(spent[look] - spent[look - 1], 0.0) * paths
        # The value exceeded by `crossings` of the survivors (linear between order statistics).
        level = min(max(1 - crossings / values.size, 0.0), 1.0)
        critical[look] = float(np.quantile(values, level))
        alive &= abs_statistics[:, look] <= critical[look]
    return critical


@functools.lru_cache(maxsize=4)
def pivotal_abs_t(max_processes: int, sequences: int = SEQUENCES, seed: int = SEED) -> np.ndarray:
    """``|T_k|`` for ``k = 2 .. K`` of ``sequences`` seeded standard normal sequences: the running
    one-sample t statistic after k values, the pivot of every design of ``K`` processes. Shape
    ``(sequences, K - 1)``, float32, read-only (cached)."""
    rng = np.random.default_rng([seed, max_processes])
    out = np.empty((sequences, max_processes - 1), np.float32)
    count = np.arange(1, max_processes + 1, dtype=float)
    chunk = 100_000
    for start in range(0, sequences, chunk):
        x = rng.standard_normal((min(chunk, sequences - start), max_processes))
        # Welford's running mean and sum of squared deviations: stable at k = 2 too.
        mean = np.cumsum(x, axis=1) / count
        previous = np.concatenate([np.zeros((x.shape[0], 1)), mean[:, :-1]], axis=1)
        delta = (x - previous) * (x - mean)
        squares = np.cumsum(delta, axis=1)
        sd = np.sqrt(squares[:, 1:] / (count[1:] - 1))
        with np.errstate(divide="ignore"):
            out[start : start + x.shape[0]] = np.abs(mean[:, 1:]) * np.sqrt(count[1:]) / sd
    out.setflags(write=False)
    return out


def _spent_by_look(max_processes: int, alpha: float, spending: str) -> list[float]:
    spend = SPENDING_FUNCTIONS[spending]
    return [spend(k / max_processes, alpha) for k in range(2, max_processes + 1)]


def _critical_values_now(max_processes: int, alpha: float, spending: str) -> np.ndarray:
    spent = _spent_by_look(max_processes, alpha, spending)
    first = float(sps.t.isf(spent[0] / 2, 1))
    return critical_values_from_sample(pivotal_abs_t(max_processes), spent, first)


@functools.lru_cache(maxsize=64)
def _critical_values(max_processes: int, alpha: float, spending: str) -> tuple[float, ...]:
    return tuple(float(c) for c in _critical_values_now(max_processes, alpha, spending))


# -- the design ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialDesign:
    """Looks after 2, 3, ..., ``max_processes`` paired processes, spending ``alpha`` by
    ``spending`` (a key of :data:`SPENDING_FUNCTIONS`) over information fraction ``k / K``;
    ``futility_power`` is :func:`stop_decision`'s threshold (0: never stop for futility)."""

    max_processes: int
    alpha: float = DEFAULT_ALPHA
    spending: str = CHOSEN_SPENDING
    futility_power: float = FUTILITY_POWER

    def __post_init__(self) -> None:
        k = self.max_processes
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_PROCESSES:
            raise ValueError(
                f"a sequential design needs an integer max_processes in 2..{MAX_PROCESSES} "
                f"(it looks after processes 2..K), got {k!r}"
            )
        if not 0 < self.alpha < 1:
            raise ValueError(f"a sequential design's alpha must be in (0, 1), got {self.alpha}")
        if self.spending not in SPENDING_FUNCTIONS:
            known = ", ".join(SPENDING_FUNCTIONS)
            raise ValueError(f"unknown spending function {self.spending!r}; known: {known}")
        if not 0 <= self.futility_power < 1:
            raise ValueError(f"futility_power must be in [0, 1), got {self.futility_power}")

    @property
    def looks(self) -> int:
        return self.max_processes - 1

    @property
    def critical_values(self) -> tuple[float, ...]:
        """``c_2 .. c_K``."""
        return _critical_values(self.max_processes, self.alpha, self.spending)

    def _check(self, processes: int) -> int:
        if isinstance(processes, bool) or not isinstance(processes, int | np.integer):
            raise ValueError(f"processes must be an integer, got {processes!r}")
        if not 2 <= processes <= self.max_processes:
            raise ValueError(
                f"this design looks after 2..{self.max_processes} paired processes; "
                f"no look after {processes}"
            )
        return int(processes)

    def look_number(self, processes: int) -> int:
        """1 for the look after 2 processes, ..., :attr:`looks` for the last."""
        return self._check(processes) - 1

    def spent_alpha(self, processes: int) -> float:
        """The alpha spent by the look after ``processes`` processes (cumulative)."""
        k = self._check(processes)
        return SPENDING_FUNCTIONS[self.spending](k / self.max_processes, self.alpha)

    def critical_value(self, processes: int) -> float:
        """``c_k``: the look's interval is ``centre +- c_k x sd / sqrt(k)`` of the process means."""
        return self.critical_values[self._check(processes) - 2]

    def look_alpha(self, processes: int) -> float:
        """The nominal level at which ``paired.estimate`` gives the look's interval:
        ``2 t.sf(c_k, k - 1)`` (the first look's spent alpha itself, so that a design of 2
        processes is the fixed design at ``alpha``)."""
        k = self._check(processes)
        if k == 2:
            return self.spent_alpha(2)
        return float(2 * sps.t.sf(self.critical_value(k), k - 1))

    @property
    def description(self) -> str:
        """``"looks after 2..6 paired processes, O'Brien-Fleming-type spending of alpha 0.05"``."""
        return (
            f"looks after 2..{self.max_processes} paired processes, "
            f"{SPENDING_NAMES[self.spending]} spending of alpha {self.alpha:g}"
        )


# -- futility -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorSpread:
    """What an earlier run of the same paired cell saw of one comparison: the variance of one
    process's mean log ratio (at this run's rounds per process) on ``df`` degrees of freedom
    (its processes less one). Futility pools it with the spread the run sees itself
    (:func:`pooled_spread`), so a comparison the earlier run showed hopeless can stop at the
    first look instead of the third process. It only ever feeds futility, which cannot decide
    a verdict: a wrong prior costs processes or verdicts, never the error rate."""

    variance_log: float
    df: int
    source: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.variance_log) and self.variance_log >= 0):
            raise ValueError(
                f"a prior spread's variance must be finite and >= 0, got {self.variance_log}"
            )
        if isinstance(self.df, bool) or not isinstance(self.df, int) or self.df < 1:
            raise ValueError(f"a prior spread needs df >= 1 (two processes), got {self.df!r}")


def pooled_spread(process_means_log: np.ndarray, prior: PriorSpread | None = None) -> np.ndarray:
    """The process means' sd (last axis; leading axes are independent comparisons), pooled with
    ``prior`` by degrees of freedom, ``sqrt((df0 v0 + (k - 1) s^2) / (df0 + k - 1))``; without
    one, the sample sd."""
    means = np.asarray(process_means_log, float)
    own = means.var(axis=-1, ddof=1)
    if prior is None:
        return np.asarray(np.sqrt(own))
    own_df = means.shape[-1] - 1
    pooled = (prior.df * prior.variance_log + own_df * own) / (prior.df + own_df)
    return np.asarray(np.sqrt(pooled))


def futility_from(prior: PriorSpread | None) -> int:
    """The first look (as processes) at which futility is judged: once the spread is seen on
    ``FUTILITY_FROM_PROCESSES - 1`` df, the prior's counted, and not before
    :data:`FUTILITY_FROM_PROCESSES_WITH_PRIOR` processes."""
    if prior is None:
        return FUTILITY_FROM_PROCESSES
    return max(FUTILITY_FROM_PROCESSES_WITH_PRIOR, FUTILITY_FROM_PROCESSES - prior.df)


def futility_threshold(design: SequentialDesign, prior: PriorSpread | None) -> float:
    """The conditional power below which :func:`stop_decision` calls a comparison futile:
    the design's, or with a prior the stricter :data:`FUTILITY_POWER_WITH_PRIOR` (a prior lets
    futility judge a look earlier, where a threshold of 10% loses too many verdicts)."""
    if prior is None:
        return design.futility_power
    return min(design.futility_power, FUTILITY_POWER_WITH_PRIOR)


def deciding_regions_log(
    half_width_log: np.ndarray, range_pct: tuple[float, float] | None, min_effect_pct: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Where an interval ``centre +- half_width_log`` (log ratio) decides, as ``(low, high)``
    bounds on its centre, one pair a verdict: against a range ``[L, U]`` smaller (below
    ``log L - h``), larger (above ``log U + h``), supports (``log L + h`` to ``log U - h``); for a
    question faster (above the larger of ``h`` and the minimum effect), slower (its mirror), no
    difference (``log(1 - m) + h`` to ``log(1 + m) - h``), as ``paired.range_verdict`` and
    ``change_verdict`` read it. Empty regions come back with ``low >= high``."""
    h = np.asarray(half_width_log, float)
    inf = np.full(h.shape, np.inf)
    if range_pct is not None:
        low, high = (paired.log_from_pct(x) for x in range_pct)
        return [(-inf, low - h), (high + h, inf), (low + h, high - h)]
    minus, plus = paired.log_from_pct(-min_effect_pct), paired.log_from_pct(min_effect_pct)
    return [(np.maximum(h, plus), inf), (-inf, np.minimum(-h, minus)), (minus + h, plus - h)]


@functools.lru_cache(maxsize=32)
def _future_draws(to_come: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``to_come`` standard normal process means, 1024 draws of their mean
    and of their sum of squares about it (all a last look needs of them): a scrambled Sobol
    sequence (seeded) through the normal quantile, whose averages converge far faster than
    independent draws' (with one to come, 4096 independent draws gave a variance of 1.065)."""
    from scipy.stats import qmc

    sobol = qmc.Sobol(d=to_come, scramble=True, seed=np.random.default_rng([SEED, to_come]))
    z = sps.norm.ppf(sobol.random_base2(FUTURE_DRAWS_LOG2))
    mean = z.mean(axis=1)
    squares = ((z - mean[:, None]) ** 2).sum(axis=1)
    mean.setflags(write=False)
    squares.setflags(write=False)
    return mean, squares


def conditional_power(
    process_means_log: np.ndarray,
    max_processes: int,
    final_critical: float,
    range_pct: tuple[float, float] | None,
    min_effect_pct: float,
    prior: PriorSpread | None = None,
    *,
    future_sd_log: np.ndarray | None = None,
) -> np.ndarray:
    """The chance that the last look (after ``K = max_processes`` processes, critical value
    ``final_critical``) reaches a verdict, given the first ``k`` process means (last axis; any
    leading axes are independent comparisons), were the true effect their mean ``m`` and the
    ``n = K - k`` processes still to come normal about it with sd ``s``: the seen processes' sd,
    pooled with ``prior`` when given (:func:`pooled_spread`), or ``future_sd_log`` (one per
    comparison) when given.

    The last look reads the sample sd of all K means, the seen ones among them, so its
    half-width is random too: seen processes that agree closely narrow it however wide a prior
    says the rest will be (taking its sd as known, or at its expected value, understates the
    chance: 0.28 against a simulated 0.46 for two seen processes 0.3% apart under a 3% prior).
    So the chance is averaged over 1024 quasi-random draws (:data:`FUTURE_DRAWS_LOG2`) of them:
    with ``zbar`` and ``Q`` their standard mean and sum of squares, the final centre is
    ``m + (n / K) s zbar`` and its sum of squares ``SS_k + s^2 Q + (k n / K) s^2 zbar^2``, and
    a draw counts where :func:`deciding_regions_log` holds that centre. Later looks only add to
    the chance; with ``k = K`` it is 0 or 1. Deterministic: the draws are seeded."""
    means = np.asarray(process_means_log, float)
    k = means.shape[-1]
    if not 2 <= k <= max_processes:
        raise ValueError(f"conditional power needs 2..{max_processes} process means, got {k}")
    shape = means.shape[:-1]
    flat = means.reshape(-1, k)
    centre = flat.mean(axis=1)
    seen_squares = flat.var(axis=1, ddof=1) * (k - 1)
    if k == max_processes:
        half = final_critical * np.sqrt(seen_squares / (k - 1)) / math.sqrt(k)
        return _deciding(centre, half, range_pct, min_effect_pct).reshape(shape)
    future = pooled_spread(flat, prior) if future_sd_log is None else future_sd_log
    future = np.broadcast_to(np.asarray(future, float).reshape(-1), (flat.shape[0],))
    to_come = max_processes - k
    zbar, q = _future_draws(to_come)
    power = np.empty(flat.shape[0])
    for start in range(0, flat.shape[0], _ROWS_AT_ONCE):
        rows = slice(start, start + _ROWS_AT_ONCE)
        s = future[rows, None]
        final_centre = centre[rows, None] + (to_come / max_processes) * s * zbar
        squares = seen_squares[rows, None] + s**2 * (q + (k * to_come / max_processes) * zbar**2)
        half = final_critical * np.sqrt(squares / (max_processes - 1)) / math.sqrt(max_processes)
        power[rows] = _deciding(final_centre, half, range_pct, min_effect_pct).mean(axis=1)
    return power.reshape(shape)


FUTURE_DRAWS_LOG2 = 10  # 1024 quasi-random draws of the processes to come
_ROWS_AT_ONCE = 1024  # comparisons per block of 1024-draw-wide arrays (8 MB each)


def _deciding(
    centre: np.ndarray,
    half: np.ndarray,
    range_pct: tuple[float, float] | None,
    min_effect_pct: float,
) -> np.ndarray:
    """Whether an interval ``centre +- half`` (log) reaches a verdict, as 0.0 or 1.0."""
    hit = np.zeros(np.broadcast(centre, half).shape, bool)
    for low, high in deciding_regions_log(half, range_pct, min_effect_pct):
        hit |= (centre > low) & (centre < high)
    return hit.astype(float)


def _process_means_log(estimate: paired.PairedEstimate) -> np.ndarray:
    return np.log1p(np.asarray(estimate.per_process_pct, float) / 100)


# -- when to stop -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopDecision:
    """Whether to stop running paired processes after this look, and why."""

    stop: bool
    reason: str  # why it stops; going on, the conditional powers futility judged ("" if none)
    decided: bool  # every comparison that a claim or question is about is decided
    futile: bool  # stopped with some undecided, each of them futile


def _comparison_power(
    design: SequentialDesign,
    comparison: PairedComparison,
    min_effect_pct: float,
    prior: PriorSpread | None,
) -> float | None:
    """The comparison's conditional power, or None when it cannot be judged yet."""
    estimate = comparison.estimate
    if estimate is None or comparison.claim is None:
        return None
    if estimate.processes < futility_from(prior):
        return None
    power = conditional_power(
        _process_means_log(estimate),
        design.max_processes,
        design.critical_value(design.max_processes),
        comparison.claim.range_pct,
        min_effect_pct,
        prior,
    )
    return float(power)


def _check_level(design: SequentialDesign, comparison: PairedComparison) -> None:
    estimate = comparison.estimate
    if estimate is None or estimate.processes < 2:
        return
    if estimate.processes > design.max_processes:
        raise ValueError(
            f"{comparison.label}: {estimate.processes} paired processes, more than the design's "
            f"{design.max_processes}"
        )
    wanted = design.look_alpha(estimate.processes)
    if not math.isclose(estimate.alpha, wanted, rel_tol=1e-9):
        raise ValueError(
            f"{comparison.label}: its interval is at alpha {estimate.alpha:g}, not the design's "
            f"{wanted:.6g} for the look after {estimate.processes} processes "
            "(comparisons.paired_comparisons does, for a cell with its sequential_max)"
        )


def stop_decision(
    design: SequentialDesign,
    comparisons: Sequence[PairedComparison],
    processes: int,
    min_effect_pct: float,
    priors: Mapping[tuple[str, str], PriorSpread] | None = None,
) -> StopDecision:
    """After the look at ``processes`` paired processes: stop when every comparison a claim or
    question is about (``is_claim``) is decided, or when each undecided one is futile (its
    :func:`conditional_power` below ``design.futility_power``, with its spread pooled with
    ``priors[(a, b)]`` where an earlier run gave one), or at the design's last look.
    The comparisons must be at the look's level (:meth:`SequentialDesign.look_alpha` of each
    one's own processes, as :func:`mgbench.analysis.comparisons.paired_comparisons` computes
    them for a cell run until decided), else ValueError. No look before 2
    processes; with no comparison to decide the run goes on to the last look."""
    if isinstance(processes, bool) or not isinstance(processes, int | np.integer):
        raise ValueError(f"processes must be an integer, got {processes!r}")
    if processes > design.max_processes:
        raise ValueError(
            f"{processes} paired processes run; the design stops at {design.max_processes}"
        )
    if processes < 2:
        return StopDecision(False, "", False, False)
    questions = [c for c in comparisons if c.is_claim]
    for comparison in questions:
        _check_level(design, comparison)
    look = f"after {processes} processes (look {processes - 1} of {design.looks})"
    undecided = [
        c for c in questions if c.verdict is None or c.verdict.outcome is Outcome.INCONCLUSIVE
    ]
    if questions and not undecided:
        return StopDecision(True, f"decided {look}", True, False)
    last = processes == design.max_processes
    if design.futility_power > 0 and undecided and not last:
        priors = priors or {}
        found = [priors.get((c.a, c.b)) for c in undecided]
        powers = [
            _comparison_power(design, c, min_effect_pct, prior)
            for c, prior in zip(undecided, found, strict=True)
        ]
        thresholds = [futility_threshold(design, prior) for prior in found]
        rows = list(zip(undecided, powers, thresholds, found, strict=True))
        if all(p is not None and p < threshold for _, p, threshold, _ in rows):
            detail = "; ".join(
                f"{c.label} would decide by {design.max_processes} processes with "
                f"{p:.0%} conditional power (< {threshold:.0%}"
                + (")" if prior is None else f", spread pooled with {prior.source})")
                for c, p, threshold, prior in rows
            )
            return StopDecision(True, f"futile {look}: {detail}", False, True)
        judged = [(c, p, threshold) for c, p, threshold, _ in rows if p is not None]
        if judged:
            powers_seen = ", ".join(f"{c.a} vs {c.b} {p:.0%}" for c, p, _ in judged)
            under = "/".join(sorted({f"{threshold:.0%}" for _, _, threshold in judged}))
            return StopDecision(
                False,
                f"conditional power {powers_seen} (futile when each undecided one is under "
                f"{under})",
                False,
                False,
            )
    if last:
        left = f"{len(undecided)} undecided" if questions else "no comparison to decide"
        return StopDecision(True, f"the most processes, {processes}, reached: {left}", False, False)
    return StopDecision(False, "", False, False)


# -- a p-value for Holm -------------------------------------------------------------------------


def decision_statistics(
    process_means_log: np.ndarray,
    outcome: Outcome,
    range_pct: tuple[float, float] | None,
    min_effect_pct: float,
) -> np.ndarray:
    """For the looks after 2, 3, ..., P of the given process means (in the order they ran): how
    many standard errors the look's interval had to spare for ``outcome``, i.e. the largest
    critical value at which the look would have reached it (the smaller of two edges' t for a
    range's inside or +-the minimum effect; -inf where it cannot, e.g. faster with an estimate
    under the minimum effect)."""
    means = np.asarray(process_means_log, float)
    count = np.arange(2, means.size + 1)
    centre = np.cumsum(means)[1:] / count
    squares = np.array([means[:k].var(ddof=1) for k in count])
    standard_error = np.sqrt(squares / count)

    def t(value: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(standard_error > 0, value / standard_error, -np.inf)

    if range_pct is not None:
        low, high = (paired.log_from_pct(x) for x in range_pct)
        by_outcome = {
            Outcome.SUPPORTS: np.minimum(t(centre - low), t(high - centre)),
            Outcome.SMALLER: t(low - centre),
            Outcome.LARGER: t(centre - high),
        }
        by_outcome[Outcome.INSIDE_RANGE] = by_outcome[Outcome.SUPPORTS]
    else:
        minus, plus = paired.log_from_pct(-min_effect_pct), paired.log_from_pct(min_effect_pct)
        size_pct = np.expm1(centre) * 100
        by_outcome = {
            Outcome.NO_DIFFERENCE: np.minimum(t(centre - minus), t(plus - centre)),
            Outcome.FASTER: np.where(size_pct >= min_effect_pct, t(centre), -np.inf),
            Outcome.SLOWER: np.where(-size_pct >= min_effect_pct, t(-centre), -np.inf),
        }
    if outcome not in by_outcome:
        return np.full(count.size, -np.inf)
    return np.asarray(by_outcome[outcome], float)


def _alpha_reaching(design: SequentialDesign, processes: int, statistic: float) -> float:
    """The smallest alpha whose design (same K and spending) has ``c_k(alpha) < statistic`` at
    the look after ``processes`` processes; 1 when even alpha 0.5 does not."""
    if not statistic > 0:
        return 1.0
    values = _truncated_critical_function(design.max_processes, design.spending, processes)
    high, low = math.log(0.5), math.log(P_VALUE_FLOOR)
    if values(high) >= statistic:
        return 1.0
    if values(low) < statistic:
        return P_VALUE_FLOOR
    root = optimize.brentq(lambda a: values(a) - statistic, low, high, xtol=1e-8)
    return math.exp(root)


@functools.lru_cache(maxsize=64)
def _truncated_critical_function(
    max_processes: int, spending: str, processes: int
) -> Callable[[float], float]:
    """log alpha -> c at the look after ``processes`` of the design of ``max_processes``."""
    index = processes - 2
    pivot = pivotal_abs_t(max_processes)[:, : index + 1]
    fractions = [k / max_processes for k in range(2, processes + 1)]
    spend = SPENDING_FUNCTIONS[spending]

    def critical(log_alpha: float) -> float:
        alpha = math.exp(log_alpha)
        spent = [spend(t, alpha) for t in fractions]
        first = float(sps.t.isf(spent[0] / 2, 1))
        if index == 0:
            return first
        return float(critical_values_from_sample(pivot, spent, first)[index])

    return critical


def sequential_p_value(
    design: SequentialDesign,
    estimate: paired.PairedEstimate,
    verdict: Verdict,
    range_pct: tuple[float, float] | None,
    min_effect_pct: float,
) -> float:
    """The p-value of ``verdict`` under the design, for Holm across rows (see the module's
    text): the smallest alpha at which the design spending that alpha would have reached the
    verdict at one of the looks after 2, 3, ..., ``estimate.processes`` processes (the process
    means in the order they ran), floored at :data:`P_VALUE_FLOOR`. Below ``design.alpha``
    exactly when one of those looks reached it at the design's own critical values; 1 for an
    inconclusive verdict or one process."""
    if verdict.outcome is Outcome.INCONCLUSIVE or estimate.processes < 2:
        return 1.0
    if estimate.processes > design.max_processes:
        raise ValueError(
            f"{estimate.processes} paired processes, more than the design's {design.max_processes}"
        )
    statistics = decision_statistics(
        _process_means_log(estimate), verdict.outcome, range_pct, min_effect_pct
    )
    looks = range(2, estimate.processes + 1)
    # A look's alpha is at least the fixed design's p-value there (the look spends less than
    # alpha): try the looks from the smallest of those and skip what cannot beat the best.
    bounds = [float(2 * sps.t.sf(s, k - 1)) for k, s in zip(looks, statistics, strict=True)]
    p = 1.0
    for index in np.argsort(bounds, kind="stable"):
        if bounds[index] >= p:
            break
        p = min(p, _alpha_reaching(design, looks[index], float(statistics[index])))
    # Root-finding leaves p within a hair of alpha when a look sat on its critical value: say
    # exactly what the design said at its own alpha.
    reached = any(s > design.critical_value(k) for k, s in zip(looks, statistics, strict=True))
    if reached:
        return min(p, math.nextafter(design.alpha, 0))
    return max(p, design.alpha)


__all__ = [
    "CHOSEN_SPENDING",
    "FUTILITY_FROM_PROCESSES",
    "FUTILITY_FROM_PROCESSES_WITH_PRIOR",
    "FUTILITY_POWER",
    "FUTILITY_POWER_WITH_PRIOR",
    "SPENDING_FUNCTIONS",
    "PriorSpread",
    "SequentialDesign",
    "StopDecision",
    "conditional_power",
    "deciding_regions_log",
    "decision_statistics",
    "futility_from",
    "futility_threshold",
    "pooled_spread",
    "sequential_p_value",
    "stop_decision",
]

"""The paired in-process comparison: estimate, interval, and what would decide a verdict.

A paired process builds both strategies over one template and alternates timed blocks of steps,
A B, B A, A B, ... (``mgbench.trackers.paired.block_order``: consecutive rounds form ABBA, so a
linear drift cancels); a process of more strategies runs a block of each a round, and gives each
pair of them as A and B. Each round gives
one number, ``log(median step of B / median step of A)``: positive when A is faster. Rounds within
a process share that process's quirks (its memory layout, its core), so processes are the groups
of a random-effects model:

    y[p, r] = mu + u[p] + e[p, r],   u ~ N(0, tau^2),  e ~ (0, sigma_p^2)

Each process gives one number, the 20% trimmed mean of its rounds (robust to the heavy-tailed
rounds and step-time regimes real runs show), and the interval is Student's t over those process
means with ``processes - 1`` degrees of freedom. That choice is measured, not assumed:
``benchmarks/coverage.py`` simulated every pairing of a per-process aggregate (mean, trimmed
mean) with an across-process interval (DerSimonian-Laird with Satterthwaite's df, which this
module used before and which covered as little as 0.81 once processes disagreed; Hartung-Knapp-
Sidik-Jonkman; the t over process means) over 1-10 processes, 8-20 rounds, tau 0-3% and four
noise shapes, and kept the narrowest candidate that covers >= 0.94 wherever there are >= 2
processes (``results/coverage/coverage.md``). The implementations live in
:mod:`mgbench.analysis.pooling`, which the study calls too. The interval reads only how far the
process means scatter, so the rounds' noise and the processes' disagreement enter together, and a
process whose rounds happened to be identical cannot narrow it by claiming an exact mean.
``tau^2`` is still estimated (DerSimonian-Laird, truncated at 0) and reported.

With one process ``tau^2`` cannot be seen: the interval is the t-interval over its rounds, and
:func:`range_verdict` and :func:`change_verdict` read it as *inconclusive*, saying so (in the
study one process's 95% interval covered 0.24-0.76 at tau 3%, 0.59-0.92 at tau 1%). Log
ratios that are NaN or infinite are refused.

An interval that straddles a deciding edge says what would decide it (:func:`samples_to_clear`):
the rounds per process, or the paired processes, after which the interval would clear the edge
with 80% power were the true effect the estimate, from the model's own variance of the pooled
centre, ``(sigma^2 / R + tau^2) / P`` on ``P - 1`` df. Rounds shrink only ``sigma^2 / R``; when
``tau^2`` alone is too large, it says that no number of rounds can decide.

Pure functions over numbers: no I/O, no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

from mgbench.analysis import pooling
from mgbench.analysis.claim import Outcome, Verdict, placed_against_claim

# One round's number is defined beside the record's blocks (Paired.log_ratios gives them too).
from mgbench.records.record import round_log_ratio as round_log_ratio


def pct_from_log(log_ratio: float) -> float:
    """A log ratio of step times as a speed-up of A over B in percent (inf past what a double
    holds: the upper end of a sequential design's first, widest interval can be)."""
    try:
        return math.expm1(log_ratio) * 100
    except OverflowError:
        return math.inf


def log_from_pct(pct: float) -> float:
    return math.log1p(pct / 100)


ONE_PROCESS_REASON = (
    "one process: the between-process spread cannot be seen; run ≥ 2 paired processes"
)
NO_SPREAD_REASON = "the processes' means are all equal: an interval of no width says nothing"


@dataclass(frozen=True)
class PairedEstimate:
    """A's speed-up over B from paired rounds; percentages, with the model's components."""

    speedup_pct: float
    ci_pct: tuple[float, float]
    alpha: float
    processes: int
    rounds: int  # in all processes together
    per_process_pct: tuple[float, ...]
    tau2: float | None  # between-process variance of the log ratio; None with one process
    within_var: float  # pooled within-process variance of one round's log ratio (see estimate)
    df: float
    method: str

    @property
    def half_width_pct(self) -> float:
        return (self.ci_pct[1] - self.ci_pct[0]) / 2

    @property
    def tau_pct(self) -> float | None:
        """The between-process standard deviation of the log ratio, in % (about the spread of
        the processes' true speed-ups); None with one process, where it cannot be seen."""
        return None if self.tau2 is None else math.sqrt(self.tau2) * 100

    @property
    def undecidable_reason(self) -> str | None:
        """Why no verdict may be read from this interval, or None when one may: one process
        cannot see how far processes disagree, and process means that are all equal (rounds
        without any spread) give an interval of no width."""
        if self.processes < 2:
            return ONE_PROCESS_REASON
        if not self.ci_pct[1] > self.ci_pct[0]:
            return NO_SPREAD_REASON
        return None

    @property
    def between_process_share(self) -> float:
        """Of one process mean's variance, the part that comes from the process itself."""
        if not self.tau2:
            return 0.0
        per_process_mean_var = self.within_var / (self.rounds / self.processes)
        return self.tau2 / (self.tau2 + per_process_mean_var)


def estimate(per_process_log_ratios: Sequence[Sequence[float]], alpha: float) -> PairedEstimate:
    """A's speed-up over B from each process's round log ratios: each process's
    :data:`~mgbench.analysis.pooling.CHOSEN_AGGREGATE`, pooled by
    :data:`~mgbench.analysis.pooling.CHOSEN_INTERVAL` (one process: the t-interval over its
    rounds). ValueError for no rounds, a process of one round, or a log ratio that is NaN or
    infinite (a step time that was 0, negative or not a number)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    groups = [np.asarray(g, float) for g in per_process_log_ratios if len(g)]
    if not groups:
        raise ValueError("no paired rounds to estimate from")
    if any(g.size < 2 for g in groups):
        raise ValueError("every paired process needs at least 2 rounds")
    for number, group in enumerate(groups, 1):
        if not np.all(np.isfinite(group)):
            bad = ", ".join(str(v) for v in group[~np.isfinite(group)][:3])
            raise ValueError(
                f"paired process {number}'s round log ratios include {bad}: a block's median step "
                "time was 0, negative, NaN or infinite"
            )
    aggregate = pooling.AGGREGATES[pooling.CHOSEN_AGGREGATE]
    summaries = pooling.Summaries.stack([aggregate(g) for g in groups])
    if len(groups) == 1:
        pooled = pooling.one_process(summaries)
        tau2 = None
        method = f"{pooling.CHOSEN_AGGREGATE}, t-interval over its rounds (one process)"
    else:
        pooled = pooling.INTERVALS[pooling.CHOSEN_INTERVAL](summaries)
        tau2 = float(pooled.tau2)
        method = (
            f"{pooling.CHOSEN_AGGREGATE} per process, {pooling.CHOSEN_INTERVAL} "
            f"({len(groups)} processes as groups)"
        )
    centre = float(pooled.centre)
    half = float(pooled.half_width(alpha))
    # One round's variance as the aggregate sees it: n x the variance of a process's centre.
    within_var = float(
        np.sum(summaries.variance * summaries.rounds * summaries.df) / np.sum(summaries.df)
    )
    return PairedEstimate(
        speedup_pct=pct_from_log(centre),
        ci_pct=(pct_from_log(centre - half), pct_from_log(centre + half)),
        alpha=alpha,
        processes=len(groups),
        rounds=int(summaries.rounds.sum()),
        per_process_pct=tuple(pct_from_log(float(m)) for m in summaries.centre),
        tau2=tau2,
        within_var=within_var,
        df=float(pooled.df),
        method=method,
    )


def range_verdict(estimate_: PairedEstimate, range_pct: tuple[float, float]) -> Verdict:
    """The CI (not the point estimate) against the claimed range [L, U] in percent, by
    :func:`mgbench.analysis.claim.placed_against_claim`; when it straddles an edge,
    inconclusive with the rounds or paired processes that would decide, or with why no sample
    of this kind can (one process)."""
    if estimate_.undecidable_reason is not None:
        return Verdict(Outcome.INCONCLUSIVE, estimate_.undecidable_reason)
    placed = placed_against_claim(estimate_.ci_pct, range_pct)
    if placed is not None:
        return placed
    more_rounds, more_pairs = samples_to_decide(estimate_, range_pct)
    detail = more_samples_text(more_rounds, more_pairs, estimate_.alpha) or (
        "the estimate sits on the claim's edge: no sample size decides it"
    )
    return Verdict(Outcome.INCONCLUSIVE, detail, more_rounds, more_pairs)


def change_verdict(estimate_: PairedEstimate, min_effect_pct: float) -> Verdict:
    """The CI against 0 and a minimum effect, for a comparison that claims no range: faster or
    slower when the CI excludes 0 and the estimate is at least ``min_effect_pct`` away from it;
    no difference when the CI lies inside +-``min_effect_pct``; inconclusive otherwise, with
    the rounds or paired processes that would decide (or why none can: one process)."""
    if min_effect_pct < 0:
        raise ValueError(f"the minimum effect must be >= 0%, got {min_effect_pct}")
    if estimate_.undecidable_reason is not None:
        return Verdict(Outcome.INCONCLUSIVE, estimate_.undecidable_reason)
    low, high = estimate_.ci_pct
    size = abs(estimate_.speedup_pct)
    if (low > 0 or high < 0) and size >= min_effect_pct:
        return Verdict(Outcome.FASTER if low > 0 else Outcome.SLOWER)
    if -min_effect_pct < low and high < min_effect_pct:
        confidence = f"{(1 - estimate_.alpha) * 100:.4g}%"
        return Verdict(Outcome.NO_DIFFERENCE, f"{confidence} CI inside ±{min_effect_pct:g}%")
    # Within the minimum effect the CI must shrink inside it; beyond, off 0.
    edges = (
        [log_from_pct(-min_effect_pct), log_from_pct(min_effect_pct)]
        if size < min_effect_pct
        else [0.0]
    )
    more_rounds, more_pairs = samples_to_clear(estimate_, edges)
    detail = more_samples_text(more_rounds, more_pairs, estimate_.alpha) or (
        "the estimate sits on a decision edge: no sample size decides it"
    )
    return Verdict(Outcome.INCONCLUSIVE, detail, more_rounds, more_pairs)


def samples_to_decide(
    estimate_: PairedEstimate, range_pct: tuple[float, float]
) -> tuple[int | None, int | None]:
    """(more rounds per process, more paired processes) after which the CI would clear the
    claim's nearest edge with :data:`POWER`, by :func:`samples_to_clear`."""
    return samples_to_clear(estimate_, [log_from_pct(range_pct[0]), log_from_pct(range_pct[1])])


# -- what would decide: power from the model --------------------------------------------------

POWER = 0.8  # the chance the advised sample decides, were the true effect the estimate
MAX_MORE_PAIRS = 100  # past this, a count says only "more than": the model's guesses run out
MAX_MORE_ROUNDS = 1000  # per process; likewise


def clear_probability(
    distance: float | np.ndarray,
    process_centre_var: float | np.ndarray,
    processes: int | np.ndarray,
    alpha: float,
) -> np.ndarray:
    """The chance that the t-interval over ``processes`` process centres (``k - 1`` df) lies
    wholly on the estimate's side of an edge ``distance`` (log ratio) away from the true effect,
    when one process's centre varies by ``process_centre_var`` (``sigma^2 / R + tau^2``). Its
    t statistic is noncentral t with ``k - 1`` df and noncentrality ``distance / sqrt(var / k)``
    (exact under normal process centres); the far tail, where the interval would clear the edge
    on the wrong side, is left out (it is below ``alpha / 2``)."""
    k = np.asarray(processes, float)
    df = k - 1
    ncp = np.abs(distance) / np.sqrt(np.asarray(process_centre_var, float) / k)
    return np.asarray(sps.nct.sf(sps.t.ppf(1 - alpha / 2, df), df, ncp))


def _noncentrality_for_power(processes: int, alpha: float) -> float:
    """The noncentrality at which :func:`clear_probability` reaches :data:`POWER`."""
    df = processes - 1
    critical = float(sps.t.ppf(1 - alpha / 2, df))
    if not math.isfinite(critical):
        return math.inf  # an alpha below what a double can hold: nothing decides
    if critical > 1000:
        # A sequential design's first look (1 or 2 df, a level far below 0.05): the normal part
        # of T = (Z + ncp) / sqrt(chi2_df / df) no longer matters, T ~ ncp / sqrt(chi2_df / df)
        # (within 1e-6 of the exact root at a critical value of 3000), where scipy's noncentral
        # t stops converging.
        return critical * math.sqrt(float(sps.chi2.ppf(POWER, df)) / df)

    def shortfall(ncp: float) -> float:
        return float(sps.nct.sf(critical, df, ncp)) - POWER

    # With few df and a small alpha the power is reached only at a noncentrality well past the
    # critical value: widen the bracket until it holds the root.
    high = critical + 100
    while shortfall(high) < 0:
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high))


def samples_to_clear(
    estimate_: PairedEstimate, edges_log: Sequence[float]
) -> tuple[int | None, int | None]:
    """``(more rounds per process, more paired processes)``: each on its own, the addition after
    which the CI would clear the nearest of ``edges_log`` (log ratios) with probability
    :data:`POWER` at the estimate's alpha, were the true effect the estimate and the variances
    the observed ones (``within_var`` a round, ``tau2`` between processes).

    With P processes of R rounds one process's centre varies by ``sigma^2 / R + tau^2`` and the
    interval is a t over P centres on ``P - 1`` df, so the chance is a noncentral t's
    (:func:`clear_probability`, exact rather than the ``t(1 - alpha/2) + t(power)``
    approximation). Rounds shrink only ``sigma^2 / R``: when ``tau^2`` alone keeps the power
    below :data:`POWER` at the current P, no number of rounds decides and the first element is
    None. Processes (at the current rounds per process) shrink both and lower the t quantile.
    Counts past :data:`MAX_MORE_ROUNDS` / :data:`MAX_MORE_PAIRS` come back as that cap + 1
    ("more than"). One process: ``tau^2`` is unseen, so no rounds, and the processes are counted
    as if ``tau^2`` were 0 (a lower bound; at least one more). (None, None) when the estimate
    sits on an edge."""
    centre = log_from_pct(estimate_.speedup_pct)
    distance = min(abs(centre - edge) for edge in edges_log)
    if distance == 0:
        return None, None
    processes = estimate_.processes
    rounds_per_process = estimate_.rounds / processes
    sigma2 = estimate_.within_var
    tau2 = estimate_.tau2 or 0.0
    more_rounds: int | None = None
    if processes >= 2:
        # sigma^2 / R' + tau^2 <= P d^2 / ncp^2, the variance at which the power is reached.
        room = processes * distance**2 / _noncentrality_for_power(processes, estimate_.alpha) ** 2
        room -= tau2
        if room > 0:
            needed = math.ceil(sigma2 / room) if sigma2 > 0 else 0
            more_rounds = min(max(1, needed - math.floor(rounds_per_process)), MAX_MORE_ROUNDS + 1)
    candidates = processes + np.arange(1, MAX_MORE_PAIRS + 1)
    chance = clear_probability(
        distance, sigma2 / rounds_per_process + tau2, candidates, estimate_.alpha
    )
    enough = np.flatnonzero(chance >= POWER)
    more_pairs = int(enough[0]) + 1 if enough.size else MAX_MORE_PAIRS + 1
    return more_rounds, more_pairs


def _count(more: int, cap: int, noun: str) -> str:
    return f"more than {cap} more {noun}" if more > cap else f"about {more} more {noun}"


def more_samples_text(more_rounds: int | None, more_pairs: int | None, alpha: float) -> str:
    """What :func:`samples_to_clear` found, in words: ``about N more rounds per process or
    about M more paired processes would decide with 80% power at alpha A``; ``no number of rounds
    can decide; about M more paired processes would ...`` when rounds cannot; capped counts read
    ``more than``; empty when nothing would."""
    at_alpha = f"would decide with {POWER:.0%} power at alpha {alpha:g}"
    if more_pairs is None:
        if more_rounds is None:
            return ""
        return f"{_count(more_rounds, MAX_MORE_ROUNDS, 'rounds per process')} {at_alpha}"
    pairs = _count(more_pairs, MAX_MORE_PAIRS, "paired processes")
    if more_rounds is None:
        return f"no number of rounds can decide; {pairs} {at_alpha}"
    return f"{_count(more_rounds, MAX_MORE_ROUNDS, 'rounds per process')} or {pairs} {at_alpha}"

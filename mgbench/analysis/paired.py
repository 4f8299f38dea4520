"""The paired in-process comparison: estimate, interval, and what would decide a verdict.

A paired process builds both strategies over one template and alternates timed blocks of steps,
A B, B A, A B, ... (``mgbench.trackers.paired.block_order``: consecutive rounds form ABBA, so a
linear drift cancels); a process of more strategies runs a block of each a round, and gives each
pair of them as A and B. Each round gives
one number, ``log(median step of B / median step of A)``: positive when A is faster. Rounds within
a process share that process's quirks (its memory layout, its core), so processes are the groups
of a random-effects model:

    y[p, r] = mu + u[p] + e[p, r],   u ~ N(0, tau^2),  e ~ N(0, sigma_p^2)

``mu`` is estimated as in a DerSimonian-Laird random-effects meta-analysis: each process gives its
mean and that mean's variance ``s_p^2 / n_p``; ``tau^2`` is estimated from how far the process
means scatter beyond what their own variances explain (truncated at 0); processes are weighted by
``1 / (s_p^2 / n_p + tau^2)``. The quantile is Student's t with Satterthwaite's degrees of
freedom for ``tau^2 + s^2/n``: when processes agree (``tau^2 = 0``) the interval is the pooled
t-interval over all rounds; as they disagree it widens twice over, through ``tau^2`` and through
degrees of freedom that fall toward ``processes - 1`` (with 3 processes, t = 4.3): a few
processes that disagree cannot give a narrow interval. With one process ``tau^2`` cannot be seen:
the interval is the t-interval over its rounds and the estimate says so.

Pure functions over numbers: no I/O, no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from mgbench.analysis.claim import Outcome, Verdict, placed_against_claim

# One round's number is defined beside the record's blocks (Paired.log_ratios gives them too).
from mgbench.records.record import round_log_ratio as round_log_ratio


def pct_from_log(log_ratio: float) -> float:
    """A log ratio of step times as a speed-up of A over B in percent."""
    return math.expm1(log_ratio) * 100


def log_from_pct(pct: float) -> float:
    return math.log1p(pct / 100)


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
    within_var: float  # pooled within-process variance of one round's log ratio
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
    def between_process_share(self) -> float:
        """Of one process mean's variance, the part that comes from the process itself."""
        if not self.tau2:
            return 0.0
        per_process_mean_var = self.within_var / (self.rounds / self.processes)
        return self.tau2 / (self.tau2 + per_process_mean_var)


def estimate(per_process_log_ratios: Sequence[Sequence[float]], alpha: float) -> PairedEstimate:
    """Random-effects estimate of A's speed-up over B from each process's round log ratios."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    groups = [np.asarray(g, float) for g in per_process_log_ratios if len(g)]
    if not groups:
        raise ValueError("no paired rounds to estimate from")
    if any(g.size < 2 for g in groups):
        raise ValueError("every paired process needs at least 2 rounds")
    sizes = np.array([g.size for g in groups], float)
    means = np.array([g.mean() for g in groups])
    variances = np.array([g.var(ddof=1) for g in groups])
    df: float = int(np.sum(sizes - 1))
    within_var = float(np.sum(variances * (sizes - 1)) / df)
    # A process whose rounds happened to be identical still has the pooled noise.
    mean_vars = np.maximum(variances, within_var * 1e-6) / sizes
    if len(groups) == 1:
        mu, var_mu, tau2, method = means[0], mean_vars[0], None, "t-interval over rounds"
    else:
        weights = 1 / mean_vars
        fixed = float(np.sum(weights * means) / np.sum(weights))
        q = float(np.sum(weights * (means - fixed) ** 2))
        scale = float(np.sum(weights) - np.sum(weights**2) / np.sum(weights))
        tau2 = max(0.0, (q - (len(groups) - 1)) / scale) if scale > 0 else 0.0
        random_weights = 1 / (mean_vars + tau2)
        mu = float(np.sum(random_weights * means) / np.sum(random_weights))
        var_mu = float(1 / np.sum(random_weights))
        method = "random effects (DerSimonian-Laird), processes as groups"
        df = _satterthwaite_df(tau2, float(mean_vars.mean()), len(groups), df)
    half = float(sps.t.ppf(1 - alpha / 2, df)) * math.sqrt(var_mu)
    return PairedEstimate(
        speedup_pct=pct_from_log(float(mu)),
        ci_pct=(pct_from_log(float(mu) - half), pct_from_log(float(mu) + half)),
        alpha=alpha,
        processes=len(groups),
        rounds=int(sizes.sum()),
        per_process_pct=tuple(pct_from_log(float(m)) for m in means),
        tau2=tau2,
        within_var=within_var,
        df=df,
        method=method,
    )


def _satterthwaite_df(tau2: float, mean_var: float, processes: int, within_df: float) -> float:
    """Degrees of freedom of ``tau^2 + mean_var``: the pooled within-process df when processes
    agree, falling smoothly toward ``processes - 1`` as the between-process part dominates."""
    total = tau2 + mean_var
    return total**2 / (tau2**2 / (processes - 1) + mean_var**2 / within_df)


def range_verdict(estimate_: PairedEstimate, range_pct: tuple[float, float]) -> Verdict:
    """The CI (not the point estimate) against the claimed range [L, U] in percent, by
    :func:`mgbench.analysis.claim.placed_against_claim`; when it straddles an edge,
    inconclusive with the rounds or paired processes that would decide."""
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
    the rounds or paired processes that would decide."""
    if min_effect_pct < 0:
        raise ValueError(f"the minimum effect must be >= 0%, got {min_effect_pct}")
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
    """(more rounds, more pairs) that would shrink the CI off every edge of the claim, if the
    estimate and the variances stay as observed; rounds when the noise is within processes,
    pairs when the processes themselves disagree (more rounds cannot shrink that part)."""
    return samples_to_clear(estimate_, [log_from_pct(range_pct[0]), log_from_pct(range_pct[1])])


def samples_to_clear(
    estimate_: PairedEstimate, edges_log: Sequence[float]
) -> tuple[int | None, int | None]:
    """(more rounds, more pairs) after which the CI would clear the nearest of ``edges_log`` (log
    ratios), as in :func:`samples_to_decide`; (None, None) when the estimate sits on an edge."""
    centre = log_from_pct(estimate_.speedup_pct)
    needed_half = min(abs(centre - edge) for edge in edges_log)
    if needed_half == 0:
        return None, None
    current_half = (log_from_pct(estimate_.ci_pct[1]) - log_from_pct(estimate_.ci_pct[0])) / 2
    factor = (current_half / needed_half) ** 2  # a half-width shrinks as 1/sqrt(samples)
    if estimate_.between_process_share > 0.5:
        return None, max(1, math.ceil(estimate_.processes * factor) - estimate_.processes)
    return max(1, math.ceil(estimate_.rounds * factor) - estimate_.rounds), None


def more_samples_text(more_rounds: int | None, more_pairs: int | None, alpha: float) -> str:
    """``about N more rounds would decide at alpha A`` (or pairs); empty when nothing would."""
    at_alpha = f"would decide at alpha {alpha:g}"
    if more_pairs is not None:
        return f"about {more_pairs} more paired process(es) {at_alpha}"
    if more_rounds is not None:
        return f"about {more_rounds} more rounds {at_alpha}"
    return ""

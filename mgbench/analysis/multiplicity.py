"""Several rows, one question: Holm's adjustment across the rows of one claim's table.

A report reads one claim (or question) on several rows, one per model or configuration, each
with its own 95% interval. Read together, the chance that some row's verdict is wrong grows with
the rows (six rows at 95% each: up to 26%), so the family's reading is Holm-adjusted: each row
gives the p-value of the test behind its verdict, Holm's step-down controls the family-wise error
at alpha across the rows, and a row keeps its verdict family-wise when its adjusted p-value is
below alpha. The rows' own intervals and verdicts stay marginal.

The p-value behind a verdict is the one its interval already encodes. A ``1 - alpha`` interval on
``df`` degrees of freedom lies above an edge exactly when the one-sided t test that the true
effect is at or below that edge rejects at ``alpha / 2``; doubling that one-sided p-value gives a
number that is below alpha exactly when the interval clears the edge. So:

- *supports* (CI inside [L, U]): two one-sided tests, above L and below U; p = 2 x the larger;
- *contradicts* (CI wholly below L or above U): p = 2 x the one-sided p-value of the side it is on;
- *faster* / *slower* (CI off 0): p = the two-sided t test against 0;
- *no difference* (CI inside +-m): two one-sided tests against -m and +m; p = 2 x the larger;
- *inconclusive*, one process, or no spread: 1 (no verdict to hold; an interval off 0 whose
  estimate is under the minimum effect is inconclusive too). Such a row still counts in the
  family's size: it could have decided, so leaving it out would pick the family from the data.

Each row's error is then at most alpha / 2 per direction, so Holm over these p-values holds the
family-wise error at alpha (conservatively). Holm rather than Bonferroni: it is uniformly more
powerful and needs no independence between the rows. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from mgbench.analysis import paired
from mgbench.analysis.claim import Outcome, Verdict

SUPPORTING = (Outcome.SUPPORTS, Outcome.INSIDE_RANGE, Outcome.NO_DIFFERENCE)
CONTRADICTING = (Outcome.SMALLER, Outcome.LARGER, Outcome.FASTER, Outcome.SLOWER)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order (as statsmodels'
    ``multipletests(method="holm")``): the i-th smallest of m is multiplied by ``m - i``, kept
    at least as large as the one before it, and capped at 1."""
    p = np.asarray(p_values, float)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be numbers in [0, 1], got {list(p_values)}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def _sides(estimate: paired.PairedEstimate, edge_log: float) -> tuple[float, float]:
    """(p that the true effect is at or below the edge, p that it is at or above), one-sided,
    from the t that the estimate's own interval uses."""
    centre = paired.log_from_pct(estimate.speedup_pct)
    half = (paired.log_from_pct(estimate.ci_pct[1]) - paired.log_from_pct(estimate.ci_pct[0])) / 2
    standard_error = half / float(sps.t.ppf(1 - estimate.alpha / 2, estimate.df))
    t = (centre - edge_log) / standard_error
    return float(sps.t.sf(t, estimate.df)), float(sps.t.cdf(t, estimate.df))


def verdict_p_value(
    estimate: paired.PairedEstimate,
    verdict: Verdict,
    range_pct: tuple[float, float] | None,
    min_effect_pct: float,
) -> float:
    """The p-value of the test behind ``verdict`` (see the module's list): below the estimate's
    alpha exactly when its interval decides the way the verdict says."""
    if estimate.undecidable_reason is not None or verdict.outcome is Outcome.INCONCLUSIVE:
        return 1.0
    if range_pct is not None:
        low_edge, high_edge = (paired.log_from_pct(x) for x in range_pct)
        below_low, above_low = _sides(estimate, low_edge)
        below_high, above_high = _sides(estimate, high_edge)
        inside = 2 * max(below_low, above_high)  # rejects "at or below L" and "at or above U"
        outside = 2 * min(above_low, below_high)  # rejects "at or above L", or "at or below U"
    else:
        below_zero, above_zero = _sides(estimate, 0.0)
        below_minus, _ = _sides(estimate, paired.log_from_pct(-min_effect_pct))
        _, above_plus = _sides(estimate, paired.log_from_pct(min_effect_pct))
        inside = 2 * max(below_minus, above_plus)
        outside = 2 * min(below_zero, above_zero)
    if verdict.outcome in SUPPORTING:
        return min(1.0, inside)
    if verdict.outcome in CONTRADICTING:
        return min(1.0, outside)
    return 1.0


def family_holds(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Whether each row's verdict holds family-wise: its Holm-adjusted p-value below alpha."""
    return [q < alpha for q in holm(p_values)]


def chance_some_row_misses(rows: int, alpha: float) -> float:
    """Unadjusted, for independent rows: the chance that at least one of ``rows`` intervals at
    ``1 - alpha`` misses its true value."""
    return 1 - (1 - alpha) ** rows if rows else 0.0


__all__ = [
    "chance_some_row_misses",
    "family_holds",
    "holm",
    "verdict_p_value",
]

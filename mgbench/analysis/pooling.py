"""How paired processes' rounds become one interval: per-process aggregates, then pooling.

A paired comparison has ``k`` processes of ``n_p`` rounds, each round one log ratio. The estimate
is built in two steps, and each step has candidates:

* a **per-process aggregate** (:func:`mean_summaries`, :func:`trimmed_summaries`): each process's
  centre, the variance of that centre, and that variance's degrees of freedom;
* an **across-process interval** over those summaries (:data:`INTERVALS`): DerSimonian-Laird
  with Satterthwaite's degrees of freedom, Hartung-Knapp-Sidik-Jonkman (plain and with its scale
  held >= 1), or a t-interval over the process centres with ``k - 1`` degrees of freedom.

``benchmarks/coverage.py`` simulates every pairing of the two and publishes their coverage;
:func:`mgbench.analysis.paired.estimate` uses the one it chose (:data:`CHOSEN_AGGREGATE`,
:data:`CHOSEN_INTERVAL`). Both call these functions, so the study measures the code that runs.

Every function is pure and vectorised: an aggregate reads rounds on the last axis, an interval
reads processes on the last axis, and any leading axes are independent data sets (a simulation
passes thousands at once; ``paired.estimate`` passes one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

TRIM_PROPORTION = 0.2  # cut from each end: Wilcox's default, robust at a small cost under normal


@dataclass(frozen=True)
class Summaries:
    """Each process's aggregate of its rounds; arrays of shape ``(..., processes)``."""

    centre: np.ndarray  # the process's estimate of the log ratio
    variance: np.ndarray  # that estimate's variance (its squared standard error)
    df: np.ndarray  # degrees of freedom of ``variance``
    rounds: np.ndarray  # rounds the process ran

    @property
    def processes(self) -> int:
        return int(self.centre.shape[-1])

    @classmethod
    def stack(cls, parts: list[Summaries]) -> Summaries:
        """One summary per process (scalar arrays) stacked along a new last axis."""
        return cls(
            *(
                np.stack([np.asarray(getattr(p, name), float) for p in parts], axis=-1)
                for name in ("centre", "variance", "df", "rounds")
            )
        )


@dataclass(frozen=True)
class Pooled:
    """One interval per data set: ``centre +- t(1 - alpha/2, df) x standard_error``."""

    centre: np.ndarray
    standard_error: np.ndarray
    df: np.ndarray
    tau2: np.ndarray  # the DerSimonian-Laird between-process variance (0 for one process)

    def half_width(self, alpha: float) -> np.ndarray:
        return sps.t.ppf(1 - alpha / 2, self.df) * self.standard_error


# -- per-process aggregates -----------------------------------------------------------------------


def mean_summaries(rounds: np.ndarray) -> Summaries:
    """The mean of each process's rounds (last axis), with ``s^2 / n`` on ``n - 1`` df."""
    rounds = np.asarray(rounds, float)
    n = rounds.shape[-1]
    shape = rounds.shape[:-1]
    return Summaries(
        centre=rounds.mean(axis=-1),
        variance=rounds.var(axis=-1, ddof=1) / n,
        df=np.full(shape, n - 1.0),
        rounds=np.full(shape, float(n)),
    )


def trimmed_summaries(rounds: np.ndarray, proportion: float = TRIM_PROPORTION) -> Summaries:
    """The trimmed mean of each process's rounds (``scipy.stats.trim_mean``: ``g = int(proportion
    x n)`` cut from each end) with its Tukey-McLaughlin variance in Yuen's finite-sample form,
    ``(n - 1) s_w^2 / (h (h - 1))`` on ``h - 1`` df, where ``s_w^2`` is the g-times winsorized
    variance and ``h = n - 2g`` the rounds kept (as ``scipy.stats.ttest_ind(trim=...)``)."""
    rounds = np.asarray(rounds, float)
    n = rounds.shape[-1]
    g = int(proportion * n)
    kept = n - 2 * g
    if kept < 2:
        raise ValueError(f"a {proportion:.0%} trimmed mean of {n} rounds keeps fewer than 2")
    # scipy's winsorized variance lives on masked arrays (mstats), one slow pass per data set;
    # clipping each sorted row at its g-th values from either end is the same and vectorised.
    ordered = np.sort(rounds, axis=-1)
    winsorized = np.clip(ordered, ordered[..., g : g + 1], ordered[..., n - g - 1 : n - g])
    shape = rounds.shape[:-1]
    return Summaries(
        centre=sps.trim_mean(rounds, proportion, axis=-1),
        variance=(n - 1) * winsorized.var(axis=-1, ddof=1) / (kept * (kept - 1)),
        df=np.full(shape, kept - 1.0),
        rounds=np.full(shape, float(n)),
    )


AGGREGATES: dict[str, Callable[[np.ndarray], Summaries]] = {
    "mean": mean_summaries,
    "20% trimmed mean": trimmed_summaries,
}


# -- across-process intervals ---------------------------------------------------------------------


def floored_variance(summaries: Summaries) -> np.ndarray:
    """Each process's variance, held at least at a small share of the pooled one: a process
    whose rounds happened to be identical would otherwise get an infinite weight."""
    per_round = summaries.variance * summaries.rounds
    pooled_per_round = np.sum(per_round * summaries.df, axis=-1) / np.sum(summaries.df, axis=-1)
    return np.maximum(summaries.variance, 1e-6 * pooled_per_round[..., None] / summaries.rounds)


def dersimonian_laird_tau2(centre: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """The DerSimonian-Laird moment estimate of the between-process variance, truncated at 0."""
    k = centre.shape[-1]
    # Rounds without any spread in every process leave no variance to weight by: 0 there.
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = 1 / variance
        total = weights.sum(axis=-1)
        fixed = np.sum(weights * centre, axis=-1) / total
        q = np.sum(weights * (centre - fixed[..., None]) ** 2, axis=-1)
        scale = total - np.sum(weights**2, axis=-1) / total
        tau2 = np.where(scale > 0, (q - (k - 1)) / scale, 0.0)
    return np.where(np.isfinite(tau2), np.maximum(tau2, 0.0), 0.0)


def _random_effects_mean(
    centre: np.ndarray, variance: np.ndarray, tau2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(weighted mean, its weights) with weights ``1 / (variance + tau^2)``."""
    weights = 1 / (variance + tau2[..., None])
    return np.sum(weights * centre, axis=-1) / weights.sum(axis=-1), weights


def dersimonian_laird(summaries: Summaries) -> Pooled:
    """DerSimonian-Laird random effects, standard error ``1 / sqrt(sum w)``, with Satterthwaite's
    df for ``tau^2 + mean variance``: the pooled within-process df when processes agree, falling
    toward ``k - 1`` as ``tau^2`` dominates (mgbench's interval before the coverage study)."""
    _need_processes(summaries, 2)
    variance = floored_variance(summaries)
    tau2 = dersimonian_laird_tau2(summaries.centre, variance)
    centre, weights = _random_effects_mean(summaries.centre, variance, tau2)
    k = summaries.processes
    mean_var = variance.mean(axis=-1)
    within_df = summaries.df.sum(axis=-1)
    df = (tau2 + mean_var) ** 2 / (tau2**2 / (k - 1) + mean_var**2 / within_df)
    return Pooled(centre, np.sqrt(1 / weights.sum(axis=-1)), df, tau2)


def hartung_knapp(summaries: Summaries, scale_at_least_one: bool = False) -> Pooled:
    """Hartung-Knapp-Sidik-Jonkman: the DerSimonian-Laird weights and mean, the variance
    ``sum w (y - mu)^2 / ((k - 1) sum w)`` on ``k - 1`` df (statsmodels' ``combine_effects``
    calls it the random-effects WLS interval). ``scale_at_least_one`` keeps it no narrower than
    the DerSimonian-Laird standard error (Knapp and Hartung's modification)."""
    _need_processes(summaries, 2)
    variance = floored_variance(summaries)
    tau2 = dersimonian_laird_tau2(summaries.centre, variance)
    centre, weights = _random_effects_mean(summaries.centre, variance, tau2)
    k = summaries.processes
    scale = np.sum(weights * (summaries.centre - centre[..., None]) ** 2, axis=-1) / (k - 1)
    if scale_at_least_one:
        scale = np.maximum(scale, 1.0)
    standard_error = np.sqrt(scale / weights.sum(axis=-1))
    return Pooled(centre, standard_error, np.full(centre.shape, k - 1.0), tau2)


def hartung_knapp_at_least_one(summaries: Summaries) -> Pooled:
    return hartung_knapp(summaries, scale_at_least_one=True)


def t_over_processes(summaries: Summaries) -> Pooled:
    """The t-interval over the process centres: their plain mean, ``sd / sqrt(k)`` on ``k - 1``
    df. It reads only how far the centres scatter, so the rounds' noise and ``tau^2`` enter
    together and no process's own variance can weight it; ``tau2`` is reported alongside."""
    _need_processes(summaries, 2)
    k = summaries.processes
    tau2 = dersimonian_laird_tau2(summaries.centre, floored_variance(summaries))
    standard_error = summaries.centre.std(axis=-1, ddof=1) / np.sqrt(k)
    return Pooled(
        summaries.centre.mean(axis=-1), standard_error, np.full(tau2.shape, k - 1.0), tau2
    )


def one_process(summaries: Summaries) -> Pooled:
    """One process: the t-interval over its rounds; the between-process variance is unseen."""
    if summaries.processes != 1:
        raise ValueError(f"one_process pools exactly one process, got {summaries.processes}")
    centre = summaries.centre[..., 0]
    return Pooled(
        centre, np.sqrt(summaries.variance[..., 0]), summaries.df[..., 0], np.zeros(centre.shape)
    )


def _need_processes(summaries: Summaries, fewest: int) -> None:
    if summaries.processes < fewest:
        raise ValueError(f"pooling across processes needs >= {fewest}, got {summaries.processes}")


INTERVALS: dict[str, Callable[[Summaries], Pooled]] = {
    "DL + Satterthwaite": dersimonian_laird,
    "HKSJ": hartung_knapp,
    "HKSJ, scale >= 1": hartung_knapp_at_least_one,
    "t over processes": t_over_processes,
}

# What benchmarks/coverage.py chose (results/coverage/coverage.md): see its choice rule.
CHOSEN_AGGREGATE = "20% trimmed mean"
CHOSEN_INTERVAL = "t over processes"


def aggregate_df(rounds: int, aggregate: str = CHOSEN_AGGREGATE) -> float:
    """The degrees of freedom ``aggregate`` gives one process of ``rounds`` rounds."""
    return float(AGGREGATES[aggregate](np.zeros(rounds)).df)

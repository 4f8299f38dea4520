"""The sequential design's error rate and cost: wrong verdicts, verdicts reached, processes used.

Simulates paired comparisons with a known true speed-up under the random-effects model of
``mgbench.analysis.paired``,

    y[p, r] = mu + u[p] + e[p, r],   u ~ N(0, tau^2),   e = sigma x (normal or t3 noise of sd 1),

and runs each sequence of up to ``K`` paired processes through the sequential designs of
``mgbench.analysis.sequential`` (a look after each process from the second on, stopping when the
verdict is decided or futile, as ``stop_decision`` does) and through the fixed design (one look
after ``K`` processes at alpha). True effects 0, 4, 8, 13% against the claimed range 5-12%, and
0, +3, -3% for a question without a range (minimum effect ``claim.DEFAULT_MIN_EFFECT_PCT``);
sigma 3% and 7% a round, tau 0, 1 and 2.8%, 8 rounds a process, K = 6 and 3.

A verdict is **wrong** when what it says about the true effect is false: *supports* when the
range does not hold it, *smaller* / *larger* when it is not below / above the range, *faster* /
*slower* against its sign (or at 0), *no difference* when it is at least the minimum effect.
The design promises P(wrong verdict) <= alpha (over all sequences: decided or not); the table
gives that rate with its Monte Carlo standard error at alpha, ``sqrt(alpha (1 - alpha) / n)``,
and requires it <= alpha + 2 SE in every case. The rate among decided sequences is shown too.

Vectorised: each process's 20% trimmed mean is computed once per (noise, K) draw and shifted and
scaled for each case (the trimmed mean is location-scale equivariant), and every look's interval
and verdict are array operations; :func:`validate` checks them against ``paired.estimate``,
``range_verdict`` and ``change_verdict`` on the real code path to 1e-9 before the study runs.

**Choice of the spending function**: both keep the error rate, so the choice is by what the run
gets: the one reaching verdicts most often (mean over cases of the fraction decided), unless the
other is within :data:`DECIDED_MARGIN` of it and uses fewer processes on average, then that one.

**Futility with a prior** (``sequential.PriorSpread``): each sequence also gets an independent
earlier run of P0 processes of the same case (:func:`draw_prior`, its own rng stream), whose
process means' variance times a factor f (a quieter or noisier day) is pooled into futility's
spread; the variants at thresholds 5 and 10% judged from 2 and 3 processes at P0 = 3, f = 1
choose ``FUTILITY_POWER_WITH_PRIOR`` and ``FUTILITY_FROM_PROCESSES_WITH_PRIOR`` by the futility
rule (:func:`prior_summary`). A separate
table runs the designs on the noise measured on this CPU for the main job (:func:`cpu_cases`).

Seeded: every (noise, K) draw comes from ``numpy.random.default_rng([SEED, noise, K])``, its
earlier runs from ``default_rng([SEED, noise, K, 1, P0])``.

    python benchmarks/sequential.py [--sequences 10000] [--seed 23] [--output results/sequential]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as sps

from mgbench.analysis import paired, sequential
from mgbench.analysis.claim import DEFAULT_ALPHA, DEFAULT_MIN_EFFECT_PCT, Outcome

RANGE_PCT = (5.0, 12.0)
RANGE_EFFECTS_PCT = (0.0, 4.0, 8.0, 13.0)
QUESTION_EFFECTS_PCT = (0.0, 3.0, -3.0)
SIGMAS = (0.03, 0.07)
TAUS = (0.0, 0.01, 0.028)
SHAPES = ("normal", "t3")
ROUNDS = 8
MAX_PROCESSES = (6, 3)
ALPHA = DEFAULT_ALPHA
MIN_EFFECT_PCT = DEFAULT_MIN_EFFECT_PCT
SEED = sequential.SEED
DECIDED_MARGIN = 0.01  # fractions decided this close count as equal; then fewer processes wins

# Verdicts as small integers in the arrays; 0 is inconclusive.
CODES = (
    Outcome.INCONCLUSIVE,
    Outcome.SUPPORTS,
    Outcome.SMALLER,
    Outcome.LARGER,
    Outcome.FASTER,
    Outcome.SLOWER,
    Outcome.NO_DIFFERENCE,
)
CODE = {outcome: index for index, outcome in enumerate(CODES)}


@dataclass(frozen=True)
class Design:
    """One way of running a comparison: a sequential design (futility below ``futility_power``
    conditional power, judged from ``futility_from`` processes on), or the fixed one."""

    name: str
    spending: str | None  # None: the fixed design, one look after K processes
    futility_power: float = sequential.FUTILITY_POWER
    futility_from: int = sequential.FUTILITY_FROM_PROCESSES
    # Futility with an earlier run's spread pooled in (sequential.PriorSpread): the earlier run's
    # processes (None: no prior) and the factor its variance is off by (a quieter or noisier day).
    prior_processes: int | None = None
    prior_factor: float = 1.0

    def sequential_design(self, max_processes: int) -> sequential.SequentialDesign:
        assert self.spending is not None
        return sequential.SequentialDesign(max_processes, ALPHA, self.spending, self.futility_power)


SPENDING_DESIGNS = {"obrien-fleming": "O'Brien-Fleming", "pocock": "Pocock"}
DESIGNS = (
    Design("fixed", None),
    *(Design(name, spending) for spending, name in SPENDING_DESIGNS.items()),
    *(Design(f"{name}, no futility", spending, 0.0) for spending, name in SPENDING_DESIGNS.items()),
)
# Futility's threshold and first look, against the same spending without futility.
FUTILITY_POWERS = (0.05, 0.10, 0.20)
FUTILITY_FROMS = (3, 4)
FUTILITY_LOSS_LIMIT = 0.01  # mean decided verdicts futility may cost, over the K = 6 cases
FUTILITY_WORST_LOSS_LIMIT = 0.05  # and in any one case


def futility_name(spending_name: str, power: float, first: int) -> str:
    return f"{spending_name}, futility < {power:.0%} from {first}"


FUTILITY_VARIANTS = tuple(
    Design(futility_name(name, power, first), spending, power, first)
    for spending, name in SPENDING_DESIGNS.items()
    for power in FUTILITY_POWERS
    for first in FUTILITY_FROMS
)

# Futility with a prior (sequential.PriorSpread): the spread of an independent earlier run of
# PRIOR_PROCESSES processes of the same case, its variance times PRIOR_FACTORS (the earlier run on
# a quieter or noisier day), pooled by df; thresholds PRIOR_POWERS judged from PRIOR_FUTILITY_FROMS
# processes, all candidates for (FUTILITY_POWER_WITH_PRIOR, FUTILITY_FROM_PROCESSES_WITH_PRIOR),
# for the chosen spending only.
PRIOR_PROCESSES = (3, 6)
PRIOR_FACTORS = (0.5, 1.0, 2.0)
PRIOR_FUTILITY_FROMS = (2, 3)
PRIOR_POWERS = (0.05, 0.10)
PRIOR_RULE_PROCESSES = 3  # the rule is judged on a correct prior of a 3-process earlier run,
PRIOR_RULE_FACTOR = 1.0  # as the CPU main job gives one
PRIOR_STREAM = 1  # the earlier runs' rng streams: default_rng([seed, noise, K, 1, P0])


def prior_first_look(first: int, prior_processes: int) -> int:
    """``sequential.futility_from`` with ``first`` for FUTILITY_FROM_PROCESSES_WITH_PRIOR."""
    return max(first, sequential.FUTILITY_FROM_PROCESSES - (prior_processes - 1))


def prior_name(first: int, prior_processes: int, factor: float, power: float) -> str:
    spending_name = SPENDING_DESIGNS[sequential.CHOSEN_SPENDING]
    return f"{futility_name(spending_name, power, first)}, prior of {prior_processes} x{factor:g}"


def prior_design(
    first: int, prior_processes: int, factor: float, power: float = sequential.FUTILITY_POWER
) -> Design:
    return Design(
        prior_name(first, prior_processes, factor, power),
        sequential.CHOSEN_SPENDING,
        power,
        prior_first_look(first, prior_processes),
        prior_processes,
        factor,
    )


PRIOR_VARIANTS = tuple(
    prior_design(first, p0, factor, power)
    for p0 in PRIOR_PROCESSES
    for factor in PRIOR_FACTORS
    for power in PRIOR_POWERS
    for first in PRIOR_FUTILITY_FROMS
)

# The noise measured on this CPU for the main job (a round's sd about 9%, tau 4%): how much
# running until decided saves there. A separate table, not in the cases above.
CPU_SIGMA = 0.09
CPU_TAU = 0.04
CPU_EFFECT_PCT = 0.0


@dataclass(frozen=True)
class Case:
    max_processes: int
    range_pct: tuple[float, float] | None
    effect_pct: float
    shape: str
    sigma: float
    tau: float

    @property
    def key(self) -> dict[str, object]:
        return {
            "max_processes": self.max_processes,
            "range_pct": list(self.range_pct) if self.range_pct else None,
            "effect_pct": self.effect_pct,
            "shape": self.shape,
            "sigma_pct": round(self.sigma * 100, 6),
            "tau_pct": round(self.tau * 100, 6),
        }

    @classmethod
    def of(cls, key: dict[str, object]) -> Case:
        rng = key["range_pct"]
        return cls(
            int(key["max_processes"]),  # type: ignore[call-overload]
            (float(rng[0]), float(rng[1])) if rng else None,  # type: ignore[index]
            float(key["effect_pct"]),  # type: ignore[arg-type]
            str(key["shape"]),
            float(key["sigma_pct"]) / 100,  # type: ignore[arg-type]
            float(key["tau_pct"]) / 100,  # type: ignore[arg-type]
        )


def cases() -> list[Case]:
    out = []
    for k in MAX_PROCESSES:
        for range_pct, effects in ((RANGE_PCT, RANGE_EFFECTS_PCT), (None, QUESTION_EFFECTS_PCT)):
            for effect in effects:
                for shape in SHAPES:
                    for sigma in SIGMAS:
                        for tau in TAUS:
                            out.append(Case(k, range_pct, effect, shape, sigma, tau))
    return out


def cpu_cases() -> list[Case]:
    """The main job's noise on this CPU, truth 0, against the range and the question at 0."""
    return [
        Case(k, range_pct, CPU_EFFECT_PCT, shape, CPU_SIGMA, CPU_TAU)
        for k in MAX_PROCESSES
        for range_pct in (RANGE_PCT, None)
        for shape in SHAPES
    ]


# -- the simulated data ---------------------------------------------------------------------------


def standard_noise(shape: str, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Round noise of sd 1: ``normal``, or ``t3`` (Student's t with 3 df over sqrt(3))."""
    if shape == "normal":
        return rng.standard_normal(size)
    if shape == "t3":
        return rng.standard_t(3, size) / math.sqrt(3)
    raise ValueError(f"unknown noise shape {shape!r}; known: {', '.join(SHAPES)}")


@dataclass(frozen=True)
class Draw:
    """One (noise, K) draw: every case of that noise and K shifts and scales it."""

    noise: np.ndarray  # (sequences, K, rounds), sd 1
    process_effect: np.ndarray  # (sequences, K), N(0, 1)
    noise_trimmed: np.ndarray  # (sequences, K): each process's 20% trimmed mean of its noise


def draw(shape: str, max_processes: int, sequences: int, seed: int) -> Draw:
    rng = np.random.default_rng([seed, SHAPES.index(shape), max_processes])
    noise = standard_noise(shape, (sequences, max_processes, ROUNDS), rng)
    process_effect = rng.standard_normal((sequences, max_processes))
    return Draw(noise, process_effect, trimmed_means(noise))


@dataclass(frozen=True)
class PriorDraw:
    """An independent earlier run of ``processes`` processes for each sequence of a (noise, K)
    draw: its process effects and noise trimmed means, which every case shifts and scales."""

    processes: int
    process_effect: np.ndarray  # (sequences, P0), N(0, 1)
    noise_trimmed: np.ndarray  # (sequences, P0)


def draw_prior(
    shape: str, max_processes: int, prior_processes: int, sequences: int, seed: int
) -> PriorDraw:
    rng = np.random.default_rng(
        [seed, SHAPES.index(shape), max_processes, PRIOR_STREAM, prior_processes]
    )
    noise = standard_noise(shape, (sequences, prior_processes, ROUNDS), rng)
    process_effect = rng.standard_normal((sequences, prior_processes))
    return PriorDraw(prior_processes, process_effect, trimmed_means(noise))


def prior_variance_log(case: Case, earlier: PriorDraw) -> np.ndarray:
    """Each sequence's earlier run's sample variance of its process means (df = P0 - 1), drawn as
    :func:`process_means` draws them (the effect cancels)."""
    means = case.tau * earlier.process_effect + case.sigma * earlier.noise_trimmed
    return np.asarray(means.var(axis=1, ddof=1))


def trimmed_means(rounds: np.ndarray) -> np.ndarray:
    """The 20% trimmed mean of the last axis (scipy's ``trim_mean``: int(0.2 n) cut a side)."""
    n = rounds.shape[-1]
    cut = int(0.2 * n)
    return np.sort(rounds, axis=-1)[..., cut : n - cut].mean(axis=-1)


def process_means(case: Case, data: Draw) -> np.ndarray:
    """Each process's trimmed mean of ``mu + tau u + sigma e``: equivariance makes it
    ``mu + tau u + sigma x trimmed mean of e`` (checked by :func:`validate`)."""
    mu = paired.log_from_pct(case.effect_pct)
    return mu + case.tau * data.process_effect + case.sigma * data.noise_trimmed


def rounds_of(case: Case, data: Draw, sequence: int, processes: int) -> list[np.ndarray]:
    """The real rounds of one sequence's first processes, for ``paired.estimate``."""
    mu = paired.log_from_pct(case.effect_pct)
    effect = data.process_effect[sequence, :processes, None]
    rows = mu + case.tau * effect + case.sigma * data.noise[sequence, :processes]
    return list(rows)


# -- the vectorised copy of the estimator and the verdicts ----------------------------------------


@dataclass(frozen=True)
class Look:
    """Every sequence's interval after ``processes`` processes (percent), its verdict and what
    futility reads."""

    centre_pct: np.ndarray
    low_pct: np.ndarray
    high_pct: np.ndarray
    verdict: np.ndarray  # CODE values


def look(
    means: np.ndarray, processes: int, critical: float, range_pct: tuple[float, float] | None
) -> Look:
    """The interval ``centre +- critical x sd / sqrt(k)`` over the first ``processes`` means
    (``paired.estimate`` at ``2 t.sf(critical, k - 1)``), read as ``range_verdict`` or
    ``change_verdict`` reads it."""
    first = means[:, :processes]
    centre = first.mean(axis=1)
    spread = first.std(axis=1, ddof=1)
    half = critical * spread / math.sqrt(processes)
    with np.errstate(over="ignore"):
        low, high = np.expm1(centre - half) * 100, np.expm1(centre + half) * 100
    centre_pct = np.expm1(centre) * 100
    verdict = np.zeros(centre.shape, int)
    width = high > low  # paired: an interval of no width says nothing
    if range_pct is not None:
        lower, upper = range_pct
        verdict[width & (high < lower)] = CODE[Outcome.SMALLER]
        verdict[width & (low > upper)] = CODE[Outcome.LARGER]
        verdict[width & (lower <= low) & (high <= upper)] = CODE[Outcome.SUPPORTS]
    else:
        m = MIN_EFFECT_PCT
        off_zero = width & ((low > 0) | (high < 0)) & (np.abs(centre_pct) >= m)
        inside = width & ~off_zero & (-m < low) & (high < m)
        verdict[off_zero & (low > 0)] = CODE[Outcome.FASTER]
        verdict[off_zero & (high < 0)] = CODE[Outcome.SLOWER]
        verdict[inside] = CODE[Outcome.NO_DIFFERENCE]
    return Look(centre_pct, low, high, verdict)


class Powers:
    """Every sequence's conditional power (``sequential.conditional_power``, the module's own)
    at a look, computed once per (spending, look, prior) and shared by the designs that judge
    futility there: it depends on a design only through its last critical value and prior."""

    def __init__(self, means: np.ndarray, case: Case, variances: dict[int, np.ndarray]):
        self.means, self.case, self.variances = means, case, variances
        self.found: dict[tuple[str, int, int | None, float], np.ndarray] = {}

    def at(self, design: Design, processes: int) -> np.ndarray:
        key = (str(design.spending), processes, design.prior_processes, design.prior_factor)
        if key not in self.found:
            k_max = self.case.max_processes
            plan = design.sequential_design(k_max)
            first = self.means[:, :processes]
            future = None
            if design.prior_processes is not None:
                if design.prior_processes not in self.variances:
                    raise ValueError(f"{design.name} needs the earlier runs' variances")
                variance = design.prior_factor * self.variances[design.prior_processes]
                future = pooled_sd(first, variance, design.prior_processes - 1)
            self.found[key] = sequential.conditional_power(
                first,
                k_max,
                plan.critical_value(k_max),
                self.case.range_pct,
                MIN_EFFECT_PCT,
                future_sd_log=future,
            )
        return self.found[key]


def pooled_sd(means: np.ndarray, prior_variance: np.ndarray, prior_df: int) -> np.ndarray:
    """Each row's sd pooled with its own prior variance by df, as ``sequential.pooled_spread``
    pools one ``PriorSpread`` (checked by :func:`validate_prior`)."""
    k = means.shape[1]
    own = means.var(axis=1, ddof=1)
    return np.sqrt((prior_df * prior_variance + (k - 1) * own) / (prior_df + k - 1))


def wrong(verdict: np.ndarray, case: Case) -> np.ndarray:
    """Whether each verdict says something false about the true effect."""
    truth = case.effect_pct
    if case.range_pct is not None:
        lower, upper = case.range_pct
        false_claims = {
            Outcome.SUPPORTS: not lower <= truth <= upper,
            Outcome.SMALLER: not truth < lower,
            Outcome.LARGER: not truth > upper,
        }
    else:
        false_claims = {
            Outcome.FASTER: not truth > 0,
            Outcome.SLOWER: not truth < 0,
            Outcome.NO_DIFFERENCE: abs(truth) >= MIN_EFFECT_PCT,
        }
    bad = [CODE[o] for o, false in false_claims.items() if false]
    return np.isin(verdict, bad)


@dataclass(frozen=True)
class Run:
    """Every sequence's verdict under one design and the processes it used."""

    verdict: np.ndarray
    processes: np.ndarray


def run_design(design: Design, means: np.ndarray, case: Case, powers: Powers) -> Run:
    """One design over every sequence of the case; futility reads ``powers``."""
    k_max = case.max_processes
    if design.spending is None:
        critical = float(sps.t.isf(ALPHA / 2, k_max - 1))
        last = look(means, k_max, critical, case.range_pct)
        return Run(last.verdict, np.full(means.shape[0], k_max))
    plan = design.sequential_design(k_max)
    verdict = np.zeros(means.shape[0], int)
    used = np.zeros(means.shape[0], int)
    active = np.ones(means.shape[0], bool)
    for k in range(2, k_max + 1):
        now = look(means, k, plan.critical_value(k), case.range_pct)
        decided = now.verdict != 0
        judged = design.futility_power > 0 and design.futility_from <= k < k_max
        futile = ~decided & (powers.at(design, k) < design.futility_power) if judged else False
        stop = active & (decided | futile | (k == k_max))
        verdict[stop] = now.verdict[stop]
        used[stop] = k
        active &= ~stop
    return Run(verdict, used)


def measure(run: Run, case: Case) -> dict[str, float]:
    n = run.verdict.size
    decided = run.verdict != 0
    bad = wrong(run.verdict, case)
    return {
        "wrong": float(bad.mean()),
        "wrong_se": math.sqrt(ALPHA * (1 - ALPHA) / n),
        "wrong_among_decided": float(bad.sum() / decided.sum()) if decided.any() else 0.0,
        "wrong_among_decided_se": (
            math.sqrt(ALPHA * (1 - ALPHA) / decided.sum()) if decided.any() else math.nan
        ),
        "decided": float(decided.mean()),
        "processes": float(run.processes.mean()),
    }


def simulate_case(
    case: Case, data: Draw, earlier: Iterable[PriorDraw] = ()
) -> dict[str, dict[str, float]]:
    """Every design on the case; with the earlier runs' draws, the prior variants too."""
    means = process_means(case, data)
    variances = {e.processes: prior_variance_log(case, e) for e in earlier}
    powers = Powers(means, case, variances)
    found = {
        d.name: measure(run_design(d, means, case, powers), case)
        for d in DESIGNS + FUTILITY_VARIANTS
    }
    for design in PRIOR_VARIANTS:
        if design.prior_processes in variances:
            found[design.name] = measure(run_design(design, means, case, powers), case)
    return found


def validate(sequences: int = 20, seed: int = SEED) -> int:
    """The vectorised looks against ``paired.estimate`` and its verdicts on the real rounds:
    centres and interval ends to 1e-9 (relative), verdicts equal. Returns the looks checked."""
    checked = 0
    for shape in SHAPES:
        data = draw(shape, 6, sequences, seed + 1)
        for case in cases():
            if case.shape != shape or case.max_processes != 6 or case.sigma != SIGMAS[0]:
                continue
            plan = sequential.SequentialDesign(6)
            means = process_means(case, data)
            for k in range(2, 7):
                fast = look(means, k, plan.critical_value(k), case.range_pct)
                for s in range(sequences):
                    estimate = paired.estimate(rounds_of(case, data, s, k), plan.look_alpha(k))
                    verdict = (
                        paired.range_verdict(estimate, case.range_pct)
                        if case.range_pct is not None
                        else paired.change_verdict(estimate, MIN_EFFECT_PCT)
                    )
                    real = (estimate.speedup_pct, *estimate.ci_pct)
                    copy = (fast.centre_pct[s], fast.low_pct[s], fast.high_pct[s])
                    if not np.allclose(real, copy, rtol=1e-9, atol=1e-9):
                        raise SystemExit(f"{case} look {k} sequence {s}: {real} != {copy}")
                    if CODES[fast.verdict[s]] is not verdict.outcome:
                        raise SystemExit(f"{case} look {k} sequence {s}: {verdict.text}")
                    checked += 1
    return checked


def validate_prior(sequences: int = 20, seed: int = SEED) -> int:
    """The benchmark's conditional powers (:class:`Powers`, rows pooled by :func:`pooled_sd`)
    against ``sequential.conditional_power`` on one sequence at a time, with and without a
    ``PriorSpread`` (to 1e-9, relative), and each prior variant's first look against
    ``sequential.futility_from`` had it the variant's first look for the constant. Returns the
    powers checked."""
    checked = 0
    k_max = max(MAX_PROCESSES)
    plan = sequential.SequentialDesign(k_max)
    final = (k_max, plan.critical_value(k_max))
    alone_design = Design("alone", sequential.CHOSEN_SPENDING)
    for shape in SHAPES:
        data = draw(shape, k_max, sequences, seed + 1)
        for p0 in PRIOR_PROCESSES:
            earlier = draw_prior(shape, k_max, p0, sequences, seed + 1)
            with_prior = prior_design(2, p0, 1.0)
            for case in cases():
                if case.shape != shape or case.max_processes != k_max or case.sigma != SIGMAS[0]:
                    continue
                means = process_means(case, data)
                variance = prior_variance_log(case, earlier)
                powers = Powers(means, case, {p0: variance})
                for k in range(2, k_max):
                    fast_prior, fast = powers.at(with_prior, k), powers.at(alone_design, k)
                    for s in range(sequences):
                        prior = sequential.PriorSpread(float(variance[s]), p0 - 1, "earlier")
                        args = (means[s, :k], *final, case.range_pct, MIN_EFFECT_PCT)
                        real = float(sequential.conditional_power(*args, prior))
                        alone = float(sequential.conditional_power(*args))
                        if not np.allclose([real, alone], [fast_prior[s], fast[s]], 1e-9, 1e-12):
                            raise SystemExit(
                                f"{case} look {k} sequence {s} prior of {p0}: conditional power "
                                f"{real} != {fast_prior[s]} or {alone} != {fast[s]}"
                            )
                        checked += 1
    constant = sequential.FUTILITY_FROM_PROCESSES_WITH_PRIOR
    for p0 in PRIOR_PROCESSES:
        prior = sequential.PriorSpread(1e-4, p0 - 1, "earlier")
        module = sequential.futility_from(prior)
        if prior_first_look(constant, p0) != module:
            raise SystemExit(
                f"prior of {p0}: first look {prior_first_look(constant, p0)} != "
                f"sequential.futility_from's {module}"
            )
        threshold = sequential.futility_threshold(plan, prior)
        if threshold != sequential.FUTILITY_POWER_WITH_PRIOR:
            raise SystemExit(
                f"prior of {p0}: sequential.futility_threshold gives {threshold}, not "
                f"FUTILITY_POWER_WITH_PRIOR {sequential.FUTILITY_POWER_WITH_PRIOR}"
            )
    return checked


# -- the choice and the tables ---------------------------------------------------------------------


Results = list[tuple[Case, dict[str, dict[str, float]]]]


def summarise(results: Results, cpu: Results | None = None) -> dict[str, object]:
    """Per design over all cases: the worst wrong rate, the cases over alpha + 2 SE, the mean
    fraction decided and processes used; the spending chosen by the module's rule, its futility,
    futility with a prior (:func:`prior_summary`), and the CPU's cases (:func:`cpu_summary`)."""
    designs: dict[str, dict[str, float]] = {}
    for design in DESIGNS:
        found = [f[design.name] for _, f in results]
        designs[design.name] = {
            "worst_wrong": max(f["wrong"] for f in found),
            "cases_over": sum(f["wrong"] > ALPHA + 2 * f["wrong_se"] for f in found),
            "worst_wrong_among_decided": max(f["wrong_among_decided"] for f in found),
            "mean_decided": statistics.fmean(f["decided"] for f in found),
            "mean_processes": statistics.fmean(f["processes"] for f in found),
        }
    keeping = {
        spending: designs[name]
        for spending, name in SPENDING_DESIGNS.items()
        if designs[name]["cases_over"] == 0
    }
    chosen = None
    if keeping:
        best = max(s["mean_decided"] for s in keeping.values())
        close = [k for k, s in keeping.items() if s["mean_decided"] >= best - DECIDED_MARGIN]
        chosen = min(close, key=lambda k: keeping[k]["mean_processes"])
    futility = futility_summary(results, chosen) if chosen else {}
    with_prior = prior_summary(results) if chosen == sequential.CHOSEN_SPENDING else {}
    on_cpu = {"cpu": cpu_summary(cpu)} if cpu else {}
    return {"designs": designs, "chosen_spending": chosen, **futility, **with_prior, **on_cpu}


def _against_no_futility(found: list[dict[str, dict[str, float]]], name: str) -> dict[str, float]:
    """One design over some cases against the chosen spending without futility."""
    plain = f"{SPENDING_DESIGNS[sequential.CHOSEN_SPENDING]}, no futility"
    losses = [f[plain]["decided"] - f[name]["decided"] for f in found]
    # A wrong verdict is a decided one: what is left of the loss is right verdicts lost.
    right_losses = [
        (f[plain]["decided"] - f[plain]["wrong"]) - (f[name]["decided"] - f[name]["wrong"])
        for f in found
    ]
    return {
        "mean_loss": statistics.fmean(losses),
        "worst_loss": max(losses),
        "mean_right_loss": statistics.fmean(right_losses),
        "worst_right_loss": max(right_losses),
        "mean_decided": statistics.fmean(f[name]["decided"] for f in found),
        "mean_processes": statistics.fmean(f[name]["processes"] for f in found),
        "worst_wrong": max(f[name]["wrong"] for f in found),
        "cases_over": sum(f[name]["wrong"] > ALPHA + 2 * f[name]["wrong_se"] for f in found),
    }


def prior_references() -> list[Design]:
    """The chosen spending without a prior: no futility, and futility < FUTILITY_POWER from 3
    and from FUTILITY_FROM_PROCESSES (what runs today)."""
    name = SPENDING_DESIGNS[sequential.CHOSEN_SPENDING]
    return [
        d
        for d in DESIGNS + FUTILITY_VARIANTS
        if d.spending == sequential.CHOSEN_SPENDING
        and (
            d.futility_power == 0
            or (d.futility_power == sequential.FUTILITY_POWER and d.name != name)
        )
    ]


def prior_summary(results: Results) -> dict[str, object]:
    """Each futility variant with a prior (and the references without one), over the cases of
    each K, against the chosen spending without futility. The variant chosen for
    FUTILITY_FROM_PROCESSES_WITH_PRIOR is, among those with a correct prior of
    :data:`PRIOR_RULE_PROCESSES` processes, the one using the fewest processes at K = 6 of those
    within the futility rule's limits; where none is, the one losing least (``within_limits``
    false)."""
    variants: dict[str, dict[str, object]] = {}
    for design in prior_references() + list(PRIOR_VARIANTS):
        by_k = {
            str(k): _against_no_futility(
                [f for c, f in results if c.max_processes == k], design.name
            )
            for k in MAX_PROCESSES
            if any(c.max_processes == k for c, _ in results)
        }
        variants[design.name] = {
            "futility_power": design.futility_power,
            "futility_from": design.futility_from,
            "prior_processes": design.prior_processes,
            "prior_factor": design.prior_factor if design.prior_processes else None,
            "by_max_processes": by_k,
        }
    judged = str(max(MAX_PROCESSES))

    def at_k(name: str) -> dict[str, float]:
        return variants[name]["by_max_processes"][judged]  # type: ignore[index]

    candidates = [
        d.name
        for d in PRIOR_VARIANTS
        if d.prior_processes == PRIOR_RULE_PROCESSES and d.prior_factor == PRIOR_RULE_FACTOR
    ]
    passing = [
        n
        for n in candidates
        if at_k(n)["mean_loss"] <= FUTILITY_LOSS_LIMIT
        and at_k(n)["worst_loss"] <= FUTILITY_WORST_LOSS_LIMIT
    ]
    if passing:
        chosen = min(passing, key=lambda n: at_k(n)["mean_processes"])
    else:
        chosen = min(candidates, key=lambda n: at_k(n)["mean_loss"])
    return {
        "prior_variants": variants,
        "chosen_prior_futility": {
            "name": chosen,
            "futility_from": variants[chosen]["futility_from"],
            "futility_power": variants[chosen]["futility_power"],
            "within_limits": bool(passing),
        },
    }


def cpu_designs() -> list[Design]:
    """What the CPU table compares: the references and the rule's prior variants."""
    return prior_references() + [
        d
        for d in PRIOR_VARIANTS
        if d.prior_processes == PRIOR_RULE_PROCESSES and d.prior_factor == PRIOR_RULE_FACTOR
    ]


def cpu_summary(cpu: Results) -> dict[str, dict[str, float]]:
    """Over the CPU's cases with K = 6: each design's mean decided fraction and processes."""
    found = [f for c, f in cpu if c.max_processes == max(MAX_PROCESSES)]
    return {
        d.name: {
            "mean_decided": statistics.fmean(f[d.name]["decided"] for f in found),
            "mean_processes": statistics.fmean(f[d.name]["processes"] for f in found),
            "worst_wrong": max(f[d.name]["wrong"] for f in found),
        }
        for d in cpu_designs()
    }


def futility_summary(
    results: list[tuple[Case, dict[str, dict[str, float]]]], spending: str
) -> dict[str, object]:
    """For the chosen spending, each futility variant against none, over the K = 6 cases (with
    K = 3 no look before the last is late enough to judge): the decided verdicts it costs (mean
    and worst) and the processes it uses; the chosen variant is the one using the fewest
    processes among those costing at most :data:`FUTILITY_LOSS_LIMIT` on average and
    :data:`FUTILITY_WORST_LOSS_LIMIT` in any case."""
    name = SPENDING_DESIGNS[spending]
    judged = [f for case, f in results if case.max_processes == max(MAX_PROCESSES)]
    variants: dict[str, dict[str, float]] = {}
    for design in FUTILITY_VARIANTS:
        if design.spending != spending:
            continue
        losses = [f[f"{name}, no futility"]["decided"] - f[design.name]["decided"] for f in judged]
        variants[design.name] = {
            "futility_power": design.futility_power,
            "futility_from": design.futility_from,
            "mean_loss": statistics.fmean(losses),
            "worst_loss": max(losses),
            "mean_processes": statistics.fmean(f[design.name]["processes"] for f in judged),
        }
    plain = statistics.fmean(f[f"{name}, no futility"]["processes"] for f in judged)
    passing = [
        n
        for n, v in variants.items()
        if v["mean_loss"] <= FUTILITY_LOSS_LIMIT and v["worst_loss"] <= FUTILITY_WORST_LOSS_LIMIT
    ]
    chosen = min(passing, key=lambda n: variants[n]["mean_processes"]) if passing else None
    return {
        "futility_variants": variants,
        "no_futility_mean_processes": plain,
        "chosen_futility": variants[chosen] | {"name": chosen} if chosen else None,
    }


def futility_table(summary: dict[str, object]) -> list[str]:
    from tabulate import tabulate

    variants: dict[str, dict[str, float]] = summary.get("futility_variants", {})  # type: ignore[assignment]
    if not variants:
        return []
    chosen = summary["chosen_futility"]
    chosen_name = chosen["name"] if chosen else None  # type: ignore[index]
    rows = [
        [
            name,
            _pct(v["mean_loss"]),
            _pct(v["worst_loss"]),
            f"{v['mean_processes']:.2f}",
            "chosen" if name == chosen_name else "",
        ]
        for name, v in variants.items()
    ]
    return [
        "## Futility",
        "",
        "Each variant stops an undecided comparison whose conditional power (the chance that the "
        "last look decides, were the truth the current estimate and the processes to come spread "
        "as the current ones; averaged over 1024 quasi-random draws of those processes, so that "
        "the last look's own sample sd, the seen processes among them, is random too: "
        "`sequential.conditional_power`) "
        "is below the threshold, from the given number of processes on; against the same "
        "spending without futility, over the cases with K = "
        f"{max(MAX_PROCESSES)} (without futility: "
        f"{summary['no_futility_mean_processes']:.2f} processes on average). **Rule**: the "
        "fewest processes among the variants costing at most "
        f"{FUTILITY_LOSS_LIMIT * 100:g} decided verdicts in a hundred on average and "
        f"{FUTILITY_WORST_LOSS_LIMIT * 100:g} in any case. Futility only ever leaves a verdict "
        "inconclusive, so no variant can raise the wrong-verdict rate.",
        "",
        tabulate(
            rows,
            ["variant", "decided lost %: mean", "worst", "mean E[processes]", ""],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]


def prior_table(summary: dict[str, object]) -> list[str]:
    from tabulate import tabulate

    variants: dict[str, dict[str, object]] = summary.get("prior_variants", {})  # type: ignore[assignment]
    if not variants:
        return []
    chosen: dict[str, object] = summary["chosen_prior_futility"]  # type: ignore[assignment]
    ks = [str(k) for k in MAX_PROCESSES]
    judged = str(max(MAX_PROCESSES))
    rows = []
    for name, v in variants.items():
        by_k: dict[str, dict[str, float]] = v["by_max_processes"]  # type: ignore[assignment]
        prior = f"{v['prior_processes']} x{v['prior_factor']:g}" if v["prior_processes"] else "none"
        mark = ""
        if name == chosen["name"]:
            mark = "chosen" if chosen["within_limits"] else "least loss (over the limits)"
        rows.append(
            [
                prior,
                f"< {v['futility_power']:.0%} from {v['futility_from']}"
                if v["futility_power"]
                else "none",
                _pct(max(by_k[k]["worst_wrong"] for k in ks)),
                sum(int(by_k[k]["cases_over"]) for k in ks),
                *(
                    cell
                    for k in ks
                    for cell in (
                        _pct(by_k[k]["mean_loss"]),
                        _pct(by_k[k]["worst_loss"]),
                        f"{by_k[k]['mean_processes']:.2f}",
                    )
                ),
                " / ".join(
                    _pct(by_k[judged][key]) for key in ("mean_right_loss", "worst_right_loss")
                ),
                mark,
            ]
        )
    headers = [
        "prior (earlier run's processes x variance factor)",
        "futility",
        "worst wrong %",
        "cases over alpha + 2 SE",
        *(h for k in ks for h in (f"K = {k}: lost %: mean", "worst", "E[processes]")),
        f"K = {judged}: right verdicts lost %: mean / worst",
        "",
    ]
    rule = f"{PRIOR_RULE_PROCESSES} x{PRIOR_RULE_FACTOR:g}"
    return [
        "## Futility with a prior",
        "",
        "`sequential.PriorSpread`: an earlier run's variance of a process mean of the same "
        "comparison, pooled by df with the spread the run sees (`pooled_spread`). Each sequence "
        "gets its own: the sample variance of the process trimmed means of an independent "
        "earlier run of P0 processes of the same case (same noise, sigma, tau, rounds; df = "
        "P0 - 1), times a factor (0.5: the earlier run on a quieter day, 2: a noisier one). "
        f"{SPENDING_DESIGNS[sequential.CHOSEN_SPENDING]}-type spending, futility below the "
        "given conditional power judged from the given look on (never before the pooled spread "
        f"has {sequential.FUTILITY_FROM_PROCESSES - 1} df, as `futility_from` has it); *lost* "
        "is the decided verdicts lost against the same spending without futility, per 100 "
        "sequences, mean and worst over the cases of each K; rows without a prior are the "
        f"references (< {sequential.FUTILITY_POWER:.0%} from "
        f"{sequential.FUTILITY_FROM_PROCESSES} is what runs without a prior). **Rule** for "
        "FUTILITY_POWER_WITH_PRIOR and FUTILITY_FROM_PROCESSES_WITH_PRIOR (judged on a correct "
        f"prior of {rule}, as the CPU main job gives): the futility rule above, over the K = "
        f"{max(MAX_PROCESSES)} cases, among futility < "
        f"{' or '.join(f'{p:.0%}' for p in PRIOR_POWERS)} from "
        f"{' or '.join(str(k) for k in PRIOR_FUTILITY_FROMS)}. *right verdicts lost* leaves "
        "out of the loss the wrong verdicts futility stopped (a wrong verdict needs a decided "
        "one).",
        "",
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
        "",
    ]


def cpu_table(cpu: Results, summary: dict[str, object]) -> list[str]:
    from tabulate import tabulate

    if not cpu:
        return []
    designs = cpu_designs()
    rows = []
    for case, found in cpu:
        rows.append(
            [
                case.max_processes,
                f"{case.range_pct[0]:g}-{case.range_pct[1]:g}%" if case.range_pct else "none",
                case.shape,
                *(
                    f"{_pct(found[d.name]['wrong'])} / {found[d.name]['decided'] * 100:.1f} / "
                    f"{found[d.name]['processes']:.2f}"
                    for d in designs
                ),
            ]
        )
    means: dict[str, dict[str, float]] = summary["cpu"]  # type: ignore[assignment]
    rows.append(
        [
            f"{max(MAX_PROCESSES)}: mean",
            "",
            "",
            *(
                f"{_pct(means[d.name]['worst_wrong'])} (worst) / "
                f"{means[d.name]['mean_decided'] * 100:.1f} / "
                f"{means[d.name]['mean_processes']:.2f}"
                for d in designs
            ),
        ]
    )

    def short(design: Design) -> str:
        name = design.name.removeprefix(f"{SPENDING_DESIGNS[sequential.CHOSEN_SPENDING]}, ")
        return f"{name}: wrong % / decided % / E[processes]"

    return [
        "## On this CPU's noise: the main job",
        "",
        f"The noise measured on this CPU for the main job: a round's sd {CPU_SIGMA * 100:g}% "
        f"(sigma), tau {CPU_TAU * 100:g}%, {ROUNDS} rounds; true effect "
        f"{CPU_EFFECT_PCT:g} against the range {RANGE_PCT[0]:g}-{RANGE_PCT[1]:g}% and for the "
        "question at 0; the same sequences per case and seeding as above (not in the tables "
        "above). With a prior: a correct one from an earlier run of "
        f"{PRIOR_RULE_PROCESSES} processes. E[processes] predicts the paired processes a "
        "comparison gets under `--until-decided`.",
        "",
        tabulate(
            rows,
            ["K", "question", "noise", *(short(d) for d in designs)],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]


def _pct(value: float) -> str:
    return f"{value * 100:.2f}"


def critical_table(spendings: Iterable[str]) -> list[str]:
    from tabulate import tabulate

    rows = []
    for k_max in sorted(MAX_PROCESSES):
        fixed = float(sps.t.isf(ALPHA / 2, k_max - 1))
        for spending in spendings:
            plan = sequential.SequentialDesign(k_max, ALPHA, spending)
            for k in range(2, k_max + 1):
                rows.append(
                    [
                        k_max,
                        SPENDING_DESIGNS[spending],
                        k,
                        f"{plan.spent_alpha(k):.5f}",
                        f"{plan.critical_value(k):.3f}",
                        f"{plan.look_alpha(k):.5f}",
                        f"{float(sps.t.isf(ALPHA / 2, k - 1)):.3f}",
                        f"{fixed:.3f}" if k == k_max else "",
                    ]
                )
    headers = [
        "K",
        "spending",
        "look after k processes",
        "alpha spent by it",
        "c_k",
        "nominal level",
        "t(0.975, k-1)",
        "fixed design's c",
    ]
    return [tabulate(rows, headers, tablefmt="github", disable_numparse=True)]


def case_rows(
    results: list[tuple[Case, dict[str, dict[str, float]]]], chosen: str
) -> tuple[list[str], list[list[object]]]:
    main = SPENDING_DESIGNS[chosen]
    other = next(n for s, n in SPENDING_DESIGNS.items() if s != chosen)
    headers = [
        "K",
        "question",
        "truth %",
        "noise",
        "sigma %",
        "tau %",
        f"{main}: wrong % (SE)",
        "wrong among decided %",
        "decided %",
        "E[processes]",
        f"{main}, no futility: decided % / E[processes]",
        f"{other}: wrong % / decided % / E[processes]",
        "fixed: wrong % / decided %",
    ]
    rows: list[list[object]] = []
    for case, found in results:
        s, nf, o, f = (
            found[main],
            found[f"{main}, no futility"],
            found[other],
            found["fixed"],
        )
        flag = " !" if s["wrong"] > ALPHA + 2 * s["wrong_se"] else ""
        rows.append(
            [
                case.max_processes,
                f"{case.range_pct[0]:g}-{case.range_pct[1]:g}%" if case.range_pct else "none",
                f"{case.effect_pct:+g}",
                case.shape,
                f"{case.sigma * 100:g}",
                f"{case.tau * 100:g}",
                f"{_pct(s['wrong'])} ({_pct(s['wrong_se'])}){flag}",
                _pct(s["wrong_among_decided"]),
                f"{s['decided'] * 100:.1f}",
                f"{s['processes']:.2f}",
                f"{nf['decided'] * 100:.1f} / {nf['processes']:.2f}",
                f"{_pct(o['wrong'])} / {o['decided'] * 100:.1f} / {o['processes']:.2f}",
                f"{_pct(f['wrong'])} / {f['decided'] * 100:.1f}",
            ]
        )
    return headers, rows


def render(
    results: Results,
    summary: dict[str, object],
    header: str,
    cpu: Results | None = None,
) -> str:
    from tabulate import tabulate

    designs: dict[str, dict[str, float]] = summary["designs"]  # type: ignore[assignment]
    chosen = summary["chosen_spending"]
    n_cases = len(results)
    se = math.sqrt(ALPHA * (1 - ALPHA) / sequences_of(results))
    lines = [
        "# The sequential design: wrong verdicts, verdicts reached, processes used",
        "",
        header,
        "",
        "Each case simulates sequences of up to K paired processes of "
        f"{ROUNDS} rounds, `y = mu + u[p] + sigma e[p, r]` (`u ~ N(0, tau^2)`, `e` normal or "
        "Student's t3 scaled to sd 1), through `mgbench.analysis.sequential`'s designs (a look "
        "after each process from the second, stopping when decided or futile) and through the "
        f"fixed design (one look after K processes at alpha {ALPHA:g}). Claimed range "
        f"{RANGE_PCT[0]:g}-{RANGE_PCT[1]:g}%; a question without a range is read against 0 and "
        f"the minimum effect {MIN_EFFECT_PCT:g}%. Futility: conditional power below "
        f"{sequential.FUTILITY_POWER:.0%}.",
        "",
        "A verdict is wrong when what it says about the true effect is false (supports a range "
        "not holding it, smaller/larger when it is not below/above, faster/slower against its "
        "sign, no difference when it is at least the minimum effect). **wrong %** is over all "
        "sequences (what the design bounds by alpha); its SE is the Monte Carlo standard error "
        f"at alpha, {se * 100:.2f}%, and every case must keep it <= alpha + 2 SE "
        f"({(ALPHA + 2 * se) * 100:.2f}%; `!` marks one that does not). *wrong among decided* is "
        "the share of the decided sequences' verdicts that are wrong (its SE is larger where "
        "few decide).",
        "",
        "## The designs over all cases",
        "",
    ]
    rows = [
        [
            name,
            _pct(s["worst_wrong"]),
            s["cases_over"],
            _pct(s["worst_wrong_among_decided"]),
            f"{s['mean_decided'] * 100:.1f}",
            f"{s['mean_processes']:.2f}",
        ]
        for name, s in designs.items()
    ]
    lines += [
        tabulate(
            rows,
            [
                "design",
                "worst wrong %",
                f"cases over alpha + 2 SE (of {n_cases})",
                "worst wrong among decided %",
                "mean decided %",
                "mean E[processes]",
            ],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
        "**Choice rule** (both spending functions with futility, as `stop_decision` runs): among "
        "those keeping the wrong rate in every case, the one deciding most often (mean over "
        f"cases), unless the other decides within {DECIDED_MARGIN * 100:g} percentage point of "
        "it and uses fewer processes on average. "
        f"**Chosen: {SPENDING_DESIGNS[chosen] + '-type spending' if chosen else 'none'}.**",
        "",
        *futility_table(summary),
        *prior_table(summary),
        *cpu_table(cpu or [], summary),
        "## Critical values",
        "",
        "The look after k processes reads `centre +- c_k sd / sqrt(k)` over the process means, "
        "which `paired.estimate` gives at the nominal level shown.",
        "",
        *critical_table(SPENDING_DESIGNS),
        "",
    ]
    if chosen:
        headers, rows_ = case_rows(results, chosen)
        lines += [
            "## Every case",
            "",
            tabulate(rows_, headers, tablefmt="github", disable_numparse=True),
            "",
        ]
    return "\n".join(lines)


def sequences_of(results: list[tuple[Case, dict[str, dict[str, float]]]]) -> int:
    """The sequences per case, from the standard error the results carry."""
    se = results[0][1]["fixed"]["wrong_se"]
    return round(ALPHA * (1 - ALPHA) / se**2)


def simulate_all(sequences: int, seed: int) -> tuple[Results, Results]:
    """The cases and the CPU's cases, each (noise, K) drawn once with its earlier runs."""
    results, cpu = [], []
    every, on_cpu = cases(), cpu_cases()
    for shape in SHAPES:
        for k_max in MAX_PROCESSES:
            data = draw(shape, k_max, sequences, seed)
            earlier = [draw_prior(shape, k_max, p0, sequences, seed) for p0 in PRIOR_PROCESSES]
            for case in every:
                if case.shape == shape and case.max_processes == k_max:
                    results.append((case, simulate_case(case, data, earlier)))
            for case in on_cpu:
                if case.shape == shape and case.max_processes == k_max:
                    cpu.append((case, simulate_case(case, data, earlier)))
    order = {case: i for i, case in enumerate(every + on_cpu)}
    return (
        sorted(results, key=lambda item: order[item[0]]),
        sorted(cpu, key=lambda item: order[item[0]]),
    )


def rerender(published: Path, output: Path) -> None:
    """sequential.md again from a sequential.json, without simulating."""
    document = json.loads(published.read_text())
    results = [(Case.of(c["case"]), c["designs"]) for c in document["cases"]]
    cpu = [(Case.of(c["case"]), c["designs"]) for c in document.get("cpu_cases", [])]
    summary = summarise(results, cpu)
    if summary != document["summary"]:
        raise SystemExit(f"{published}: its summary differs from this rule's; simulate again")
    output.mkdir(parents=True, exist_ok=True)
    text = render(results, summary, document["header"], cpu)
    (output / "sequential.md").write_text(text + "\n", encoding="utf-8")


def main() -> None:
    from mgbench.records import environment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=10_000, help="sequences per case")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=Path("results/sequential"))
    parser.add_argument(
        "--from", dest="existing", type=Path, help="only re-render this sequential.json"
    )
    args = parser.parse_args()
    if args.existing is not None:
        rerender(args.existing, args.output)
        return

    started = time.monotonic()
    checked = validate()
    print(f"vectorised looks agree with paired.estimate on {checked} looks", flush=True)
    powers = validate_prior()
    print(f"vectorised conditional power with a prior agrees on {powers} looks", flush=True)
    results, cpu = simulate_all(args.sequences, args.seed)
    summary = summarise(results, cpu)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = environment.host_environment()
    machine = f"{host['host']} ({host['cpu']}, {host['cpu_count']} CPUs)"
    header = (
        f"Seed {args.seed}; {args.sequences} sequences per case; {len(results)} cases; "
        f"critical values from {sequential.SEQUENCES} simulated sequences (seed "
        f"{sequential.SEED}); vectorised looks checked against paired.estimate on {checked} "
        f"looks and its conditional power with a prior against conditional_power on {powers}; "
        f"machine {machine}; {when}; {time.monotonic() - started:.0f} s."
    )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "sequential.md").write_text(
        render(results, summary, header, cpu) + "\n", encoding="utf-8"
    )
    document = {
        "header": header,
        "seed": args.seed,
        "sequences_per_case": args.sequences,
        "machine": machine,
        "date": when,
        "alpha": ALPHA,
        "min_effect_pct": MIN_EFFECT_PCT,
        "futility_power": sequential.FUTILITY_POWER,
        "futility_from_processes": sequential.FUTILITY_FROM_PROCESSES,
        "futility_from_processes_with_prior": sequential.FUTILITY_FROM_PROCESSES_WITH_PRIOR,
        "futility_power_with_prior": sequential.FUTILITY_POWER_WITH_PRIOR,
        "prior_processes": list(PRIOR_PROCESSES),
        "prior_factors": list(PRIOR_FACTORS),
        "rounds": ROUNDS,
        "summary": summary,
        "cases": [{"case": case.key, "designs": found} for case, found in results],
        "cpu_cases": [{"case": case.key, "designs": found} for case, found in cpu],
    }
    (args.output / "sequential.json").write_text(json.dumps(document, indent=1) + "\n")
    print(header)
    print(f"chosen spending: {summary['chosen_spending']}")
    print(f"futility with a prior: {summary.get('chosen_prior_futility')}")


if __name__ == "__main__":
    main()

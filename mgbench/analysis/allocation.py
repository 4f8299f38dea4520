"""Rounds per process and paired processes by variance component: the tightest paired interval
per minute, or within a deadline.

A paired comparison's interval (:func:`mgbench.analysis.paired.estimate`) is Student's t over
``P`` process centres on ``P - 1`` df. One centre varies by ``v = sigma^2 / R + tau^2``, where
``sigma^2`` is one round's log-ratio variance as the per-process aggregate sees it (R rounds give
it ``sigma^2 / R``) and ``tau^2`` the processes' own spread, which rounds cannot shrink. The
sample sd ``S`` of normal centres has ``E[S] = c4(P) sqrt(v)``, so the half-width's expectation
is exactly

    E[H] = t(1 - alpha/2, P - 1) * c4(P) * sqrt((sigma^2 / R + tau^2) / P).

That is a mean: the sd of few values is skewed, so the median half-width lies below it (0.85 x
at P = 2, 0.94 x at 3; :func:`median_half_width`), and ``--plan`` prints both.

One process costs ``F + R c``: ``F`` is everything that is not a round (start, build, tracing
each strategy, its warm-up steps: :class:`PairedCosts`, from :mod:`mgbench.analysis.plan`'s
per-process costs) and ``c`` one round (k strategies x block_steps x the step time).

**The classic optimum.** ``E[H]^2 x time`` is ``t^2 c4^2 (sigma^2 / R + tau^2)(F + R c)`` at
any P: its continuous minimum over R is ``R* = sqrt(F sigma^2 / (c tau^2))``
(:func:`classic_rounds`), the same rounds that minimise ``var / P`` in a budget ``B = P (F +
R c)`` once P is large enough for t and c4 to stop moving. Spending more rounds than R* buys
within-process precision that tau^2 swamps; fewer pays the fixed cost too often.

**The discrete, t-aware search** (:func:`allocate_within`) differs where P is small, which is
where runs are: ``t(1 - alpha/2, P - 1) c4(P) / sqrt(P)`` falls much faster than
``1 / sqrt(P)`` (12.7 x 0.80 at P = 2, 4.3 x 0.89 at 3), so an extra process is worth more than
the continuous model says and the search takes fewer rounds than R* to afford it. For each P it
takes the most rounds the budget allows (E[H] falls with R), bounded to ``[MIN_ROUNDS,
MAX_ROUNDS]``, and keeps the P of the least E[H]; a third process usually wins over two as soon
as it is affordable (t on 1 df is 12.7, on 2 df 4.3), by the t quantile rather than by a rule
(two still win where a process's fixed cost is so large that the third would cost most of the
rounds, with tau^2 small). Edge cases: ``tau^2 = 0`` gives as many rounds as
the budget allows in the fewest processes the t quantile tolerates; ``sigma^2 = 0`` gives the
fewest rounds in as many processes as fit.

**Without a budget** (:func:`allocate_per_minute`), P is the suite's ``pairs`` (more processes
always buy width per minute, as t falls to z, so "per minute" fixes P) and R minimises
``E[H]^2 x time``: the integer next to R*, bounded.

**A run's deadline** (:func:`split_deadline`): the isolated cells cost what they cost; the rest
goes to the paired cells so that the widest expected interval is as narrow as the time allows
(bisection on the target width, each cell at its cheapest allocation reaching it), any time
left over shared out again. A process yielding several comparisons (a k-way cell) is allocated
for its widest one.

Pure functions: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

from mgbench.analysis import paired
from mgbench.analysis.comparisons import process_pairs
from mgbench.analysis.plan import (
    CellPlan,
    Noise,
    ProcessCost,
    RunPlan,
    _noise_for,  # the plan's forecast's fallbacks, shared rather than copied
    measured_noise,
)
from mgbench.config.suite import Cell
from mgbench.records.record import Record

# Rounds per process: at least 5 (below 5 the 20% trimmed mean trims nothing, and one heavy-tailed
# round then weighs fully in its process's centre), at most 200 (past that a process is one long
# stretch of a machine's mood, and the model's independent rounds are a guess).
MIN_ROUNDS = 5
MAX_ROUNDS = 200
MIN_PROCESSES = 2  # one process cannot see tau: no verdict
MAX_PROCESSES = paired.MAX_MORE_PAIRS
# Of a --deadline, the share kept free for processes that run longer than their estimate (this
# machine's ResNet50 paired processes took 74-107 s in one run): the allocation fills the rest.
DEADLINE_MARGIN = 0.10


class NotEnoughTime(ValueError):
    """The budget does not fit the fewest processes that give an interval."""


@dataclass(frozen=True)
class PairedCosts:
    """One paired process costs ``fixed_s + rounds x round_s``."""

    fixed_s: float  # start, build, tracing each strategy, warm-up steps, record and exit
    round_s: float  # one round: a block of block_steps steps of each strategy

    def __post_init__(self) -> None:
        if not (self.fixed_s >= 0 and self.round_s > 0):
            raise ValueError(
                f"paired costs need fixed_s >= 0 and round_s > 0, got {self.fixed_s} and "
                f"{self.round_s}"
            )

    def process_s(self, rounds: int | np.ndarray) -> float | np.ndarray:
        return self.fixed_s + rounds * self.round_s


def paired_costs(cell: Cell, cost: ProcessCost) -> PairedCosts:
    """A paired cell's costs from the plan's per-process ones (``fixed + first step + (k x warmup
    + rounds x k x block_steps) x step``)."""
    if not cell.paired or cell.block_steps is None:
        raise ValueError(f"{cell.cell_id} is not a paired cell")
    k = len(cell.paired_strategies)
    return PairedCosts(
        fixed_s=cost.fixed_s + cost.first_step_s + k * cell.warmup_steps * cost.step_s,
        round_s=k * cell.block_steps * cost.step_s,
    )


@dataclass(frozen=True)
class Bounds:
    min_rounds: int = MIN_ROUNDS
    max_rounds: int = MAX_ROUNDS
    min_processes: int = MIN_PROCESSES
    max_processes: int = MAX_PROCESSES

    def __post_init__(self) -> None:
        if not 2 <= self.min_rounds <= self.max_rounds:
            raise ValueError(f"rounds bounds must satisfy 2 <= min <= max, got {self}")
        if not 2 <= self.min_processes <= self.max_processes:
            raise ValueError(f"process bounds must satisfy 2 <= min <= max, got {self}")


@dataclass(frozen=True)
class Allocation:
    """``processes`` paired processes of ``rounds`` rounds: the expected half-width of the widest
    comparison they give, and their time."""

    rounds: int
    processes: int
    half_width_log: float  # E[H] as a log ratio
    process_s: float

    @property
    def total_s(self) -> float:
        return self.processes * self.process_s

    @property
    def half_width_pct(self) -> float:
        """``sinh(E[H]) x 100``: the report's half-width at an estimate of 0."""
        return math.sinh(self.half_width_log) * 100


# -- the expected half-width ---------------------------------------------------------------------


def c4(processes: int | np.ndarray) -> np.ndarray:
    """``E[S] / sigma`` for the sample sd of ``n`` normal values: ``sqrt(2 / (n - 1)) x
    Gamma(n / 2) / Gamma((n - 1) / 2)``."""
    n = np.asarray(processes, float)
    return np.sqrt(2 / (n - 1)) * np.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


def _variances(noise: Noise) -> tuple[float, float]:
    """(sigma^2, tau^2); a tau not seen counts as 0 (as the plan's forecast does)."""
    return noise.within_sd_log**2, (noise.tau_log or 0.0) ** 2


def expected_half_width(
    noise: Noise, processes: int | np.ndarray, rounds: int | np.ndarray, alpha: float
) -> np.ndarray:
    """``E[H] = t(1 - alpha/2, P - 1) c4(P) sqrt((sigma^2 / R + tau^2) / P)`` as a log ratio, for
    arrays of P (>= 2) and R broadcast together."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(processes, float)
    r = np.asarray(rounds, float)
    if np.any(p < 2) or np.any(r < 1):
        raise ValueError("the expected half-width needs processes >= 2 and rounds >= 1")
    sigma2, tau2 = _variances(noise)
    quantile = sps.t.ppf(1 - alpha / 2, p - 1)
    return np.asarray(quantile * c4(p) * np.sqrt((sigma2 / r + tau2) / p))


def median_half_width(noise: Noise, processes: int, rounds: int, alpha: float) -> float:
    """The half-width's median (log ratio) under normal process centres: ``t x sd x
    sqrt(chi2(P - 1) median / (P - 1)) / sqrt(P)``. Below E[H], as the sample sd is skewed:
    15% at P = 2, 6% at 3, 2% at 6."""
    if processes < 2 or rounds < 1:
        raise ValueError("the median half-width needs processes >= 2 and rounds >= 1")
    sigma2, tau2 = _variances(noise)
    df = processes - 1
    spread = math.sqrt((sigma2 / rounds + tau2) * sps.chi2.median(df) / df)
    return float(sps.t.ppf(1 - alpha / 2, df)) * spread / math.sqrt(processes)


def widest_half_width(
    noises: Sequence[Noise], processes: int | np.ndarray, rounds: int | np.ndarray, alpha: float
) -> np.ndarray:
    """The largest :func:`expected_half_width` over ``noises`` (the comparisons one process
    gives)."""
    if not noises:
        raise ValueError("no comparison's noise to allocate for")
    return np.max([expected_half_width(n, processes, rounds, alpha) for n in noises], axis=0)


def classic_rounds(noise: Noise, costs: PairedCosts) -> float:
    """The continuous optimum ``R* = sqrt(F sigma^2 / (c tau^2))`` (unbounded: inf at tau = 0,
    0 at sigma = 0)."""
    sigma2, tau2 = _variances(noise)
    if tau2 == 0:
        return math.inf if sigma2 > 0 else 0.0
    return math.sqrt(costs.fixed_s * sigma2 / (costs.round_s * tau2))


# -- choosing ------------------------------------------------------------------------------------


def _best(
    noises: Sequence[Noise],
    costs: PairedCosts,
    processes: np.ndarray,
    rounds: np.ndarray,
    alpha: float,
) -> Allocation:
    """The candidate (P[i], R[i]) of the least widest E[H]; ties go to the cheaper."""
    widths = widest_half_width(noises, processes, rounds, alpha)
    times = processes * costs.process_s(rounds)
    best = int(np.lexsort((times, np.round(widths, 12)))[0])
    return Allocation(
        int(rounds[best]),
        int(processes[best]),
        float(widths[best]),
        float(costs.process_s(int(rounds[best]))),
    )


def least_time_s(costs: PairedCosts, bounds: Bounds = Bounds()) -> float:
    """The fewest processes of the fewest rounds: the least any allocation takes."""
    return float(bounds.min_processes * costs.process_s(bounds.min_rounds))


def allocate_within(
    noises: Sequence[Noise],
    costs: PairedCosts,
    budget_s: float,
    alpha: float,
    bounds: Bounds = Bounds(),
) -> Allocation:
    """The allocation of the least expected half-width (of the widest comparison) whose
    processes fit ``budget_s``: for each P the most rounds that fit (bounded), then the best P.
    :class:`NotEnoughTime` when not even the fewest processes of the fewest rounds fit."""
    least = least_time_s(costs, bounds)
    if budget_s < least:
        raise NotEnoughTime(
            f"{budget_s:.0f} s do not fit {bounds.min_processes} paired processes of "
            f"{bounds.min_rounds} rounds ({least:.0f} s)"
        )
    processes = np.arange(bounds.min_processes, bounds.max_processes + 1)
    affordable = np.floor((budget_s / processes - costs.fixed_s) / costs.round_s + 1e-9)
    rounds = np.minimum(affordable, bounds.max_rounds)
    fits = rounds >= bounds.min_rounds
    return _best(noises, costs, processes[fits], rounds[fits].astype(int), alpha)


def allocate_per_minute(
    noises: Sequence[Noise],
    costs: PairedCosts,
    processes: int,
    alpha: float,
    bounds: Bounds = Bounds(),
) -> Allocation:
    """At ``processes`` paired processes (at least 2), the rounds that minimise ``E[H]^2 x
    time``: the width per minute. For one comparison, the integer next to
    :func:`classic_rounds`, bounded."""
    processes = max(processes, bounds.min_processes)
    rounds = np.arange(bounds.min_rounds, bounds.max_rounds + 1)
    widths = widest_half_width(noises, processes, rounds, alpha)
    per_minute = widths**2 * processes * costs.process_s(rounds)
    best = int(np.argmin(per_minute))
    return Allocation(
        int(rounds[best]), processes, float(widths[best]), float(costs.process_s(rounds[best]))
    )


def cheapest_reaching(
    noises: Sequence[Noise],
    costs: PairedCosts,
    half_width_log: float,
    alpha: float,
    bounds: Bounds = Bounds(),
) -> Allocation | None:
    """The quickest allocation whose expected half-width (of the widest comparison) is at most
    ``half_width_log``; None when none within the bounds reaches it. For each P the fewest rounds
    reaching it in closed form: ``sigma^2 / R + tau^2 <= P (h / (t c4))^2``."""
    processes = np.arange(bounds.min_processes, bounds.max_processes + 1)
    scale = sps.t.ppf(1 - alpha / 2, processes - 1) * c4(processes)
    room = processes * (half_width_log / scale) ** 2
    needed = np.full(processes.shape, float(bounds.min_rounds))
    for noise in noises:
        sigma2, tau2 = _variances(noise)
        slack = room - tau2
        reached = slack >= -1e-12 * room  # tau^2 alone at the target, up to rounding, reaches it
        if sigma2 == 0:
            each = np.where(reached, 0.0, np.inf)
        else:
            with np.errstate(divide="ignore"):
                each = np.where(slack > 0, np.ceil(sigma2 / slack - 1e-9), np.inf)
        needed = np.maximum(needed, each)
    fits = needed <= bounds.max_rounds
    if not fits.any():
        return None
    rounds = needed[fits].astype(int)
    times = processes[fits] * costs.process_s(rounds)
    best = int(np.argmin(times))
    chosen_p, chosen_r = int(processes[fits][best]), int(rounds[best])
    return Allocation(
        chosen_r,
        chosen_p,
        float(widest_half_width(noises, chosen_p, chosen_r, alpha)),
        float(costs.process_s(chosen_r)),
    )


def split_deadline(
    cells: Mapping[str, tuple[Sequence[Noise], PairedCosts]],
    budget_s: float,
    alpha: float,
    bounds: Bounds = Bounds(),
) -> dict[str, Allocation]:
    """Share ``budget_s`` among paired cells so that the widest expected half-width of any is the
    least the time allows: bisect on that width, each cell at its :func:`cheapest_reaching`
    allocation; then every cell re-allocated (:func:`allocate_within`) in its time and an equal
    share of what is left, which can only narrow it. One cell: :func:`allocate_within`.
    :class:`NotEnoughTime` when the fewest processes of every cell do not fit."""
    if not cells:
        return {}
    least = sum(least_time_s(costs, bounds) for _, costs in cells.values())
    if budget_s < least:
        raise NotEnoughTime(
            f"{budget_s:.0f} s do not fit {bounds.min_processes} paired processes of "
            f"{bounds.min_rounds} rounds for each of {len(cells)} paired cell(s) "
            f"({least:.0f} s)"
        )

    def reaching(width: float) -> dict[str, Allocation] | None:
        found = {}
        for key, (noises, costs) in cells.items():
            each = cheapest_reaching(noises, costs, width, alpha, bounds)
            if each is None:
                return None
            found[key] = each
        return found if sum(a.total_s for a in found.values()) <= budget_s else None

    # The widest that the cheapest allocations reach: every cell's fewest processes and rounds.
    high = max(
        float(widest_half_width(noises, bounds.min_processes, bounds.min_rounds, alpha))
        for noises, _ in cells.values()
    )
    low = high / 1e6
    for _ in range(80):  # on a log scale: 80 halvings of a 1e6 ratio end below 1e-15
        middle = math.sqrt(low * high)
        if reaching(middle) is None:
            low = middle
        else:
            high = middle
    chosen = reaching(high)
    assert chosen is not None  # high only ever moves to a width that is reached
    left = (budget_s - sum(a.total_s for a in chosen.values())) / len(cells)
    return {
        key: allocate_within(cells[key][0], cells[key][1], each.total_s + left, alpha, bounds)
        for key, each in chosen.items()
    }


# -- a run ---------------------------------------------------------------------------------------


def comparison_noises(
    records: Iterable[Record], label: str
) -> dict[str, dict[tuple[str, str], Noise]]:
    """Each paired cell's noise per comparison its processes give (every pair of a k-way
    process), from an earlier run's ok processes of >= 2 rounds, by
    :func:`mgbench.analysis.paired.estimate`."""
    by_cell: dict[str, list[Record]] = {}
    for record in records:
        if record.ok and record.paired is not None and len(record.paired.rounds) >= 2:
            by_cell.setdefault(record.cell_id, []).append(record)
    out: dict[str, dict[tuple[str, str], Noise]] = {}
    for cell_id, group in by_cell.items():
        out[cell_id] = {}
        for x, y in process_pairs(group[0].cell):
            timings = [r.paired for r in group if r.paired is not None]
            found = paired.estimate([t.log_ratios(x, y) for t in timings], alpha=0.05)
            out[cell_id][(x, y)] = Noise(
                math.sqrt(found.within_var),
                None if found.tau2 is None else math.sqrt(found.tau2),
                f"measured: {label} ({found.processes} process(es) x "
                f"{found.rounds // found.processes} rounds)",
            )
    return out


@dataclass(frozen=True)
class CellAllocation:
    """A paired cell: its comparisons' noise, its costs, the suite's own setting and the
    allocation chosen (for its widest comparison)."""

    cell: Cell
    noises: Mapping[tuple[str, str], Noise]
    costs: PairedCosts
    suite: Allocation  # the suite's pairs x rounds, its expected half-width
    chosen: Allocation
    alpha: float = 0.05

    @property
    def widest(self) -> tuple[str, str]:
        """The comparison whose expected half-width the chosen allocation is."""
        return max(
            self.noises,
            key=lambda pair: float(
                expected_half_width(
                    self.noises[pair], self.chosen.processes, self.chosen.rounds, self.alpha
                )
            ),
        )

    @property
    def median_half_width_pct(self) -> float:
        """The chosen allocation's median half-width (its widest comparison), in %."""
        found = median_half_width(
            self.noises[self.widest], self.chosen.processes, self.chosen.rounds, self.alpha
        )
        return math.sinh(found) * 100

    @property
    def classic_rounds(self) -> float:
        """R* of the widest comparison."""
        return classic_rounds(self.noises[self.widest], self.costs)


@dataclass(frozen=True)
class RunAllocation:
    """Every paired cell's allocation; ``deadline_s`` None: width per minute at the suite's
    pairs."""

    cells: tuple[CellAllocation, ...]
    fixed_s: float  # the isolated and timeline processes, as the plan costs them
    deadline_s: float | None
    budget_s: float | None  # what the paired cells may take (the deadline less margin and fixed)
    alpha: float

    @property
    def total_s(self) -> float:
        return self.fixed_s + sum(c.chosen.total_s for c in self.cells)

    @property
    def suite_total_s(self) -> float:
        return self.fixed_s + sum(c.suite.total_s for c in self.cells)

    def overrides(self) -> dict[str, tuple[int, int]]:
        """Paired cell id -> (rounds, processes) chosen (``Suite.with_allocation``)."""
        return {c.cell.cell_id: (c.chosen.rounds, c.chosen.processes) for c in self.cells}


def _cell_noises(
    cell: Cell,
    measured: Mapping[str, Mapping[tuple[str, str], Noise]],
    fallback: Noise,
) -> dict[tuple[str, str], Noise]:
    found = measured.get(cell.cell_id, {})
    out = {}
    for pair in process_pairs(cell):
        noise = found.get(pair, fallback)
        if noise.tau_log is None:  # one process could not see tau: the fallback's
            noise = dataclasses.replace(noise, tau_log=fallback.tau_log)
        out[pair] = noise
    return out


def run_noises(
    plan: RunPlan, records: Sequence[Record] = (), label: str = ""
) -> dict[str, dict[tuple[str, str], Noise]]:
    """Each paired cell's noise per comparison: measured in ``records`` (an earlier run) where it
    ran the cell; else as the plan's forecast finds it (the median of its other paired cells,
    else the device mode's default); a tau one process could not see, from the default."""
    measured = comparison_noises(records, label)
    headline = measured_noise(records, label)
    return {
        each.cell.cell_id: _cell_noises(
            each.cell, measured, _noise_for(each.cell, headline, plan.device_mode)
        )
        for each in plan.cells
        if each.cell.paired
    }


def allocate_run(
    plan: RunPlan,
    noises: Mapping[str, Mapping[tuple[str, str], Noise]],
    *,
    deadline_s: float | None = None,
    alpha: float = 0.05,
    margin: float = DEADLINE_MARGIN,
    bounds: Bounds = Bounds(),
) -> RunAllocation:
    """Every paired cell of ``plan`` allocated, with ``noises`` per cell and comparison
    (:func:`run_noises`): within ``deadline_s`` (less ``margin`` of it and the isolated and
    timeline processes, which cost what the plan says) for the narrowest widest interval;
    without one, for the width per minute at the suite's pairs. NotEnoughTime, saying what the
    least run would take, when the deadline is too short for an interval."""
    if not 0 <= margin < 1:
        raise ValueError(f"the deadline's margin must be in [0, 1), got {margin}")
    paired_plans: list[CellPlan] = [c for c in plan.cells if c.cell.paired]
    fixed_s = sum(c.total_s for c in plan.cells if not c.cell.paired)
    fixed_s += sum(c.total_s for c in plan.timelines)
    missing = [c.cell.cell_id for c in paired_plans if c.cell.cell_id not in noises]
    if missing:
        raise ValueError(f"no noise for paired cell(s) {', '.join(missing)}")
    inputs = {
        each.cell.cell_id: (
            dict(noises[each.cell.cell_id]),
            paired_costs(each.cell, each.cost),
        )
        for each in paired_plans
    }
    budget_s = None
    per_cell = {key: (list(found.values()), costs) for key, (found, costs) in inputs.items()}
    if deadline_s is None:
        chosen = {
            each.cell.cell_id: allocate_per_minute(
                *per_cell[each.cell.cell_id], each.processes, alpha, bounds
            )
            for each in paired_plans
        }
    else:
        budget_s = deadline_s * (1 - margin) - fixed_s
        least = sum(least_time_s(costs, bounds) for _, costs in per_cell.values())
        if budget_s < least:
            need_min = (fixed_s + least) / (1 - margin) / 60
            raise NotEnoughTime(
                f"--deadline {deadline_s / 60:g}: too short for an interval: the isolated and "
                f"timeline processes take ~{fixed_s:.0f} s and the fewest paired processes "
                f"({bounds.min_processes} of {bounds.min_rounds} rounds for each of "
                f"{len(per_cell)} paired cell(s)) ~{least:.0f} s more, with {margin:.0%} kept "
                f"free: give at least {math.ceil(need_min * 10) / 10:g} minutes"
            )
        chosen = split_deadline(per_cell, budget_s, alpha, bounds)
    cells = []
    for each in paired_plans:
        found, costs = inputs[each.cell.cell_id]
        assert each.cell.rounds is not None
        width = (
            float(widest_half_width(list(found.values()), each.processes, each.cell.rounds, alpha))
            if each.processes >= 2
            else math.inf  # one process: no interval
        )
        suite = Allocation(
            each.cell.rounds, each.processes, width, float(costs.process_s(each.cell.rounds))
        )
        cells.append(
            CellAllocation(each.cell, found, costs, suite, chosen[each.cell.cell_id], alpha)
        )
    return RunAllocation(tuple(cells), fixed_s, deadline_s, budget_s, alpha)

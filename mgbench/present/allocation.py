"""The allocation by variance component as text: ``mgbench run --plan``'s section on it, and the
line a ``--deadline`` run starts with (:mod:`mgbench.analysis.allocation`)."""

from __future__ import annotations

import math

from tabulate import tabulate

from mgbench.analysis.allocation import DEADLINE_MARGIN, Allocation, RunAllocation


def _duration(seconds: float) -> str:
    from mgbench.present.plan import duration

    return duration(seconds)


def _setting(each: Allocation) -> str:
    return f"{each.processes} x {each.rounds}"


def _width(each: Allocation) -> str:
    return "no interval" if math.isinf(each.half_width_log) else f"±{each.half_width_pct:.2f}%"


def _classic(rounds: float) -> str:
    return "∞ (tau 0)" if math.isinf(rounds) else f"{rounds:.1f}"


def allocation_lines(allocation: RunAllocation | str) -> list[str]:
    """The section: per paired cell the suite's setting and the allocation, each with its
    expected half-width and time; a string is why there is none (a deadline too short)."""
    heading = (
        "Allocation by variance component (P paired processes x R rounds; expected half-width "
        "E[H] = t(P-1) x c4(P) x sqrt((sd^2 / R + tau^2) / P) of the widest comparison a process "
        "gives, at a true difference of 0; half the intervals are narrower than the median, "
        "which lies below E[H]: 15% at P = 2, 6% at 3):"
    )
    if isinstance(allocation, str):
        return ["", heading, f"  {allocation}."]
    if allocation.deadline_s is None:
        basis = (
            "No --deadline: at the suite's paired processes, the rounds that minimise E[H]^2 x "
            "time (the width per minute); the continuous optimum is R* = sqrt(F x sd^2 / (c x "
            "tau^2)), F a process's fixed cost (start, build, tracing, warm-up), c one round."
        )
    else:
        budget = allocation.budget_s or 0.0
        basis = (
            f"With --deadline {allocation.deadline_s / 60:g}: the isolated and timeline processes "
            f"take ~{_duration(allocation.fixed_s)}, {DEADLINE_MARGIN:.0%} of the deadline is "
            f"kept free, and the paired cells share the remaining {_duration(budget)} so that "
            "the widest expected interval is as narrow as that allows (per cell: for each P the "
            "most rounds that fit, the P of the least E[H]; R* as below, for comparison)."
        )
    rows = []
    for each in allocation.cells:
        x, y = each.widest
        noise = each.noises[each.widest]
        rows.append(
            [
                each.cell.cell_id,
                f"{x} vs {y}",
                f"{noise.within_sd_log * 100:.1f}%",
                f"{(noise.tau_log or 0.0) * 100:.1f}%",
                f"{each.costs.fixed_s:.1f}",
                f"{each.costs.round_s:.2f}",
                _setting(each.suite),
                _width(each.suite),
                _duration(each.suite.total_s),
                _setting(each.chosen),
                f"{_width(each.chosen)} (median ±{each.median_half_width_pct:.2f}%)",
                _duration(each.chosen.total_s),
                _classic(each.classic_rounds),
            ]
        )
    headers = [
        "paired cell",
        "widest comparison",
        "sd",
        "tau",
        "F s",
        "c s",
        "suite P x R",
        "suite E[H]",
        "suite time",
        "allocated P x R",
        "allocated E[H]",
        "allocated time",
        "R*",
    ]
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    total = (
        f"Estimated wall time with the allocation: {_duration(allocation.total_s)} (with the "
        f"suite's setting: {_duration(allocation.suite_total_s)})."
    )
    if allocation.deadline_s is not None:
        total += " Running with --deadline uses this allocation (unless --pairs is given)."
    return ["", heading, basis, "", table, "", total]


def allocation_line(allocation: RunAllocation) -> str:
    """One line for the start of a ``--deadline`` run: what it allocated."""
    cells = "; ".join(
        f"{each.cell.cell_id} {each.chosen.processes} x {each.chosen.rounds} rounds "
        f"(E[H] {_width(each.chosen)})"
        for each in allocation.cells
    )
    return f"allocation: {cells}; estimated {_duration(allocation.total_s)}"

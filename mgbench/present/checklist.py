"""``mgbench doctor``'s checks as text: one line per check, its details indented below, a role
table for each compared placement, and a closing count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tabulate import tabulate

from mgbench.analysis.readiness import FAIL, OK, SKIP, STATUSES, WARN, Check, PlacementComparison

_LABELS = {OK: "[ ok ]", WARN: "[warn]", FAIL: "[FAIL]", SKIP: "[skip]"}
_INDENT = "       "
ROLE_LABELS = {
    "slice": "input slicing",
    "forward": "forward",
    "merge": "output merge",
    "loss": "loss",
    "backward": "backward",
    "grad_aggregate": "gradient aggregation",
    "update": "variable updates",
}


def role_table(comparison: PlacementComparison) -> str:
    rows = [
        [
            ROLE_LABELS.get(role.role, role.role),
            ", ".join(role.predicted_devices) or "-",
            ", ".join(role.observed_devices) or "-",
            f"{role.matched_ops}/{role.predicted_ops}",
            "yes" if role.agrees else "NO",
        ]
        for role in comparison.roles
    ]
    return tabulate(
        rows,
        headers=["role", "predicted", "ran on", "ops seen", "agrees"],
        tablefmt="github",
        disable_numparse=True,
    )


def format_check(check: Check) -> str:
    lines = [f"{_LABELS[check.status]} {check.name}: {check.summary}"]
    lines += [f"{_INDENT}{detail}" for detail in check.details]
    if check.placement is not None:
        lines += [f"{_INDENT}{line}" for line in role_table(check.placement).splitlines()]
    return "\n".join(lines)


def format_summary(checks: Sequence[Check], *, wall_s: float | None = None) -> str:
    """The closing lines: the count per status, what the exit status means, what was skipped."""
    counts = Counter(check.status for check in checks)
    tally = ", ".join(f"{counts.get(status, 0)} {status}" for status in STATUSES)
    verdict = (
        "a check failed (exit 1)"
        if counts.get(FAIL)
        else "everything that could be checked here passed (exit 0)"
    )
    took = f" in {wall_s:,.0f} s" if wall_s is not None else ""
    lines = [f"doctor{took}: {tally}; {verdict}"]
    skipped = [check.name for check in checks if check.status == SKIP]
    if skipped:
        lines.append(f"skipped here (the reasons are above): {', '.join(skipped)}")
    return "\n".join(lines)

"""Where the time goes, as text: one row per device, ms per step in each category."""

from __future__ import annotations

from tabulate import tabulate

from mgbench.analysis.timeline import CATEGORY_LABELS, DeviceTime, TimelineSummary
from mgbench.present.formats import MIB
from mgbench.trackers.tf_profiler import CATEGORIES, COPY_CATEGORIES

_SHORT_HEADERS = {
    "grad_aggregate": "grad agg",
    "copy_h2d": "copy H->D",
    "copy_d2d": "copy D->D",
    "copy_d2h": "copy D->H",
}


def category_header(category: str) -> str:
    """A category's column heading (short where the name is long)."""
    return _SHORT_HEADERS.get(category, category)


def _ms(value_s: float) -> str:
    # Tiny models spend microseconds per op: three decimals keep them visible.
    return f"{value_s * 1000:,.3f}"


def _cell(device: DeviceTime, category: str) -> str:
    text = _ms(device.seconds.get(category, 0.0))
    if category in COPY_CATEGORIES and category in device.bytes:
        text += f" ({device.bytes[category] / MIB:,.2f} MiB)"
    return text


def format_timeline(summary: TimelineSummary, title: str | None = None) -> str:
    """A github table of ms per step per device and category, the totals and the notes."""
    headers = ["device", "", *(category_header(c) for c in CATEGORIES), "total", "named"]
    rows = [
        [
            device.device,
            device.label,
            *(_cell(device, c) for c in CATEGORIES),
            _ms(device.total_s),
            f"{device.attributed_share:.0%}",
        ]
        for device in summary.devices
    ]
    rows.append(
        [
            "all",
            "",
            *(_ms(summary.category_s(c)) for c in CATEGORIES),
            _ms(summary.total_s),
            f"{summary.attributed_share:.0%}",
        ]
    )
    lines = [title] if title else []
    lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    wall = (
        f"; wall {_ms(summary.wall_s_per_step)} ms per step with the profiler on"
        if summary.wall_s_per_step is not None
        else ""
    )
    lines.append(
        f"ms per step over {summary.steps} profiled steps: each device's ops' summed kernel "
        f"time (ops of one device may overlap on several threads){wall}."
    )
    lines.append(
        f"named: share of the time in a category other than 'other' "
        f"({summary.attributed_share:.1%} overall); ops the placement audit placed: "
        f"{summary.matched_share:.1%} of the time. Categories: "
        + ", ".join(f"{category_header(c)} = {CATEGORY_LABELS[c]}" for c in _SHORT_HEADERS)
        + "."
    )
    if summary.unmatched:
        lines.append(f"ops the audit did not know (sample): {', '.join(summary.unmatched[:5])}")
    if summary.note:
        lines.append(summary.note)
    if summary.trace_path:
        lines.append(f"trace (TensorBoard, profile plugin): {summary.trace_path}")
    return "\n".join(lines)

"""Reports -> text: Markdown, CSV, LaTeX and HTML show the formatted values; JSON keeps the
numbers (null for n/a) and says each column's unit, so every format carries the same data.
HTML is a whole page (``present.html``), not a fragment: it is opened on its own, in a browser.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from tabulate import tabulate

from mgbench.present.html import html_document
from mgbench.present.model import Report, Section

FORMATS = ("md", "csv", "latex", "html", "json")
_TABLE_FORMATS = {"md": "github", "latex": "latex_booktabs"}


def table(section: Section, tablefmt: str = "github") -> str:
    return tabulate(
        section.text_rows(), headers=section.headers, tablefmt=tablefmt, disable_numparse=True
    )


def render(report: Report, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(to_data(report), indent=2, ensure_ascii=False, allow_nan=False)
    if fmt == "csv":
        return _render_csv(report)
    if fmt == "html":
        return html_document(report)
    heading = {"md": "# {}", "latex": "\\section*{{{}}}"}[fmt]
    sub = {"md": "## {}", "latex": "\\subsection*{{{}}}"}[fmt]
    escapes: dict[str, Callable[[str], str]] = {"md": str, "latex": _latex_text}
    text = escapes[fmt]
    out = [heading.format(text(report.title)), ""]
    for line in report.preamble:
        out += [text(line), ""]
    for section in report.sections:
        out += [sub.format(text(section.title)), ""]
        if section.rows:
            out += [table(section, _TABLE_FORMATS[fmt]), ""]
        elif not section.notes:
            out += ["(nothing to show)", ""]
        bullet = "- {}" if fmt == "md" else "{}"
        out += [bullet.format(text(note)) for note in section.notes]
        if section.notes:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_LATEX_SPECIAL = {c: "\\" + c for c in "%&_#$"}


def _latex_text(value: str) -> str:
    """Prose for LaTeX: escape what would comment out or break a line (tables escape their own)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in value).replace("**", "")


def _render_csv(report: Report) -> str:
    """One CSV: note rows first (machine, caveats, warnings), then each table's rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in report.preamble:
        writer.writerow(["note", line])
    for section in report.sections:
        for note in section.notes:
            writer.writerow(["note", f"{section.title}: {note}"])
    buffer.write("\n")
    for section in report.sections:
        if not section.rows:
            continue
        writer.writerow(["table", *section.headers])
        for row in section.text_rows():
            writer.writerow([section.title, *row])
        buffer.write("\n")
    return buffer.getvalue()


def to_data(report: Report) -> dict[str, Any]:
    """The report as JSON-able data: values are the numbers, not their text."""
    return {
        "title": report.title,
        "preamble": report.preamble,
        "sections": [
            {
                "title": s.title,
                "units": {c.header: c.unit for c in s.columns if c.unit is not None},
                "rows": [dict(zip(s.headers, row, strict=True)) for row in s.rows],
                "notes": s.notes,
            }
            for s in report.sections
        ],
    }

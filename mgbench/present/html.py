"""A report as one self-contained HTML page: inline CSS, the plots as data URIs, and a
Content-Security-Policy that lets the browser load nothing from anywhere else, so the file can
be mailed, archived or opened offline and look the same.

The page is built from the report's data (sections, columns, rows), not by converting its
Markdown: every text is escaped first, and only then gains markup (``**bold**``, badges).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from mgbench.analysis.claim import Outcome
from mgbench.present.model import VERDICT_HEADER, Report, Section
from mgbench.present.prose import CPU_SIMULATION_VERDICT, VIRTUAL_GPU_VERDICT, WARNINGS_TITLE

# The marker a claim row's verdict ends with, and the short label its badge shows.
HARDWARE_MARKERS = {
    CPU_SIMULATION_VERDICT: "CPU simulation: not evidence about GPUs",
    VIRTUAL_GPU_VERDICT: "virtual GPUs on one chip",
}
SUPPORTS, CONTRADICTS, INCONCLUSIVE, OTHER = "supports", "contradicts", "inconclusive", "other"
_KIND_OF_OUTCOME = {
    Outcome.SUPPORTS.value: SUPPORTS,
    Outcome.SMALLER.value: CONTRADICTS,
    Outcome.LARGER.value: CONTRADICTS,
    Outcome.INCONCLUSIVE.value: INCONCLUSIVE,
}
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
# What each plot file of present.plots shows, by the start of its name (for alt text).
_PLOT_KINDS = {
    "claim-forest": "The claim: each paired comparison's speed-up with its CI",
    "baselines-forest": "Each strategy against its baselines, with CIs",
    "throughput-": "Images/s against replica count, per strategy",
    "memory-": "Peak memory per device",
    "steps-": "Step times of every process",
}
# The page may load nothing but its own inline styles and data: images; a stray external URL
# is refused by the browser (and reported on its console) instead of leaking a request.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_BOLD = re.compile(r"\*\*(.+?)\*\*")

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
  sans-serif; }
main { max-width: 1600px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
#about p, ul.notes { max-width: 120ch; }
h1 { font-size: 1.7rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .25rem;
  border-bottom: 1px solid var(--line); }
a { color: #0969da; }
.generated { color: var(--muted); font-size: .85rem; margin: 0 0 1rem; }
nav.toc { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px;
  padding: .6rem 1.2rem; margin: 1rem 0; }
nav.toc h2 { border: 0; margin: .2rem 0; font-size: 1rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.4rem; }
.callout { border: 1px solid #d4a72c; border-left: 6px solid #bf8700; background: #fff8c5;
  border-radius: 6px; padding: .6rem 1rem; margin: .8rem 0; }
.callout p { margin: .3rem 0; }
section.warnings { border: 1px solid #d4a72c; border-left: 6px solid #bf8700;
  background: #fff8c5; border-radius: 6px; padding: 0 1rem .6rem; margin-top: 2rem; }
section.warnings h2 { border-color: #d4a72c; margin-top: .8rem; }
.table-wrap { overflow-x: auto; margin: .5rem 0; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; }
/* Headers wrap, so a wide table shrinks to the page before its verdicts scroll out of view. */
th { background: var(--bg-alt); text-align: left; vertical-align: bottom; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.verdict { min-width: 15rem; }
.badge { display: inline-block; border-radius: 1em; padding: .05rem .6rem; margin: .1rem 0;
  font-weight: 600; font-size: .8rem; border: 1px solid transparent; }
.verdict-supports { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.verdict-contradicts { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.verdict-inconclusive { background: #eaeef2; color: #424a53; border-color: #afb8c1; }
.verdict-other { background: #ddf4ff; color: #0a3069; border-color: #80ccff; }
.badge.hardware { background: #fff8c5; color: #7d4e00; border-color: #d4a72c; }
.detail { color: var(--muted); }
ul.notes { color: var(--fg); font-size: .9rem; padding-left: 1.3rem; }
.empty { color: var(--muted); font-style: italic; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; }
@media print { nav.toc { display: none; } main { max-width: none; padding: 0; } }
"""


def inline(text: str) -> str:
    """Plain text -> HTML: escaped first, then ``**x**`` -> ``<strong>x</strong>`` (the only
    Markdown the report's prose uses), so nothing in the data can become markup."""
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text))


def verdict_kind(text: str) -> str:
    """supports / contradicts / inconclusive / other, from the words a verdict starts with (a
    downgraded 'CI inside the claimed range' on a CPU simulation is other, never supports)."""
    head = text.split(" (", 1)[0]
    return _KIND_OF_OUTCOME.get(head, OTHER)


def verdict_badge(text: str) -> str:
    """The verdict's outcome as a coloured badge, its detail beside it, and the hardware marker
    (CPU simulation, virtual GPUs) as a badge of its own."""
    markers: list[str] = []
    stripped = True
    while stripped:
        stripped = False
        for marker, label in HARDWARE_MARKERS.items():
            if text.endswith(marker):
                text = text[: -len(marker)]
                markers.insert(0, label)
                stripped = True
    head, _, rest = text.partition(" (")
    parts = [f'<span class="badge verdict-{verdict_kind(text)}">{inline(head)}</span>']
    if rest:
        parts.append(f'<span class="detail">({inline(rest)}</span>')
    parts += [f'<span class="badge hardware">{inline(label)}</span>' for label in markers]
    return " ".join(parts)


def section_id(index: int, title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].rstrip("-")
    return f"s{index}-{slug}" if slug else f"s{index}"


def _is_numeric(column_unit: str | None, values: Sequence[object]) -> bool:
    present = [v for v in values if v is not None]
    return column_unit is not None or (
        bool(present) and all(isinstance(v, int | float) for v in present)
    )


def _table(section: Section) -> str:
    numeric = [
        _is_numeric(column.unit, [row[i] for row in section.rows])
        for i, column in enumerate(section.columns)
    ]
    head = "".join(
        f'<th scope="col" class="num">{inline(h)}</th>'
        if num
        else f'<th scope="col">{inline(h)}</th>'
        for h, num in zip(section.headers, numeric, strict=True)
    )
    body = []
    for row in section.text_rows():
        cells = []
        for i, (column, value) in enumerate(zip(section.columns, row, strict=True)):
            if column.header == VERDICT_HEADER:
                cells.append(f'<td class="verdict">{verdict_badge(value)}</td>')
            elif numeric[i]:
                cells.append(f'<td class="num">{inline(value)}</td>')
            else:
                cells.append(f"<td>{inline(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{chr(10).join(body)}\n</tbody></table></div>"
    )


def _notes(notes: Sequence[str], callouts: frozenset[str]) -> str:
    plain = [n for n in notes if n not in callouts]
    out = [_callout(n) for n in notes if n in callouts]
    if plain:
        out.append('<ul class="notes">' + "".join(f"<li>{inline(n)}</li>" for n in plain) + "</ul>")
    return "\n".join(out)


def _callout(text: str) -> str:
    return f'<div class="callout" role="note"><p>{inline(text)}</p></div>'


def _section(index: int, section: Section, callouts: frozenset[str]) -> str:
    warnings = section.title == WARNINGS_TITLE
    attrs = f'id="{section_id(index, section.title)}"'
    if warnings:
        attrs += ' class="warnings" role="alert"'
    parts = [f"<section {attrs}>", f"<h2>{inline(section.title)}</h2>"]
    if section.rows:
        parts.append(_table(section))
    elif not section.notes:
        parts.append('<p class="empty">(nothing to show)</p>')
    if section.notes:
        parts.append(_notes(section.notes, callouts))
    parts.append("</section>")
    return "\n".join(parts)


def alt_text(path: Path) -> str:
    """What a plot shows, from its file name (present.plots names them by kind and cell)."""
    stem = path.stem
    for prefix, kind in _PLOT_KINDS.items():
        if stem.startswith(prefix):
            which = stem[len(prefix) :].strip("-").replace("-", " ")
            return f"{kind}: {which}" if which else kind
    return f"Plot: {stem}"


def image_data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path}: cannot embed {path.suffix!r}; use one of {', '.join(_MIME)}")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(path: Path) -> str:
    return (
        f'<figure><img src="{image_data_uri(path)}" alt="{html.escape(alt_text(path))}">'
        f"<figcaption>{html.escape(path.name)}</figcaption></figure>"
    )


def html_document(report: Report, images: Sequence[Path] = (), *, generated_by: str = "") -> str:
    """The report as one HTML page that needs no other file and no network: a table of
    contents, the preamble (the report's callouts, its hardware caveats, in boxes), each
    section's table with verdict badges and its notes, the warnings boxed, and ``images``
    embedded as data URIs."""
    images = [Path(p) for p in images]
    entries = [("about", "About this run")]
    entries += [(section_id(i, s.title), s.title) for i, s in enumerate(report.sections, 1)]
    if images:
        entries.append(("plots", "Plots"))
    toc = "".join(f'<li><a href="#{anchor}">{inline(title)}</a></li>' for anchor, title in entries)
    preamble = [
        _callout(line) if line in report.callouts else f"<p>{inline(line)}</p>"
        for line in report.preamble
    ]
    body = [
        f"<h1>{inline(report.title)}</h1>",
        f'<p class="generated">{inline(generated_by)}</p>' if generated_by else "",
        f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>',
        '<section id="about"><h2>About this run</h2>',
        *preamble,
        "</section>",
        *(_section(i, s, report.callouts) for i, s in enumerate(report.sections, 1)),
    ]
    if images:
        body += ['<section id="plots"><h2>Plots</h2>', *map(_figure, images), "</section>"]
    generator = (
        f'<meta name="generator" content="{html.escape(generated_by)}">\n' if generated_by else ""
    )
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"{generator}"
        f"<title>{html.escape(report.title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )

"""The HTML report without a browser: one self-contained page, every text escaped before any
markup, ``**bold**`` as <strong>, a contents entry per section, a badge class per verdict kind,
and plots as data URIs (tests/tf/test_html_browser.py opens the page in Chromium)."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mgbench.analysis.claim import Outcome, Verdict
from mgbench.present import html as page
from mgbench.present import prose, render, sections
from mgbench.present.model import Column, Report, Section
from mgbench.records import store

DATA = Path(__file__).resolve().parent / "data"
SMOKE_RUN = Path(__file__).resolve().parents[2] / "results" / "smoke" / "20261130-171743-vm"
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """What the document's tags say: ids, links, sources, and the classes of each tag."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}

    def with_class(self, cls: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if cls in a.get("class", "").split()]


def png(width: int = 2, height: int = 1) -> bytes:
    """A valid grey PNG, without drawing anything (matplotlib is slow to import)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def verdict_report(*verdicts: str) -> Report:
    return Report(
        "verdicts",
        [],
        [Section("Claim", [Column("model"), Column("verdict")], [["m", v] for v in verdicts])],
    )


def small_report() -> Report:
    records = store.read_records(DATA / "small_results.jsonl")
    return sections.build_report(records, title="synthetic")


def test_the_page_is_one_file_that_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    image = tmp_path / "throughput-TinyCNN-32px-b16.png"
    image.write_bytes(png())
    text = page.html_document(small_report(), [image], generated_by="mgbench 0.1.0")
    parsed = Page(text)
    assert text.startswith("<!doctype html>\n")
    assert parsed.named("meta")[0] == {"charset": "utf-8"}
    assert [m["content"] for m in parsed.named("meta") if m.get("http-equiv")] == [page.CSP]
    assert len(parsed.named("style")) == 1 and not parsed.named("link")
    assert not parsed.named("script")
    sources = [a.get("src", "") for _, a in parsed.tags] + [
        a.get("href", "") for _, a in parsed.tags
    ]
    assert all(s == "" or s.startswith(("data:", "#")) for s in sources), sources
    assert "url(" not in text and "@import" not in text


def test_every_text_is_escaped_before_markup(tmp_path: Path) -> None:
    report = Report(
        HOSTILE,
        [HOSTILE],
        [Section(HOSTILE, [Column(HOSTILE), Column("verdict")], [[HOSTILE, HOSTILE]], [HOSTILE])],
    )
    image = tmp_path / '"><script>.png'
    image.write_bytes(png())
    text = page.html_document(report, [image], generated_by=HOSTILE)
    assert "<script" not in text and "<img src=x" not in text
    parsed = Page(text)
    assert not parsed.named("script")
    assert [a["src"] for a in parsed.named("img")] == [page.image_data_uri(image)]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in text
    # title, generator, heading, preamble, column, cell, verdict badge, note, toc entry
    assert text.count("&lt;script&gt;") >= 9


def test_bold_markdown_becomes_strong_and_is_never_printed() -> None:
    report = Report(
        "t",
        ["**CPU simulation**: replicas", "a **b** and **<c>**"],
        [Section("s", [Column("x")], [["**cell**"]], ["**note**: text"])],
    )
    text = page.html_document(report)
    assert "**" not in text
    assert "<strong>CPU simulation</strong>: replicas" in text
    assert "a <strong>b</strong> and <strong>&lt;c&gt;</strong>" in text
    assert "<strong>note</strong>: text" in text and "<strong>cell</strong>" in text
    assert "**" not in page.html_document(small_report())


def test_every_section_has_a_contents_entry_that_leads_to_it(tmp_path: Path) -> None:
    report = small_report()
    report.sections.append(Section(report.sections[0].title, [], [], ["same title twice"]))
    image = tmp_path / "memory-TinyCNN.png"
    image.write_bytes(png())
    parsed = Page(page.html_document(report, [image]))
    (toc,) = [a for a in parsed.named("nav")]
    links = [a["href"] for a in parsed.named("a")]
    assert toc["class"] == "toc"
    assert len(links) == len(report.sections) + 2  # the preamble and the plots too
    assert len(set(links)) == len(links)
    assert {link.removeprefix("#") for link in links} <= parsed.ids()
    headings = [a for a in parsed.named("section")]
    assert [f"#{s['id']}" for s in headings] == links


@pytest.mark.parametrize(
    ("verdict", "kind"),
    [
        ("supports the claim (CI inside 5-12%)", page.SUPPORTS),
        (Outcome.SUPPORTS.value, page.SUPPORTS),
        ("contradicts: smaller than claimed (no detectable difference)", page.CONTRADICTS),
        (Outcome.LARGER.value, page.CONTRADICTS),
        ("inconclusive (about 135 more paired process(es) would decide)", page.INCONCLUSIVE),
        (Verdict(Outcome.INCONCLUSIVE, "2 and 2 processes").text, page.INCONCLUSIVE),
        # On hardware that cannot show the claim, a CI inside the range is not support.
        ("CI inside the claimed range (CI inside 5-12%)", page.OTHER),
        ("no paired estimate (skipped: keras3-only)", page.OTHER),
        (Outcome.FASTER.value, page.OTHER),
    ],
)
def test_each_verdict_kind_gets_its_badge_class(verdict: str, kind: str) -> None:
    assert page.verdict_kind(verdict) == kind
    for marker in ("", prose.CPU_SIMULATION_VERDICT, prose.VIRTUAL_GPU_VERDICT):
        parsed = Page(page.html_document(verdict_report(verdict + marker)))
        (badge,) = parsed.with_class(f"verdict-{kind}")
        assert badge["class"] == f"badge verdict-{kind}"
        assert len(parsed.with_class("hardware")) == (1 if marker else 0)


def test_a_cpu_simulation_is_boxed_and_marked_on_every_claim_verdict() -> None:
    text = page.html_document(verdict_report("inconclusive (x)" + prose.CPU_SIMULATION_VERDICT))
    assert '<span class="badge verdict-inconclusive">inconclusive</span>' in text
    assert page.HARDWARE_MARKERS[prose.CPU_SIMULATION_VERDICT] in text
    records = store.read_records(SMOKE_RUN / "results.jsonl")
    text = page.html_document(sections.build_report(records, title="smoke"))
    parsed = Page(text)
    assert len(parsed.with_class("callout")) == 1
    assert re.search(r'class="callout"[^>]*><p><strong>CPU simulation</strong>', text)
    claim_verdicts = parsed.with_class("verdict-inconclusive") + parsed.with_class("verdict-other")
    assert len(parsed.with_class("hardware")) == len(claim_verdicts) > 0
    assert parsed.with_class("warnings")[0]["role"] == "alert"


def test_a_real_verdict_of_the_stored_results_is_green() -> None:
    parsed = Page(page.html_document(small_report()))
    assert parsed.with_class("verdict-supports")
    assert not parsed.with_class("hardware") and not parsed.with_class("callout")


def test_plots_are_embedded_as_data_uris_with_alt_text(tmp_path: Path) -> None:
    images = []
    for name in ("claim-forest.png", "throughput-TinyCNN-32px-b16-jax.png", "other.png"):
        images.append(tmp_path / name)
        images[-1].write_bytes(png(3, 2))
    parsed = Page(page.html_document(small_report(), images))
    shown = parsed.named("img")
    assert len(shown) == 3
    for image, attrs in zip(images, shown, strict=True):
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        assert base64.b64decode(attrs["src"].removeprefix(prefix)) == image.read_bytes()
    assert [a["alt"] for a in shown] == [page.alt_text(image) for image in images] and shown[1][
        "alt"
    ] == "Images/s against replica count, per strategy: TinyCNN 32px b16 jax"
    bad = tmp_path / "plot.pdf"
    bad.write_bytes(b"%PDF")
    with pytest.raises(ValueError, match=r"cannot embed '\.pdf'"):
        page.html_document(small_report(), [bad])


def test_render_html_is_the_whole_page_and_the_other_formats_are_unchanged() -> None:
    report = small_report()
    assert render.render(report, "html") == page.html_document(report)
    assert render.render(report, "md") == (DATA / "expected_report.md").read_text()

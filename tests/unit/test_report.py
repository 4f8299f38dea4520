"""Reports: a stored results file against a stored expected table, formats, mixing, the CLI."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mgbench import analysis
from mgbench.cli import claim_range
from mgbench.commands.compare import compare_runs
from mgbench.present import report
from mgbench.records import store

DATA = Path(__file__).resolve().parent / "data"


def small_records():
    return store.read_records(DATA / "small_results.jsonl")


def test_report_matches_the_stored_expected_table():
    rendered = report.render(report.build_report(small_records(), title="synthetic"), "md")
    assert rendered == (DATA / "expected_report.md").read_text()


def test_memory_saving_and_scaling_known_answers():
    cells = analysis.cell_results(small_records())
    rows = {r.cell.strategy: r for r in analysis.memory_rows(cells)}
    assert analysis.memory_saving_pct(rows["inplace"], rows["concat"], "GPU:0") == pytest.approx(
        (1 - 700 / 820) * 100
    )
    assert rows["concat"].nvml_process_peak_bytes == {"0": 1120 * 2**20, "1": 940 * 2**20}
    scaling = {r.cell.strategy: r for r in analysis.scaling_rows(cells)}
    by = {c.strategy: c.images_per_s for c in cells}
    assert scaling["inplace"].efficiency == pytest.approx(by["inplace"] / (2 * by["single"]))
    assert scaling["concat"].vs_mirrored == pytest.approx(by["concat"] / by["mirrored"])


def test_results_from_different_machines_are_refused_unless_allowed():
    records = small_records()
    records[0] = {**records[0], "environment": {**records[0]["environment"], "host": "other"}}
    with pytest.raises(analysis.MixedResultsError, match="2 different machines or versions"):
        report.build_report(records, title="mixed")
    built = report.build_report(records, title="mixed", allow_mixed=True)
    text = report.render(built, "md")
    assert "- MIXED: results from 2 machines or versions are merged" in text


def test_cpu_simulation_is_said_on_every_report():
    records = [{**r, "device_mode": "cpu-simulation"} for r in small_records()]
    for fmt in ("md", "html", "latex"):
        assert "CPU simulation" in report.render(report.build_report(records, title="t"), fmt)


def test_every_format_carries_the_same_verdict():
    built = report.build_report(small_records(), title="synthetic")
    verdict = "faster, within the claimed 5-12%"
    data = json.loads(report.render(built, "json"))
    assert data["sections"][0]["rows"][0]["verdict"] == verdict
    rows = [r for r in csv.reader(io.StringIO(report.render(built, "csv"))) if r]
    assert rows[0][0] == "note" and rows[0][1].startswith("Machine: synthetic-host")
    first_table = next(i for i, r in enumerate(rows) if r[0] == "table")
    assert rows[first_table + 1][-1] == verdict
    assert "\\begin{tabular}" in report.render(built, "latex")
    assert "<table>" in report.render(built, "html")
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        report.render(built, "pdf")


def test_weak_results_are_flagged():
    records = [r for r in small_records() if r["repeat"] == 0]
    notes = analysis.weak_result_notes(analysis.cell_results(records))
    assert "TinyCNN-32px-b16-inplace-x2: only 1 process(es) and 10 step samples" in notes[1]


@pytest.mark.parametrize(("text", "expected"), [("5:12", (5.0, 12.0)), ("0:3.5", (0.0, 3.5))])
def test_claim_parsing(text, expected):
    assert claim_range(text) == expected


@pytest.mark.parametrize("text", ["5-12", "12:5", "a:b"])
def test_bad_claims_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--claim"):
        claim_range(text)


def test_report_and_compare_commands_write_beside_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(DATA / "small_results.jsonl", run / "results.jsonl")
    result = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "report", str(run)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "faster, within the claimed 5-12%" in result.stdout
    assert (run / "report.md").read_text() == result.stdout.rstrip("\n") + "\n"
    for png in ("throughput-TinyCNN-32px-b16.png", "memory-TinyCNN-32px-b16-x2.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text = compare_runs(run, run)
    row = "| TinyCNN | keras3    | 32   | 16              | inplace    | 2          | 178.5"
    assert row in text
    assert text.count("no detectable difference") == 4

    missing = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "report", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert missing.returncode == 2
    assert "no such run folder or results file" in missing.stderr

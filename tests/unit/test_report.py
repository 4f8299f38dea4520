"""Reports: a stored results file against a stored expected table, formats, mixing, the CLI."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from data.make_paired_results import paired_run
from published import published

from mgbench.analysis import cells as analysis_cells
from mgbench.analysis.cells import cell_results, memory_rows, scaling_rows, weak_result_notes
from mgbench.analysis.claim import DEFAULT_CLAIM, DEFAULT_CLAIMS, SEED_QUESTION
from mgbench.analysis.comparisons import claim_pairs, memory_saving_pct
from mgbench.commands import flags
from mgbench.commands.compare import compare_runs
from mgbench.present import export, prose, render, sections, summary
from mgbench.records import environment, store
from mgbench.records.record import Record
from mgbench.vocabulary import DeviceMode

DATA = Path(__file__).resolve().parent / "data"
BATCH = 32 * 32 * 32 * 3 * 4  # the small results' batch: 2 x 16 images of 32 x 32 x 3 float32
ROOT = Path(__file__).resolve().parents[2]


def small_records():
    return store.read_records(DATA / "small_results.jsonl")


def test_report_matches_the_stored_expected_table():
    rendered = render.render(sections.build_report(small_records(), title="synthetic"), "md")
    assert rendered == (DATA / "expected_report.md").read_text()


def test_memory_saving_and_scaling_known_answers():
    cells = cell_results(small_records())
    rows = {r.cell.strategy: r for r in memory_rows(cells)}
    assert memory_saving_pct(rows["inplace"], rows["concat"], "GPU:0") == pytest.approx(
        (1 - 700 / 820) * 100
    )
    assert rows["concat"].nvml_process_peak_bytes == {"0": 1120 * 2**20, "1": 940 * 2**20}
    scaling = {r.cell.strategy: r for r in scaling_rows(cells)}
    by = {c.strategy: c.images_per_s for c in cells}
    assert scaling["inplace"].efficiency == pytest.approx(by["inplace"] / (2 * by["single"]))
    assert scaling["concat"].vs_mirrored == pytest.approx(by["concat"] / by["mirrored"])


def test_results_from_different_machines_are_refused_unless_allowed():
    records = small_records()
    elsewhere = dataclasses.replace(records[0].environment, host="other")
    records[0] = dataclasses.replace(records[0], environment=elsewhere)
    with pytest.raises(environment.MixedResultsError, match="2 different machines or versions"):
        sections.build_report(records, title="mixed")
    built = sections.build_report(records, title="mixed", allow_mixed=True)
    text = render.render(built, "md")
    assert "- MIXED: results from 2 machines or versions are merged" in text


def test_cpu_simulation_is_said_on_every_report():
    records = [dataclasses.replace(r, device_mode="cpu-simulation") for r in small_records()]
    for fmt in ("md", "html", "latex"):
        assert "CPU simulation" in render.render(sections.build_report(records, title="t"), fmt)


def titled(built, title: str):
    """The section of a built report with this title."""
    return next(section for section in built.sections if section.title == title)


def test_every_format_carries_the_same_verdict():
    built = sections.build_report(small_records(), title="synthetic")
    verdict = "supports the claim (CI inside 5-12%)"
    data = json.loads(render.render(built, "json"))
    assert data["sections"][0]["title"] == prose.headline_title(DEFAULT_CLAIM)
    by_title = {section["title"]: section for section in data["sections"]}
    assert by_title[prose.cross_check_title(DEFAULT_CLAIM)]["rows"][0]["verdict"] == verdict
    assert by_title[prose.cross_check_title(SEED_QUESTION)]["rows"][0]["verdict"] == "faster"
    rows = [r for r in csv.reader(io.StringIO(render.render(built, "csv"))) if r]
    assert rows[0][0] == "note" and rows[0][1].startswith("Machine: synthetic-host")
    (claim_row,) = [r for r in rows if r[0] == prose.cross_check_title(DEFAULT_CLAIM)]
    assert claim_row[-1] == verdict
    assert "\\begin{tabular}" in render.render(built, "latex")
    assert "<table>" in render.render(built, "html")
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render.render(built, "pdf")


def test_weak_results_are_flagged():
    records = [r for r in small_records() if r.repeat == 0]
    notes = weak_result_notes(cell_results(records))
    assert "TinyCNN-32px-b16-inplace-x2: only 1 process(es) and 10 step samples" in notes[1]


def test_json_keeps_numbers_with_their_units_and_null_for_missing():
    records = small_records()
    cells = cell_results(records)
    data = json.loads(render.render(sections.build_report(records, title="t", cells=cells), "json"))
    duplication = data["sections"][1]
    claim, question, throughput, scaling, memory, placement = data["sections"][2:8]
    assert question["rows"][0]["processes"] == {"inplace": 5, "concat": 5}
    (pair,) = claim_pairs(cells, DEFAULT_CLAIM)
    row = claim["rows"][0]
    assert row["speedup"] == pytest.approx(pair.comparison.change_pct)
    assert row["95% CI"] == pytest.approx(list(pair.comparison.ci_pct))
    assert row["processes"] == {"inplace": 5, "wholebatch": 5}
    assert row["inplace img/s"] == pytest.approx(pair.a.images_per_s)
    assert isinstance(row["U p-value"], float) and isinstance(row["replicas"], int)
    assert claim["units"]["speedup"] == "%"
    inplace = next(r for r in throughput["rows"] if r["strategy"] == "inplace")
    assert inplace["runs ok"] == {"ok": 5, "runs": 5}
    assert set(inplace["mean ± sd (proc)"]) == {"mean", "stdev"}
    assert throughput["units"]["p90 step ms"] == "s" and 0 < inplace["p90 step ms"] < 1
    single = next(r for r in scaling["rows"] if r["strategy"] == "inplace")
    assert 0 < single["scaling efficiency"] < 1
    by_strategy = {r["strategy"]: r for r in memory["rows"]}
    assert by_strategy["concat"]["TF peak first device"] == {"GPU:0": 820 * 2**20}
    assert by_strategy["concat"]["NVML process peak"] == {"0": 1120 * 2**20, "1": 940 * 2**20}
    inplace_saving = by_strategy["inplace"]
    assert inplace_saving["in-place saving vs concat"] == pytest.approx((1 - 700 / 820) * 100)
    assert inplace_saving["in-place saving vs whole-batch"] == pytest.approx((1 - 700 / 760) * 100)
    assert by_strategy["concat"]["in-place saving vs concat"] is None  # "" in Markdown
    copies = {r["strategy"]: r for r in duplication["rows"]}
    assert duplication["units"]["batch data per GPU (MiB)"] == "bytes"
    assert copies["wholebatch"]["batch data per GPU (MiB)"] == {"GPU:0": BATCH, "GPU:1": BATCH}
    assert [copies[s]["duplication"] for s in ("inplace", "wholebatch", "concat")] == [1, 2, 1.5]
    assert memory["units"]["host RSS"] == "bytes"
    mirrored = next(r for r in placement["rows"] if r["strategy"] == "mirrored")
    inplace_placement = next(r for r in placement["rows"] if r["strategy"] == "inplace")
    assert mirrored["merge"] is None and mirrored["unplaced ops"] is None
    assert inplace_placement["input slicing"] == ["CPU:0"]
    assert inplace_placement["unplaced ops"] == {"ops": 52, "default_device": "GPU:0"}


def test_the_summary_table_shows_every_cell_and_its_memory():
    table = summary.summary_table(small_records())
    assert table.startswith("Machine: synthetic-host (Synthetic GPU; gpu; TF 2.21.0")
    row = "| TinyCNN | keras3    | 32   | 16              | concat     | 2          | 5/5"
    assert row in table
    concat = next(line for line in table.splitlines() if "| concat " in line)
    cells = [cell.strip() for cell in concat.split("|")]
    assert cells[-4:-1] == ["GPU:0 820 · GPU:1 640", "#0 1,120 · #1 940", "2,048"]


@pytest.mark.parametrize("summary_md", published("*/*/summary.md"), ids=lambda p: p.parent.name)
def test_published_summaries_regenerate_identically(summary_md):
    records = store.read_records(summary_md.parent / "results.jsonl")
    assert summary.summary_table(records) + "\n" == summary_md.read_text()


@pytest.mark.parametrize(
    ("given", "claim_range", "question_range"),
    [
        ([], (5.0, 12.0), None),
        (["3:8"], (3.0, 8.0), None),
        (["0:3.5"], (0.0, 3.5), None),
        (["inplace/concat=1:4"], (5.0, 12.0), (1.0, 4.0)),
        (["3:8", "inplace/concat=1:4", "inplace/concat=none"], (3.0, 8.0), None),
    ],
)
def test_claim_flags_set_each_pairs_range(given, claim_range, question_range):
    parser = argparse.ArgumentParser()
    flags.add_claim(parser)
    claims = flags.claims(parser.parse_args([arg for text in given for arg in ("--claim", text)]))
    assert [c.pair for c in claims.items] == [("inplace", "wholebatch"), ("inplace", "concat")]
    assert claims.primary.range_pct == claim_range
    assert claims.items[1].range_pct == question_range


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("5-12", "LOW:HIGH"),
        ("12:5", "LOW < HIGH"),
        ("a:b", "LOW:HIGH"),
        ("inplace=1:2", "A/B=LOW:HIGH"),
        ("/concat=1:2", "A/B=LOW:HIGH"),
        ("inplace/mirrored=1:2", "no claim or question about inplace/mirrored"),
    ],
)
def test_bad_claims_are_refused(text, says):
    with pytest.raises(argparse.ArgumentTypeError, match="--claim") as refused:
        flags.claim_spec(text)
    assert says in str(refused.value)


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
    assert "supports the claim (CI inside 5-12%)" in result.stdout
    assert (run / "report.md").read_text() == result.stdout.rstrip("\n") + "\n"
    for png in ("throughput-TinyCNN-32px-b16.png", "memory-TinyCNN-32px-b16-x2.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text = compare_runs(run, run)
    row = "| TinyCNN | keras3    | 32   | 16              | inplace    | 2          | 177.9"
    assert row in text
    assert text.count("no difference (95% CI inside ±2%)") == 5

    missing = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "report", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert missing.returncode == 2
    assert "no such run folder or results file" in missing.stderr


def test_the_unpaired_cross_check_hides_its_ci_below_five_processes_a_side():
    records = [r for r in small_records() if r.repeat < 3]
    built = sections.build_report(records, title="t")
    cross_check = titled(built, prose.cross_check_title(DEFAULT_CLAIM))
    (row,) = cross_check.rows
    assert row[cross_check.headers.index("95% CI")] is None  # shown as n/a
    assert "inconclusive" in row[-1] and "run at least 5 processes a side" in row[-1]
    assert "processes a side would decide" not in row[-1]
    assert cross_check.notes == [
        "TinyCNN-32px-b16-x2: CI not shown: fewer than 5 processes a side, and a bootstrap over "
        "so few understates the spread between processes"
    ]


def test_the_transfer_section_shows_bytes_per_role_on_gpus():
    records = small_records()
    section = sections.transfers_section(cell_results(records))
    by_strategy = {
        row[0]: dict(zip(section.headers, section.text_rows()[i], strict=True))
        for i, row in enumerate(section.rows)
    }
    assert by_strategy["concat"]["batch"] == "0.375" and by_strategy["concat"]["slices"] == "0.188"
    assert by_strategy["concat"]["into GPU:0"] == "2.38"  # the batch and GPU:0's weights
    assert by_strategy["wholebatch"]["batch"] == "0.750"  # the whole batch to both GPUs
    assert by_strategy["inplace"]["batch"] == "0" and by_strategy["inplace"]["slices"] == "0.375"
    assert by_strategy["inplace"]["total"] == "8.38"  # slices, and 2 MiB of weights each way
    # a run recorded before the audit existed has no such section
    unaudited = [dataclasses.replace(record, transfers=None) for record in records]
    assert sections.transfers_section(cell_results(unaudited)) is None


# -- honest GPU reporting: virtual GPUs, NVML, energy (issue 12) --------------------------------


def as_virtual_gpu_run() -> list:
    """SYNTHETIC: the small results and a paired in-place/concat cell, relabelled as measured on
    4 virtual GPUs of one chip (no machine ran them). The paired cell's true speed-up is 8%, inside
    the claimed 5-12%, so on real GPUs its verdict would support the claim."""
    records = small_records()
    environment = records[0].to_json()["environment"]
    paired = [{**r, "environment": environment} for r in paired_run(5, seed=7, true_pct=8.0)]
    relabelled = []
    for data in [r.to_json() for r in records] + paired:
        data["device_mode"] = DeviceMode.VIRTUAL_GPU
        relabelled.append(Record.from_json(data))
    return relabelled


def test_synthetic_virtual_gpu_run_marks_every_claim_row_and_shows_no_scaling_efficiency():
    """A synthetic virtual-GPU results set: the preamble says it, every claim row (paired headline
    and unpaired cross-check) carries the marker, nothing 'supports the claim', and the scaling
    section has no efficiency."""
    built = sections.build_report(as_virtual_gpu_run(), title="synthetic virtual GPUs")
    assert prose.virtual_gpu_note(DEFAULT_CLAIMS) in built.preamble
    headline = built.sections[0]
    cross_check = titled(built, prose.cross_check_title(DEFAULT_CLAIM))
    scaling = titled(built, "Scaling against one device and against MirroredStrategy")
    assert headline.title == prose.headline_title(DEFAULT_CLAIM) and len(headline.rows) == 1
    assert (
        cross_check.title == prose.cross_check_title(DEFAULT_CLAIM) and len(cross_check.rows) == 1
    )
    for section in (headline, cross_check):
        for row in section.rows:
            verdict = row[section.headers.index("verdict")]
            assert verdict.endswith("(virtual GPUs on one chip: not the claim's hardware)")
            assert "supports" not in verdict
    assert "CI inside the claimed range" in headline.rows[0][-1]
    assert "CI inside the claimed range" in cross_check.rows[0][-1]
    efficiency = scaling.headers.index("scaling efficiency")
    assert [row[efficiency] for row in scaling.rows] == [None, None, None, None]
    assert {row[efficiency] for row in scaling.text_rows()} == {"not shown"}
    assert scaling.notes == [prose.VIRTUAL_GPU_SCALING_NOTE]
    text = render.render(built, "md")
    assert text.count("virtual GPUs on one chip: not the claim's hardware") >= 3
    assert "NVML's process figure is the same for every strategy" in text


def test_the_memory_section_explains_nvml_and_names_a_hidden_process():
    records = []
    for record in small_records():
        data = record.to_json()
        if record.cell.strategy == "concat":  # inside a container NVML never listed it
            for gpu in data["memory"]["nvml"].values():
                gpu["process_peak_bytes"] = None
                gpu["process_reason"] = "NVML listed other processes on GPU 0 but never this one"
        records.append(Record.from_json(data))
    cells = cell_results(records)
    memory = sections.memory_section(memory_rows(cells))
    assert prose.nvml_note() in memory.notes
    assert (
        "NVML process peak n/a: NVML listed other processes on GPU 0 but never this one "
        "(TinyCNN-32px-b16-concat-x2)"
    ) in memory.notes
    rows = {row[4]: row for row in memory.rows}
    assert rows["concat"][memory.headers.index("NVML process peak")] is None
    # the in-place saving reads TF peaks only, whatever NVML says
    saving = rows["inplace"][memory.headers.index("in-place saving vs concat")]
    assert saving == pytest.approx((1 - 700 / 820) * 100)


def with_joules(record: Record, joules_per_gpu: float) -> Record:
    data = record.to_json()
    data["energy"] = {
        index: {"joules": joules_per_gpu, "window_s": 2.0, "short_window": False, "reason": None}
        for index in data["memory"]["nvml"]
    }
    return Record.from_json(data)


def test_joules_per_image_reach_the_report_and_the_export():
    records = [with_joules(r, 16.0) for r in small_records()]
    cells = cell_results(records)
    throughput = sections.cells_section(cells)
    by_strategy = {row[4]: row for row in throughput.rows}
    column = throughput.headers.index("J/image")
    # two GPUs x 16 J over 2 replicas x 16 images x 10 steps; one GPU x 16 J over 160 images
    assert by_strategy["inplace"][column] == pytest.approx(32.0 / 320)
    assert by_strategy["single"][column] == pytest.approx(16.0 / 160)
    assert throughput.notes == [prose.ENERGY_NOTE]
    exported = {
        b["name"]: b["extra_info"] for b in export.to_pytest_benchmark(records)["benchmarks"]
    }
    inplace = exported["TinyCNN-32px-b16-inplace-x2"]
    assert inplace["joules_per_image"] == pytest.approx(0.1)
    assert inplace["joules_per_image_processes"] == 5
    assert inplace["energy"]["0"]["joules"] == 16.0 and inplace["energy_reason"] is None
    old = export.to_pytest_benchmark(small_records())["benchmarks"][0]["extra_info"]
    assert old["joules_per_image"] is None
    assert old["joules_per_image_reasons"] == [analysis_cells.NO_ENERGY_RECORDED]


def test_pytest_benchmark_machine_info_names_gpus_driver_and_builds(monkeypatch):
    from fakes import FakeNvml, fake_uuid

    from mgbench import pytest_plugin
    from mgbench.platform import hardware

    nvml = FakeNvml({0: {}, 1: {}}, pid=1)
    monkeypatch.setattr(hardware, "open_nvml", lambda: nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", fake_uuid(1))
    fake_tf = SimpleNamespace(
        __version__="2.21.0",
        sysconfig=SimpleNamespace(
            get_build_info=lambda: {
                "cuda_version": "12.5.1",
                "cudnn_version": "9",
                "is_cuda_build": True,
            }
        ),
    )
    monkeypatch.setitem(sys.modules, "tensorflow", fake_tf)  # a session that loaded TF
    info: dict = {}
    pytest_plugin.pytest_benchmark_update_machine_info(None, info)
    mgbench_info = info["mgbench"]
    assert mgbench_info["gpu"] == "Fake GPU 1" and mgbench_info["gpus"] == ["Fake GPU 1"]
    assert mgbench_info["gpu_uuids"] == [fake_uuid(1)] and mgbench_info["driver"] == "999.1"
    assert (mgbench_info["tensorflow"], mgbench_info["cuda_build"]) == ("2.21.0", "12.5.1")
    assert mgbench_info["cudnn_build"] == "9" and mgbench_info["tf_build_note"] is None


def test_pytest_benchmark_machine_info_on_a_cpu_machine_says_no_gpu(monkeypatch):
    from mgbench import pytest_plugin
    from mgbench.platform import hardware

    def no_nvml():
        raise hardware.NvmlUnavailable("NVML could not start: NVML Shared Library Not Found")

    monkeypatch.setattr(hardware, "open_nvml", no_nvml)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    info: dict = {}
    pytest_plugin.pytest_benchmark_update_machine_info(None, info)
    assert info["mgbench"]["gpu"] == (
        "no GPU (NVML could not start: NVML Shared Library Not Found)"
    )
    assert info["mgbench"]["gpus"] == [] and info["mgbench"]["cuda_build"] is None
    assert "not loaded in this session" in info["mgbench"]["tf_build_note"]
    assert "tensorflow" not in sys.modules  # the hook never imports TensorFlow itself

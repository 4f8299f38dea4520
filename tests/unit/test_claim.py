"""The claim's one home (``analysis.claim``): the range and its verdict rule, the hardware's
caveats as data, and ``--claim`` reaching every command that prints a verdict or a prediction."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from data.make_paired_results import paired_record
from test_predict_command import isolated_record, synthetic_run, write_run

from mgbench.analysis.claim import (
    DEFAULT_CLAIM,
    DEFAULT_CLAIMS,
    PR_10230,
    SEED_QUESTION,
    Caveat,
    Caveats,
    Claim,
    Outcome,
    Verdict,
    claim_args,
    parse_claim,
    parse_range,
    placed_against_claim,
)
from mgbench.commands.predict import predict_command
from mgbench.commands.report import report_run
from mgbench.execution.launcher import WorkerResult
from mgbench.present import prose
from mgbench.vocabulary import DeviceMode, Strategy

CLAIM_3_8 = DEFAULT_CLAIM.with_range((3, 8))
CLAIMS_3_8 = DEFAULT_CLAIMS.with_range((3, 8))


def test_the_claim_is_in_place_against_whole_batch_with_the_prs_six_rows():
    assert DEFAULT_CLAIM.pair == (Strategy.INPLACE, Strategy.WHOLEBATCH)
    assert DEFAULT_CLAIM.range_pct == (5.0, 12.0)
    assert DEFAULT_CLAIM.range_text == "5-12%" and DEFAULT_CLAIM.range_arg == "5:12"
    assert "10230" in DEFAULT_CLAIM.source and DEFAULT_CLAIM.evidence == PR_10230
    assert CLAIM_3_8.pair == DEFAULT_CLAIM.pair and CLAIM_3_8.range_text == "3-8%"
    # The PR's table, rounded as the PR's description rounds its gains
    rows = [(e.model, e.image_size, e.batch_per_replica, e.global_batch) for e in PR_10230]
    assert rows == [
        ("ResNet50", 224, 96, 384),
        ("ResNet50", 299, 64, 256),
        ("ResNet50", 224, 8, 32),
        ("InceptionV3", 224, 128, 512),
        ("InceptionV3", 299, 96, 384),
        ("InceptionV3", 224, 8, 32),
    ]
    assert [round(e.gain_pct, 1) for e in PR_10230] == [6.4, 6.6, 10.1, 7.8, 8.9, 8.2]


def test_the_seeds_question_has_no_range_and_comes_second():
    assert DEFAULT_CLAIMS.primary is DEFAULT_CLAIM
    assert DEFAULT_CLAIMS.items == (DEFAULT_CLAIM, SEED_QUESTION)
    assert SEED_QUESTION.pair == (Strategy.INPLACE, Strategy.CONCAT)
    assert not SEED_QUESTION.has_range and SEED_QUESTION.name == "The seed's question"
    with pytest.raises(ValueError, match="claims no range"):
        SEED_QUESTION.range_text  # noqa: B018
    assert DEFAULT_CLAIMS.about("inplace", "concat") is SEED_QUESTION
    assert DEFAULT_CLAIMS.about("concat", "inplace") is None


@pytest.mark.parametrize(
    ("given", "ranges", "args"),
    [
        ([], [(5.0, 12.0), None], []),
        (["3:8"], [(3.0, 8.0), None], ["3:8"]),
        (["inplace/concat=1:4"], [(5.0, 12.0), (1.0, 4.0)], ["inplace/concat=1:4"]),
        (["none"], [None, None], ["none"]),
    ],
)
def test_claim_arguments_round_trip(given, ranges, args):
    claims = DEFAULT_CLAIMS
    for text in given:
        claims = parse_claim(text, claims)
    assert [c.range_pct for c in claims.items] == ranges
    assert claim_args(claims) == args


@pytest.mark.parametrize("bad", [(12.0, 5.0), (5.0, 5.0), (-1.0, 3.0)])
def test_a_claim_needs_an_increasing_non_negative_range(bad):
    with pytest.raises(ValueError, match="LOW < HIGH"):
        Claim(Strategy.INPLACE, Strategy.CONCAT, bad)


@pytest.mark.parametrize(
    ("text", "expected"), [("5:12", (5.0, 12.0)), ("0:2.5", (0.0, 2.5)), ("3:8", (3.0, 8.0))]
)
def test_ranges_parse(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["5", "5-12", "a:b", "12:5", "1:2:3"])
def test_bad_ranges_say_what_was_expected(text):
    with pytest.raises(ValueError, match="LOW"):
        parse_range(text)


@pytest.mark.parametrize(
    ("ci", "outcome", "detail"),
    [
        ((6.0, 10.0), Outcome.SUPPORTS, "CI inside 5-12%"),
        ((5.0, 12.0), Outcome.SUPPORTS, "CI inside 5-12%"),  # the edges belong to the range
        ((-2.0, 2.5), Outcome.SMALLER, "no detectable difference"),
        ((-6.0, -1.0), Outcome.SMALLER, "slower"),
        ((1.0, 4.0), Outcome.SMALLER, "faster, by less than claimed"),
        ((13.0, 20.0), Outcome.LARGER, ""),
    ],
)
def test_a_ci_is_placed_against_the_range(ci, outcome, detail):
    assert placed_against_claim(ci, (5.0, 12.0)) == Verdict(outcome, detail)


@pytest.mark.parametrize("ci", [(4.0, 6.0), (11.0, 13.0), (-1.0, 20.0)])
def test_a_ci_on_an_edge_is_not_placed(ci):
    assert placed_against_claim(ci, (5.0, 12.0)) is None


def test_caveats_come_from_the_device_modes_and_only_demote_support():
    supports = Verdict(Outcome.SUPPORTS, "CI inside 5-12%")
    assert Caveats.of([DeviceMode.GPU, None]) == Caveats()
    assert Caveats().qualify(supports) is supports
    for modes in ([DeviceMode.CPU_SIMULATION], [DeviceMode.GPU, DeviceMode.VIRTUAL_GPU]):
        caveats = Caveats.of(modes)
        assert caveats and caveats.qualify(supports) == Verdict(
            Outcome.INSIDE_RANGE, "CI inside 5-12%"
        )
        larger = Verdict(Outcome.LARGER)
        assert caveats.qualify(larger) is larger
    both = Caveats.of(["cpu-simulation", "virtual-gpu"])
    assert both.found == {Caveat.CPU_SIMULATION, Caveat.VIRTUAL_GPUS}
    assert prose.caveat_marker(both) == prose.CPU_SIMULATION_VERDICT + prose.VIRTUAL_GPU_VERDICT


def test_prose_names_the_claim_and_never_writes_a_range():
    assert prose.headline_title(DEFAULT_CLAIM) == (
        "The claim, paired in-process: in-place against whole-batch"
    )
    assert prose.headline_title(SEED_QUESTION) == (
        "The seed's question, paired in-process: in-place against concat"
    )
    assert "3-8% faster than whole-batch" in prose.verdict_rule(CLAIM_3_8, 2.0)
    assert "|speed-up| >= 2%" in prose.verdict_rule(SEED_QUESTION, 2.0)
    cpu_note = prose.cpu_simulation_note(CLAIMS_3_8)
    assert "in-place and concat splits coincide" in cpu_note and "whole-batch" in cpu_note
    assert "not the 3-8% claim" in cpu_note
    assert "not the 3-8% claim" in prose.virtual_gpu_note(CLAIMS_3_8)


# -- every section of one report: the same verdict with the same caveat -------------------------


def relabelled(run, mode: str):
    """The synthetic run's records as measured in ``mode`` (they are SYNTHETIC either way)."""
    path = run / "results.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for data in lines:
        data["device_mode"] = mode
    path.write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")
    return run


@pytest.mark.parametrize("mode", [DeviceMode.VIRTUAL_GPU, DeviceMode.CPU_SIMULATION])
def test_no_section_of_a_report_with_hardware_supports_the_claim_on_such_hardware(tmp_path, mode):
    """The paired processes' true speed-up is 8%, inside 5-12%: on GPUs they support the claim.
    Measured on virtual GPUs (or a CPU), no section may say so, the link-cost prediction beside
    the verdict (``--hardware``) included, and every verdict that reads the CI against the range
    carries the hardware's marker."""
    run = relabelled(synthetic_run(tmp_path), mode)
    text, _ = report_run(run, fmt="json", with_plots=False, hardware="4xP100-pcie3")
    marker = prose.caveat_marker(Caveats.of([mode]))
    data = json.loads(text)
    titles = [section["title"] for section in data["sections"]]
    assert "Link-cost prediction beside the measured verdict" in titles
    shown = []
    for section in data["sections"]:
        for row in section["rows"]:
            for header, value in row.items():
                if "verdict" in header and isinstance(value, str):
                    shown.append((section["title"], header, value))
    assert shown
    for title, header, value in shown:
        assert "supports the claim" not in value, (title, header, value)
        assert value.endswith(marker), (title, header, value)
    inside = [v for _, _, v in shown if v.startswith(Outcome.INSIDE_RANGE.value)]
    assert len(inside) >= 2  # the headline and the prediction's paired verdict
    md, _ = report_run(run, fmt="md", with_plots=False, hardware="4xP100-pcie3")
    verdict_rule = prose.verdict_rule(DEFAULT_CLAIM, 2.0)
    assert md.replace(verdict_rule, "").count("supports the claim") == 0


def test_on_real_gpus_the_same_records_support_the_claim_in_every_section(tmp_path):
    run = synthetic_run(tmp_path)  # device_mode "gpu"
    text, _ = report_run(run, fmt="json", with_plots=False, hardware="4xP100-pcie3")
    values = [
        value
        for section in json.loads(text)["sections"]
        for row in section["rows"]
        for header, value in row.items()
        if "verdict" in header and isinstance(value, str) and "supports" in value
    ]
    assert len(values) == 2  # the paired headline and the paired verdict beside the prediction


# -- --claim on every command that prints a verdict or a prediction -----------------------------


def thresholds(text: str) -> list[str]:
    return sorted(set(re.findall(r">= ([\d.]+)% while compute", text)))


def test_predict_claim_moves_the_thresholds(tmp_path, run_cli):
    run = synthetic_run(tmp_path)
    assert thresholds(predict_command(run, "4xP100-pcie3", compute_ms=100)) == ["12", "5"]
    moved = predict_command(run, "4xP100-pcie3", compute_ms=100, claims=CLAIMS_3_8)
    assert thresholds(moved) == ["3", "8"]
    result = run_cli("predict", run, "--hardware", "4xP100-pcie3", "--claim", "3:8")
    assert result.code == 0 and thresholds(result.out) == ["3", "8"]


def test_report_and_index_read_verdicts_against_the_given_range(tmp_path, run_cli):
    rng = np.random.default_rng(5)
    records = [paired_record(r, rng, true_pct=4.0, round_sd=0.005) for r in range(3)]
    (tmp_path / "results" / "suite").mkdir(parents=True)
    run = write_run(tmp_path / "results" / "suite" / "20260101-000000-host", records)
    default = run_cli("report", run, "--no-plots")
    assert "contradicts: smaller than claimed" in default.out
    moved = run_cli("report", run, "--no-plots", "--claim", "3:8")
    assert moved.code == 0 and "supports the claim (CI inside 3-8%)" in moved.out
    assert "in-place 3-8% faster than whole-batch" in moved.out
    indexed = run_cli("index", tmp_path / "results", "--claim", "3:8")
    assert indexed.code == 0
    index = (tmp_path / "results" / "README.md").read_text(encoding="utf-8")
    assert "supports the claim (CI inside 3-8%)" in index and "claimed 3-8%" in index


SUITE = """
[suite]
name = "claim38"
strategies = ["inplace", "wholebatch"]
replicas = [2]
pairs = 3
rounds = 10
block_steps = 2
[[models]]
name = "TinyMLP"
image_size = 8
classes = 3
"""


def test_run_prints_its_end_of_run_verdict_against_the_given_range(tmp_path, run_cli, monkeypatch):
    """``mgbench run SUITE --claim 3:8``: the paired processes (a fake worker, in-place 4%
    faster) are read against 3-8% at the end of the run, and the report command it prints
    keeps the range."""
    from mgbench.execution import executors

    rng = np.random.default_rng(9)

    def spawn(cell, options, log_path, **_):
        if not cell.paired:
            return WorkerResult(isolated_record(cell.strategy, 0, model="TinyMLP"), 1.0)
        record = paired_record(0, rng, true_pct=4.0, round_sd=0.005, rounds=cell.rounds)
        return WorkerResult({"status": "ok", "paired": record["paired"]}, 1.0)

    monkeypatch.setattr(executors, "make_spawner", lambda *args, **kwargs: spawn)
    suite = tmp_path / "claim38.toml"
    suite.write_text(SUITE, encoding="utf-8")
    output = tmp_path / "run"
    result = run_cli("run", suite, "--output", output, "--claim", "3:8")
    assert result.code == 0, result.err
    headline = result.out.split(prose.headline_title(DEFAULT_CLAIM))[1]
    assert "supports the claim (CI inside 3-8%)" in headline
    assert f"Full report: mgbench report {output} --claim 3:8" in headline

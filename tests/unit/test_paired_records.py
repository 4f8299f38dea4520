"""Paired comparisons through the records path: simulated runs with a known ratio and noise, the
headline section, the ratio gate on paired data, and readers that count nothing twice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data.make_paired_results import (
    kway_record,
    kway_run,
    paired_record,
    paired_run,
    true_speedup_pct,
)

from mgbench.analysis import gates
from mgbench.analysis.cells import cell_results
from mgbench.analysis.claim import DEFAULT_CLAIM, DEFAULT_CLAIMS, SEED_QUESTION, Outcome
from mgbench.analysis.comparisons import paired_comparisons
from mgbench.commands.report import report_run
from mgbench.present import prose, render, sections, summary
from mgbench.records import store
from mgbench.records.record import Record

CLAIM = (5.0, 12.0)


def write(folder, records):
    folder.mkdir(exist_ok=True)
    path = folder / "results.jsonl"
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    return folder


def read(records):
    return [Record.from_json(r) for r in records]


@pytest.mark.parametrize(("true_pct", "process_sd"), [(0.0, 0.0), (8.0, 0.0), (8.0, 0.02)])
def test_the_estimate_recovers_a_known_ratio_through_the_store(tmp_path, true_pct, process_sd):
    run = write(tmp_path / "run", paired_run(4, seed=5, true_pct=true_pct, process_sd=process_sd))
    (comparison,) = paired_comparisons(store.read_records(run / "results.jsonl"))
    estimate = comparison.estimate
    assert comparison.ok == comparison.runs == estimate.processes == 4
    assert estimate.rounds == 80
    assert estimate.ci_pct[0] <= true_pct <= estimate.ci_pct[1]
    assert estimate.speedup_pct == pytest.approx(true_pct, abs=1.5)
    if process_sd:
        assert estimate.tau_pct > 0.5  # the process effect is seen and reported
        assert estimate.half_width_pct > 1.0


def test_simulated_coverage_through_records_is_near_nominal():
    hits = 0
    for seed in range(60):
        (comparison,) = paired_comparisons(read(paired_run(3, seed, round_sd=0.04)))
        low, high = comparison.estimate.ci_pct
        hits += low <= 0 <= high
    assert hits >= 52  # 95% nominal: ~57 of 60


def test_verdicts_from_records_with_known_answers():
    def verdict(**options):
        (c,) = paired_comparisons(
            read(paired_run(3, 2, **options)), claims=DEFAULT_CLAIMS.with_range(CLAIM)
        )
        return c.verdict

    assert verdict(true_pct=8.0, round_sd=0.01).outcome is Outcome.SUPPORTS
    assert verdict(true_pct=0.0, round_sd=0.01).text == (
        "contradicts: smaller than claimed (no detectable difference)"
    )
    assert verdict(true_pct=-6.0, round_sd=0.01).detail == "slower"
    assert verdict(true_pct=20.0, round_sd=0.01).outcome is Outcome.LARGER
    inconclusive = verdict(true_pct=5.0, round_sd=0.05, rounds=4)
    assert inconclusive.outcome is Outcome.INCONCLUSIVE and "would decide" in inconclusive.detail


def test_a_one_process_paired_cell_is_inconclusive_in_the_report():
    # A tight 8% from one process would support the claim, were the processes' spread seen.
    records = read(paired_run(1, 2, true_pct=8.0, round_sd=0.005))
    (comparison,) = paired_comparisons(records, claims=DEFAULT_CLAIMS.with_range(CLAIM))
    low, high = comparison.estimate.ci_pct
    assert low > 5 and high < 12
    assert comparison.verdict.outcome is Outcome.INCONCLUSIVE
    assert comparison.verdict.detail == (
        "one process: the between-process spread cannot be seen; run ≥ 2 paired processes"
    )
    text = render.render(sections.build_report(records, title="one"), "md")
    assert "run ≥ 2 paired processes" in text


def test_isolated_analysis_ignores_paired_records():
    assert cell_results(read(paired_run(2, 1))) == []


def test_the_headline_comes_first_and_names_each_model():
    records = read(
        paired_run(3, 1, true_pct=0.0)
        + paired_run(2, 2, true_pct=0.0, round_sd=0.05, model="MobileNetV2", image_size=32)
    )
    built = sections.build_report(records, title="paired", alpha=0.1)
    headline = built.sections[0]
    assert "paired" in headline.title
    assert [row[0] for row in headline.rows] == ["ResNet50", "MobileNetV2"]
    assert "90% CI" in headline.headers and "between-process sd" in headline.headers
    text = render.render(built, "md")
    assert "| inplace | wholebatch | 3/3 " in text
    low, high = paired_comparisons(records, alpha=0.1)[0].estimate.ci_pct
    assert f"[{low:+.1f}, {high:+.1f}]%" in text
    assert "trimmed mean" in text and "processes - 1 degrees of freedom" in text


def test_a_cpu_simulation_never_says_supports():
    records = read(paired_run(3, 1, true_pct=8.0, round_sd=0.01, device_mode="cpu-simulation"))
    (comparison,) = paired_comparisons(records)
    assert comparison.verdict.outcome is Outcome.SUPPORTS  # what the CI says stays the outcome
    (row,) = sections.build_report(records, title="t").sections[0].text_rows()
    assert "supports" not in row[-1]
    assert row[-1].endswith(prose.CPU_SIMULATION_VERDICT)


def test_an_aa_pair_is_read_against_zero():
    records = read(paired_run(3, 1, strategy="inplace", versus="inplace"))
    (comparison,) = paired_comparisons(records)
    assert comparison.verdict is None and not comparison.is_claim
    built = sections.build_report(records, title="t")
    claim, others = built.sections[:2]
    assert claim.rows == [] and claim.notes == [prose.not_run_note(DEFAULT_CLAIM)]
    assert others.title == prose.OTHER_PAIRS_TITLE
    (row,) = others.text_rows()
    assert row[-1] == "CI covers 0"


@pytest.mark.parametrize(
    ("true_pct", "round_sd", "outcome"),
    [
        (8.0, 0.01, Outcome.FASTER),
        (-8.0, 0.01, Outcome.SLOWER),
        (0.0, 0.005, Outcome.NO_DIFFERENCE),
        (1.0, 0.08, Outcome.INCONCLUSIVE),
    ],
)
def test_the_seeds_question_is_read_against_zero_and_the_minimum_effect(
    true_pct, round_sd, outcome
):
    records = read(paired_run(3, 2, versus="concat", true_pct=true_pct, round_sd=round_sd))
    (comparison,) = paired_comparisons(records)
    assert comparison.claim == SEED_QUESTION and comparison.verdict.outcome is outcome
    if outcome is Outcome.INCONCLUSIVE:
        assert "would decide" in comparison.verdict.detail


def test_three_splits_open_with_the_claim_then_the_question_then_the_other_pair():
    records = read(
        paired_run(3, 1, true_pct=8.0, round_sd=0.01)
        + paired_run(3, 2, versus="concat", true_pct=3.0, round_sd=0.01)
        + paired_run(3, 3, strategy="wholebatch", versus="concat", true_pct=-5.0)
    )
    titles = [s.title for s in sections.build_report(records, title="t").sections]
    assert titles[:3] == [
        "The claim, paired in-process: in-place against whole-batch",
        "The seed's question, paired in-process: in-place against concat",
        prose.OTHER_PAIRS_TITLE,
    ]
    text = summary.claim_headline(records)
    assert text.index("in-place against whole-batch") < text.index("in-place against concat")
    assert "faster" in text.split("in-place against concat")[1]


def test_claim_headline_is_the_table_and_the_report_command():
    records = read(paired_run(3, 1))
    text = summary.claim_headline(records, run_folder="results/x")
    assert text.startswith(f"## {prose.headline_title(DEFAULT_CLAIM)}")
    assert "| ResNet50 " in text and text.endswith("Full report: mgbench report results/x")
    assert "No paired comparison" in summary.claim_headline([])


def test_a_skipped_paired_cell_is_shown_with_its_reason():
    records = read([paired_record(0, np.random.default_rng(0), status="skipped")])
    (row,) = sections.build_report(records, title="t").sections[0].text_rows()
    assert row[-1] == "no paired estimate (skipped: skipped: synthetic)"


@pytest.mark.parametrize(
    ("true_pct", "minimum", "check"),
    [(0.0, 0.97, gates.Decision.PASS), (-10.0, 0.97, gates.Decision.FAIL)],
)
def test_the_ratio_gate_reads_paired_data(true_pct, minimum, check):
    records = read(paired_run(3, 4, true_pct=true_pct, round_sd=0.01))
    (line,) = gates.gate_ratio(records, "inplace", "wholebatch", minimum=minimum)
    assert line.decision is check and line.reason.startswith("paired ratio ")


def test_the_paired_ratio_gate_is_inconclusive_when_its_ci_straddles_the_minimum():
    records = read(paired_run(3, 4, true_pct=-3.0, round_sd=0.05, rounds=4))
    (line,) = gates.gate_ratio(records, "inplace", "wholebatch", minimum=0.97)
    assert line.decision is gates.Decision.INCONCLUSIVE
    assert "CI straddles 0.97" in line.reason and "would decide" in line.reason


def test_a_skipped_paired_pair_passes_the_ratio_gate():
    records = read([paired_record(r, np.random.default_rng(r), status="skipped") for r in (0, 1)])
    (line,) = gates.gate_ratio(records, "inplace", "wholebatch")
    assert line.passed and line.reason.startswith("skipped: not runnable here")


def test_duplicate_records_are_collapsed_and_not_counted_as_processes(tmp_path):
    run = write(tmp_path / "run", paired_run(3, 1))
    write(run, paired_run(2, 9))  # a second run on the same folder: repeats 0 and 1 again
    read_back = store.read_run(run / "results.jsonl")
    assert len(read_back.records) == 3
    assert sum("written 2 times" in w for w in read_back.warnings) == 2
    (comparison,) = paired_comparisons(read_back.records)
    assert comparison.runs == 3 and comparison.estimate.processes == 3
    text, _ = report_run(run, with_plots=False)
    assert "repeat 0 was written 2 times" in text.split("## Warnings")[1]


def test_a_torn_last_line_is_skipped_and_said_in_the_report(tmp_path):
    run = write(tmp_path / "run", paired_run(2, 1))
    with open(run / "results.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"schema_version": 1, "cell_id": "ResNet')
    read_back = store.read_run(run / "results.jsonl")
    assert len(read_back.records) == 2
    (warning,) = read_back.warnings
    assert warning.endswith(":3: a torn last line (a run stopped mid-write) was skipped")
    text, _ = report_run(run, with_plots=False)
    assert "a torn last line (a run stopped mid-write) was skipped" in text


# -- one process of three strategies: every pair from it --------------------------------------

SLOWER = (0.0, 8.0, 3.0)  # inplace, wholebatch, concat: % slower than inplace
PAIRS = [("inplace", "wholebatch"), ("inplace", "concat"), ("wholebatch", "concat")]


@pytest.mark.parametrize("process_sd", [0.0, 0.02])
def test_every_pair_of_a_three_way_process_recovers_its_true_ratio(tmp_path, process_sd):
    records = kway_run(4, seed=7, slower_pct=SLOWER, process_sd=process_sd, round_sd=0.01)
    run = write(tmp_path / "run", records)
    found = paired_comparisons(store.read_records(run / "results.jsonl"))
    assert [(c.a, c.b) for c in found] == PAIRS
    strategies = ("inplace", "wholebatch", "concat")
    for comparison in found:
        true_pct = true_speedup_pct(
            SLOWER, strategies.index(comparison.a), strategies.index(comparison.b)
        )
        estimate = comparison.estimate
        assert comparison.ok == comparison.runs == estimate.processes == 4
        assert estimate.rounds == 80
        assert estimate.ci_pct[0] <= true_pct <= estimate.ci_pct[1], comparison.label
        assert estimate.speedup_pct == pytest.approx(true_pct, abs=1.0 + 50 * process_sd)
        assert comparison.cell.cell_id == "ResNet50-32px-b8-inplace-vs-wholebatch-vs-concat-x2"


def test_pairwise_coverage_of_three_way_processes_is_near_nominal():
    hits = dict.fromkeys(PAIRS, 0)
    for seed in range(40):
        for c in paired_comparisons(read(kway_run(3, seed, slower_pct=SLOWER, round_sd=0.04))):
            true_pct = true_speedup_pct(
                SLOWER, *(("inplace", "wholebatch", "concat").index(s) for s in (c.a, c.b))
            )
            hits[(c.a, c.b)] += c.estimate.ci_pct[0] <= true_pct <= c.estimate.ci_pct[1]
    assert all(count >= 34 for count in hits.values()), hits  # 95% nominal: ~38 of 40


def test_processes_of_two_and_of_three_count_together_where_they_hold_both():
    two = paired_run(2, 1, true_pct=3.0, versus="concat")  # inplace-vs-concat, repeats 0, 1
    three = kway_run(3, 2, slower_pct=SLOWER)
    comparisons = paired_comparisons(read(two + three))
    assert [(c.a, c.b, c.runs) for c in comparisons] == [
        ("inplace", "concat", 5),
        ("inplace", "wholebatch", 3),
        ("wholebatch", "concat", 3),
    ]


def test_a_skipped_three_way_process_is_shown_in_each_of_its_pairs():
    records = read([kway_record(0, np.random.default_rng(0), status="skipped")])
    claim, question, others = sections.build_report(records, title="t").sections[:3]
    assert others.title == prose.OTHER_PAIRS_TITLE
    rows = [row for section in (claim, question, others) for row in section.text_rows()]
    assert len(rows) == 3
    assert all(row[-1] == "no paired estimate (skipped: skipped: synthetic)" for row in rows)


@pytest.mark.parametrize(
    ("numerator", "denominator", "check"),
    [
        ("inplace", "wholebatch", gates.Decision.PASS),  # 8% faster
        ("wholebatch", "concat", gates.Decision.FAIL),  # 4.6% slower, below 0.97
        ("inplace", "concat", gates.Decision.PASS),
    ],
)
def test_the_ratio_gate_reads_each_pair_of_a_three_way_process(numerator, denominator, check):
    records = read(kway_run(3, 4, slower_pct=SLOWER, round_sd=0.01))
    (line,) = gates.gate_ratio(records, numerator, denominator, minimum=0.97)
    assert line.decision is check and line.reason.startswith("paired ratio ")
    assert "from 3 process(es), 60 rounds" in line.reason

"""Runs until decided (``until_decided``, ``--until-decided``) through the launcher with a fake
worker: a look after each paired process from the second, the processes a look made
unnecessary recorded as skipped, --resume, --deadline, and what the reports say (no TF)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mgbench import cli
from mgbench.analysis import looks, multiplicity, paired, sequential
from mgbench.analysis.comparisons import paired_comparisons
from mgbench.analysis.sequential import SequentialDesign
from mgbench.commands.run import look_rule, run_and_summarise
from mgbench.config.suite import Cell, SuiteError, parse_suite
from mgbench.execution.launcher import Deadline, RunError, WorkerResult, run_suite
from mgbench.present import prose
from mgbench.present.render import render
from mgbench.present.sections import build_report
from mgbench.present.summary import claim_headline
from mgbench.records import store
from mgbench.records.record import (
    NOT_NEEDED_REASON,
    Record,
    not_needed_ending,
    not_needed_reason,
)

SUITE = """
[suite]
name = "seq"
strategies = ["inplace", "wholebatch", "concat"]
replicas = [2]
warmup_steps = 1
timed_steps = 2
repeats = 1
compare = [["inplace", "wholebatch"], ["inplace", "concat"]]
pairs = 5
rounds = 4
block_steps = 2
until_decided = true
[[models]]
name = "TinyMLP"
image_size = 8
classes = 3
batch_per_replica = [4, 8]
[[models]]
name = "TinyCNN"
image_size = 8
classes = 3
batch_per_replica = 4
"""
THREE_WAY = "inplace-vs-wholebatch-vs-concat-x2"
DECIDED = f"TinyMLP-8px-b4-{THREE_WAY}"  # processes agree: decided at the first look
FUTILE = f"TinyMLP-8px-b8-{THREE_WAY}"  # processes swing by 12 points: futile at the third
LONGEST = f"TinyCNN-8px-b4-{THREE_WAY}"  # wholebatch decides only at the last look

# Each process's wholebatch and concat step time over inplace's, by cell and repeat (0-based).
FACTORS = {
    # +8% and +0%, each process 0.001% off the one before: the first look's interval (at the
    # design's tiny first-look alpha) is +-0.4% wide, inside 5-12% and inside +-2%.
    DECIDED: lambda repeat: (1.08 * (1 + 1e-5 * repeat), 1 + 1e-5 * repeat),
    # +14% and +2% alternating: no look decides, and after 3 processes the last cannot either.
    FUTILE: lambda repeat: (1.02 if repeat % 2 else 1.14, 0.96 if repeat % 2 else 1.04),
    # +11, +6, +10, +7, +9%: undecided after 4 (CI 3.2-14.1%, 59% conditional power, not
    # futile); the fifth process decides. concat agrees with inplace throughout.
    LONGEST: lambda repeat: (1 + (11, 6, 10, 7, 9)[repeat] / 100, 1 + 1e-5 * repeat),
}


def isolated_payload(cell: Cell) -> dict:
    return {
        "status": "ok",
        "timing": {
            "first_step_s": 1.0,
            "step_s": [0.1, 0.1],
            "images_per_s": 80.0,
            "timed_wall_s": 0.2,
            "images_per_step": cell.global_batch,
        },
        "memory": {"tf_peak_bytes": None, "nvml": None, "host_rss_peak_bytes": 2**30},
    }


def three_way_payload(cell: Cell, repeat: int) -> dict:
    """Four rounds of inplace (a), wholebatch (b) and concat (c) at this repeat's factors;
    rounds wobble +-0.1% around them, symmetrically, so each process's mean is its factor."""
    wholebatch, concat = FACTORS[cell.cell_id](repeat)
    rounds = []
    for order, wobble in zip(
        ("abc", "cba", "bca", "acb"), (1.001, 0.999, 1.001, 0.999), strict=True
    ):
        rounds.append(
            {
                "first": order[0],
                "order": list(order),
                "a_step_s": [0.1, 0.1],
                "b_step_s": [0.1 * wholebatch * wobble] * 2,
                "others_step_s": [[0.1 * concat * wobble] * 2],
            }
        )
    return {
        "status": "ok",
        "paired": {
            "a": cell.strategy,
            "b": cell.versus,
            "others": list(cell.also),
            "block_steps": cell.block_steps,
            "first_step_s": [3.0, 2.0],
            "others_first_step_s": [2.5],
            "rounds": rounds,
        },
        "placement": None,
        "placement_reason": "paired process: placement is recorded by the isolated cells",
        "memory": {"tf_peak_bytes": None, "nvml": None, "host_rss_peak_bytes": 2**30},
    }


class FakeSpawner:
    """Paired processes at the chosen step times; interrupts (Ctrl-C) at call ``interrupt_at``."""

    def __init__(self, interrupt_at: int | None = None, clock=None, wall_s: float = 1.0):
        self.calls: list[str] = []
        self.interrupt_at = interrupt_at
        self.clock = clock
        self.wall_s = wall_s

    def __call__(self, cell, options, log_path, timeline=None):
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        name = log_path.name.removesuffix(".log")
        self.calls.append(name)
        if self.clock is not None:
            self.clock.now += self.wall_s
        if not cell.paired:
            return WorkerResult(isolated_payload(cell), wall_s=self.wall_s)
        repeat = int(name.rsplit("-r", 1)[1])
        return WorkerResult(three_way_payload(cell, repeat), wall_s=self.wall_s)


def paired_calls(spawn: FakeSpawner, cell_id: str) -> list[int]:
    return [int(c.rsplit("-r", 1)[1]) for c in spawn.calls if c.rsplit("-r", 1)[0] == cell_id]


def of(records, cell_id):
    return [r for r in records if r.cell_id == cell_id]


def test_a_decided_cell_stops_after_two_processes_a_futile_one_after_three_the_rest_at_five(
    tmp_path,
):
    suite = parse_suite(SUITE, "seq.toml")
    spawn, lines = FakeSpawner(), []
    code = run_and_summarise(suite, tmp_path / "run", spawn=spawn, emit=lines.append)
    assert code == 0
    assert paired_calls(spawn, DECIDED) == [0, 1]
    assert paired_calls(spawn, FUTILE) == [0, 1, 2]
    assert paired_calls(spawn, LONGEST) == [0, 1, 2, 3, 4]
    records = store.read_records(tmp_path / "run" / "results.jsonl")
    # every (cell, repeat) of the interleaved order is recorded, in that order
    assert [(r.cell_id, r.repeat) for r in records] == [(c.cell_id, r) for c, r in suite.runs()]
    decided = of(records, DECIDED)
    assert [r.status for r in decided] == ["ok", "ok", "skipped", "skipped", "skipped"]
    assert decided[2].reason == "not needed: decided after 2 processes (look 1 of 4)"
    assert {r.reason for r in decided[2:]} == {decided[2].reason}
    assert [not_needed_ending(r.status, r.reason) for r in decided] == [None] * 2 + ["decided"] * 3
    futile = of(records, FUTILE)
    assert [r.status for r in futile] == ["ok"] * 3 + ["skipped"] * 2
    assert futile[3].reason.startswith(
        "not needed: futile after 3 processes (look 2 of 4): TinyMLP-8px-b8-x2 "
        "inplace-vs-wholebatch would decide by 5 processes with 0% conditional power (< 10%)"
    )
    assert [r.status for r in of(records, LONGEST)] == ["ok"] * 5
    # the design is in the records: K on each paired cell, not in its id
    assert {r.cell.sequential_max for r in records if r.cell.paired} == {5}
    assert decided[0].to_json()["cell"]["sequential_max"] == 5
    # one progress line per look: 1 + 2 + 4
    look_lines = [line.strip() for line in lines if line.strip().startswith("look ")]
    assert len(look_lines) == 7
    level = (1 - SequentialDesign(5).look_alpha(2)) * 100
    assert look_lines[0].startswith(
        f"look 1 of 4 after 2 processes, {level:.4g}% CIs: inplace vs wholebatch +8.0% "
    )
    assert look_lines[0].endswith("-> stop: decided after 2 processes (look 1 of 4)")
    assert [line.split(" -> ")[1].split(" (")[0] for line in look_lines[1:]] == [
        "continue",
        "stop: futile after 3 processes",
        "continue",
        "continue: conditional power inplace vs wholebatch 32%",
        "continue: conditional power inplace vs wholebatch 59%",
        "stop: decided after 5 processes",
    ]
    assert look_lines[4].endswith("(futile when each undecided one is under 10%)")
    assert "until decided: 5 paired process(es) not needed" in "\n".join(lines)
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "Run until decided: 5 paired process(es) of 2 cell(s) not needed" in summary
    assert NOT_NEEDED_REASON not in summary  # no problem listed for them


def test_the_look_adjusted_interval_is_what_every_paired_table_prints(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    outcome = run_suite(
        suite, tmp_path / "run", spawn=FakeSpawner(), emit=lambda _: None, looks=look_rule()
    )
    comparisons = paired_comparisons(outcome.records)
    first = next(c for c in comparisons if c.cell.cell_id == DECIDED and c.b == "wholebatch")
    assert first.sequential is not None
    assert (first.sequential.processes, first.sequential.ending) == (2, "decided")
    assert first.sequential.looks_taken == 1
    design = first.sequential.design
    assert design == SequentialDesign(max_processes=5, alpha=0.05)
    level = design.look_alpha(2)
    ok = [r for r in of(outcome.records, DECIDED) if r.ok]
    expected = paired.estimate([r.paired.log_ratios("inplace", "wholebatch") for r in ok], level)
    assert first.estimate == expected and first.estimate.alpha == level
    assert first.verdict.outcome.value == "supports the claim"
    low, high = first.estimate.ci_pct  # +-0.4% at the first look's alpha (about 0.0008)
    assert 7.5 < low < 8 < high < 8.5 and level < 0.001
    futile = next(c for c in comparisons if c.cell.cell_id == FUTILE and c.b == "wholebatch")
    assert (futile.sequential.processes, futile.sequential.ending) == (3, "futile")
    last = next(c for c in comparisons if c.cell.cell_id == LONGEST and c.b == "wholebatch")
    assert (last.sequential.processes, last.sequential.ending) == (5, "maximum")
    assert last.estimate.alpha == design.look_alpha(5)
    assert last.ok == 5 and first.ok == 2 and first.runs == 5
    # what the look read is what the report reads
    look = looks.look_at(last.cell, outcome.records)
    assert look is not None and look.processes == 5 and look.decision.decided
    assert [c.estimate for c in look.comparisons] == [
        c.estimate for c in comparisons if c.cell.cell_id == LONGEST
    ]

    headline = claim_headline(outcome.records)
    sequential_notes = [line for line in headline.splitlines() if "Sequential (" in line]
    assert len(sequential_notes) == 2  # under the claim's table and the question's
    note = sequential_notes[0]
    assert "TinyMLP-8px-b4-x2: 5 max, 1 look taken, stopped after 2 processes (decided)" in note
    assert "TinyMLP-8px-b8-x2: 5 max, 2 looks taken, stopped after 3 processes (futile)" in note
    assert "TinyCNN-8px-b4-x2: 5 max, 4 looks taken, stopped after 5 processes (maximum)" in note
    assert (
        "Each interval is adjusted for the looks taken (looks after 2..5 paired processes, "
        "O'Brien-Fleming-type spending of alpha 0.05)" in note
    )
    assert "A row run until decided brings the p-value of its sequential design." in headline
    assert prose.sequential_marker(first) == (
        " (until decided: stopped after 2 of at most 5 processes, decided; interval adjusted "
        "for 1 look)"
    )
    report = render(build_report(outcome.records, title="seq"), "md")
    assert report.count("Sequential (run until decided") == 3  # and the other pairs' table


def test_holm_across_rows_reads_the_sequential_p_value(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    outcome = run_suite(
        suite, tmp_path / "run", spawn=FakeSpawner(), emit=lambda _: None, looks=look_rule()
    )
    rows = [c for c in paired_comparisons(outcome.records) if c.b == "wholebatch"]
    decided, futile, longest = rows
    claim_range = decided.claim.range_pct
    for row in rows:
        assert looks.row_p_value(row, claim_range, 2.0) == sequential.sequential_p_value(
            row.sequential.design, row.estimate, row.verdict, claim_range, 2.0
        )
    fixed = multiplicity.verdict_p_value(longest.estimate, longest.verdict, claim_range, 2.0)
    assert looks.row_p_value(longest, claim_range, 2.0) != fixed
    assert looks.row_p_value(decided, claim_range, 2.0) < 0.05
    assert looks.row_p_value(futile, claim_range, 2.0) == 1.0  # inconclusive
    # Decided at the first look, where O'Brien-Fleming spending leaves little alpha and one df:
    # its sequential p-value is 0.022 (0.0001 read as a fixed design), and Holm over three rows
    # needs 0.017, so neither decided verdict holds family-wise.
    assert 0.02 < looks.row_p_value(decided, claim_range, 2.0) < 0.025
    note = prose.family_note(rows, decided.claim, 0.05, 2.0)
    assert "none of the 2 decided verdicts holds" in note


def test_resume_after_ctrl_c_neither_redoes_processes_nor_runs_the_ones_not_needed(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    output = tmp_path / "run"
    # Ctrl-C at the futile cell's third paired process: calls 0-4 are the decided cell's group
    # (3 isolated, 2 paired), 5-7 the futile one's isolated cells, 8-9 its first two processes.
    first = FakeSpawner(interrupt_at=10)
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, output, spawn=first, emit=lambda _: None, looks=look_rule())
    recorded = store.read_records(output / "results.jsonl")
    assert paired_calls(first, FUTILE) == [0, 1]
    assert [r.status for r in of(recorded, DECIDED)] == ["ok", "ok"] + ["skipped"] * 3

    again, lines = FakeSpawner(), []
    outcome = run_suite(
        suite, output, resume=True, spawn=again, emit=lines.append, looks=look_rule()
    )
    assert paired_calls(again, DECIDED) == []
    assert paired_calls(again, FUTILE) == [2]
    assert paired_calls(again, LONGEST) == [0, 1, 2, 3, 4]
    assert [r.status for r in of(outcome.records, FUTILE)] == ["ok"] * 3 + ["skipped"] * 2
    assert len(outcome.not_needed) == 5
    assert len(outcome.records) == len(suite.runs())
    # the futile cell's look is taken again from its records before it goes on
    assert any(line.strip().startswith("resumed: look 1 of 4 after 2 processes") for line in lines)


def test_a_look_interrupted_before_it_recorded_anything_is_taken_again_on_resume(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    output = tmp_path / "run"

    def interrupt_at_the_first_look(line: str) -> None:
        if line.strip().startswith("look 1 of 4"):
            raise KeyboardInterrupt  # Ctrl-C after the second process's record was appended

    with pytest.raises(KeyboardInterrupt):
        run_suite(
            suite, output, spawn=FakeSpawner(), emit=interrupt_at_the_first_look, looks=look_rule()
        )
    recorded = store.read_records(output / "results.jsonl")
    assert [r.status for r in of(recorded, DECIDED)] == ["ok", "ok"]  # nothing finished lost

    again, lines = FakeSpawner(), []
    outcome = run_suite(
        suite, output, resume=True, spawn=again, emit=lines.append, looks=look_rule()
    )
    assert paired_calls(again, DECIDED) == []
    decided = of(outcome.records, DECIDED)
    assert [r.status for r in decided] == ["ok", "ok", "skipped", "skipped", "skipped"]
    assert decided[-1].reason == "not needed: decided after 2 processes (look 1 of 4)"
    assert any("resumed: look 1 of 4" in line and "-> stop: decided" in line for line in lines)


def test_processes_not_needed_do_not_count_against_the_deadline(tmp_path):
    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    suite = parse_suite(SUITE, "seq.toml")
    clock = Clock()
    spawn = FakeSpawner(clock=clock, wall_s=10.0)
    # 3 isolated + 2 paired of the decided cell, 3 isolated + 2 paired of the futile one: 100 s
    outcome = run_suite(
        suite,
        tmp_path / "run",
        spawn=spawn,
        emit=lambda _: None,
        deadline=Deadline(100 / 60, estimate=lambda cell, profiled: 10.0),
        clock=clock,
        looks=look_rule(),
    )
    assert len(spawn.calls) == 10
    assert len(outcome.not_needed) == 3
    assert [r.repeat for r in of(outcome.left_out, FUTILE)] == [2, 3, 4]
    (cut,) = [
        c
        for c in paired_comparisons(outcome.records)
        if c.cell.cell_id == FUTILE and c.b == "wholebatch"
    ]
    assert cut.sequential.ending == "open"
    assert "not ended: 2 of at most 5 processes so far" in claim_headline(outcome.records)


def test_a_suite_run_until_decided_needs_a_look_rule(tmp_path):
    with pytest.raises(RunError, match=r"until_decided: .* no look rule"):
        run_suite(parse_suite(SUITE, "seq.toml"), tmp_path / "run", spawn=FakeSpawner())


def test_the_flag_overrides_the_suite_and_a_fixed_budget_cell_stays_as_it_was():
    fixed = parse_suite(SUITE.replace("until_decided = true", ""), "seq.toml")
    assert not fixed.settings.until_decided
    assert all(c.sequential_max is None for c in fixed.cells())
    paired_cell = next(c for c in fixed.cells() if c.paired)
    assert "sequential_max" not in paired_cell.to_dict()
    on = fixed.select(until_decided=True)
    sequential = next(c for c in on.cells() if c.paired)
    assert sequential.sequential_max == 5 and sequential.cell_id == paired_cell.cell_id
    assert Cell.from_dict(sequential.to_dict()) == sequential
    assert all(c.sequential_max is None for c in on.cells() if not c.paired)
    off = parse_suite(SUITE, "seq.toml").select(until_decided=False)
    assert all(c.sequential_max is None for c in off.cells())
    assert next(c for c in on.select(pairs=3).cells() if c.paired).sequential_max == 3
    unpaired = parse_suite(
        SUITE.replace("until_decided = true", "").replace(
            'compare = [["inplace", "wholebatch"], ["inplace", "concat"]]', "compare = []"
        ),
        "seq.toml",
    )
    with pytest.raises(SuiteError, match="--until-decided: until_decided = true needs paired"):
        unpaired.select(until_decided=True)


def test_an_old_record_without_the_field_reads_as_a_fixed_budget_cell(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    outcome = run_suite(
        suite, tmp_path / "run", spawn=FakeSpawner(), emit=lambda _: None, looks=look_rule()
    )
    data = next(r for r in outcome.records if r.cell.paired).to_json()
    del data["cell"]["sequential_max"]
    old = Record.from_json(data)
    assert old.cell.sequential_max is None
    assert paired_comparisons([old])[0].sequential is None


def test_a_not_needed_reason_names_the_look_once_and_reads_back():
    futile = not_needed_reason(
        "futile", 3, 4, "futile after 3 processes (look 2 of 4): x would decide with 4% power"
    )
    assert futile == (
        "not needed: futile after 3 processes (look 2 of 4): x would decide with 4% power"
    )
    assert not_needed_ending("skipped", futile) == "futile"
    assert not_needed_ending("failed", futile) is None
    assert not_needed_ending("skipped", "left out by --deadline 1 min: ...") is None
    with pytest.raises(ValueError, match="decided or futile, not 'maximum'"):
        not_needed_reason("maximum", 5, 4)


SEQUENTIAL_BAD = [
    ("until_decided = 'yes'", r"\[suite\] until_decided: expected true or false, got 'yes'"),
    (
        "until_decided = true\npairs = 1",
        r"\[suite\] until_decided: until_decided = true needs pairs >= 2 .* got pairs = 1",
    ),
    (
        "until_decided = true\ncompare = []",
        r"\[suite\] until_decided: until_decided = true needs paired comparisons to decide",
    ),
]


@pytest.mark.parametrize(("lines", "message"), SEQUENTIAL_BAD, ids=[m for _, m in SEQUENTIAL_BAD])
def test_until_decided_is_checked_where_it_is_set(lines, message):
    text = f"[suite]\n{lines}\n[[models]]\nname='TinyCNN'"
    with pytest.raises(SuiteError, match=message):
        parse_suite(text, "bad.toml")


def test_a_profile_table_that_makes_it_impossible_is_named():
    text = "[suite]\nuntil_decided = true\n[[models]]\nname='TinyCNN'\n[cpu]\npairs = 1"
    with pytest.raises(SuiteError, match=r"bad.toml: \[cpu\] pairs: until_decided = true needs"):
        parse_suite(text, "bad.toml")
    cpu = parse_suite(
        "[suite]\n[[models]]\nname='TinyCNN'\n[cpu]\nuntil_decided = true\npairs = 4",
        "ok.toml",
        cpu_only=True,
    )
    assert {c.sequential_max for c in cpu.cells() if c.paired} == {4}


def test_the_command_line_refuses_until_decided_with_one_pair(tmp_path, capsys):
    suite_path = tmp_path / "seq.toml"
    suite_path.write_text(SUITE, encoding="utf-8")
    output = str(tmp_path / "run")
    code = cli.main(["run", str(suite_path), "--output", output, "--pairs", "1"])
    assert code == 2
    assert "--pairs: until_decided = true needs pairs >= 2" in capsys.readouterr().err
    assert cli.main(["run", str(suite_path), "--output", output, "--pairs", "31"]) == 2
    assert "until_decided with pairs = 31: a sequential design needs an integer max_processes " in (
        capsys.readouterr().err
    )
    fixed = ["run", str(suite_path), "--output", output, "--pairs", "1", "--no-until-decided"]
    parser_args = cli.build_parser().parse_args(fixed)
    assert parser_args.until_decided is False
    assert cli.build_parser().parse_args(fixed[:2]).until_decided is None


def test_the_plan_says_its_paired_counts_are_the_maximum():
    from mgbench.analysis.plan import plan_run
    from mgbench.present.plan import plan_text

    text = plan_text(plan_run(parse_suite(SUITE, "seq.toml"), "cpu-simulation"))
    assert "Until decided: each paired cell stops once a look decides it, after 2 to 5 " in text
    fixed = parse_suite(SUITE.replace("until_decided = true", ""), "seq.toml")
    assert "Until decided" not in plan_text(plan_run(fixed, "cpu-simulation"))


def test_the_plan_bounds_a_run_until_decided_by_each_cell_stopping_at_its_first_look():
    """By hand: isolated 1 x 10 s, a cell until decided 5 x 20 s (at least 2 of them), a
    fixed-budget paired cell 3 x 20 s (all of them) and a timeline process of 7 s: at most
    10 + 100 + 60 + 7 = 177 s, at least 10 + 40 + 60 + 7 = 117 s (66%)."""
    import dataclasses

    from mgbench.analysis.plan import CellPlan, ProcessCost, RunPlan
    from mgbench.present.plan import plan_text

    cells = parse_suite(SUITE, "seq.toml").cells()
    isolated = next(c for c in cells if not c.paired)
    sequential_cell = next(c for c in cells if c.paired)
    assert sequential_cell.sequential_max == 5
    fixed_cell = dataclasses.replace(
        next(c for c in cells if c.paired and c != sequential_cell), sequential_max=None
    )

    def cost(seconds):
        return ProcessCost(seconds, 0.0, 0.0, 0, "by hand")

    plan = RunPlan(
        suite="seq",
        profile="default",
        device_mode="cpu-simulation",
        cells=(
            CellPlan(isolated, 1, cost(10.0)),
            CellPlan(sequential_cell, 5, cost(20.0)),
            CellPlan(fixed_cell, 3, cost(20.0)),
        ),
        timelines=(CellPlan(isolated, 1, cost(7.0)),),
        order=(),
        ci=(),
        earlier=None,
        notes=(),
    )
    assert plan.total_s == 177.0
    assert plan.shortest_until_decided_s == 117.0
    assert (
        "The run takes between 1m57s (every paired cell stopping at its first look) and 2m57s: "
        "at least 66% of the fixed budget's time, whatever the data." in plan_text(plan)
    )


def test_a_resume_with_another_design_is_refused_saying_how_the_run_was_made(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    output = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, output, spawn=FakeSpawner(interrupt_at=3), looks=look_rule())
    fixed = suite.select(until_decided=False)
    with pytest.raises(RunError, match=r"was made until decided .*: --until-decided, and the same"):
        run_suite(fixed, output, resume=True, spawn=FakeSpawner())
    with pytest.raises(RunError, match="the same --pairs"):
        run_suite(
            suite.select(pairs=4), output, resume=True, spawn=FakeSpawner(), looks=look_rule()
        )


def test_an_earlier_runs_spread_stops_a_hopeless_cell_at_the_first_look(tmp_path):
    from mgbench.analysis.plan import EarlierRun
    from mgbench.commands.run import futility_line, futility_priors

    suite = parse_suite(SUITE, "seq.toml")
    run_and_summarise(suite, tmp_path / "first", spawn=FakeSpawner(), emit=lambda _: None)
    earlier = EarlierRun(
        "results/seq/first", tuple(store.read_records(tmp_path / "first" / "results.jsonl"))
    )
    priors = futility_priors(suite, earlier)
    assert set(priors) == {DECIDED, FUTILE, LONGEST}
    # FUTILE's first run: 3 processes (futile at the third) of log ratios log(1.14), log(1.02)
    # alternating; 4 rounds now as then, so the prior is their sample variance on 2 df.
    prior = priors[FUTILE][("inplace", "wholebatch")]
    found = next(
        c
        for c in paired_comparisons(list(earlier.records))
        if c.cell.cell_id == FUTILE and (c.a, c.b) == ("inplace", "wholebatch")
    )
    means = np.log1p(np.array(found.estimate.per_process_pct) / 100)
    assert prior.df == 2
    assert prior.variance_log == pytest.approx(float(means.var(ddof=1)), rel=1e-12)
    assert prior.variance_log == pytest.approx(np.var(np.log([1.14, 1.02, 1.14]), ddof=1), rel=1e-3)
    assert prior.source == "results/seq/first (3 processes)"
    assert sequential.futility_from(prior) == 2
    line = futility_line(suite, earlier, priors)
    assert line.startswith(
        "until decided: futility pools the spread of results/seq/first for 3 of 3"
    )

    spawn = FakeSpawner()
    about = {"futility_spread_from": earlier.label}
    run_and_summarise(
        suite, tmp_path / "second", spawn=spawn, emit=lambda _: None, priors=priors, about=about
    )
    run_info = json.loads((tmp_path / "second" / "run.json").read_text())
    assert run_info["futility_spread_from"] == "results/seq/first"
    assert "futility_spread_from" not in json.loads((tmp_path / "first" / "run.json").read_text())
    assert paired_calls(spawn, DECIDED) == [0, 1]
    assert paired_calls(spawn, FUTILE) == [0, 1]  # was [0, 1, 2] on its own spread
    assert paired_calls(spawn, LONGEST) == [0, 1, 2, 3, 4]  # still hopeful: runs to its end
    records = of(store.read_records(tmp_path / "second" / "results.jsonl"), FUTILE)
    assert [r.status for r in records] == ["ok", "ok", "skipped", "skipped", "skipped"]
    assert records[2].reason.startswith("not needed: futile after 2 processes (look 1 of 4): ")
    assert "(< 5%, spread pooled with results/seq/first (3 processes))" in records[2].reason


def test_a_prior_at_other_rounds_moves_the_rounds_share_of_the_spread(tmp_path):
    suite = parse_suite(SUITE, "seq.toml")
    run_and_summarise(suite, tmp_path / "first", spawn=FakeSpawner(), emit=lambda _: None)
    records = store.read_records(tmp_path / "first" / "results.jsonl")
    found = {
        (c.cell.cell_id, c.a, c.b): c.estimate
        for c in paired_comparisons(records)
        if c.estimate is not None
    }
    # 4 rounds then, 2 now: one round's variance w moves from w/4 to w/2 of a process mean.
    priors = looks.prior_spreads(records, {FUTILE: 2}, "earlier")
    assert set(priors) == {FUTILE}
    estimate = found[(FUTILE, "inplace", "wholebatch")]
    means = np.log1p(np.array(estimate.per_process_pct) / 100)
    moved = means.var(ddof=1) + estimate.within_var * (1 / 2 - 1 / 4)
    assert priors[FUTILE][("inplace", "wholebatch")].variance_log == pytest.approx(moved, rel=1e-12)
    # More rounds now than then, on processes that agree (1e-5 apart): never below w / R.
    tight = looks.prior_spreads(records, {DECIDED: 400}, "earlier")[DECIDED][("inplace", "concat")]
    estimate = found[(DECIDED, "inplace", "concat")]
    assert estimate.within_var > 0
    assert tight.variance_log == pytest.approx(estimate.within_var / 400, rel=1e-12)
    assert tight.df == 1


def test_the_earlier_run_is_never_the_run_being_resumed(tmp_path, monkeypatch):
    from mgbench.commands import run as run_module

    suite = parse_suite(SUITE, "seq.toml")
    root = tmp_path / "results"
    older, newer = root / "seq" / "20260101-000000-vm", root / "seq" / "20260102-000000-vm"
    for folder in (older, newer):
        run_and_summarise(suite, folder, spawn=FakeSpawner(), emit=lambda _: None)
    monkeypatch.setattr(run_module, "this_machine", lambda mode: None)
    monkeypatch.setattr("mgbench.analysis.plan.machine_differences", lambda records, here: [])
    found = run_module.earlier_run(suite, "cpu-simulation", None, root=root)
    assert found is not None and found.label == str(newer)
    resumed = run_module.earlier_run(suite, "cpu-simulation", None, root=root, exclude=newer)
    assert resumed is not None and resumed.label == str(older)
    assert run_module.earlier_run(suite, "cpu-simulation", None, root=tmp_path / "none") is None
    assert run_module.futility_line(suite, None, {}).startswith(
        "until decided: no earlier run of this suite on this machine (--plan-from RUN names one): "
        "futility is judged from 3 processes"
    )

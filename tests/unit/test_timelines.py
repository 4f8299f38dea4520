"""``timeline = true`` and ``mgbench timeline`` (once ``profile``): the extra processes under TF's
profiler, their records and
their report section, with a fake worker (no TensorFlow)."""

from __future__ import annotations

import json

import pytest
from test_launcher import SUITE, ok_payload

from mgbench.cli import main
from mgbench.commands.run import run_and_summarise
from mgbench.commands.timeline import timeline_command
from mgbench.config.suite import SuiteError, parse_suite
from mgbench.execution.launcher import WorkerResult
from mgbench.present import render, sections
from mgbench.records import store
from mgbench.records.record import RecordError
from mgbench.records.timelines import TimelineRecord, read_timelines
from mgbench.vocabulary import DeprecatedName

PROFILED = SUITE.replace("compare = []", "compare = []\ntimeline = true\ntimeline_steps = 2")

ATTRIBUTION = {
    "bytes": {},
    "copies": "rendezvous",
    "events": 10,
    "inferred_s": 0.0,
    "matched_s": 0.010,
    "seconds": {
        "CPU:0": {"slicing": 0.002, "merge": 0.001, "copy_h2d": 0.001},
        "CPU:1": {"forward": 0.004, "backward": 0.008},
        "CPU:2": {"forward": 0.004, "backward": 0.008},
    },
    "unknown_s": 0.0,
    "unmatched": [],
}


def profile_payload(output, cell_id):
    return {
        "status": "ok",
        "profile": {
            "attribution": ATTRIBUTION,
            "host": "CPU:0",
            "replica_devices": ["CPU:1", "CPU:2"],
            "steps": 2,
            "warmup_steps": 1,
            "wall_s": 0.05,
            "trace_path": str(output / "profiles" / cell_id / "plugins/profile/x/vm.xplane.pb"),
        },
        "environment": {"tensorflow": "2.21.0"},
    }


class TimelineSpawner:
    def __init__(self, output, fail=()):
        self.output, self.fail = output, set(fail)
        self.measured, self.timelines = [], []

    def __call__(self, cell, options, log_path, *, timeline=None):
        if timeline is None:
            self.measured.append(cell.cell_id)
            return WorkerResult(ok_payload(cell), wall_s=1.0)
        self.timelines.append((cell.cell_id, timeline, log_path.name))
        if cell.strategy in self.fail:
            return WorkerResult({"status": "failed", "reason": "RuntimeError: boom"}, 0.5)
        return WorkerResult(profile_payload(self.output, cell.cell_id), wall_s=3.0)


def test_timeline_true_runs_one_process_per_cell_under_the_profiler_after_the_measured_ones(
    tmp_path,
):
    output = tmp_path / "run"
    suite = parse_suite(PROFILED, "fake.toml")
    spawn = TimelineSpawner(output, fail={"concat"})
    lines = []
    assert run_and_summarise(suite, output, spawn=spawn, emit=lines.append) == 0
    cells = [c.cell_id for c in suite.cells()]
    assert [cell for cell, _, _ in spawn.timelines] == cells
    assert len(spawn.measured) == len(suite.runs())
    _, request, log = spawn.timelines[0]
    assert request == {"steps": 2, "logdir": str(output / "profiles" / cells[0])}
    assert log == f"{cells[0]}-profile.log"
    profiles = read_timelines(output)
    assert [p.cell_id for p in profiles] == cells
    by_strategy = {p.cell.strategy: p for p in profiles}
    assert by_strategy["concat"].status == "failed"
    assert by_strategy["concat"].reason == "RuntimeError: boom"
    ok = by_strategy["inplace"]
    # the trace is kept relative to the run folder, so a published run still finds it
    assert ok.timeline["trace_path"] == f"profiles/{ok.cell_id}/plugins/profile/x/vm.xplane.pb"
    assert any(line.startswith("[timeline 1/3] ") for line in lines)
    # the timing records stay apart and unchanged
    assert len(store.read_records(output / "results.jsonl")) == len(suite.runs())


def test_a_resumed_run_takes_only_the_missing_timelines(tmp_path):
    output = tmp_path / "run"
    suite = parse_suite(PROFILED, "fake.toml")
    run_and_summarise(suite, output, spawn=TimelineSpawner(output, {"concat"}), emit=print)
    again = TimelineSpawner(output)
    run_and_summarise(suite, output, resume=True, spawn=again, emit=lambda _: None)
    assert [cell for cell, _, _ in again.timelines] == ["TinyMLP-8px-b4-concat-x2"]


def test_the_report_shows_where_the_time_goes(tmp_path):
    output = tmp_path / "run"
    suite = parse_suite(PROFILED, "fake.toml")
    run_and_summarise(suite, output, spawn=TimelineSpawner(output), emit=lambda _: None)
    records = store.read_records(output / "results.jsonl")
    report = sections.build_report(records, title="t", timelines=read_timelines(output))
    section = next(s for s in report.sections if s.title.startswith("Where the time goes"))
    rows = [dict(zip(section.headers, row, strict=True)) for row in section.text_rows()]
    replica = next(
        r for r in rows if r["strategy"] == "inplace" and r["device"].startswith("CPU:1")
    )
    assert replica["forward"] == "2.000" and replica["backward"] == "4.000"  # per step: /2
    assert replica["total"] == "6.000"
    host = next(r for r in rows if r["strategy"] == "inplace" and r["device"] == "CPU:0 host")
    assert host["slicing"] == "1.000" and host["copy H->D"] == "0.500"
    assert "Where the time goes" in render.render(report, "md")


def test_timeline_settings_are_checked_where_they_are_written():
    with pytest.raises(SuiteError, match=r"\[suite\] timeline_steps"):
        parse_suite(PROFILED.replace("timeline_steps = 2", "timeline_steps = 0"), "bad.toml")
    with pytest.raises(SuiteError, match=r"\[suite\] timeline: expected true or false"):
        parse_suite(PROFILED.replace("timeline = true", 'timeline = "yes"'), "bad.toml")
    assert parse_suite(SUITE, "plain.toml").timeline_cells() == []


def test_the_old_profile_keys_still_work_and_say_their_new_names():
    old = PROFILED.replace("timeline = true", "profile = true").replace(
        "timeline_steps = 2", "profile_steps = 2"
    )
    with pytest.warns(DeprecatedName) as warned:
        suite = parse_suite(old, "old.toml")
    assert suite.settings.timeline and suite.settings.timeline_steps == 2
    assert [str(w.message) for w in warned] == [
        "old.toml: [suite]: profile is deprecated, use timeline (read as timeline this time)",
        "old.toml: [suite]: profile_steps is deprecated, use timeline_steps "
        "(read as timeline_steps this time)",
    ]
    with pytest.raises(SuiteError, match=r"\[suite\] profile: renamed to timeline"):
        parse_suite(old.replace("profile = true", "profile = true\ntimeline = true"), "x.toml")


def test_mgbench_timeline_runs_one_named_cell(tmp_path, capsys):
    suite_path = tmp_path / "s.toml"
    suite_path.write_text(SUITE)
    output = tmp_path / "prof"
    spawn = TimelineSpawner(output)
    lines = []
    code = timeline_command(
        str(suite_path), "TinyMLP-8px-b4-inplace-x2", output=str(output), steps=3,
        spawn=spawn, emit=lines.append,
    )  # fmt: skip
    assert code == 0
    assert [(cell, request["steps"]) for cell, request, _ in spawn.timelines] == [
        ("TinyMLP-8px-b4-inplace-x2", 3)
    ]
    text = "\n".join(lines)
    assert "Where the time goes: TinyMLP 8px b4 inplace x2 (keras3)" in text
    assert "| CPU:1    | replica 0 | 2.000" in text


def test_mgbench_timeline_refuses_an_unknown_cell_in_one_line(tmp_path, capsys):
    suite_path = tmp_path / "s.toml"
    suite_path.write_text(SUITE)
    assert main(["timeline", str(suite_path), "--cell", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mgbench: error: ") and "no isolated cell 'nope'" in err
    assert "TinyMLP-8px-b4-inplace-x2" in err and len(err.strip().splitlines()) == 1


def test_mgbench_profile_is_the_old_name_of_timeline(tmp_path, capsys):
    suite_path = tmp_path / "s.toml"
    suite_path.write_text(SUITE)
    assert main(["profile", str(suite_path), "--cell", "nope"]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning == (
        "mgbench: warning: mgbench profile is deprecated, use mgbench timeline "
        "(read as mgbench timeline this time)"
    )
    assert error.startswith("mgbench: error: ") and "no isolated cell 'nope'" in error


def test_a_timeline_record_round_trips_and_a_bad_one_is_named(tmp_path):
    output = tmp_path / "run"
    run_and_summarise(
        parse_suite(PROFILED, "fake.toml"), output, spawn=TimelineSpawner(output), emit=print
    )
    first = read_timelines(output)[0]
    assert TimelineRecord.from_json(first.to_json()) == first
    (output / "profiles.jsonl").write_text('{"cell": {}}\n{}\n')
    with pytest.raises(RecordError, match=r"profiles.jsonl:1: timeline record: cell"):
        read_timelines(output)


def test_a_timeline_record_torn_mid_line_and_resumed_leaves_every_finished_record(tmp_path):
    """A crash while a timeline record was being written leaves half a line; --resume cuts it
    before appending, so the file reads back whole: every finished record, the new one too."""
    output = tmp_path / "run"
    suite = parse_suite(PROFILED, "fake.toml")
    run_and_summarise(suite, output, spawn=TimelineSpawner(output, {"concat"}), emit=print)
    path = output / "profiles.jsonl"
    finished = read_timelines(output)
    with open(path, "a", encoding="utf-8") as handle:  # the crash: no newline, cut mid-object
        handle.write('{"cell_id": "TinyMLP-8px-b4-concat-x2", "status": "o')
    again = TimelineSpawner(output)
    run_and_summarise(suite, output, resume=True, spawn=again, emit=lambda _: None)
    assert [cell for cell, _, _ in again.timelines] == ["TinyMLP-8px-b4-concat-x2"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines) and len(lines) == len(finished) + 1
    records = read_timelines(output)
    assert records[: len(finished)] == finished
    assert (records[-1].cell_id, records[-1].status) == ("TinyMLP-8px-b4-concat-x2", "ok")

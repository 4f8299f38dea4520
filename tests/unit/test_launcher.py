"""The launcher with a fake worker: order, records, failures, Ctrl-C and --resume (no TF)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite
from mgbench.execution.launcher import Deadline, RunError, WorkerResult, run_suite
from mgbench.records import store
from mgbench.records.timelines import read_timelines

SUITE = """
[suite]
name = "fake"
strategies = ["single", "inplace", "concat"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 2
repeats = 2
compare = []
[[models]]
name = "TinyMLP"
image_size = 8
classes = 3
"""


def ok_payload(cell, rate=100.0):
    return {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "jit_compile": False,
        "timing": {
            "first_step_s": 1.0,
            "step_s": [0.1, 0.1],
            "images_per_s": rate,
            "timed_wall_s": 0.2,
            "images_per_step": cell.global_batch,
        },
        "memory": {"tf_peak_bytes": None, "nvml": None, "host_rss_peak_bytes": 2**30},
        "environment": {"tensorflow": "2.21.0"},
    }


class FakeSpawner:
    def __init__(self, outcomes=None, interrupt_at=None):
        self.calls = []
        self.outcomes = outcomes or {}
        self.interrupt_at = interrupt_at

    def __call__(self, cell, options, log_path):
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append((cell.cell_id, log_path.name))
        payload = self.outcomes.get(cell.strategy, ok_payload(cell))
        return WorkerResult(payload, wall_s=2.5)


def test_every_cell_run_is_recorded_in_interleaved_order(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    spawn = FakeSpawner()
    lines = []
    assert run_and_summarise(suite, tmp_path / "run", spawn=spawn, emit=lines.append) == 0
    expected = [(cell.cell_id, repeat) for cell, repeat in suite.runs()]
    assert [call[1] for call in spawn.calls] == [f"{i}-r{r}.log" for i, r in expected]
    records = store.read_records(tmp_path / "run" / "results.jsonl")
    assert [(r.cell_id, r.repeat) for r in records] == expected
    run_info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_info["order"] == [list(run) for run in expected] and run_info["seed"] == 0
    first = next(r for r in records if r.cell.strategy == "inplace")
    assert first.to_json()["schema_version"] == store.SCHEMA_VERSION
    assert first.suite == "fake" and first.run_id == "run" and first.profile == "default"
    assert first.cell.strategy == "inplace" and first.cell.replicas == 2
    assert first.wall_s == 2.5
    assert first.environment.tensorflow == "2.21.0"
    assert first.environment.host
    assert (tmp_path / "run" / "suite.json").exists() and (tmp_path / "run" / "run.json").exists()
    summary = (tmp_path / "run" / "summary.md").read_text()
    row = "| TinyMLP | keras3    | 8    | 4               | inplace    | 2          | 2/2"
    assert row in summary
    first_strategy = suite.runs()[0][0].strategy
    replicas = 1 if first_strategy == "single" else 2
    assert lines[0] == f"[1/6] TinyMLP 8px b4 {first_strategy} x{replicas} · repeat 1/2"
    assert lines[2].endswith(" · repeat 1/2 · ETA 0m12s")


def test_failed_and_timed_out_cells_are_recorded_and_the_suite_goes_on(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    spawn = FakeSpawner(
        {
            "inplace": {
                "status": "failed",
                "reason": "ResourceExhaustedError: OOM",
                "error_tail": "x",
            },
            "concat": {"status": "timeout", "reason": "exceeded the cell timeout of 9 s"},
        }
    )
    lines = []
    assert run_and_summarise(suite, tmp_path / "run", spawn=spawn, emit=lines.append) == 1
    records = store.read_records(tmp_path / "run" / "results.jsonl")
    by_strategy = {r.cell.strategy: r for r in records}
    statuses = {"single": "ok", "inplace": "failed", "concat": "timeout"}
    assert [r.status for r in records] == [statuses[r.cell.strategy] for r in records]
    assert by_strategy["inplace"].reason == "ResourceExhaustedError: OOM"
    assert "4 cell run(s) failed" in lines[-1]
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "0/2 (failed)" in summary and "0/2 (timeout)" in summary


def test_ctrl_c_keeps_finished_cells_and_resume_finishes_the_rest(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    output = tmp_path / "run"
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, output, spawn=FakeSpawner(interrupt_at=4), emit=lines.append)
    assert len(store.read_records(output / "results.jsonl")) == 4
    assert "--resume --output" in lines[-1]

    with pytest.raises(RunError, match="already holds results; pass --resume"):
        run_suite(suite, output, spawn=FakeSpawner(), emit=lines.append)

    spawn = FakeSpawner()
    assert run_and_summarise(suite, output, resume=True, spawn=spawn, emit=lines.append) == 0
    assert [c[1] for c in spawn.calls] == [f"{c.cell_id}-r{r}.log" for c, r in suite.runs()[4:]]
    records = store.read_records(output / "results.jsonl")
    assert len(records) == 6 and len(store.finished_keys(records)) == 6


def test_resume_refuses_a_changed_suite(tmp_path):
    output = tmp_path / "run"
    run_suite(parse_suite(SUITE, "fake.toml"), output, spawn=FakeSpawner(), emit=lambda _: None)
    changed = parse_suite(SUITE.replace("timed_steps = 2", "timed_steps = 3"), "fake.toml")
    with pytest.raises(RunError, match="cells differ"):
        run_suite(changed, output, resume=True, spawn=FakeSpawner(), emit=lambda _: None)
    with pytest.raises(RunError, match="holds no earlier run"):
        run_suite(
            changed, tmp_path / "empty", resume=True, spawn=FakeSpawner(), emit=lambda _: None
        )


def test_the_launcher_returns_the_records_and_leaves_the_summary_to_the_run_command(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    failing = FakeSpawner({"concat": {"status": "failed", "reason": "boom"}})
    lines = []
    outcome = run_suite(suite, tmp_path / "run", spawn=failing, emit=lines.append)
    assert outcome.exit_code == 1 and len(outcome.records) == 6
    assert [r.cell.strategy for r in outcome.failed] == ["concat", "concat"]
    assert outcome.results_path == tmp_path / "run" / "results.jsonl"
    assert list(outcome.records) == store.read_records(outcome.results_path)
    assert not (tmp_path / "run" / "summary.md").exists()
    assert not any("img/s (median)" in line for line in lines)  # progress only, no table


def test_an_invalid_worker_payload_is_recorded_as_a_failure(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    broken = {"status": "ok", "timing": {"step_s": "fast"}}
    outcome = run_suite(
        suite, tmp_path / "run", spawn=FakeSpawner({"inplace": broken}), emit=lambda _: None
    )
    inplace = [r for r in outcome.records if r.cell.strategy == "inplace"]
    assert [r.status for r in inplace] == ["failed", "failed"]
    assert inplace[0].reason is not None
    assert inplace[0].reason == (
        f"invalid worker output: {inplace[0].cell_id} repeat 0: timing.first_step_s: missing"
    )


def test_the_launcher_does_not_import_the_presentation():
    higher = ("mgbench.present", "mgbench.analysis", "mgbench.commands")
    code = (
        "import sys, mgbench.execution.launcher; "
        f"print(sorted(m for m in sys.modules if m.startswith({higher!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# -- --deadline: a fake clock that the fake worker advances -------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ClockedSpawner(FakeSpawner):
    """A fake worker whose process takes ``wall_s`` on the fake clock (profiled ones too)."""

    def __init__(self, clock, wall_s=10.0):
        super().__init__()
        self.clock = clock
        self.wall_s = wall_s
        self.profiled = []

    def __call__(self, cell, options, log_path, timeline=None):
        self.clock.now += self.wall_s
        if timeline is not None:
            self.profiled.append(cell.cell_id)
            return WorkerResult({"status": "ok", "profile": {"steps": 5}}, wall_s=self.wall_s)
        self.calls.append((cell.cell_id, log_path.name))
        return WorkerResult(ok_payload(cell), wall_s=self.wall_s)


def test_deadline_stops_starting_processes_and_records_each_left_out(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")  # 3 cells x 2 repeats
    clock = Clock()
    spawn = ClockedSpawner(clock, wall_s=10.0)
    deadline = Deadline(0.5, estimate=lambda cell, profiled: 10.0)  # 30 s: three fit
    lines = []
    code = run_and_summarise(
        suite, tmp_path / "run", spawn=spawn, emit=lines.append, deadline=deadline, clock=clock
    )
    assert code == 0  # nothing failed
    order = [(c.cell_id, r) for c, r in suite.runs()]
    assert [c[1] for c in spawn.calls] == [f"{i}-r{r}.log" for i, r in order[:3]]
    records = store.read_records(tmp_path / "run" / "results.jsonl")
    assert [(r.cell_id, r.repeat) for r in records] == order
    left_out = records[3:]
    assert [r.status for r in left_out] == ["skipped"] * 3
    assert (
        left_out[0].reason
        == "left out by --deadline 0.5 min: it needed about 10 s and 0 s were left"
    )
    assert left_out[1].reason == (
        "left out by --deadline 0.5 min: processes stopped starting 0m30s into the run"
    )
    assert any(line.startswith("deadline: ") for line in lines)
    assert lines[-1].startswith("--deadline left out 3 process(es), recorded as skipped")
    summary = (tmp_path / "run" / "summary.md").read_text()  # reports count them
    assert summary.count("1/2 (skipped)") == 3
    assert summary.count("skipped: left out by --deadline 0.5 min") == 3


def test_deadline_scales_estimates_by_how_long_finished_processes_took(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    clock = Clock()
    spawn = ClockedSpawner(clock, wall_s=10.0)
    # Estimated 5 s but each takes 10 s: after the first, 5 s reads as 10 s. At t = 40 s, 5 s
    # are left: the fifth would end at 50 s, after the deadline, though its estimate fits.
    deadline = Deadline(0.75, estimate=lambda cell, profiled: 5.0)
    outcome = run_suite(
        suite, tmp_path / "run", spawn=spawn, emit=lambda _: None, deadline=deadline, clock=clock
    )
    assert len(spawn.calls) == 4
    assert [r.status for r in outcome.records].count("skipped") == 2
    assert outcome.left_out[0].reason == (
        "left out by --deadline 0.75 min: it needed about 10 s and 5 s were left"
    )


def test_without_an_estimate_the_longest_finished_process_decides(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    clock = Clock()
    spawn = ClockedSpawner(clock, wall_s=12.0)
    outcome = run_suite(
        suite,
        tmp_path / "run",
        spawn=spawn,
        emit=lambda _: None,
        deadline=Deadline(0.5),  # 30 s; processes take 12 s: two fit
        clock=clock,
    )
    assert len(spawn.calls) == 2 and len(outcome.left_out) == 4 and outcome.exit_code == 0


def test_profiled_processes_respect_the_deadline_and_resume_runs_what_was_left_out(tmp_path):
    suite = parse_suite(SUITE.replace("compare = []", "compare = []\ntimeline = true"), "f.toml")
    clock = Clock()
    spawn = ClockedSpawner(clock, wall_s=10.0)
    deadline = Deadline(65 / 60, estimate=lambda cell, profiled: 10.0)  # 6 measured fit, no profile
    output = tmp_path / "run"
    outcome = run_suite(
        suite, output, spawn=spawn, emit=lambda _: None, deadline=deadline, clock=clock
    )
    assert len(spawn.calls) == 6 and spawn.profiled == [] and outcome.left_out == ()
    assert [p.status for p in outcome.timelines_left_out] == ["skipped"] * 3
    profiles = read_timelines(output)
    assert [p.reason.startswith("left out by --deadline") for p in profiles] == [True] * 3

    # A shorter first run leaves measured processes out; --resume runs them (and the profiles)
    short = tmp_path / "short"
    clock = Clock()
    spawn = ClockedSpawner(clock, wall_s=10.0)
    first = run_suite(
        suite,
        short,
        spawn=spawn,
        emit=lambda _: None,
        deadline=Deadline(0.5, estimate=lambda cell, profiled: 10.0),
        clock=clock,
    )
    assert len(first.left_out) == 3
    spawn = ClockedSpawner(Clock(), wall_s=10.0)
    again = run_suite(suite, short, resume=True, spawn=spawn, emit=lambda _: None)
    order = [(c.cell_id, r) for c, r in suite.runs()]
    assert [c[1] for c in spawn.calls] == [f"{i}-r{r}.log" for i, r in order[3:]]
    assert len(spawn.profiled) == 3
    assert again.left_out == () and all(r.ok for r in again.records)


def test_a_deadline_must_be_positive():
    with pytest.raises(RunError, match="--deadline: expected minutes > 0, got 0"):
        Deadline(0)

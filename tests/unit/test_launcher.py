"""The launcher with a fake worker: order, records, failures, Ctrl-C and --resume (no TF)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite
from mgbench.execution.launcher import RunError, WorkerResult, run_suite
from mgbench.records import store

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
    assert inplace[0].reason == "invalid worker output: timing.first_step_s: missing"


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

"""The submitit-local executor runs the real worker processes as submitit jobs, one at a time,
and gathers the same records as the local executor."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite
from mgbench.execution.executors import make_spawner
from mgbench.execution.executors.submitit_jobs import SubmititSpawner
from mgbench.records import store

SUITE = """
[suite]
name = "executors"
strategies = ["inplace", "concat"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 4
repeats = 1
timeout_s = 240
compare = []
[[models]]
name = "TinyMLP"
image_size = 8
classes = 5
"""


@pytest.fixture(scope="module")
def submitit_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("submitit") / "run"
    suite = parse_suite(SUITE, "executors.toml", cpu_only=True)
    spawn = make_spawner("submitit-local", output)
    assert isinstance(spawn, SubmititSpawner)
    code = run_and_summarise(suite, output, spawn=spawn, emit=lambda _: None)
    return code, suite, output


def test_every_cell_runs_as_a_submitit_job_with_the_usual_record(submitit_run):
    code, suite, output = submitit_run
    assert code == 0
    records = store.read_records(output / "results.jsonl")
    assert [(r.cell_id, r.repeat) for r in records] == [(c.cell_id, r) for c, r in suite.runs()]
    assert all(r.status == "ok" and r.timing is not None for r in records)
    assert all(r.transfers is not None and r.placement is not None for r in records)
    # the worker's output is in the run's log, as with the local executor; submitit's own files
    # sit beside it
    for record in records:
        assert "cuda" in (output / "logs" / f"{record.cell_id}-r0.log").read_text().lower()
    assert any((output / "logs" / "submitit").iterdir())


def test_jobs_never_overlap(submitit_run):
    _, _, output = submitit_run
    records = sorted(store.read_records(output / "results.jsonl"), key=lambda r: r.started_at)
    spans = [
        (dt.datetime.fromisoformat(r.started_at).timestamp(), r.wall_s or 0.0) for r in records
    ]
    for (start, wall), (next_start, _) in itertools.pairwise(spans):
        # started_at has one-second resolution
        assert start + wall <= next_start + 1.0


def test_an_unknown_executor_is_refused_by_name(tmp_path):
    with pytest.raises(
        ValueError, match=r"unknown executor 'pbs'; known: local, submitit-local, slurm$"
    ):
        make_spawner("pbs", tmp_path)


def test_a_job_killed_mid_run_is_a_failed_record_and_resume_runs_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent))  # factories:killed
    text = SUITE.replace('strategies = ["inplace", "concat"]', 'strategies = ["inplace"]')
    text = text.replace("[[models]]", '[[models]]\nname = "factories:killed"\n[[models]]', 1)
    suite = parse_suite(text, "executors.toml", cpu_only=True)
    output = tmp_path / "run"
    assert [c.model for c, _ in suite.runs()] == ["factories:killed", "TinyMLP"]

    def stop_after_the_first_record(line: str) -> None:
        if line.strip().startswith("failed:"):
            raise KeyboardInterrupt  # the run is stopped right after the killed job's record

    with pytest.raises(KeyboardInterrupt):
        run_and_summarise(
            suite,
            output,
            spawn=make_spawner("submitit-local", output),
            emit=stop_after_the_first_record,
        )
    (killed,) = store.read_records(output / "results.jsonl")
    assert (killed.status, killed.reason) == ("failed", "worker killed by signal SIGKILL")

    code = run_and_summarise(
        suite,
        output,
        resume=True,
        spawn=make_spawner("submitit-local", output),
        emit=lambda _: None,
    )
    assert code == 1  # the killed job's record stays a failure
    records = store.read_records(output / "results.jsonl")
    assert [(r.cell.model, r.status) for r in records] == [
        ("factories:killed", "failed"),
        ("TinyMLP", "ok"),
    ]

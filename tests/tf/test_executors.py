"""The submitit-local executor runs the real worker processes as submitit jobs, one at a time,
and gathers the same records as the local executor."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite
from mgbench.execution.executors import SubmititSpawner, make_spawner
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
    with pytest.raises(ValueError, match=r"unknown executor 'slurm'; known: local, submitit-local"):
        make_spawner("slurm", tmp_path)

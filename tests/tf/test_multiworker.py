"""A 2-worker multiworker cell end to end on loopback: both workers train one model under
MultiWorkerMirroredStrategy, and the record names both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgbench.commands.report import report_run
from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import load_suite, parse_suite
from mgbench.records import store

ROOT = Path(__file__).resolve().parents[2]

# The smoke suite's multiworker cell, alone (same model, batch and steps).
SUITE = """
[suite]
name = "multiworker"
strategies = ["multiworker"]
backend = "tf_keras"
workers = 2
replicas = [2]
batch_per_replica = 16
warmup_steps = 3
timed_steps = 20
repeats = 1
timeout_s = 180
[[models]]
name = "TinyCNN"
image_size = 32
classes = 10
"""


def test_the_smoke_suite_holds_this_cell():
    smoke = load_suite(ROOT / "suites" / "smoke.toml", cpu_only=True)
    (cell,) = parse_suite(SUITE, "multiworker.toml", cpu_only=True).cells()
    matching = [c for c in smoke.cells() if c.cell_id == cell.cell_id]
    assert matching and matching[0].workers == 2 and cell.cell_id.endswith("-w2-tf_keras")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    output = tmp_path_factory.mktemp("multiworker") / "run"
    suite = parse_suite(SUITE, "multiworker.toml", cpu_only=True)
    code = run_and_summarise(suite, output, emit=lambda _: None)
    return code, output


def test_two_workers_train_one_model_and_the_record_names_both(run):
    code, output = run
    assert code == 0
    (line,) = (output / "results.jsonl").read_text(encoding="utf-8").splitlines()
    data = json.loads(line)  # the JSON field names are the contract
    assert data["status"] == "ok", data.get("reason")
    assert data["cell"]["workers"] == 2 and data["cell"]["strategy"] == "multiworker"
    assert data["placement_reason"].startswith("MultiWorkerMirroredStrategy: placement is")
    assert data["weights_device"] == "mirrored" and data["replica_devices"] == ["CPU:0"]
    timing = data["timing"]
    assert timing["images_per_step"] == 32  # the global batch: 16 per replica, 2 replicas
    assert len(timing["step_s"]) == 20
    assert timing["last_loss"] < timing["first_loss"]  # the all-reduced gradients train it
    workers = data["workers"]
    assert [w["index"] for w in workers] == [0, 1]
    for worker in workers:
        assert worker["status"] == "ok" and worker["host"]
        assert worker["replica_devices"] == ["CPU:0"]
        assert worker["median_step_s"] > 0
        assert worker["memory"]["host_rss_peak_bytes"] > 0
    # each worker logged on its own
    logs = sorted(p.name for p in (output / "logs").iterdir())
    assert logs == [
        "TinyCNN-32px-b16-multiworker-x2-w2-tf_keras-r0.log",
        "TinyCNN-32px-b16-multiworker-x2-w2-tf_keras-r0.w1.log",
    ]


def test_the_report_shows_the_workers(run):
    _, output = run
    text, _ = report_run(str(output), with_plots=False)
    assert "## Multi-worker cells, worker by worker" in text
    section = text.split("## Multi-worker cells, worker by worker")[1]
    assert "MultiWorkerMirroredStrategy" in section
    rows = [line for line in section.splitlines() if line.startswith("| TinyCNN")]
    assert len(rows) == 2  # one per worker
    (record,) = store.read_records(output / "results.jsonl")
    assert record.workers is not None and record.workers[1].host in rows[1]


# The smoke suite's jax cells: DataParallel on 2 simulated devices in one process, and in two
# processes on loopback (keras.distribution.initialize), through the launcher as in a run.
JAX_SUITE = """
[suite]
name = "dataparallel"
strategies = ["dataparallel"]
backend = "jax"
workers = [1, 2]
replicas = [2]
batch_per_replica = 16
warmup_steps = 3
timed_steps = 20
repeats = 1
timeout_s = 180
[[models]]
name = "TinyCNN"
image_size = 32
classes = 10
"""


def test_dataparallel_in_one_process_and_in_two_runs_as_in_the_smoke_suite(tmp_path):
    suite = parse_suite(JAX_SUITE, "dataparallel.toml", cpu_only=True)
    smoke = load_suite(ROOT / "suites" / "smoke.toml", cpu_only=True)
    assert {c.cell_id for c in suite.cells()} <= {c.cell_id for c in smoke.cells()}
    assert run_and_summarise(suite, tmp_path / "run", emit=lambda _: None) == 0
    records = {r.cell_id: r for r in store.read_records(tmp_path / "run" / "results.jsonl")}
    one = records["TinyCNN-32px-b16-dataparallel-x2-jax"]
    two = records["TinyCNN-32px-b16-dataparallel-x2-w2-jax"]
    for record in (one, two):
        assert record.status == "ok", record.reason
        assert record.timing is not None and record.timing.images_per_step == 32
        assert record.timing.last_loss < record.timing.first_loss
        assert record.placement is None and "XLA" in (record.placement_reason or "")
    assert one.replica_devices == ("CPU:0", "CPU:1") and one.workers is None
    assert two.workers is not None and [w.index for w in two.workers] == [0, 1]
    assert all(w.status == "ok" and w.replica_devices == ("CPU:0",) for w in two.workers)

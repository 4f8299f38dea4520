"""End to end, paired: real worker processes on simulated replicas build in-place and concat over
one template, alternate timed blocks, and leave records checked field by field."""

from __future__ import annotations

import json

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite
from mgbench.records import store
from mgbench.trackers.phases import PAIRED_PHASES

PAIRED = """
[suite]
name = "paired-e2e"
strategies = ["inplace", "concat"]
backend = ["keras3", "tf_keras"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 2
repeats = 1
compare = [["inplace", "concat"]]
pairs = 2
rounds = 4
block_steps = 3
timeout_s = 240
[[models]]
name = "TinyMLP"
image_size = 8
classes = 5
"""

PAIRED_ID = "TinyMLP-8px-b4-inplace-vs-concat-x2"


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("paired") / "run"
    lines: list[str] = []
    suite = parse_suite(PAIRED, "paired.toml", cpu_only=True)
    code = run_and_summarise(suite, output, emit=lines.append)
    text = (output / store.RESULTS_FILE).read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return code, records, output, lines


def test_the_run_succeeds_with_two_paired_processes(paired_run):
    code, records, _, lines = paired_run
    assert code == 0, "\n".join(lines)
    paired = [r for r in records if r["cell_id"] == PAIRED_ID]
    assert [r["repeat"] for r in paired] == [0, 1]
    assert all(r["status"] == "ok" for r in paired)


@pytest.mark.parametrize("repeat", [0, 1])
def test_a_paired_record_holds_every_block_in_abba_order(paired_run, repeat):
    record = next(r for r in paired_run[1] if r["cell_id"] == PAIRED_ID and r["repeat"] == repeat)
    assert record["cell"]["versus"] == "concat" and record["cell"]["rounds"] == 4
    assert record["timing"] is None
    paired = record["paired"]
    assert (paired["a"], paired["b"], paired["block_steps"]) == ("inplace", "concat", 3)
    assert len(paired["first_step_s"]) == 2 and all(t > 0 for t in paired["first_step_s"])
    assert [r["first"] for r in paired["rounds"]] == ["a", "b", "a", "b"]
    for round_ in paired["rounds"]:
        assert len(round_["a_step_s"]) == len(round_["b_step_s"]) == 3
        assert all(t > 0 for t in [*round_["a_step_s"], *round_["b_step_s"]])
    # the first step traces the graph: slower than any timed step
    assert min(paired["first_step_s"]) > max(
        t for r in paired["rounds"] for t in [*r["a_step_s"], *r["b_step_s"]]
    )
    assert record["device_mode"] == "cpu-simulation"
    assert record["jit_compile"] is False
    assert len(record["replica_devices"]) == 2
    assert record["weights_device"]
    assert record["placement"] is None
    assert (
        record["placement_reason"] == "paired process: placement is recorded by the isolated cells"
    )
    memory = record["memory"]
    assert memory["host_rss_peak_bytes"] > 0
    assert "paired process" in memory["tf_peak_reason"]
    assert record["environment"]["tensorflow"]
    # where the process's time went, phase by phase (the store sorts keys: compared as a set)
    assert set(paired["phases_s"]) == set(PAIRED_PHASES)
    assert all(seconds >= 0 for seconds in paired["phases_s"].values())
    assert sum(paired["phases_s"].values()) < record["wall_s"]
    assert paired["phases_s"]["first_steps"] == pytest.approx(sum(paired["first_step_s"]), rel=0.01)
    assert [len(steps) for steps in paired["warmup_step_s"]] == [1, 1]
    assert len(paired["step_function_s"]) == 2


def test_the_tf_keras_paired_cell_is_skipped_with_its_reason(paired_run):
    skipped = [r for r in paired_run[1] if r["cell_id"] == f"{PAIRED_ID}-tf_keras"]
    assert [r["status"] for r in skipped] == ["skipped", "skipped"]
    assert "keras3-only" in skipped[0]["reason"]


def test_the_folder_records_the_seed_and_the_resolved_order(paired_run):
    _, records, output, _ = paired_run
    run_info = json.loads((output / "run.json").read_text(encoding="utf-8"))
    assert run_info["seed"] == 0
    assert run_info["order"] == [[r["cell_id"], r["repeat"]] for r in records]
    suite = json.loads((output / "suite.json").read_text(encoding="utf-8"))
    assert suite["suite"]["settings"]["seed"] == 0
    assert suite["suite"]["settings"]["compare"] == [["inplace", "concat"]]
    assert (output / "run.lock").read_text() == ""


# -- one process of three wrappers -------------------------------------------------------------

THREE_WAY = (
    PAIRED.replace(
        'strategies = ["inplace", "concat"]', 'strategies = ["inplace", "wholebatch", "concat"]'
    )
    .replace('backend = ["keras3", "tf_keras"]', 'backend = "keras3"')
    .replace(
        'compare = [["inplace", "concat"]]',
        'compare = [["inplace", "wholebatch"], ["inplace", "concat"]]',
    )
)


@pytest.fixture(scope="module")
def three_way_record(tmp_path_factory):
    """One worker process of the three-way cell, as the launcher starts it. (It checks the k-way
    process, not the whole-batch split: that is the wrapper's, built by the backend.)"""
    from mgbench.execution.launcher import DeviceOptions, spawn_worker
    from mgbench.records.record import Record, RunContext

    suite = parse_suite(THREE_WAY.replace("rounds = 4", "rounds = 6"), "k.toml", cpu_only=True)
    (cell,) = [c for c in suite.cells() if c.paired]
    log = tmp_path_factory.mktemp("three") / "worker.log"
    outcome = spawn_worker(cell, DeviceOptions(), log)
    context = RunContext("k", "cpu", "k", {"host": "test"})
    return Record.from_payload(
        cell, 0, outcome.payload, context, started_at="2026-01-01T00:00:00+00:00", wall_s=1.0
    )


def test_a_three_way_process_runs_every_wrapper_in_the_six_orders(three_way_record):
    record = three_way_record
    assert record.status == "ok", record.reason
    assert record.cell_id == "TinyMLP-8px-b4-inplace-vs-wholebatch-vs-concat-x2"
    paired = record.paired
    assert paired.strategies == ("inplace", "wholebatch", "concat")
    assert ["".join(r.labels_in_order) for r in paired.rounds] == [
        "abc",
        "cba",
        "bca",
        "acb",
        "cab",
        "bac",
    ]
    assert all(len(block) == 3 for r in paired.rounds for block in r.blocks)
    timed = [t for r in paired.rounds for block in r.blocks for t in block]
    assert min(paired.first_steps_s) > max(timed) > 0  # each first step traced its graph
    for x, y in (("inplace", "wholebatch"), ("inplace", "concat"), ("wholebatch", "concat")):
        assert len(paired.log_ratios(x, y)) == 6
    assert "paired process" in record.memory.tf_peak_reason

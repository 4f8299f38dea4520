"""Multiworker cells without TensorFlow: how a suite makes them, how their workers find each
other, and how the workers' payloads merge into one record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgbench.config.suite import Cell, SuiteError, parse_suite
from mgbench.execution import multiworker
from mgbench.platform import cluster
from mgbench.records.record import Record, RecordError, RunContext

SUITE = """
[suite]
name = "mw"
strategies = ["mirrored", "multiworker"]
backend = ["keras3", "tf_keras"]
replicas = [2, 3, 4]
batch_per_replica = 8
[[models]]
name = "TinyCNN"
image_size = 32
"""


def multiworker_cells(text: str = SUITE) -> list[Cell]:
    return [c for c in parse_suite(text, "mw.toml").cells() if c.strategy == "multiworker"]


def test_multiworker_cells_are_tf_keras_only_and_split_replicas_evenly():
    cells = multiworker_cells()
    # keras3 makes none; replica count 3 does not split between 2 workers
    assert [(c.backend, c.replicas, c.workers) for c in cells] == [
        ("tf_keras", 2, 2),
        ("tf_keras", 4, 2),
    ]
    two, four = cells
    assert two.cell_id == "TinyCNN-32px-b8-multiworker-x2-w2-tf_keras"
    assert (two.replicas_per_worker, four.replicas_per_worker) == (1, 2)
    assert four.global_batch == 8 * 4  # every worker's replicas
    assert two.to_dict()["workers"] == 2 and Cell.from_dict(two.to_dict()) == two


def test_a_one_process_cell_keeps_its_dict_and_id():
    mirrored = next(c for c in parse_suite(SUITE, "mw.toml").cells() if c.strategy == "mirrored")
    assert "workers" not in mirrored.to_dict() and not mirrored.multiprocess
    assert "-w" not in mirrored.cell_id.split("-x")[-1]


def test_workers_setting_changes_the_split():
    text = SUITE.replace("replicas = [2, 3, 4]", "replicas = [3, 6]\nworkers = [1, 3]")
    assert [(c.replicas, c.workers) for c in multiworker_cells(text)] == [(3, 3), (6, 3)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('backend = ["keras3", "tf_keras"]', 'backend = "keras3"'),
            r"mw.toml: \[suite\] strategies: 'multiworker' runs on the tf_keras backend only "
            r"\(Keras 3 cannot fit under MultiWorkerMirroredStrategy: keras-team/keras issue "
            r"20585\); add 'tf_keras' to backend",
        ),
        (
            ("replicas = [2, 3, 4]", "replicas = [2, 4]\nworkers = 3"),
            r"\[suite\] workers: no 'multiworker' cell: its process counts \[3\] must split a "
            r"replica count in \[2, 4\] evenly \(multiworker needs 2 processes or more\)",
        ),
        (
            ("replicas = [2, 3, 4]", "replicas = [2]\nworkers = 1"),
            r"\[suite\] workers: no 'multiworker' cell: its process counts \[1\]",
        ),
        (
            ('strategies = ["mirrored", "multiworker"]', 'strategies = ["dataparallel"]'),
            r"\[suite\] strategies: 'dataparallel' runs on the jax backend only "
            r"\(keras.distribution.DataParallel is Keras 3 on JAX\); add 'jax' to backend",
        ),
        (
            ('backend = ["keras3", "tf_keras"]', 'backend = ["tf_keras", "jax"]'),
            r"\[suite\] backend: the jax backend runs single, dataparallel, none of the "
            "suite's strategies",
        ),
        (
            ("replicas = [2, 3, 4]", "replicas = [2]\nworkers = 0"),
            r"\[suite\] workers: expected integers >= 1, got 0",
        ),
    ],
)
def test_a_suite_a_backend_cannot_run_is_refused(change, message):
    with pytest.raises(SuiteError, match=message):
        parse_suite(SUITE.replace(*change), "mw.toml")


def test_dataparallel_cells_take_every_process_count_that_splits_the_replicas():
    text = SUITE.replace('backend = ["keras3", "tf_keras"]', 'backend = ["tf_keras", "jax"]')
    text = text.replace('["mirrored", "multiworker"]', '["single", "multiworker", "dataparallel"]')
    cells = parse_suite(text, "mw.toml").cells()
    jax = [(c.strategy, c.replicas, c.workers) for c in cells if c.backend == "jax"]
    assert jax == [
        ("single", 1, 1),
        ("dataparallel", 2, 1),
        ("dataparallel", 2, 2),
        ("dataparallel", 3, 1),  # 3 replicas do not split between 2 processes
        ("dataparallel", 4, 1),
        ("dataparallel", 4, 2),
    ]
    tf = {c.strategy for c in cells if c.backend == "tf_keras"}
    assert tf == {"single", "multiworker"}  # no paired cells: the suite lists no wrapper
    assert "TinyCNN-32px-b8-dataparallel-x2-w2-jax" in {c.cell_id for c in cells}


# -- finding peers -------------------------------------------------------------------------------


def test_loopback_tf_config_names_every_peer_and_this_task():
    config = json.loads(cluster.loopback_tf_config([5001, 5002], 1))
    assert config == {
        "cluster": {"worker": ["127.0.0.1:5001", "127.0.0.1:5002"]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ValueError, match="worker index 2 outside a cluster of 2 workers"):
        cluster.loopback_tf_config([5001, 5002], 2)


def test_free_ports_are_distinct():
    ports = cluster.free_loopback_ports(4)
    assert len(set(ports)) == 4 and all(0 < p < 65536 for p in ports)


def test_worker_index_comes_from_tf_config_or_slurm():
    assert cluster.worker_index({"TF_CONFIG": cluster.loopback_tf_config([1, 2, 3], 2)}) == 2
    assert cluster.worker_index({"MGBENCH_CLUSTER": "slurm", "SLURM_PROCID": "3"}) == 3
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        cluster.worker_index({})


def test_each_local_worker_gets_its_own_gpus():
    assert multiworker.gpu_shares(2, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]
    assert multiworker.gpu_shares(2, 1, ["3", "5", "7"]) == ["3", "5"]
    assert multiworker.gpu_shares(2, 2, ["0", "1"]) is None  # too few: the workers say so
    assert multiworker.gpu_shares(2, 1, []) is None  # no GPU: the CPU


def test_worker_files_sit_beside_the_cells():
    out, log = Path("/r/out.json"), Path("/r/logs/cell-r0.log")
    assert multiworker.worker_out_path(out, 1) == Path("/r/out-w1.json")
    assert multiworker.worker_log_path(log, 0) == log  # the chief logs where any cell does
    assert multiworker.worker_log_path(log, 1) == Path("/r/logs/cell-r0.w1.log")


# -- merging the workers' payloads ---------------------------------------------------------------

CELL = multiworker_cells()[0]


def worker_payload(index: int, host: str = "node") -> dict:
    return {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "replica_devices": ["CPU:0"],
        "weights_device": "mirrored",
        "timing": {
            "first_step_s": 0.5,
            "warmup_step_s": [0.1],
            "step_s": [0.02, 0.04, 0.03 + index],
            "timed_wall_s": 0.1,
            "images_per_step": 16,
            "images_per_s": 480.0,
            "first_loss": 2.3,
            "last_loss": 1.9,
        },
        "memory": {"host_rss_peak_bytes": 1000 + index, "tf_peak_bytes": None},
        "worker": {"index": index, "count": 2},
        "environment": {"host": f"{host}{index}"},
    }


def test_the_cell_payload_is_the_chiefs_with_every_worker_named():
    merged = multiworker.merge_payloads(CELL, [worker_payload(0), worker_payload(1)], [0, 0])
    assert merged["status"] == "ok" and "worker" not in merged
    assert merged["timing"] == worker_payload(0)["timing"]
    assert [(w["index"], w["host"], w["status"]) for w in merged["workers"]] == [
        (0, "node0", "ok"),
        (1, "node1", "ok"),
    ]
    assert merged["workers"][1]["median_step_s"] == pytest.approx(0.04)
    assert merged["workers"][1]["memory"]["host_rss_peak_bytes"] == 1001
    record = Record.from_payload(
        CELL,
        0,
        merged,
        RunContext("mw", "cpu", "run", {"host": "launcher"}),
        started_at="2026-11-30T00:00:00+00:00",
        wall_s=3.0,
    )
    assert record.environment.host == "node0"  # the chief's node, not the launcher's host
    assert record.workers is not None
    assert [(w.index, w.host, w.median_step_s) for w in record.workers] == [
        (0, "node0", pytest.approx(0.03)),
        (1, "node1", pytest.approx(0.04)),
    ]
    assert record.workers[0].memory is not None
    assert record.workers[0].memory.host_rss_peak_bytes == 1000
    assert record.timing is not None and record.timing.last_loss == 1.9
    assert Record.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_a_failed_worker_names_itself_and_its_stopped_peer_says_so():
    failed = {"status": "failed", "reason": "ValueError: boom", "error_tail": "Traceback..."}
    merged = multiworker.merge_payloads(CELL, [None, failed], [None, 1])
    assert merged["status"] == "failed"
    assert merged["reason"] == "worker 1 of 2: ValueError: boom"
    assert merged["error_tail"] == "Traceback..."
    assert merged["workers"][0] == {
        "index": 0,
        "status": "failed",
        "reason": "stopped: a peer failed first",
    }


def test_a_worker_that_left_nothing_is_named_with_its_exit_code():
    merged = multiworker.merge_payloads(CELL, [worker_payload(0), None], [0, -9])
    assert merged["status"] == "failed"
    assert merged["reason"] == "worker 1 of 2: exited with code -9 before writing a record"


def test_skipped_workers_make_a_skipped_cell():
    skipped = {"status": "skipped", "reason": "no GPU here"}
    merged = multiworker.merge_payloads(CELL, [skipped, None], [0, None])
    assert (merged["status"], merged["reason"]) == ("skipped", "worker 0 of 2: no GPU here")


def test_a_bad_worker_entry_is_named_by_its_path():
    merged = multiworker.merge_payloads(CELL, [worker_payload(0), worker_payload(1)], [0, 0])
    merged["workers"][1]["status"] = "maybe"
    with pytest.raises(RecordError, match=r"workers\[1\].status: unknown status 'maybe'"):
        Record.from_payload(
            CELL,
            0,
            merged,
            RunContext("mw", "cpu", "run", {}),
            started_at="2026-11-30T00:00:00+00:00",
            wall_s=3.0,
        )


def test_merge_outputs_reads_the_workers_files_and_writes_the_cells(tmp_path):
    out = tmp_path / "out.json"
    for index in range(2):
        path = multiworker.worker_out_path(out, index)
        path.write_text(json.dumps(worker_payload(index)))
    multiworker.merge_outputs(CELL, out, [0, 0])
    merged = json.loads(out.read_text())
    assert [w["host"] for w in merged["workers"]] == ["node0", "node1"]


# -- running workers side by side ----------------------------------------------------------------

WAITER = "import time; time.sleep(600)"  # a worker blocked in its collectives


def writer(path: Path, status: str, code: int) -> str:
    payload = json.dumps({"status": status, "reason": "boom"})
    write = f"pathlib.Path({str(path)!r}).write_text({payload!r})"
    return f"import pathlib, sys; {write}; sys.exit({code})"


def side_by_side(tmp_path, scripts, clock=None):
    import sys

    outs = [tmp_path / f"out-w{i}.json" for i in range(len(scripts))]
    logs = [tmp_path / f"w{i}.log" for i in range(len(scripts))]
    kwargs = {"clock": clock} if clock else {}
    codes = multiworker.run_side_by_side(
        [
            [sys.executable, "-c", script(outs[i]) if callable(script) else script]
            for i, script in enumerate(scripts)
        ],
        [{} for _ in scripts],
        logs,
        outs,
        timeout_s=300,
        **kwargs,
    )
    return codes, outs


def test_a_failing_worker_stops_its_waiting_peer_at_once(tmp_path):
    codes, _ = side_by_side(tmp_path, [WAITER, lambda out: writer(out, "failed", 1)])
    assert codes == [None, 1]  # the waiter was killed, not waited for


def test_every_worker_ending_ok_gives_their_codes(tmp_path):
    codes, outs = side_by_side(tmp_path, [lambda out: writer(out, "ok", 0)] * 2)
    assert codes == [0, 0] and all(o.exists() for o in outs)


def test_the_cells_timeout_kills_every_worker(tmp_path):
    ticks = iter([0.0, 1000.0])  # the start, then past the 300 s timeout at the first look
    codes, _ = side_by_side(tmp_path, [WAITER, WAITER], clock=lambda: next(ticks, 1000.0))
    assert codes is None


def test_workers_that_would_share_a_gpu_are_skipped_without_starting(tmp_path, monkeypatch):
    from mgbench.execution import child
    from mgbench.execution.executors.local import run_worker_process
    from mgbench.execution.executors.spawner import DeviceOptions, worker_spec

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # one GPU for two one-GPU workers
    spec, out = child.write_spec(tmp_path, worker_spec(CELL, DeviceOptions(), None))
    code = run_worker_process(spec, out, tmp_path / "cell.log", timeout_s=60)
    assert code == 0 and not (tmp_path / "cell.log").exists()  # no worker started
    assert json.loads(out.read_text()) == {
        "status": "skipped",
        "reason": "2 workers x 1 GPU(s) need 2 GPUs, 1 visible",
    }


def test_a_resumed_slurm_run_keeps_to_the_node_its_records_name(tmp_path):
    from mgbench.execution.executors.slurm import node_of as _node_of
    from mgbench.records import store

    assert _node_of(tmp_path) is None  # a new run: the first job picks the node
    merged = multiworker.merge_payloads(CELL, [worker_payload(0, "gpu"), worker_payload(1)], [0, 0])
    record = Record.from_payload(
        CELL,
        0,
        merged,
        RunContext("mw", "default", "run", {"host": "login"}),
        started_at="2026-11-30T00:00:00+00:00",
        wall_s=3.0,
    )
    store.append_record(tmp_path / store.RESULTS_FILE, record)
    assert _node_of(tmp_path) == "gpu0"


def test_a_multi_process_cells_energy_is_not_the_chiefs_alone():
    payload = {**worker_payload(0), "energy": {"0": {"joules": 5.0, "window_s": 1.0}}}
    merged = multiworker.merge_payloads(CELL, [payload, worker_payload(1)], [0, 0])
    assert merged["energy"] is None
    assert merged["energy_reason"].startswith("multi-process cell: each worker meters")

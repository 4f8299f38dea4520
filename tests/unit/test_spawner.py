"""What every executor records of a worker process (executors.spawner.worker_result): its
payload, or the reason there is none, with the log's tail (no TF: files written here stand for a
worker's)."""

from __future__ import annotations

import json

import pytest

from mgbench.config.suite import parse_suite
from mgbench.execution import child
from mgbench.execution.executors.spawner import DeviceOptions, worker_result, worker_spec

SUITE = """
[suite]
name = "spawner"
strategies = ["inplace"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 2
timeout_s = 30
compare = []
[[models]]
name = "TinyMLP"
image_size = 8
classes = 3
"""
CELL = parse_suite(SUITE, "spawner.toml").cells()[0]
# A start-up line TF prints in every process: the record's tail keeps it, as it always has.
LOG = "oneDNN custom operations are on\nTraceback (most recent call last):\n\nValueError: boom\n"
TAIL = "oneDNN custom operations are on\nTraceback (most recent call last):\nValueError: boom"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "cell.log").write_text(LOG)
    return tmp_path / "out.json", tmp_path / "cell.log"


def test_the_spec_holds_the_cell_its_devices_and_a_timeline(tmp_path):
    spec = worker_spec(CELL, DeviceOptions(2, 512), {"steps": 3, "logdir": "/t"})
    written = json.loads(child.write_spec(tmp_path, spec).spec.read_text())
    assert written["cell"] == CELL.to_dict()
    assert written["devices"] == {"virtual_gpus": 2, "virtual_gpu_memory_mb": 512}
    assert written["timeline"] == {"steps": 3, "logdir": "/t"}
    assert "timeline" not in worker_spec(CELL, DeviceOptions(), None)


def test_a_payload_is_the_result(files):
    out, log = files
    child.write_result(out, {"status": "ok", "n": 1})
    result = worker_result(CELL, out, log, 0, 2.5)
    assert (result.payload, result.wall_s) == ({"status": "ok", "n": 1}, 2.5)


def test_a_timeout_names_the_cells_timeout(files):
    out, log = files
    assert worker_result(CELL, out, log, None, 31.0).payload == {
        "status": "timeout",
        "reason": "exceeded the cell timeout of 30 s",
        "error_tail": TAIL,
    }


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (2, "worker exited with code 2 before writing a record"),
        (-9, "worker killed by signal SIGKILL"),
    ],
)
def test_no_payload_names_the_exit_code_or_signal(files, code, reason):
    out, log = files
    payload = worker_result(CELL, out, log, code, 1.0).payload
    assert payload == {"status": "failed", "reason": reason, "error_tail": TAIL}


def test_an_unreadable_payload_is_a_failure_that_says_why(files):
    out, log = files
    out.write_text("")
    assert worker_result(CELL, out, log, 0, 1.0).payload == {
        "status": "failed",
        "reason": "unreadable worker output: Expecting value: line 1 column 1 (char 0)",
        "error_tail": TAIL,
    }


def test_a_failure_without_its_own_tail_gets_the_logs(files):
    out, log = files
    child.write_result(out, {"status": "failed", "reason": "ValueError: boom"})
    assert worker_result(CELL, out, log, 1, 1.0).payload["error_tail"] == TAIL
    child.write_result(out, {"status": "failed", "reason": "x", "error_tail": "its own"})
    assert worker_result(CELL, out, log, 1, 1.0).payload["error_tail"] == "its own"

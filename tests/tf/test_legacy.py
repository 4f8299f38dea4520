"""The tf_keras graph-mode backend: equivalence, placement read from the graph, the 'sgd' trap,
and a smoke run through the real runner. Graph mode needs its own processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def checks():
    result = subprocess.run(
        [sys.executable, str(HERE / "legacy_checks.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("MGBENCH_JSON "))
    return json.loads(line.removeprefix("MGBENCH_JSON "))


@pytest.mark.parametrize(
    "case",
    [
        "inplace-x2",
        "inplace-x3",
        "wholebatch-x2",
        "wholebatch-x3",
        "concat-x2",
        "concat-x3",
        "inplace-x3-uneven7",
        "inplace-x3-tiny2",
        "wholebatch-x3-uneven7",
        "wholebatch-x3-tiny2",
    ],
)
def test_graph_mode_wrappers_train_like_the_bare_template(checks, case):
    assert checks["equivalence"][case] < 1e-6


@pytest.mark.parametrize("wrapper", ["inplace", "wholebatch", "concat"])
def test_each_replica_forward_and_backward_on_its_own_device(checks, wrapper):
    audit = checks["placement"][wrapper]
    assert audit["forward"] == {"0": ["CPU:1"], "1": ["CPU:2"]}
    assert audit["backward"] == {"0": ["CPU:1"], "1": ["CPU:2"]}
    assert audit["grad_aggregate"] == ["CPU:0"]
    assert audit["update"] == ["CPU:0"] and audit["merge"] == ["CPU:0"]
    assert audit["backward_unplaced"] == 0 < audit["backward_total"]


def test_slicing_follows_each_original(checks):
    assert checks["placement"]["inplace"]["slice"] == [["CPU:0", "requested"]]  # on x.device
    # Keras <= 2.1: each replica's slicing under its own device, every op of it
    assert checks["placement"]["wholebatch"]["slice_ops"] == [
        [0, "CPU:1", "requested"],
        [1, "CPU:2", "requested"],
    ]
    assert checks["placement"]["wholebatch-x3"]["slice_ops"] == [
        [0, "CPU:1", "requested"],
        [1, "CPU:2", "requested"],
        [2, "CPU:3", "requested"],
    ]
    # No device scope: the Split lands on the default device, its axis constant with it.
    assert checks["placement"]["concat"]["slice"] == [
        ["CPU:0", "default"],
        ["CPU:0", "with_consumer"],
    ]


# The fidelity cases: the mlp template (4 float32 = 16 bytes a sample), batch 6 on 3 replicas.
FIDELITY_WHOLE, FIDELITY_SHARE = 6 * 16, 2 * 16


def test_the_seeds_split_over_an_unscoped_template_is_the_whole_batch_split_and_warns(checks):
    found = checks["fidelity"]["unscoped"]
    # as in 2018: the slicing lands under each replica's scope, the whole batch goes to each
    assert found["placement"]["slice_ops"] == [
        [0, "CPU:1", "requested"],
        [1, "CPU:2", "requested"],
        [2, "CPU:3", "requested"],
    ]
    assert _rows(found["on_gpus"], "batch") == [
        ("CPU:0", f"GPU:{i}", FIDELITY_WHOLE) for i in range(3)
    ]
    assert _rows(found["as_run"], "batch") == [
        ("CPU:0", f"CPU:{i + 1}", FIDELITY_WHOLE) for i in range(3)
    ]
    assert _rows(found["on_gpus"], "slices") == [] and found["unresolved"] == []
    assert found["split"] == {"on_gpus": "wholebatch", "as_run": "wholebatch"}
    ((category, message),) = found["warnings"]  # once, for the one input
    assert category == "UserWarning"
    assert re.fullmatch(
        r"multi_gpu_model: the template's input 'features(_\d+)?:0' has no device, so "
        r"tf\.device\(x\.device\) is a no-op and each replica slices the batch on its own "
        r"device: the whole batch is copied to every replica \(Keras 2\.0\.9-2\.1\.6's "
        r"whole-batch split\), not split in place\. Build the template under "
        r"tf\.device\('/cpu:0'\) for the in-place split\.",
        message,
    )


def test_the_seeds_split_over_a_host_template_slices_on_the_host_silently(checks):
    found = checks["fidelity"]["host"]
    assert found["placement"]["slice_ops"] == [
        [0, "CPU:0", "requested"],
        [1, "CPU:0", "requested"],
        [2, "CPU:0", "requested"],
    ]
    assert _rows(found["on_gpus"], "slices") == [
        ("CPU:0", f"GPU:{i}", FIDELITY_SHARE) for i in range(3)
    ]
    assert _rows(found["on_gpus"], "batch") == [] and found["unresolved"] == []
    assert found["split"] == {"on_gpus": "inplace", "as_run": "inplace"}
    assert found["warnings"] == []


def test_the_sgd_string_trap_is_refused_and_caught(checks):
    assert checks["sgd_string_refused"] is True
    trapped = checks["placement"]["inplace_sgd_string"]
    assert trapped["backward"] == {"0": ["CPU:0"], "1": ["CPU:0"]}  # every replica's on one device
    assert trapped["backward_unplaced"] > 0
    assert checks["placement"]["single_sgd_string"]["backward_unplaced"] > 0
    assert checks["placement"]["single_colocating"]["backward_unplaced"] == 0


def test_save_through_the_wrapper_load_into_a_fresh_template(checks):
    assert checks["save_load_max_diff"] < 1e-6


def test_the_wrappers_built_over_one_template_each_train_it_placed_as_alone(checks):
    pair = checks["pair"]
    assert pair["same_template"] and pair["same_replicas"]
    assert pair["trained"] == {"inplace": True, "wholebatch": True, "concat": True}
    assert pair["placement_as_alone"] == {"inplace": True, "wholebatch": True, "concat": True}


def test_smoke_run_on_the_tf_keras_backend(tmp_path):
    suite = parse_suite(
        """
[suite]
name = "legacy"
strategies = ["single", "inplace", "wholebatch", "concat", "mirrored"]
backend = "tf_keras"
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 3
repeats = 1
timeout_s = 240
compare = []
[[models]]
name = "TinyMLP"
image_size = 8
classes = 5
""",
        "legacy.toml",
    )
    assert run_and_summarise(suite, tmp_path / "run", emit=lambda _: None) == 0
    lines = (tmp_path / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # the JSON field names are the contract
    order = ["single", "inplace", "wholebatch", "concat", "mirrored"]  # the run is shuffled
    records.sort(key=lambda r: order.index(r["cell"]["strategy"]))
    assert [r["cell_id"] for r in records] == [
        "TinyMLP-8px-b4-single-x1-tf_keras",
        "TinyMLP-8px-b4-inplace-x2-tf_keras",
        "TinyMLP-8px-b4-wholebatch-x2-tf_keras",
        "TinyMLP-8px-b4-concat-x2-tf_keras",
        "TinyMLP-8px-b4-mirrored-x2-tf_keras",
    ]
    for record in records:
        assert record["status"] == "ok"
        assert record["backend"] == "tf_keras" == record["cell"]["backend"]
        assert record["environment"]["tf_keras"].startswith("2.21")
        assert len(record["timing"]["step_s"]) == 3
    inplace = records[1]["placement"]
    assert set(inplace["ops_per_device"]) == {"CPU:0", "CPU:1", "CPU:2"}
    assert inplace["slice_devices"] == ["CPU:0"] and inplace["grad_aggregate_devices"] == ["CPU:0"]
    wholebatch = records[2]
    assert wholebatch["placement"]["slice_devices"] == ["CPU:1", "CPU:2"]
    whole = 8 * 8 * 8 * 3 * 4  # the global batch of 8px images
    assert [
        (row["dst"], row["bytes"]) for row in wholebatch["transfers"]["on_gpus"]
        if row["role"] == "batch"
    ] == [("GPU:0", whole), ("GPU:1", whole)]  # fmt: skip
    assert records[3]["placement"]["unplaced_ops"]["slice"] > 0  # Matterport's split


def _rows(rows, role):
    return [(r["src"], r["dst"], r["bytes"]) for r in rows if r["role"] == role]


def test_transfer_audit_of_the_graph_mode_wrappers_on_gpus(checks):
    found = checks["transfers"]["tinycnn"]
    image = 32 * 32 * 3 * 4
    inplace, concat = found["inplace"]["on_gpus"], found["concat"]["on_gpus"]
    wholebatch = found["wholebatch"]["on_gpus"]
    assert _rows(inplace, "slices") == [
        ("CPU:0", "GPU:0", 8 * image),
        ("CPU:0", "GPU:1", 8 * image),
    ]
    assert _rows(inplace, "batch") == []
    assert _rows(wholebatch, "batch") == [
        ("CPU:0", "GPU:0", 16 * image),
        ("CPU:0", "GPU:1", 16 * image),
    ]
    assert _rows(wholebatch, "slices") == []
    assert _rows(concat, "batch") == [("CPU:0", "GPU:0", 16 * image)]
    assert _rows(concat, "slices") == [("GPU:0", "GPU:1", 8 * image)]
    for strategy in ("inplace", "wholebatch", "concat"):
        assert found[strategy]["split"]["on_gpus"] == strategy
        assert found[strategy]["unresolved"] == []
    for rows in (inplace, wholebatch, concat):
        gradients = _rows(rows, "gradients")
        for replica in ("GPU:0", "GPU:1"):
            assert (replica, "CPU:0", found["param_bytes"]) in gradients
        assert _rows(rows, "labels") == [("CPU:0", "GPU:0", 16 * 4)]  # the fed int labels


def test_transfer_audit_of_the_graph_mode_wrappers_as_run_coincide(checks):
    found = checks["transfers"]["tinycnn"]
    assert found["inplace"]["as_run"] == found["concat"]["as_run"]
    # the whole-batch split does not coincide: the whole batch goes to every CPU replica
    assert _rows(found["wholebatch"]["as_run"], "batch") == [
        ("CPU:0", "CPU:1", 16 * 32 * 32 * 3 * 4),
        ("CPU:0", "CPU:2", 16 * 32 * 32 * 3 * 4),
    ]


def test_transfer_audit_of_a_two_input_graph_mode_template(checks):
    # inputs (6,) and (2,) float32 (32 bytes a sample), batch 16 over 2 replicas; the batch size
    # is unknown in the graph and resolved from the cell
    found = checks["transfers"]["two_inputs"]
    assert _rows(found["inplace"]["on_gpus"], "slices") == [
        ("CPU:0", "GPU:0", 256),
        ("CPU:0", "GPU:1", 256),
    ]
    assert _rows(found["wholebatch"]["on_gpus"], "batch") == [
        ("CPU:0", "GPU:0", 512),
        ("CPU:0", "GPU:1", 512),
    ]
    assert _rows(found["concat"]["on_gpus"], "batch") == [("CPU:0", "GPU:0", 512)]
    assert _rows(found["concat"]["on_gpus"], "slices") == [("GPU:0", "GPU:1", 256)]

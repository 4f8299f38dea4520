"""``mgbench doctor`` and the quiet command line, for real on this machine (fresh processes, as a
user runs them), and the observed placement of one real step against its prediction."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from mgbench import backends, models
from mgbench.analysis import readiness
from mgbench.backends.base import BuildSpec
from mgbench.execution import probes
from mgbench.platform import lazy

# What TF and absl print from C++ at start-up when nothing keeps them off the terminal.
NOISE = re.compile(r"absl::InitializeLog|oneDNN|cuInit|cudart_stub|cuda_platform|I0000|E0000")


def _mgbench(*args: str, cache: os.PathLike) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    return subprocess.run(
        [sys.executable, "-m", "mgbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_doctor_passes_here_and_lists_what_it_skipped(tmp_path):
    done = _mgbench("doctor", cache=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for strategy in ("single", "inplace", "wholebatch", "concat", "mirrored"):
        assert f"[ ok ] placement: {strategy}: " in out
    assert "2 replica(s) CPU:1, CPU:2 (simulated CPU replicas); every role as predicted" in out
    assert "[ ok ] XLA off: jit_compile False, no auto-clustering, no XLA node ran" in out
    assert "[skip] virtual GPUs (child process): no physical GPU to split" in out
    assert "[skip] NVML: " in out
    assert "skipped here (the reasons are above): GPUs (TensorFlow)" in out
    assert re.search(r"^doctor in \d+ s: .* 0 fail, .*\(exit 0\)$", out, re.M)
    assert not NOISE.search(done.stderr + out), done.stderr
    logs = sorted(p.name for p in (tmp_path / "mgbench").iterdir())
    assert logs == ["tf-doctor-placement.log", "tf-doctor.log"]


def test_devices_prints_no_tensorflow_start_up_lines(tmp_path):
    done = _mgbench("devices", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("TensorFlow ")
    assert not NOISE.search(done.stdout + done.stderr), done.stdout + done.stderr
    log = tmp_path / "mgbench" / "tf-devices.log"
    assert f"TensorFlow's start-up output: {log} (--verbose shows it)" in done.stdout
    assert "oneDNN" in log.read_text()  # kept, not lost


def real_step(strategy: str):
    """A real step of ``strategy`` on two of the session's simulated CPUs: its prediction and
    the nodes it ran as (the step function's first call)."""
    backend = backends.get("keras3")
    spec = BuildSpec(model="TinyCNN", image_size=32, strategy=strategy, batch_per_replica=4)
    built = backend.build_compiled(spec)
    x, y = models.synthetic_batch(spec.image_size, spec.classes, spec.global_batch)
    traced, _ = backend.trace_step(built, x, y)
    loss, nodes = probes.observe_first_step(backend.step_function(spec, built))
    observed = [readiness.ObservedOp(*node) for node in nodes]
    return traced.placement().ops, observed, loss


@pytest.fixture(scope="module")
def inplace_step():
    return real_step("inplace")


def test_a_real_whole_batch_step_sliced_on_each_replica_as_predicted():
    predicted, observed, loss = real_step("wholebatch")
    assert loss > 0
    comparison = readiness.compare_placement(predicted, observed)
    assert comparison.agrees, [r for r in comparison.roles if not r.agrees]
    assert comparison.role("slice").observed_devices == ("CPU:1", "CPU:2")
    slices = [node for node in observed if "/mgbench_split/" in node.name]
    for node in slices:  # each replica's slicing ran on that replica
        replica = int(node.name.split("replica_")[1][0])
        assert node.device == f"CPU:{replica + 1}", node
    assert {node.device for node in slices} == {"CPU:1", "CPU:2"}


def test_the_executed_graph_names_each_node_and_its_device(inplace_step):
    _, observed, loss = inplace_step
    assert loss > 0
    devices = {node.device for node in observed}
    assert devices == {"CPU:0", "CPU:1", "CPU:2"}
    assert not any(node.name.startswith("StatefulPartitionedCall/") for node in observed)
    assert not any(node.type in probes.PARTITION_NODE_TYPES for node in observed)


def test_the_real_step_ran_where_predicted_and_a_wrong_prediction_is_caught(inplace_step):
    predicted, observed, _ = inplace_step
    comparison = readiness.compare_placement(predicted, observed)
    assert comparison.agrees, [r for r in comparison.roles if not r.agrees]
    assert comparison.role("forward").observed_devices == ("CPU:1", "CPU:2")
    assert comparison.role("slice").observed_devices == ("CPU:0",)
    # A prediction that had replica 1's forward pass on the host is refuted by what ran.
    wrong = [
        dataclasses.replace(op, device="CPU:0") if "replica_1" in op.name else op
        for op in predicted
    ]
    refuted = readiness.compare_placement(wrong, observed)
    assert not refuted.role("forward").agrees
    assert refuted.role("forward").predicted_devices == ("CPU:0", "CPU:1")
    assert refuted.role("forward").moved[0].endswith("predicted CPU:0, ran on CPU:2")


# -- the GPU branches on fake GPUs: what they configure and read ------------------------------


@pytest.fixture
def fake_gpu_config(monkeypatch):
    """One or two physical GPUs as TF would list them; every GPU setting the probes make is
    recorded instead of reaching a runtime that has already started."""
    tf = lazy.tensorflow()
    calls: list[tuple] = []
    state: dict = {"split": None, "physical": 2}

    def physical():
        return [
            tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU")
            for i in range(state["physical"])
        ]

    def logical():
        count = len(state["split"]) if state["split"] else state["physical"]
        return [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(count)]

    real_physical, real_logical = tf.config.list_physical_devices, tf.config.list_logical_devices
    real_split = tf.config.get_logical_device_configuration

    def set_split(device, configs):
        if device.device_type != "GPU":
            return real_split(device)
        if state["split"] is not None:
            raise RuntimeError("Virtual devices cannot be modified after being initialized")
        calls.append(("split", device.name, [c.memory_limit for c in configs]))
        state["split"] = configs

    patches = {
        "list_physical_devices": lambda kind=None: (
            physical() if kind == "GPU" else real_physical(kind)
        ),
        "list_logical_devices": lambda kind=None: (
            logical() if kind == "GPU" else real_logical(kind)
        ),
        "set_logical_device_configuration": set_split,
        "get_logical_device_configuration": lambda device: (
            state["split"] if device.device_type == "GPU" else real_split(device)
        ),
    }
    for name, fake in patches.items():
        monkeypatch.setattr(tf.config, name, fake)
    experimental = {
        "get_device_details": lambda gpu: {
            "device_name": "NVIDIA H200",
            "compute_capability": (9, 0),
        },
        "set_memory_growth": lambda gpu, on: calls.append(("growth", gpu.name, on)),
        "get_memory_growth": lambda gpu: False,
        "reset_memory_stats": lambda device: calls.append(("reset", device)),
        "get_memory_info": lambda device: {"current": 0, "peak": 70 * 2**20},
    }
    for name, fake in experimental.items():
        monkeypatch.setattr(tf.config.experimental, name, fake)
    return calls, state


def test_inspect_tensorflow_turns_memory_growth_on_and_probes_each_gpu_peak(fake_gpu_config):
    calls, _ = fake_gpu_config
    inspection = probes.inspect_tensorflow()
    assert [g.device for g in inspection.physical_gpus] == ["GPU:0", "GPU:1"]
    assert inspection.physical_gpus[0].model == "NVIDIA H200"
    assert inspection.physical_gpus[0].compute_capability == "9.0"
    assert inspection.logical_gpus == ("GPU:0", "GPU:1")
    # growth is set on every GPU before anything lists the logical devices (runtime start)
    assert calls == [
        ("growth", "/physical_device:GPU:0", True),
        ("growth", "/physical_device:GPU:1", True),
        ("reset", "/device:GPU:0"),
        ("reset", "/device:GPU:1"),
    ]
    assert [(m.device, m.peak_bytes, m.expected_bytes) for m in inspection.memory] == [
        ("GPU:0", 70 * 2**20, probes.PEAK_PROBE_BYTES),
        ("GPU:1", 70 * 2**20, probes.PEAK_PROBE_BYTES),
    ]
    checks = readiness.tensorflow_checks(inspection, nvml_gpus=2)
    assert [c.status for c in checks] == ["ok", "ok", "ok"]


def test_the_virtual_gpu_probe_splits_the_first_gpu_and_sees_a_late_split_refused(
    fake_gpu_config,
):
    calls, state = fake_gpu_config
    state["physical"] = 1
    payload = probes.virtual_gpu_probe(count=2, memory_mb=1024)
    assert calls == [("split", "/physical_device:GPU:0", [1024, 1024])]
    assert payload["logical_gpus"] == ["GPU:0", "GPU:1"]
    assert payload["memory_limits_mb"] == [1024, 1024]
    assert "called after the TensorFlow runtime started" in payload["late_split_refused"]
    # no real GPU here: TF's soft placement ran the tensors on the host, which the check catches
    check = readiness.virtual_gpu_check(payload, None)
    assert check.status == "fail" and "tensors ran on ['CPU:0', 'CPU:0']" in check.summary


def test_a_child_that_fails_reports_its_error_and_log(tmp_path):
    log = tmp_path / "child.log"
    child = probes.run_child("placement", {"virtual_gpus": 2}, log_path=log, timeout_s=60)
    assert child.payload is None
    assert child.error == "ValueError: virtual GPUs were asked for, but this machine has no GPU"
    assert "raise ValueError" in child.error_tail
    assert child.log_path == log and log.exists()
    check = readiness.placement_checks(child.payload, child.error, child.error_tail)[0]
    assert check.status == "fail" and check.summary == child.error

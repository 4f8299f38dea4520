"""The jax backend (Keras 3 on JAX): DataParallel trains as one device would, a jax cell runs
without TensorFlow, and two processes on loopback train one model.

Each case runs in a fresh subprocess: JAX reads its device flags (XLA_FLAGS) when it starts, and
this session already runs Keras on TensorFlow. Every subprocess blocks ``import tensorflow`` and
reports any attempt, so "no TensorFlow" is checked on every path, not only where it is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mgbench import backends
from mgbench.backends.base import BuildSpec, CellSkipped
from mgbench.backends.jax_keras import XLA_PLACEMENT_REASON, _with_host_device_count
from mgbench.config.suite import Cell
from mgbench.execution import child
from mgbench.execution.executors.spawner import DeviceOptions, worker_spec
from mgbench.platform import cluster, lazy

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240

# A finder first on sys.meta_path: TF (and tf_keras) cannot load, and every try is recorded.
# The last stdout line of a subprocess is a JSON object with the attempts and the results.
PRELUDE = """
import importlib.abc, json, sys
attempts = []
class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras"):
            attempts.append(name)
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, _NoTensorFlow())
results = {}
def report():
    results["tf_attempts"] = attempts
    results["tf_loaded"] = any(m.split(".")[0] == "tensorflow" for m in sys.modules)
    print(json.dumps(results))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "XLA_FLAGS")}
    # This session's KERAS_BACKEND=tensorflow is inherited on purpose: the backend overrides it.
    return {**env, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **extra}


def _start(code: str, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code + "\nreport()\n"],
        cwd=ROOT,
        env=_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> dict:
    stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, f"subprocess failed:\n{stderr[-4000:]}"
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["tf_attempts"] == [] and not result["tf_loaded"], result
    return result


def _run(code: str, **extra_env: str) -> dict:
    return _finish(_start(code, **extra_env))


def _cell(strategy: str, replicas: int, workers: int = 1) -> Cell:
    # Cell does not validate, so this works whether or not the suite lists the jax names yet.
    return Cell(
        model="TinyCNN",
        image_size=16,
        classes=10,
        batch_per_replica=4,
        strategy=strategy,
        replicas=replicas,
        warmup_steps=1,
        timed_steps=4,
        input="host",
        weights="cpu",
        dtype="float32",
        timeout_s=TIMEOUT_S,
        placement=True,
        backend="jax",
        workers=workers,
    )


# -- in this session (nothing here starts JAX) -----------------------------------------------


def test_the_backend_is_registered_and_refuses_what_it_cannot_run():
    backend = backends.get("jax")
    assert backend.name == "jax" and "jax" in backends.names()
    spec = BuildSpec(strategy="dataparallel", replicas=2)
    with pytest.raises(CellSkipped, match="paired"):
        backend.check_pairable(spec, ("inplace", "concat"))
    with pytest.raises(CellSkipped, match="profiler"):
        backend.check_steppable(spec)
    with pytest.raises(CellSkipped, match="virtual GPUs"):
        backend.prepare_process(2, virtual_gpus=2)
    assert backend.fitted_step(spec, None) == (None, XLA_PLACEMENT_REASON)


def test_the_host_device_count_replaces_only_its_own_flag():
    flags = "--xla_dump_to=/tmp/x --xla_force_host_platform_device_count=8"
    assert _with_host_device_count(flags, 2) == (
        "--xla_dump_to=/tmp/x --xla_force_host_platform_device_count=2"
    )
    assert _with_host_device_count("", 1) == "--xla_force_host_platform_device_count=1"


def test_keras_on_jax_is_refused_where_keras_runs_on_tensorflow():
    lazy.keras()  # this session's Keras is TensorFlow's
    with pytest.raises(RuntimeError, match="already loaded with 'tensorflow'"):
        lazy.keras_jax()


def test_importing_the_backend_loads_no_framework():
    result = _run(
        "import mgbench.backends.jax_keras\n"
        "results['loaded'] = sorted(m for m in ('jax', 'keras') if m in sys.modules)\n"
    )
    assert result["loaded"] == []


# -- in fresh processes --------------------------------------------------------------------------

NUMERICAL = """
from mgbench import backends
from mgbench.backends.base import BuildSpec, CellSkipped
from mgbench.trackers.timing import StepTimer

STEPS = 5
backend = backends.get("jax")
setup = backend.prepare_process(2)
results["mode"] = setup.mode
try:
    backend.check_runnable(BuildSpec(strategy="dataparallel", replicas=3), 0)
except CellSkipped as reason:
    results["three_replicas"] = str(reason)
common = dict(model="TinyCNN", image_size=16, classes=10)
single = backend.build_compiled(
    BuildSpec(strategy="single", replicas=1, batch_per_replica=8, **common)
)
parallel = backend.build_compiled(
    BuildSpec(strategy="dataparallel", replicas=2, batch_per_replica=4, **common)
)
parallel.model.set_weights(single.model.get_weights())  # the same start
results["parallel"] = {
    "replica_devices": parallel.replica_devices,
    "weights_device": parallel.weights_device,
    "weight_devices": sorted(str(d) for d in parallel.model.weights[0].value.devices()),
}
results["single"] = {
    "replica_devices": single.replica_devices,
    "weights_device": single.weights_device,
}
for name, built, spec in (
    ("single", single, BuildSpec(strategy="single", replicas=1, batch_per_replica=8, **common)),
    ("parallel", parallel, BuildSpec(strategy="dataparallel", replicas=2, batch_per_replica=4,
                                     **common)),
):
    timer = StepTimer(warmup_steps=0, timed_steps=STEPS - 1, images_per_step=8)
    timing = backend.fit_timed(built, backend.dataset(spec, built), timer)
    results[name]["losses"] = list(timing.losses)
    results[name]["weights"] = [w.tolist() for w in built.model.get_weights()]
"""


def test_dataparallel_over_two_devices_takes_the_single_device_steps():
    import numpy as np

    result = _run(NUMERICAL)
    assert result["mode"] == "cpu-simulation"
    assert "3 replicas per process" in result["three_replicas"]
    single, parallel = result["single"], result["parallel"]
    assert single["replica_devices"] == ["CPU:0"] and single["weights_device"] == "CPU:0"
    assert parallel["replica_devices"] == ["CPU:0", "CPU:1"]
    assert parallel["weights_device"] == "mirrored"
    assert parallel["weight_devices"] == ["cpu:0", "cpu:1"]  # replicated on both
    assert len(single["losses"]) == len(parallel["losses"]) == 5
    np.testing.assert_allclose(parallel["losses"], single["losses"], rtol=1e-5)
    assert single["losses"][-1] < single["losses"][0]  # it trained
    for ours, theirs in zip(parallel["weights"], single["weights"], strict=True):
        np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-5, atol=1e-7)


WORKER = """
from mgbench.execution import worker
code = worker.main([{spec!r}, {out!r}])
results["code"] = code
"""


def _spec(folder: Path, cell: Cell) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return child.write_spec(folder, worker_spec(cell, DeviceOptions(), None))


def test_a_jax_cell_runs_without_tensorflow(tmp_path):
    spec, out = _spec(tmp_path, _cell("dataparallel", replicas=2))
    result = _run(WORKER.format(spec=str(spec), out=str(out)))
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert result["code"] == 0 and payload["status"] == "ok", payload
    assert payload["device_mode"] == "cpu-simulation" and payload["jit_compile"] is True
    assert payload["replica_devices"] == ["CPU:0", "CPU:1"]
    assert payload["weights_device"] == "mirrored"
    timing = payload["timing"]
    assert len(timing["step_s"]) == 4 and timing["images_per_s"] > 0
    assert timing["first_loss"] is not None and timing["last_loss"] < timing["first_loss"]
    assert payload["placement_reason"] == XLA_PLACEMENT_REASON
    assert payload["memory"]["tf_peak_bytes"] is None
    environment = payload["environment"]
    assert environment["tensorflow"] is None and environment["jax"] and environment["keras"]


def test_an_unrunnable_jax_cell_is_skipped_with_its_reason(tmp_path):
    spec, out = _spec(tmp_path, _cell("mirrored", replicas=2))
    _run(WORKER.format(spec=str(spec), out=str(out)))
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert payload["status"] == "skipped"
    assert "not 'mirrored'" in payload["reason"]


def test_two_processes_on_loopback_train_one_model(tmp_path):
    spec, _ = _spec(tmp_path, _cell("dataparallel", replicas=2, workers=2))
    ports = cluster.free_loopback_ports(2)
    outs = [tmp_path / f"out{i}.json" for i in range(2)]
    processes = [
        _start(
            WORKER.format(spec=str(spec), out=str(out)),
            TF_CONFIG=cluster.loopback_tf_config(ports, index),
        )
        for index, out in enumerate(outs)
    ]
    try:
        for process in processes:
            assert _finish(process)["code"] == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    payloads = [json.loads(out.read_text(encoding="utf-8")) for out in outs]
    for index, payload in enumerate(payloads):
        assert payload["status"] == "ok", payload
        assert payload["worker"] == {"index": index, "count": 2}
        assert payload["replica_devices"] == ["CPU:0"]  # this process's own replica
    first, second = (p["timing"] for p in payloads)
    # One model: both processes read the same global loss at every step.
    assert first["first_loss"] == second["first_loss"]
    assert first["last_loss"] == second["last_loss"]
    assert first["last_loss"] < first["first_loss"]


def test_on_a_gpu_machine_jax_does_not_preallocate_and_refuses_a_cpu_only_jax():
    # NVML sees two GPUs, but this machine's JAX is the CPU build: measuring on the CPU while
    # the record says GPU would be a lie.
    result = _run(
        """
from mgbench.platform import hardware
hardware.gpu_count = lambda: 2
import os
from mgbench.backends.jax_keras import JaxBackend
try:
    JaxBackend().prepare_process(1)
except RuntimeError as error:
    results["error"] = str(error)
results["preallocate"] = os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE")
results["platforms"] = os.environ.get("JAX_PLATFORMS")
"""
    )
    assert result["preallocate"] == "false"  # as TF's memory growth: NVML then sees the cell
    assert result["platforms"] is None  # the GPU plugin is not ruled out
    assert result["error"].startswith("NVML sees 2 GPU(s) but this JAX runs on 'cpu'")

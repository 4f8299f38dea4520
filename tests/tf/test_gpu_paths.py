"""GPU-only paths, checked on the CPU against fakes: what they would configure and record."""

from __future__ import annotations

from typing import ClassVar

import pytest

from mgbench import backends, devices
from mgbench.backends.base import CellSkipped, DeviceSetup
from mgbench.backends.tf_base import TF_PEAK_CPU_REASON, cross_device_ops
from mgbench.config.suite import Cell
from mgbench.platform import lazy

tf = lazy.tensorflow()
backend = backends.get("keras3")


def cell(replicas: int) -> Cell:
    return Cell(
        model="TinyCNN",
        image_size=32,
        classes=10,
        batch_per_replica=8,
        strategy="inplace",
        replicas=replicas,
        warmup_steps=1,
        timed_steps=2,
        input="host",
        weights="cpu",
        dtype="float32",
        timeout_s=60.0,
        placement=True,
    )


@pytest.fixture
def fake_gpus(monkeypatch):
    """Two physical GPUs and, as TF would list them, their logical devices."""
    physical = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(2)]
    logical = [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(2)]
    real_physical = tf.config.list_physical_devices
    real_logical = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: physical if kind == "GPU" else real_physical(kind),
    )
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: logical if kind == "GPU" else real_logical(kind),
    )
    return physical


def test_cpu_mirrored_reduces_to_the_host():
    ops = cross_device_ops()
    assert isinstance(ops, tf.distribute.ReductionToOneDevice)
    assert ops.reduce_to_device == devices.HOST_DEVICE


def test_real_gpus_keep_nccl_and_virtual_gpus_avoid_it(fake_gpus, monkeypatch):
    monkeypatch.setattr(devices, "virtual_gpus_active", lambda: False)
    assert cross_device_ops() is None  # MirroredStrategy's default: NCCL
    monkeypatch.setattr(devices, "virtual_gpus_active", lambda: True)
    assert isinstance(cross_device_ops(), tf.distribute.HierarchicalCopyAllReduce)


def test_more_replicas_than_gpus_is_a_skip_with_its_reason(fake_gpus):
    with pytest.raises(CellSkipped, match="4 replicas asked for, but this machine has 2 GPU"):
        backend.check_runnable(cell(4), virtual_gpus=0)
    backend.check_runnable(cell(2), virtual_gpus=0)
    backend.check_runnable(cell(4), virtual_gpus=4)
    with pytest.raises(CellSkipped, match="has 4 virtual GPU"):
        backend.check_runnable(cell(8), virtual_gpus=4)


def test_tf_allocator_peaks_are_read_per_gpu(fake_gpus, monkeypatch):
    peaks = {"/device:GPU:0": 3 * 2**30, "/device:GPU:1": 2**30}
    monkeypatch.setattr(
        tf.config.experimental, "get_memory_info", lambda name: {"current": 0, "peak": peaks[name]}
    )
    assert backend.memory_peaks() == ({"GPU:0": 3 * 2**30, "GPU:1": 2**30}, None)
    # a cell reads only its own devices: an idle GPU's peak must not pass for a replica's
    assert backend.memory_peaks(["/device:GPU:1", "/device:CPU:0"]) == ({"GPU:1": 2**30}, None)


def test_without_gpus_tf_peaks_are_null_with_a_reason():
    assert backend.memory_peaks() == (None, TF_PEAK_CPU_REASON)


def test_real_gpus_get_memory_growth_not_simulation(fake_gpus, monkeypatch):
    calls = []
    monkeypatch.setattr(devices, "enable_memory_growth", lambda: calls.append("growth"))
    monkeypatch.setattr(devices, "simulate", lambda *a, **k: calls.append(("simulate", a, k)))
    assert devices.prepare(2) == "gpu"
    assert devices.prepare(4, virtual_gpus=4, virtual_gpu_memory_mb=1000) == "virtual-gpu"
    assert calls == ["growth", ("simulate", (4,), {"kind": "gpu", "memory_limit_mb": 1000})]


class _StrategyRecorder:
    """Stands in for MultiWorkerMirroredStrategy: this session's runtime has started, so the
    real one cannot configure its collectives here; what it would be given is what counts."""

    made: ClassVar[list[dict]] = []

    def __init__(self, **kwargs):
        _StrategyRecorder.made.append(kwargs)


def _prepared_multiworker(monkeypatch) -> tuple[DeviceSetup, dict, list[str]]:
    from mgbench.backends.tf_keras import TfKerasBackend

    grown: list[str] = []
    _StrategyRecorder.made = []
    monkeypatch.setattr(devices, "enable_memory_growth", lambda: grown.append("grown"))
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", _StrategyRecorder)
    setup = TfKerasBackend().prepare_process(1, multiworker=True)  # a fresh, uncached backend
    (made,) = _StrategyRecorder.made
    return setup, made, grown


def test_a_multiworker_process_on_gpus_grows_memory_and_uses_nccl(fake_gpus, monkeypatch):
    setup, made, grown = _prepared_multiworker(monkeypatch)
    implementation = tf.distribute.experimental.CommunicationImplementation
    assert made["communication_options"].implementation == implementation.NCCL
    assert made["cluster_resolver"] is None  # TF_CONFIG from the launcher, not Slurm's
    assert grown == ["grown"]
    assert (setup.mode, setup.has_gpus) == ("gpu", True)


def test_a_multiworker_process_on_the_cpu_uses_a_ring(monkeypatch):
    setup, made, grown = _prepared_multiworker(monkeypatch)
    implementation = tf.distribute.experimental.CommunicationImplementation
    assert made["communication_options"].implementation == implementation.RING
    assert grown == []
    assert (setup.mode, setup.has_gpus) == ("cpu-simulation", False)


class _FakeJaxDevice:
    def __init__(self, platform: str, peak: int | None):
        self.platform = platform
        self._peak = peak

    def memory_stats(self):
        return None if self._peak is None else {"peak_bytes_in_use": self._peak}


def test_jax_memory_peaks_are_the_cells_gpus_since_process_start(monkeypatch):
    from types import SimpleNamespace

    from mgbench.backends import jax_keras

    local = [_FakeJaxDevice("gpu", 300), _FakeJaxDevice("gpu", 200), _FakeJaxDevice("gpu", 900)]
    monkeypatch.setattr(jax_keras, "_jax", lambda: SimpleNamespace(local_devices=lambda: local))
    jax_backend = jax_keras.JaxBackend()
    assert jax_backend.memory_peaks(["GPU:0", "GPU:1"]) == (
        {"GPU:0": 300, "GPU:1": 200},  # GPU:2 is not the cell's
        jax_keras.JAX_PEAK_NO_RESET_REASON,
    )
    local[:] = [_FakeJaxDevice("cpu", None)]
    assert jax_backend.memory_peaks(None) == (None, jax_keras.JAX_PEAK_CPU_REASON)

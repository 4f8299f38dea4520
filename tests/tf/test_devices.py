"""Device naming, discovery and simulation, including the GPU-only settings checked on a fake."""

from __future__ import annotations

import pytest
from conftest import SIMULATED_REPLICAS

from mgbench import devices
from mgbench.platform import lazy

tf = lazy.tensorflow()


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("/job:localhost/replica:0/task:0/device:GPU:1", "GPU:1"),
        ("/device:CPU:0", "CPU:0"),
        ("/cpu:3", "CPU:3"),
        ("gpu:0", "GPU:0"),
        ("", ""),
    ],
)
def test_short_name(name, short):
    assert devices.short_name(name) == short


def test_short_name_rejects_garbage():
    with pytest.raises(ValueError, match="not a device name"):
        devices.short_name("/job:localhost")


def test_replicas_are_the_simulated_cpus_never_the_host():
    names = devices.replica_devices(SIMULATED_REPLICAS)
    assert [devices.short_name(n) for n in names] == ["CPU:1", "CPU:2", "CPU:3"]


def test_asking_for_too_many_replicas_says_what_exists():
    with pytest.raises(
        ValueError, match=r"asked for 4 replica devices, but only 3 are available: \['CPU:1'"
    ):
        devices.replica_devices(4)


def test_a_wrapper_minimum_is_enforced():
    with pytest.raises(ValueError, match="at least 2 are needed"):
        devices.replica_devices(1, minimum=2)


def test_simulating_after_the_runtime_started_explains_what_to_do():
    tf.config.list_logical_devices()  # starts the runtime, whichever test ran before this one
    with pytest.raises(
        RuntimeError, match=r"after the TensorFlow runtime started.*before any model"
    ):
        devices.simulate(2)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_simulate_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer"):
        devices.simulate(bad)


def test_virtual_gpus_need_a_memory_limit():
    with pytest.raises(ValueError, match="memory_limit_mb"):
        devices.simulate(2, kind="gpu")


def test_virtual_gpus_need_a_gpu():
    with pytest.raises(ValueError, match="no physical GPU"):
        devices.simulate(2, kind="gpu", memory_limit_mb=1024)


class FakeConfig:
    """Stands in for tf.config on a machine with GPUs, recording what mgbench configures."""

    def __init__(self, gpus, split=()):
        self.gpus = gpus
        self.split = set(split)
        self.logical = {}
        self.growth = {}
        self.LogicalDeviceConfiguration = tf.config.LogicalDeviceConfiguration

    def list_physical_devices(self, kind=None):
        return list(self.gpus) if kind == "GPU" else []

    def set_logical_device_configuration(self, device, configs):
        self.logical[device] = configs

    def get_logical_device_configuration(self, device):
        return ["split"] if device in self.split else None

    class experimental:
        pass


@pytest.fixture
def fake_gpus(monkeypatch):
    def install(gpus, split=()):
        fake = FakeConfig(gpus, split)
        fake.experimental.set_memory_growth = lambda device, on: fake.growth.__setitem__(device, on)
        monkeypatch.setattr(tf, "config", fake)
        return fake

    return install


def test_virtual_gpus_split_the_first_gpu_with_a_memory_limit_each(fake_gpus):
    fake = fake_gpus(["gpu0", "gpu1"])
    names = devices.simulate(4, kind="gpu", memory_limit_mb=2048)
    assert names == ["/device:GPU:0", "/device:GPU:1", "/device:GPU:2", "/device:GPU:3"]
    assert list(fake.logical) == ["gpu0"]
    assert [c.memory_limit for c in fake.logical["gpu0"]] == [2048] * 4


def test_memory_growth_is_on_for_whole_gpus_and_left_off_for_split_ones(fake_gpus):
    fake = fake_gpus(["gpu0", "gpu1"], split=["gpu0"])
    devices.enable_memory_growth()
    assert fake.growth == {"gpu1": True}


def test_in_process_cells_keep_a_simulation_made_before_them():
    """The gate fixture must not shrink the session's simulation (it once re-simulated 2)."""
    from mgbench.execution import inprocess

    assert devices.already_configured()
    inprocess.ensure_devices(2)
    assert len(devices.available_replica_devices()) == SIMULATED_REPLICAS

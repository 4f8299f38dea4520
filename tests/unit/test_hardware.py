"""mgbench's NVML layer: the TF GPU -> NVML index mapping, RealNvml against a scripted pynvml, and
the memory sampler's reasons when NVML cannot see the process. Known answers, no GPU."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fakes import LISTED_WITHOUT_FIGURE, FakeNvml, fake_uuid

from mgbench.platform import hardware
from mgbench.platform.hardware import ProcessMemory, visible_nvml_indices
from mgbench.trackers.memory import MemorySampler

UUIDS = [
    "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6",
    "GPU-1f5e3a07-0000-4abc-9def-000000000001",
    "GPU-1f5e3a99-0000-4abc-9def-000000000002",
]


# -- visible_nvml_indices: CUDA_VISIBLE_DEVICES -> NVML indices --------------------------------


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, [0, 1, 2]),  # unset: every device, in NVML's (PCI bus) order
        ("", []),
        ("-1", []),
        ("2,0", [2, 0]),  # TF's GPU:0 is NVML 2
        (" 1 ", [1]),
        ("GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", [0]),
        ("gpu-1F5E3A99", [2]),  # a unique prefix, any case
        ("GPU-1f5e3a07,2", [1, 2]),
        ("MIG-GPU-1f5e3a07-0000-4abc-9def-000000000001/1/0", [1]),  # pre-R470 MIG form
    ],
)
def test_cuda_visible_devices_map_to_nvml_indices(visible, expected):
    assert visible_nvml_indices(UUIDS, visible) == expected


def test_mig_instances_map_to_their_gpu():
    parents = {"MIG-aaaa-1111": UUIDS[2], "MIG-bbbb-2222": UUIDS[2], "MIG-cccc-3333": UUIDS[0]}
    assert visible_nvml_indices(UUIDS, "MIG-bbbb-2222,MIG-cccc-3333", parents) == [2, 0]


@pytest.mark.parametrize(
    ("visible", "problem"),
    [
        ("3", "index 3 is beyond NVML's 3 device(s)"),
        ("GPU-ffff", "no NVML device has a UUID starting 'GPU-ffff'"),
        ("GPU-1f5e3a", "'GPU-1f5e3a' is the start of 2 devices' UUIDs"),
        ("MIG-dddd-4444", "MIG instance 'MIG-dddd-4444' is on no GPU NVML lists"),
        ("0,bogus", "'bogus' is neither an index, a GPU-<uuid> nor a MIG-<uuid> entry"),
        ("1,1", "'1' is listed twice"),
    ],
)
def test_entries_naming_no_device_are_clear_errors(visible, problem):
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES=") as error:
        visible_nvml_indices(UUIDS, visible)
    assert problem in str(error.value)


def test_visible_gpu_indices_reads_uuids_and_asks_for_mig_only_when_named():
    nvml = FakeNvml({0: {}, 1: {}}, pid=1, mig_uuids={1: ["MIG-abcd"]})
    assert hardware.visible_gpu_indices(nvml, f"{fake_uuid(1)},0") == [1, 0]
    assert ("mig_uuids", 0) not in nvml.calls
    assert hardware.visible_gpu_indices(nvml, "MIG-abcd") == [1]
    assert ("mig_uuids", 1) in nvml.calls


def test_visible_gpu_indices_reads_the_environment(monkeypatch):
    nvml = FakeNvml({0: {}, 1: {}, 2: {}}, pid=1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", fake_uuid(2))
    assert hardware.visible_gpu_indices(nvml) == [2]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert hardware.visible_gpu_indices(nvml) == [0, 1, 2]


def test_gpu_count_follows_the_mapping(monkeypatch):
    monkeypatch.setattr(hardware, "open_nvml", lambda: FakeNvml({0: {}, 1: {}, 2: {}}, pid=1))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{fake_uuid(2)},{fake_uuid(0)}")
    assert hardware.gpu_count() == 2
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert hardware.gpu_count() == 3


# -- RealNvml against a scripted pynvml ---------------------------------------------------------


class ScriptedPynvml:
    """The few pynvml calls RealNvml makes, answering from fixed data."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    def __init__(self, processes, energy, mig_slots=None):
        self.processes, self.energy, self.mig_slots = processes, energy, mig_slots

    def nvmlDeviceGetHandleByIndex(self, index):  # pynvml's names
        return ("gpu", index)

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle[0]}-{handle[1]}".encode()  # older pynvml returns bytes

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in self.processes]

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if self.energy is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return self.energy

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        if self.mig_slots is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return len(self.mig_slots)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, slot):
        if self.mig_slots[slot] is None:
            raise self.NVMLError("Not Found")
        return ("mig", self.mig_slots[slot])


def real_nvml(pynvml: ScriptedPynvml) -> hardware.RealNvml:
    nvml = hardware.RealNvml.__new__(hardware.RealNvml)  # skip nvmlInit: no driver here
    nvml._nvml = pynvml
    return nvml


def test_real_nvml_tells_a_listed_process_from_a_hidden_one():
    nvml = real_nvml(ScriptedPynvml([(11, 300), (42, 900)], energy=None))
    assert nvml.process_memory(0, 42) == ProcessMemory(True, 900, 1)
    assert nvml.process_memory(0, 7) == ProcessMemory(False, None, 2)  # a PID namespace
    assert nvml.process_used_bytes(0, 42) == 900
    assert nvml.process_used_bytes(0, 7) is None
    unreadable = real_nvml(ScriptedPynvml([(42, None)], energy=None))
    assert unreadable.process_memory(0, 42) == ProcessMemory(True, None, 0)


def test_real_nvml_energy_is_none_where_the_counter_is_not_supported():
    assert real_nvml(ScriptedPynvml([], energy=123_456)).energy_mj(0) == 123_456
    assert real_nvml(ScriptedPynvml([], energy=None)).energy_mj(0) is None


def test_real_nvml_uuids_and_mig_instances():
    nvml = real_nvml(ScriptedPynvml([], energy=None, mig_slots=[3, None, 5]))
    assert nvml.device_uuid(2) == "GPU-gpu-2"
    assert nvml.mig_uuids(0) == ("GPU-mig-3", "GPU-mig-5")  # the empty slot is skipped
    assert real_nvml(ScriptedPynvml([], energy=None)).mig_uuids(0) == ()


# -- the memory sampler's reasons --------------------------------------------------------------


def sampled(nvml: FakeNvml, pid: int, samples: int = 3) -> dict:
    sampler = MemorySampler(nvml, [0], pid, lambda: 1)
    for _ in range(samples):
        sampler.sample()
    return sampler.nvml_result()["0"]


def test_a_process_nvml_never_lists_in_a_container_gets_the_reason():
    gpu = sampled(FakeNvml({0: {"device": [5000]}}, pid=7, container=True), pid=7)
    assert gpu["process_peak_bytes"] is None
    assert gpu["device_used_peak_bytes"] == 5000  # the whole device is still read
    assert gpu["process_reason"] == (
        "NVML listed other processes on GPU 0 but never this one: a PID namespace "
        "(a container) hides its PID from NVML"
    )


def test_a_process_listed_without_a_figure_and_one_with_no_context_differ():
    listed = sampled(FakeNvml({0: {"process": [LISTED_WITHOUT_FIGURE], "device": [1]}}, 7), 7)
    assert "listed this process on GPU 0 without a memory figure" in listed["process_reason"]
    alone = sampled(FakeNvml({0: {"process": [None], "device": [1]}}, pid=7), pid=7)
    assert "NVML listed no compute process on GPU 0" in alone["process_reason"]


def test_a_process_seen_once_has_a_peak_and_no_reason():
    gpu = sampled(FakeNvml({0: {"process": [None, 400, None], "device": [1]}}, pid=7), pid=7)
    assert gpu["process_peak_bytes"] == 400
    assert "process_reason" not in gpu

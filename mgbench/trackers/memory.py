"""Memory during the timed steps: NVML per physical GPU and host RSS, sampled in a thread.

The framework's allocator peaks (exact, per logical GPU) come from the backend
(``Backend.memory_peaks``); this module covers what only sampling can see. NVML's process figure
is what the process holds from the driver (the framework's reservation and the CUDA context),
not its tensors, per physical GPU. Missing NVML is a reason, never a crash, and so is a process
NVML never lists (inside a container its PID namespace hides it): ``process_reason`` says which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mgbench.platform.hardware import Nvml

DEFAULT_PERIOD_S = 0.02  # the issue asks for <= 50 ms


@dataclass
class GpuPeak:
    name: str
    total_bytes: int
    process_peak_bytes: int | None = None
    device_used_peak_bytes: int | None = None
    samples_listed: int = 0  # samples in which NVML listed this process on the device
    samples_not_listed: int = 0
    most_other_processes: int = 0  # the most other compute processes listed in one sample

    def process_reason(self, index: int) -> str | None:
        """Why there is no process peak (None when there is one). Free of PIDs and counts, so
        records of many processes share the same reasons."""
        if self.process_peak_bytes is not None:
            return None
        if self.samples_listed:
            return (
                f"NVML listed this process on GPU {index} without a memory figure "
                "(no permission to read it, or a MIG instance)"
            )
        if not self.samples_not_listed:
            return "no NVML sample was taken"
        if self.most_other_processes:
            return (
                f"NVML listed other processes on GPU {index} but never this one: a PID namespace "
                "(a container) hides its PID from NVML"
            )
        return (
            f"NVML listed no compute process on GPU {index}: the process had no CUDA context "
            "there, or a container hides every process from NVML"
        )


def _max(current: int | None, value: int | None) -> int | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


@dataclass
class MemorySampler:
    """Samples NVML (this process and whole device) and host RSS every ``period_s``."""

    nvml: Nvml | None
    gpu_indices: Sequence[int]
    pid: int
    read_rss_bytes: Callable[[], int]
    period_s: float = DEFAULT_PERIOD_S
    samples: int = 0
    error: str | None = None
    host_rss_peak_bytes: int = 0
    gpus: dict[int, GpuPeak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.period_s <= 0 or self.period_s > 0.05:
            raise ValueError(f"sampling period must be in (0, 0.05] s, got {self.period_s}")
        if self.nvml is not None:
            for index in self.gpu_indices:
                self.gpus[index] = GpuPeak(
                    self.nvml.device_name(index), self.nvml.memory_total_bytes(index)
                )

    def sample(self) -> None:
        self.samples += 1
        self.host_rss_peak_bytes = max(self.host_rss_peak_bytes, self.read_rss_bytes())
        if self.nvml is None:
            return
        for index, peak in self.gpus.items():
            process = self.nvml.process_memory(index, self.pid)
            if process.listed:
                peak.samples_listed += 1
            else:
                peak.samples_not_listed += 1
            peak.most_other_processes = max(peak.most_other_processes, process.other_processes)
            peak.process_peak_bytes = _max(peak.process_peak_bytes, process.used_bytes)
            peak.device_used_peak_bytes = _max(
                peak.device_used_peak_bytes, self.nvml.memory_used_bytes(index)
            )

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.period_s):
                self.sample()
        except Exception as error:  # a dead sampler must say so, not leave stale peaks
            self.error = f"{type(error).__name__}: {error}"

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="mgbench-memory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def nvml_result(self) -> dict[str, dict[str, object]]:
        """Per physical GPU index: name, total and peaks, plus ``process_reason`` when there is
        no process peak (the key is left out otherwise)."""
        result: dict[str, dict[str, object]] = {}
        for index, peak in self.gpus.items():
            gpu: dict[str, object] = {
                "name": peak.name,
                "total_bytes": peak.total_bytes,
                "process_peak_bytes": peak.process_peak_bytes,
                "device_used_peak_bytes": peak.device_used_peak_bytes,
            }
            reason = peak.process_reason(index)
            if reason is not None:
                gpu["process_reason"] = reason
            result[str(index)] = gpu
        return result

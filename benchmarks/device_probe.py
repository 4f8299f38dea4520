"""Probe a GPU machine without TensorFlow: mgbench's NVML layer against the real driver, and the
link bandwidths the claim's mechanism depends on.

    PYTHONPATH=. python benchmarks/device_probe.py --output results/hardware/NAME
    PYTHONPATH=. python benchmarks/device_probe.py --dry-run [container] --output /tmp/probe

Sections, in order; each one that cannot run says why and the others carry on (exit 1 when one
failed, 0 when all passed, never a traceback):

1. NVML: driver; per device name, UUID, memory, energy counter; which NVML device is CUDA's
   device 0 (by UUID, honouring ``CUDA_VISIBLE_DEVICES``), checked against the workload's own
   UUID where the library gives one.
2. This process's memory: a CuPy (preferred) or JAX workload allocates known amounts on CUDA
   device 0 and frees them; NVML's figure for this process must follow (within a page-rounding
   tolerance). When NVML never lists the process (a container's PID namespace hides it) the
   section says so and checks the whole device's figure instead.
3. Energy: mgbench's ``EnergyMeter`` over ~2 s of busy GPU work, and over a window shorter than
   the counter's update period (it must be flagged).
4. Bandwidth at the claim's batch sizes (ResNet50 96x224x224x3 and InceptionV3 64x299x299x3,
   float32): host -> GPU and GPU -> host, pageable and pinned; device-to-device copies inside the
   chip (one GPU: this is what virtual GPUs' "peer" copies are) and GPU 0 -> GPU 1 when there
   are two. GB/s = 10^9 bytes/s of copied bytes.
5. Files in ``--output``: ``hardware_spec.toml`` (a hardware spec in the format of
   ``mgbench/config/shipped_specs``, for ``mgbench predict --hardware PATH``) and
   ``probe.json`` (every raw measurement).

It imports only ``mgbench.platform.hardware`` and ``mgbench.trackers``, which never import
TensorFlow or Keras, so it runs on a machine that has neither. JAX runs with
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` and the platform allocator, so its buffers are exactly the
sizes asked for. ``--dry-run`` drives the same code with a scripted NVML and a fake workload on a
fake clock (no GPU, no sleeps); ``--dry-run container`` hides this process from the fake NVML.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import socket
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mgbench.platform import hardware
from mgbench.platform.hardware import Nvml, ProcessMemory
from mgbench.trackers.energy import COUNTER_UPDATE_PERIOD_S, EnergyMeter

MIB = 2**20
GB = 1e9
# The claim's per-replica batches (Keras PR #10230), float32 images: what one step copies.
BATCHES = {
    "ResNet50 96x224x224x3": 96 * 224 * 224 * 3 * 4,
    "InceptionV3 64x299x299x3": 64 * 299 * 299 * 3 * 4,
}
ALLOCATIONS_BYTES = (256 * MIB, 1024 * MIB, 4096 * MIB)
# NVML counts what the driver maps: each allocation rounds up to 2 MiB pages, and a library may
# map a little more (module loads); beyond this tolerance a figure is a mismatch.
MEMORY_TOLERANCE_BYTES = 8 * MIB
MEMORY_TOLERANCE_FRACTION = 0.01
BUSY_S = 2.0
SHORT_WINDOW_S = 0.01  # well under the energy counter's 20-100 ms update period
COPY_KINDS = {
    "h2d_pageable": "host -> GPU, pageable",
    "h2d_pinned": "host -> GPU, pinned",
    "d2h_pageable": "GPU -> host, pageable",
    "d2h_pinned": "GPU -> host, pinned",
    "d2d_chip": "GPU 0 -> GPU 0 (on chip)",
    "d2d_peer": "GPU 0 -> GPU 1",
}


class Unsupported(Exception):
    """This measurement cannot run here; the message says why."""


class Workload(Protocol):
    """A GPU library that allocates, keeps the GPU busy and times copies on CUDA device 0."""

    name: str
    notes: list[str]

    def device_count(self) -> int: ...
    def device_uuid(self, device: int) -> str | None: ...
    def start(self) -> None: ...
    def allocate(self, nbytes: int) -> Any: ...
    def free(self, buffer: Any) -> None: ...
    def busy(self, seconds: float) -> None: ...
    def time_copies(self, kind: str, nbytes: int, repeats: int) -> list[float]: ...


# -- real workloads ----------------------------------------------------------------------------


def _format_uuid(raw: bytes) -> str:
    text = raw.hex()
    return f"GPU-{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


class CupyWorkload:
    """CuPy without its memory pools: every allocation is one cudaMalloc, every free a cudaFree,
    so NVML sees exactly what is asked for. Copies are cudaMemcpy timed by CUDA events."""

    name = "cupy"

    def __init__(self) -> None:
        import cupy
        import numpy

        self.cp, self.np = cupy, numpy
        self.notes = [f"CuPy {cupy.__version__}: no memory pool, copies timed by CUDA events"]
        cupy.cuda.set_allocator(None)
        cupy.cuda.set_pinned_memory_allocator(None)

    def device_count(self) -> int:
        return int(self.cp.cuda.runtime.getDeviceCount())

    def device_uuid(self, device: int) -> str | None:
        uuid = self.cp.cuda.runtime.getDeviceProperties(device).get("uuid")
        return _format_uuid(bytes(uuid)) if uuid else None

    def start(self) -> None:
        self.cp.cuda.Device(0).use()
        self.free(self.allocate(MIB))  # the context and the fill kernel exist from here on

    def allocate(self, nbytes: int) -> Any:
        buffer = self.cp.empty(nbytes, dtype=self.cp.uint8)
        buffer.fill(1)  # touch it: the driver maps the pages now
        self.cp.cuda.Device().synchronize()
        return buffer

    def free(self, buffer: Any) -> None:
        del buffer
        self.cp.cuda.Device().synchronize()

    def busy(self, seconds: float) -> None:
        # 4096^2 matmuls take a few ms each, so even a 10 ms window ends close to on time.
        a = self.cp.ones((4096, 4096), dtype=self.cp.float32)
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            a = a @ a * (1.0 / 4096)  # ones stay ones: finite however long it runs
            self.cp.cuda.Device().synchronize()

    def _pinned(self, nbytes: int) -> Any:
        memory = self.cp.cuda.alloc_pinned_memory(nbytes)
        return self.np.frombuffer(memory, self.np.uint8, nbytes)

    def time_copies(self, kind: str, nbytes: int, repeats: int) -> list[float]:
        cp = self.cp
        source = cp.ones(nbytes, dtype=cp.uint8)
        if kind.startswith("h2d"):
            host = self._pinned(nbytes) if kind.endswith("pinned") else self.np.ones(nbytes, "u1")
            host[:] = 1
            return self._timed(lambda: source.set(host), repeats)
        if kind.startswith("d2h"):
            host = self._pinned(nbytes) if kind.endswith("pinned") else self.np.empty(nbytes, "u1")
            return self._timed(lambda: source.get(out=host), repeats)
        if kind == "d2d_chip":
            target = cp.empty_like(source)
            return self._timed(lambda: target.data.copy_from_device(source.data, nbytes), repeats)
        if kind == "d2d_peer":
            if self.device_count() < 2:
                raise Unsupported("one GPU: no second chip to copy to")
            with cp.cuda.Device(1):
                target = cp.empty(nbytes, dtype=cp.uint8)
            return self._timed(lambda: target.data.copy_from_device(source.data, nbytes), repeats)
        raise Unsupported(f"unknown copy {kind!r}")

    def _timed(self, copy: Callable[[], Any], repeats: int) -> list[float]:
        cp = self.cp
        for _ in range(2):  # warm-up: first-touch and lazy driver set-up are not bandwidth
            copy()
        cp.cuda.Device().synchronize()
        seconds = []
        for _ in range(repeats):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            copy()
            end.record()
            end.synchronize()
            seconds.append(cp.cuda.get_elapsed_time(start, end) / 1000.0)
        return seconds


class JaxWorkload:
    """JAX without preallocation and with the platform allocator (one cudaMalloc per buffer).
    Copies are timed on the host around ``block_until_ready``; on-chip copies are an elementwise
    kernel (each byte read and written once), 10 per dispatch so launch costs do not dominate."""

    name = "jax"
    ON_CHIP_COPIES_PER_CALL = 10

    def __init__(self) -> None:
        # Before JAX starts: no 75% preallocation, and buffers of exactly the asked size.
        os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        os.environ["XLA_PYTHON_CLIENT_ALLOCATOR"] = "platform"
        import jax
        import jax.numpy as jnp
        import numpy

        self.jax, self.jnp, self.np = jax, jnp, numpy
        self.devices = jax.devices("gpu")
        self.notes = [
            f"JAX {jax.__version__}: XLA_PYTHON_CLIENT_PREALLOCATE=false, platform allocator; "
            "copies timed on the host; on-chip copies are an elementwise kernel, not cudaMemcpy"
        ]

    def device_count(self) -> int:
        return len(self.devices)

    def device_uuid(self, device: int) -> str | None:
        return None  # JAX does not expose a device's UUID

    def start(self) -> None:
        self.free(self.allocate(MIB))

    def allocate(self, nbytes: int) -> Any:
        buffer = self.jax.device_put(self.jnp.ones(nbytes, self.jnp.uint8), self.devices[0])
        return buffer.block_until_ready()

    def free(self, buffer: Any) -> None:
        buffer.delete()

    def busy(self, seconds: float) -> None:
        jnp = self.jnp
        step = self.jax.jit(lambda a: a @ a * (1.0 / 4096))
        a = self.jax.device_put(jnp.ones((4096, 4096), jnp.float32), self.devices[0])
        step(a).block_until_ready()  # compiled before the window opens
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            a = step(a).block_until_ready()

    def _sharding(self, kind: str) -> Any:
        try:
            return self.jax.sharding.SingleDeviceSharding(self.devices[0], memory_kind=kind)
        except Exception as error:  # older JAX, or a backend without that memory kind
            raise Unsupported(f"JAX has no {kind!r} memory here: {error}") from error

    def time_copies(self, kind: str, nbytes: int, repeats: int) -> list[float]:
        jax, np = self.jax, self.np
        device = self.devices[0]
        host = np.ones(nbytes, np.uint8)
        if kind == "h2d_pageable":
            return self._timed(lambda: jax.device_put(host, device), repeats)
        if kind == "h2d_pinned":
            pinned = jax.device_put(host, self._sharding("pinned_host")).block_until_ready()
            on_device = self._sharding("device")
            return self._timed(lambda: jax.device_put(pinned, on_device), repeats)
        source = jax.device_put(host, device).block_until_ready()
        fresh = jax.jit(lambda a: a + 0)  # a new buffer each time: JAX caches host copies
        if kind == "d2h_pageable":
            buffers = [fresh(source).block_until_ready() for _ in range(repeats + 2)]
            return self._timed(lambda: np.asarray(buffers.pop()), repeats)
        if kind == "d2h_pinned":
            pinned = self._sharding("pinned_host")
            return self._timed(lambda: jax.device_put(source, pinned), repeats)
        if kind == "d2d_chip":
            count = self.ON_CHIP_COPIES_PER_CALL
            copies = jax.jit(lambda a: jax.lax.fori_loop(0, count, lambda i, b: b + np.uint8(1), a))
            return [s / count for s in self._timed(lambda: copies(source), repeats)]
        if kind == "d2d_peer":
            if len(self.devices) < 2:
                raise Unsupported("one GPU: no second chip to copy to")
            return self._timed(lambda: jax.device_put(source, self.devices[1]), repeats)
        raise Unsupported(f"unknown copy {kind!r}")

    def _timed(self, copy: Callable[[], Any], repeats: int) -> list[float]:
        def run() -> None:
            result = copy()
            if hasattr(result, "block_until_ready"):
                result.block_until_ready()

        for _ in range(2):
            run()
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - started)
        return seconds


def open_workload(library: str) -> tuple[Workload | None, list[str]]:
    """The first library that starts on a GPU, and why the others did not."""
    tried: list[str] = []
    order = ("cupy", "jax") if library == "auto" else (library,)
    for name in order:
        try:
            workload: Workload = CupyWorkload() if name == "cupy" else JaxWorkload()
            if workload.device_count() < 1:
                raise Unsupported("it sees no GPU")
            workload.start()
            return workload, tried
        except Exception as error:  # ImportError, a CUDA version mismatch, no GPU: try the next
            tried.append(f"{name}: {type(error).__name__}: {_first_line(error)}")
    return None, tried


# -- dry run: a scripted NVML and a fake workload on a fake clock ------------------------------


class DryRunClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class DryRunNvml:
    """An H200-like NVML of ``gpus`` devices whose process and device figures follow the fake
    workload's allocations, and whose energy counter moves only every 50 ms, as a real one may.
    ``container``: this PID is never listed, one other (host) PID is."""

    ENERGY_UPDATE_S = 0.05
    BASE_USED_BYTES = 600 * MIB  # other tenants' and the driver's share
    CONTEXT_BYTES = 500 * MIB

    def __init__(self, gpus: int, clock: DryRunClock, *, container: bool = False) -> None:
        self.clock = clock
        self.gpus = gpus
        self.container = container
        self.process_bytes = dict.fromkeys(range(gpus), 0)
        self.energy_j = dict.fromkeys(range(gpus), 5000.0)
        self._shown_mj = {i: int(self.energy_j[i] * 1000) for i in range(gpus)}
        self._shown_at = dict.fromkeys(range(gpus), clock())

    def device_count(self) -> int:
        return self.gpus

    def device_name(self, index: int) -> str:
        return "Dry-run H200"

    def device_uuid(self, index: int) -> str:
        return f"GPU-d0d0d0d0-0000-4000-8000-{index:012d}"

    def mig_uuids(self, index: int) -> tuple[str, ...]:
        return ()

    def driver_version(self) -> str:
        return "0.0-dry-run"

    def memory_total_bytes(self, index: int) -> int:
        return 141 * 2**30

    def memory_used_bytes(self, index: int) -> int:
        return self.BASE_USED_BYTES + self.process_bytes[index]

    def process_memory(self, index: int, pid: int) -> ProcessMemory:
        if self.container or pid != os.getpid() or not self.process_bytes[index]:
            return ProcessMemory(False, None, 1)
        return ProcessMemory(True, self.process_bytes[index], 1)

    def process_used_bytes(self, index: int, pid: int) -> int | None:
        return self.process_memory(index, pid).used_bytes

    def energy_mj(self, index: int) -> int | None:
        if self.clock() - self._shown_at[index] >= self.ENERGY_UPDATE_S:
            self._shown_mj[index] = round(self.energy_j[index] * 1000)
            self._shown_at[index] = self.clock()
        return self._shown_mj[index]


class DryRunWorkload:
    """Allocations land on NVML device ``nvml_index`` (CUDA device 0); copies take bytes / a
    fixed rate on the fake clock; busy work draws 700 W."""

    name = "dry-run"
    RATES_GB_S: ClassVar[dict[str, float]] = {
        "h2d_pageable": 20.0,
        "h2d_pinned": 50.0,
        "d2h_pageable": 18.0,
        "d2h_pinned": 52.0,
        "d2d_chip": 1500.0,
        "d2d_peer": 400.0,
    }
    WATTS = 700.0

    def __init__(self, nvml: DryRunNvml, clock: DryRunClock, visible: Sequence[int]) -> None:
        self.nvml, self.clock, self.visible = nvml, clock, list(visible)
        self.index = self.visible[0]
        self.notes = ["dry run: a scripted NVML and fixed copy rates on a fake clock"]

    def device_count(self) -> int:
        return len(self.visible)

    def device_uuid(self, device: int) -> str | None:
        return self.nvml.device_uuid(self.visible[device])

    def start(self) -> None:
        self.nvml.process_bytes[self.index] += DryRunNvml.CONTEXT_BYTES

    def allocate(self, nbytes: int) -> int:
        pages = math.ceil(nbytes / (2 * MIB)) * 2 * MIB
        self.nvml.process_bytes[self.index] += pages
        return pages

    def free(self, buffer: int) -> None:
        self.nvml.process_bytes[self.index] -= buffer

    def busy(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.nvml.energy_j[self.index] += self.WATTS * seconds

    def time_copies(self, kind: str, nbytes: int, repeats: int) -> list[float]:
        if kind == "d2d_peer" and len(self.visible) < 2:
            raise Unsupported("one GPU: no second chip to copy to")
        seconds = nbytes / (self.RATES_GB_S[kind] * GB)
        self.clock.advance(seconds * repeats)
        return [seconds] * repeats


# -- the probe ---------------------------------------------------------------------------------


@dataclass
class SectionResult:
    name: str
    ok: bool = True
    reasons: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.ok = False
        self.reasons.append(reason)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f}"


def _within(measured: int, expected: int) -> bool:
    return abs(measured - expected) <= MEMORY_TOLERANCE_BYTES + MEMORY_TOLERANCE_FRACTION * expected


class Probe:
    def __init__(
        self,
        nvml: Nvml | None,
        nvml_reason: str | None,
        workload: Workload | None,
        workload_reasons: Sequence[str],
        clock: Callable[[], float],
        *,
        repeats: int,
        dry_run: bool,
    ) -> None:
        self.nvml, self.nvml_reason = nvml, nvml_reason
        self.workload, self.workload_reasons = workload, list(workload_reasons)
        self.clock = clock
        self.repeats = repeats
        self.pid = os.getpid()
        self.nvml_index: int | None = None  # NVML's index of CUDA device 0
        self.raw: dict[str, Any] = {
            "probe": {
                "host": socket.gethostname(),
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "dry_run": dry_run,
                "library": workload.name if workload else None,
                "library_notes": workload.notes if workload else [],
                "library_reasons": list(workload_reasons),
                "pid": self.pid,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            },
            "sections": {},
        }
        self.sections: list[SectionResult] = []

    def run_section(self, name: str, body: Callable[[SectionResult], None]) -> SectionResult:
        section = SectionResult(name)
        try:
            body(section)
        except Unsupported as reason:
            section.fail(str(reason))
        except Exception as error:  # fail soft: a reason, and the next section runs
            section.fail(f"{type(error).__name__}: {_first_line(error)}")
            self.raw.setdefault("tracebacks", {})[name] = traceback.format_exc()
        self.sections.append(section)
        self.raw["sections"][name] = {"ok": section.ok, "reasons": section.reasons}
        return section

    def _need_nvml(self) -> Nvml:
        if self.nvml is None:
            raise Unsupported(f"NVML unavailable: {self.nvml_reason}")
        return self.nvml

    def _need_workload(self) -> Workload:
        if self.workload is None:
            raise Unsupported("no GPU library started: " + "; ".join(self.workload_reasons))
        return self.workload

    # 1. NVML inventory and the CUDA -> NVML mapping
    def nvml_section(self, section: SectionResult) -> None:
        nvml = self._need_nvml()
        devices = []
        for index in range(nvml.device_count()):
            process = nvml.process_memory(index, self.pid)
            devices.append(
                {
                    "index": index,
                    "name": nvml.device_name(index),
                    "uuid": nvml.device_uuid(index),
                    "total_bytes": nvml.memory_total_bytes(index),
                    "used_bytes": nvml.memory_used_bytes(index),
                    "process_listed": process.listed,
                    "process_bytes": process.used_bytes,
                    "other_processes": process.other_processes,
                    "energy_mj": nvml.energy_mj(index),
                }
            )
        self.raw["nvml"] = {"driver": nvml.driver_version(), "devices": devices}
        section.tables.append(
            (
                f"NVML devices (driver {nvml.driver_version()})",
                ["index", "name", "UUID", "total MiB", "used MiB", "this process MiB", "energy"],
                [
                    [
                        d["index"],
                        d["name"],
                        d["uuid"],
                        _mib(d["total_bytes"]),
                        _mib(d["used_bytes"]),
                        _mib(d["process_bytes"]) if d["process_listed"] else "not listed",
                        "no counter" if d["energy_mj"] is None else f"{d['energy_mj']:,} mJ",
                    ]
                    for d in devices
                ],
            )
        )
        mapping = hardware.visible_gpu_indices(nvml)
        self.raw["mapping"] = {"cuda_to_nvml": mapping}
        if not mapping:
            section.fail("CUDA_VISIBLE_DEVICES hides every GPU")
            return
        self.nvml_index = mapping[0]
        shown = ", ".join(f"CUDA {i} -> NVML {index}" for i, index in enumerate(mapping))
        section.reasons.append(f"device mapping by UUID: {shown}")
        if self.workload is not None:
            uuid = self.workload.device_uuid(0)
            expected = nvml.device_uuid(self.nvml_index)
            self.raw["mapping"]["workload_uuid"] = uuid
            if uuid is None:
                section.reasons.append(f"{self.workload.name} gives no UUID to check it against")
            elif uuid.lower() != expected.lower():
                section.fail(f"CUDA device 0 is {uuid}, but the mapping says NVML {expected}")
            else:
                section.reasons.append(f"{self.workload.name}'s CUDA device 0 UUID agrees")

    # 2. NVML's figures against known allocations
    def memory_section(self, section: SectionResult) -> None:
        nvml, workload = self._need_nvml(), self._need_workload()
        index = self._index()
        before_process = nvml.process_memory(index, self.pid)
        before_device = nvml.memory_used_bytes(index)
        rows, raw, held, buffers = [], [], 0, []
        listed_ever = before_process.listed
        for nbytes in ALLOCATIONS_BYTES:
            buffers.append(workload.allocate(nbytes))
            held += nbytes
            rows.append(self._memory_row(f"+{_mib(nbytes)} (holding {_mib(held)})", held, raw))
            listed_ever |= raw[-1]["process_listed"]
        while buffers:  # pop: the list must not keep a freed buffer alive
            workload.free(buffers.pop())
        rows.append(self._memory_row("all freed", 0, raw))
        baseline = {
            "process_bytes": before_process.used_bytes,
            "device_used_bytes": before_device,
        }
        self.raw["memory_check"] = {"nvml_index": index, "baseline": baseline, "steps": raw}
        for step in raw:
            step["process_delta_bytes"] = (
                None
                if step["process_bytes"] is None or before_process.used_bytes is None
                else step["process_bytes"] - before_process.used_bytes
            )
            step["device_delta_bytes"] = step["device_used_bytes"] - before_device
        figure = "process_delta_bytes" if listed_ever else "device_delta_bytes"
        if not listed_ever:
            others = max(step["other_processes"] for step in raw)
            section.reasons.append(
                f"NVML never listed this process (pid {self.pid}) on NVML {index} while it "
                f"listed {others} other process(es): a PID namespace (a container) hides it. "
                "Checked the whole device's used memory instead (other tenants move it too)."
            )
        for row, step in zip(rows, raw, strict=True):
            delta = step[figure]
            agrees = delta is not None and _within(delta, step["expected_bytes"])
            step["agrees"] = agrees
            row[1] = _mib(step["process_delta_bytes"]) if listed_ever else "not listed"
            row[2] = _mib(step["device_delta_bytes"])
            row.append("ok" if agrees else "MISMATCH")
            if not agrees:
                section.fail(
                    f"{row[0]}: NVML {figure.split('_')[0]} figure moved "
                    f"{_mib(delta)} MiB, expected {_mib(step['expected_bytes'])} MiB"
                )
        section.tables.append(
            (
                f"NVML against known allocations on NVML {index} ({workload.name})",
                ["step", "process MiB (delta)", "device MiB (delta)", "expected MiB", "check"],
                rows,
            )
        )

    def _index(self) -> int:
        if self.nvml_index is None:
            raise Unsupported("no NVML device for CUDA device 0 (see the NVML section)")
        return self.nvml_index

    def _memory_row(self, label: str, expected: int, raw: list[dict[str, Any]]) -> list[Any]:
        nvml, index = self._need_nvml(), self._index()
        process = nvml.process_memory(index, self.pid)
        raw.append(
            {
                "step": label,
                "expected_bytes": expected,
                "process_listed": process.listed,
                "process_bytes": process.used_bytes,
                "other_processes": process.other_processes,
                "device_used_bytes": nvml.memory_used_bytes(index),
            }
        )
        return [label, None, None, _mib(expected)]

    # 3. energy over a busy window and a too-short one
    def energy_section(self, section: SectionResult) -> None:
        nvml, workload = self._need_nvml(), self._need_workload()
        index = self._index()
        rows, raw = [], []
        for label, seconds in (("busy", BUSY_S), ("short window", SHORT_WINDOW_S)):
            meter = EnergyMeter(nvml, [index], self.clock)
            meter.start()
            workload.busy(seconds)
            meter.stop()
            reading = (meter.readings() or {})[index]
            watts = (
                reading.joules / reading.window_s
                if reading.joules is not None and reading.window_s > 0
                else None
            )
            raw.append({"window": label, **reading.to_dict(), "watts": watts})
            rows.append(
                [
                    label,
                    f"{reading.window_s:.3f}",
                    "n/a" if reading.joules is None else f"{reading.joules:,.1f}",
                    "n/a" if watts is None else f"{watts:,.0f}",
                    "short window" if reading.short_window else "",
                    reading.reason or "",
                ]
            )
        self.raw["energy"] = {"nvml_index": index, "windows": raw}
        busy, short = raw
        if busy["joules"] is None:
            section.fail(f"no energy over {BUSY_S:g} s of busy work: {busy['reason']}")
        elif busy["short_window"] or not busy["joules"] > 0:
            section.fail(f"the counter did not move over {busy['window_s']:.2f} s of busy work")
        if not short["short_window"]:
            section.fail(
                f"a {short['window_s']:.3f} s window was not flagged as shorter than the "
                f"counter's update period ({COUNTER_UPDATE_PERIOD_S:g} s)"
            )
        section.tables.append(
            (
                f"Energy on NVML {index} (EnergyMeter)",
                ["window", "seconds", "joules", "watts", "flag", "reason"],
                rows,
            )
        )

    # 4. copy bandwidths at the claim's batch sizes
    def bandwidth_section(self, section: SectionResult) -> None:
        workload = self._need_workload()
        results: dict[str, dict[str, Any]] = {}
        rows = []
        for kind, label in COPY_KINDS.items():
            results[kind] = {}
            for batch, nbytes in BATCHES.items():
                try:
                    seconds = workload.time_copies(kind, nbytes, self.repeats)
                except Unsupported as reason:
                    results[kind] = {"reason": str(reason)}
                    rows.append([label, "all", "", "", "", "", str(reason)])
                    break
                except Exception as error:  # one copy kind failing leaves the others
                    reason = f"{type(error).__name__}: {_first_line(error)}"
                    results[kind][batch] = {"bytes": nbytes, "reason": reason}
                    rows.append([label, batch, f"{nbytes / MIB:.1f}", "", "", "", reason])
                    section.fail(f"{label}, {batch}: {reason}")
                    continue
                rates = [nbytes / s / GB for s in seconds if s > 0]
                median = statistics.median(rates) if rates else None
                results[kind][batch] = {
                    "bytes": nbytes,
                    "seconds": seconds,
                    "median_gb_s": median,
                }
                rows.append(
                    [
                        label,
                        batch,
                        f"{nbytes / MIB:.1f}",
                        "n/a" if median is None else f"{median:,.1f}",
                        f"{min(rates):,.1f}" if rates else "n/a",
                        f"{max(rates):,.1f}" if rates else "n/a",
                        len(seconds),
                    ]
                )
        self.raw["bandwidth"] = results
        section.tables.append(
            (
                f"Copy bandwidth, GB/s ({workload.name}; {self.repeats} timed copies each)",
                ["copy", "batch", "MiB", "median", "min", "max", "copies / why not"],
                rows,
            )
        )
        if self.rate("h2d_pinned") is None and self.rate("h2d_pageable") is None:
            section.fail("no host -> GPU rate was measured")

    def rate(self, kind: str) -> float | None:
        """The median GB/s over both batch sizes' copies of one kind, or None."""
        measured = (self.raw.get("bandwidth") or {}).get(kind) or {}
        rates = [
            entry["bytes"] / s / GB
            for entry in measured.values()
            if isinstance(entry, dict) and entry.get("seconds")
            for s in entry["seconds"]
            if s > 0
        ]
        return statistics.median(rates) if rates else None


# -- the hardware spec --------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


def spec_toml(probe: Probe, virtual_gpus: int) -> tuple[str | None, str | None]:
    """A hardware spec from the measured rates (text, None), or (None, why not)."""
    devices = (probe.raw.get("nvml") or {}).get("devices") or []
    physical = len((probe.raw.get("mapping") or {}).get("cuda_to_nvml") or []) or len(devices)
    h2d_kind = "pinned" if probe.rate("h2d_pinned") is not None else "pageable"
    d2h_kind = "pinned" if probe.rate("d2h_pinned") is not None else "pageable"
    h2d, d2h = probe.rate(f"h2d_{h2d_kind}"), probe.rate(f"d2h_{d2h_kind}")
    if h2d is None or d2h is None:
        return None, "no host <-> GPU rate was measured"
    name = devices[probe.nvml_index or 0]["name"] if devices else "GPU"
    info = probe.raw["probe"]
    driver = (probe.raw.get("nvml") or {}).get("driver", "?")
    dry = " (DRY RUN: fake numbers)" if info["dry_run"] else ""
    lines = [
        f"# Measured by benchmarks/device_probe.py with {info['library']}{dry}:",
        f"# host {info['host']}, {info['date']}; GPU {name}, driver {driver}.",
        "# Bandwidths: GB/s = 10^9 bytes/s, one direction: the median over the claim's two batch",
        "# sizes (ResNet50 96x224x224x3 and InceptionV3 64x299x299x3, float32); raw numbers in",
        "# probe.json. No [[reference]] tables: the probe measures links, not training",
        "# throughput. For `mgbench predict` to add compute time, copy them from a shipped",
        "# spec (h200-4virtual.toml for an H200).",
    ]
    one_chip = physical <= 1
    gpus = max(virtual_gpus, 1) if one_chip else physical
    label = f"{gpus}virtual" if one_chip and gpus > 1 else f"{gpus}x"
    split = f", split into {gpus} virtual GPUs" if one_chip and gpus > 1 else ""
    lines += [
        f"name = {json.dumps(f'probe-{_slug(name)}-{label}')}",
        f"description = {json.dumps(f'{name}: links measured by device_probe{split}')}",
        f"gpus = {gpus}",
    ]
    if one_chip and gpus > 1:
        lines += [
            "# One chip split into virtual GPUs: they share its compute.",
            f"gpus_per_chip = {gpus}",
        ]
    pageable = probe.rate("h2d_pageable")
    also = f"; pageable host -> GPU: {pageable:.1f} GB/s" if h2d_kind == "pinned" else ""
    lines += [
        "",
        "[host_link]",
        f"# host -> GPU from {h2d_kind} host memory, GPU -> host into {d2h_kind}{also}",
        f"h2d_gb_s = {h2d:.1f}",
        f"d2h_gb_s = {d2h:.1f}",
    ]
    if one_chip and gpus > 1:
        lines += [
            "",
            "# The one physical link: every virtual GPU's host copies cross it.",
            "[[shared_uplink]]",
            f'name = "{_slug(name)}-host-link"',
            f"gpus = [{', '.join(str(i) for i in range(gpus))}]",
            f"h2d_gb_s = {h2d:.1f}",
            f"d2h_gb_s = {d2h:.1f}",
        ]
    chip = probe.rate("d2d_chip")
    peer = probe.rate("d2d_peer")
    lines += ["", "[peer]"]
    if one_chip:
        if chip is None:
            return None, "no on-chip device-to-device rate was measured"
        lines += [
            '# ONE physical GPU: there is no second chip, so peer via = "chip": copies between',
            "# virtual GPUs of this chip stay in its memory. Rate: device-to-device copies on the",
            "# chip, GB/s of copied bytes.",
            'via = "chip"',
            f"gb_s = {chip:.1f}",
        ]
    else:
        lines += [
            "# Measured: GPU 0 -> GPU 1 copies only. If the GPUs are joined by NVLink or an",
            "# NVSwitch (nvidia-smi topo -m), edit via and nvlinks (see 8xH100-sxm.toml).",
            'via = "pcie"',
        ]
        if peer is not None:
            lines.append(f"gb_s = {peer:.1f}")
    return "\n".join(lines) + "\n", None


# -- output ----------------------------------------------------------------------------------


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    try:
        from tabulate import tabulate
    except ImportError:  # the probe still reports without tabulate
        body = "\n".join(" | ".join(str(v) for v in row) for row in [headers, *rows])
    else:
        body = tabulate(rows, headers, tablefmt="github")
    return f"## {title}\n\n{body}\n"


def report(probe: Probe) -> str:
    out = []
    library = probe.workload.name if probe.workload else "none"
    out.append(
        f"# device probe ({'DRY RUN, ' if probe.raw['probe']['dry_run'] else ''}"
        f"library: {library})\n"
    )
    for reason in probe.workload_reasons:
        out.append(f"- not used: {reason}")
    for section in probe.sections:
        status = "ok" if section.ok else "FAILED"
        out.append(f"\n### {section.name}: {status}")
        out += [f"- {reason}" for reason in section.reasons]
        for title, headers, rows in section.tables:
            out.append("")
            out.append(_table(title, headers, rows))
    return "\n".join(out)


def build(args: argparse.Namespace) -> Probe:
    """The probe of this machine, or of the dry run's fakes."""
    if args.dry_run:
        clock = DryRunClock()
        nvml = DryRunNvml(args.dry_run_gpus, clock, container=args.dry_run == "container")
        workload, reasons = None, []
        try:
            mapping = hardware.visible_gpu_indices(nvml)
        except ValueError as problem:
            reasons.append(str(problem))
        else:
            if mapping:
                workload = DryRunWorkload(nvml, clock, mapping)
                workload.start()
            else:
                reasons.append("CUDA_VISIBLE_DEVICES hides every GPU")
        return Probe(nvml, None, workload, reasons, clock, repeats=args.repeats, dry_run=True)
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA's order = NVML's
    real_nvml: Nvml | None = None
    nvml_reason = None
    try:
        real_nvml = hardware.open_nvml()
    except hardware.NvmlUnavailable as reason:
        nvml_reason = str(reason)
    workload, tried = open_workload(args.library)
    return Probe(
        real_nvml,
        nvml_reason,
        workload,
        tried,
        hardware.monotonic,
        repeats=args.repeats,
        dry_run=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--output", required=True, type=Path, help="folder for the files")
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="normal",
        choices=("normal", "container"),
        help="fakes instead of a GPU; 'container': NVML never lists this process",
    )
    parser.add_argument("--dry-run-gpus", type=int, default=1, help="GPUs of the dry run's NVML")
    parser.add_argument("--library", choices=("auto", "cupy", "jax"), default="auto")
    parser.add_argument("--repeats", type=int, default=20, help="timed copies per size and kind")
    parser.add_argument(
        "--virtual-gpus",
        type=int,
        default=4,
        help="with one GPU, the spec splits it into this many virtual GPUs (default 4)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    probe = build(args)
    probe.run_section("NVML", probe.nvml_section)
    probe.run_section("process memory", probe.memory_section)
    probe.run_section("energy", probe.energy_section)
    probe.run_section("bandwidth", probe.bandwidth_section)

    def write_spec(section: SectionResult) -> None:
        args.output.mkdir(parents=True, exist_ok=True)
        text, why_not = spec_toml(probe, args.virtual_gpus)
        if text is None:
            section.fail(f"no hardware_spec.toml: {why_not}")
            return
        (args.output / "hardware_spec.toml").write_text(text, encoding="utf-8")
        section.reasons.append(f"wrote {args.output / 'hardware_spec.toml'}")

    probe.run_section("hardware spec", write_spec)
    probe.raw["probe"]["wall_s"] = time.perf_counter() - started
    text = report(probe)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "probe.json").write_text(
            json.dumps(probe.raw, indent=2, default=str), encoding="utf-8"
        )
        (args.output / "probe.md").write_text(text + "\n", encoding="utf-8")
        text += f"\n\nRaw measurements: {args.output / 'probe.json'}"
    except OSError as error:
        text += f"\n\nCould not write {args.output}: {error}"
    print(text)
    return 0 if all(section.ok for section in probe.sections) else 1


if __name__ == "__main__":
    sys.exit(main())

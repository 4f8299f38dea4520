"""Fakes for hardware: a clock that advances only when told, and a scripted NVML; and the tiny
cell the record tests build their records on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from mgbench.config.suite import Cell
from mgbench.platform.hardware import ProcessMemory

# In a "process" script: NVML lists the process but gives no memory figure (no permission, MIG).
LISTED_WITHOUT_FIGURE = "listed-without-figure"

Script = Sequence[int | str | None]


def tiny_cnn_cell(**changes: object) -> Cell:
    """TinyCNN 32px, 16 a replica, in-place over 2 replicas, 1 + 2 steps; ``changes`` on top."""
    fields: dict[str, object] = {
        "model": "TinyCNN",
        "image_size": 32,
        "classes": 10,
        "batch_per_replica": 16,
        "strategy": "inplace",
        "replicas": 2,
        "warmup_steps": 1,
        "timed_steps": 2,
        "input": "host",
        "weights": "cpu",
        "dtype": "float32",
        "timeout_s": 60.0,
        "placement": False,
    }
    return Cell(**{**fields, **changes})  # type: ignore[arg-type]


class FakeClock:
    def __init__(self, start: float = 100.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_uuid(index: int) -> str:
    return f"GPU-00000000-0000-0000-0000-{index:012d}"


class FakeNvml:
    """Replays scripted readings: each call takes the next value of that device's script (the
    last value repeats once a script runs out).

    ``devices[index]`` holds scripts: ``"process"`` (this PID's bytes; None: not listed;
    :data:`LISTED_WITHOUT_FIGURE`), ``"device"`` (the whole device's used bytes) and
    ``"energy"`` (the energy counter in mJ; absent or None: the GPU has no counter).
    ``container=True``: NVML never lists this PID (a PID namespace hides it) but lists one other
    process per device, as inside a container. ``calls`` logs ``(method, index)`` in order.
    """

    def __init__(
        self,
        devices: Mapping[int, Mapping[str, Script]],
        pid: int,
        *,
        uuids: Sequence[str] | None = None,
        mig_uuids: Mapping[int, Sequence[str]] | None = None,
        container: bool = False,
        total_bytes: int = 80 * 2**30,
    ):
        self._devices = devices
        self._pid = pid
        self._uuids = list(uuids) if uuids is not None else [fake_uuid(i) for i in devices]
        self._mig = {i: tuple(v) for i, v in (mig_uuids or {}).items()}
        self._container = container
        self._total_bytes = total_bytes
        self._scripts: dict[tuple[int, str], Iterator[int | str | None]] = {}
        self.calls: list[tuple[str, int]] = []

    def _next(self, index: int, what: str) -> int | str | None:
        values = self._devices[index].get(what)
        if not values:
            return None
        key = (index, what)
        if key not in self._scripts:
            self._scripts[key] = iter(values)
        return next(self._scripts[key], values[-1])

    def device_count(self) -> int:
        return len(self._devices)

    def device_name(self, index: int) -> str:
        return f"Fake GPU {index}"

    def device_uuid(self, index: int) -> str:
        self.calls.append(("device_uuid", index))
        return self._uuids[index]

    def mig_uuids(self, index: int) -> tuple[str, ...]:
        self.calls.append(("mig_uuids", index))
        return self._mig.get(index, ())

    def driver_version(self) -> str:
        return "999.1"

    def memory_total_bytes(self, index: int) -> int:
        return self._total_bytes

    def memory_used_bytes(self, index: int) -> int:
        value = self._next(index, "device")
        assert isinstance(value, int), f"device {index}: scripted used bytes must be integers"
        return value

    def process_memory(self, index: int, pid: int) -> ProcessMemory:
        self.calls.append(("process_memory", index))
        if self._container or pid != self._pid:  # NVML lists a PID, just not this one
            return ProcessMemory(False, None, 1)
        value = self._next(index, "process")
        if value is None:
            return ProcessMemory(False, None, 0)
        if value == LISTED_WITHOUT_FIGURE:
            return ProcessMemory(True, None, 0)
        assert isinstance(value, int)
        return ProcessMemory(True, value, 0)

    def process_used_bytes(self, index: int, pid: int) -> int | None:
        return self.process_memory(index, pid).used_bytes

    def energy_mj(self, index: int) -> int | None:
        self.calls.append(("energy_mj", index))
        value = self._next(index, "energy")
        assert value is None or isinstance(value, int)
        return value

"""Fakes for hardware: a clock that advances only when told, and a scripted NVML."""

from __future__ import annotations

from collections.abc import Iterator


class FakeClock:
    def __init__(self, start: float = 100.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeNvml:
    """Replays scripted readings: each call takes the next value of that device's script."""

    def __init__(self, devices: dict[int, dict[str, list[int | None]]], pid: int):
        self._devices = devices
        self._pid = pid
        self._scripts: dict[tuple[int, str], Iterator[int | None]] = {}

    def _next(self, index: int, what: str) -> int | None:
        key = (index, what)
        if key not in self._scripts:
            self._scripts[key] = iter(self._devices[index][what])
        values = self._devices[index][what]
        return next(self._scripts[key], values[-1])

    def device_count(self) -> int:
        return len(self._devices)

    def device_name(self, index: int) -> str:
        return f"Fake GPU {index}"

    def driver_version(self) -> str:
        return "999.1"

    def memory_total_bytes(self, index: int) -> int:
        return 80 * 2**30

    def memory_used_bytes(self, index: int) -> int:
        return self._next(index, "device")

    def process_used_bytes(self, index: int, pid: int) -> int | None:
        return self._next(index, "process") if pid == self._pid else 0

"""Energy over the timed steps: NVML's per-GPU energy counter, read when they start and end.

``nvmlDeviceGetTotalEnergyConsumption`` counts millijoules since the driver loaded (Volta and
newer); the difference of two readings is the energy the whole device used in between, this
process's work and anything else running on it. The counter updates every 20-100 ms, so a window
shorter than that can read 0 J: such windows are flagged, not trusted. A GPU without the
counter, and a machine without GPUs or NVML, give no joules and a reason. Reading energy never
fails a cell: an NVML error becomes that GPU's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mgbench.platform.hardware import Clock, Nvml, monotonic

# The counter's slowest update period (DESIGN.md section 2: 20-100 ms). A shorter window may see
# no update at all, or one update's worth of energy too much.
COUNTER_UPDATE_PERIOD_S = 0.1
NO_COUNTER_REASON = "this GPU has no energy counter (NVML: not supported; Volta and newer have one)"


@dataclass(frozen=True)
class EnergyReading:
    """One physical GPU over the window: joules used (None, with ``reason``, when unknown)."""

    joules: float | None
    window_s: float
    short_window: bool  # the window is shorter than the counter's update period
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "joules": self.joules,
            "window_s": self.window_s,
            "short_window": self.short_window,
            "reason": self.reason,
        }


def _read(nvml: Nvml, index: int) -> tuple[int | None, str | None]:
    try:
        value = nvml.energy_mj(index)
    except Exception as error:  # any NVML error: a reason for this GPU, never a failed cell
        return None, f"NVML could not read the energy counter: {type(error).__name__}: {error}"
    return (None, NO_COUNTER_REASON) if value is None else (value, None)


class EnergyMeter:
    """Reads each GPU's energy counter at :meth:`start` and :meth:`stop`.

    ``nvml`` None (a CPU machine, or NVML unavailable) gives no readings and
    ``unavailable_reason``; ``gpu_indices`` are NVML indices (see
    ``hardware.visible_gpu_indices``).
    """

    def __init__(
        self,
        nvml: Nvml | None,
        gpu_indices: Sequence[int],
        clock: Clock = monotonic,
        *,
        unavailable_reason: str | None = None,
    ):
        self.nvml = nvml
        self.gpu_indices = list(gpu_indices)
        self.clock = clock
        self.unavailable_reason = unavailable_reason
        self._started_at: float | None = None
        self._stopped_at: float | None = None
        self._start: dict[int, tuple[int | None, str | None]] = {}
        self._end: dict[int, tuple[int | None, str | None]] = {}

    @property
    def reason(self) -> str | None:
        """Why there are no readings at all (None when there are)."""
        if self.nvml is None:
            return self.unavailable_reason or "NVML unavailable"
        if not self.gpu_indices:
            return "no GPU visible to this process"
        return None

    def start(self) -> None:
        self._started_at = self.clock()
        if self.reason is None and self.nvml is not None:
            self._start = {index: _read(self.nvml, index) for index in self.gpu_indices}

    def stop(self) -> None:
        if self._started_at is None:
            raise RuntimeError("EnergyMeter.stop() before start()")
        if self.reason is None and self.nvml is not None:
            self._end = {index: _read(self.nvml, index) for index in self.gpu_indices}
        self._stopped_at = self.clock()

    def readings(self) -> dict[int, EnergyReading] | None:
        """Per NVML index, or None (see :attr:`reason`)."""
        if self._started_at is None or self._stopped_at is None:
            raise RuntimeError("EnergyMeter: readings are known after start() and stop()")
        if self.reason is not None:
            return None
        window_s = self._stopped_at - self._started_at
        short = window_s < COUNTER_UPDATE_PERIOD_S
        out = {}
        for index in self.gpu_indices:
            (first, first_reason), (last, last_reason) = self._start[index], self._end[index]
            joules, reason = None, first_reason or last_reason
            if first is not None and last is not None:
                if last < first:
                    reason = "the energy counter went backwards (the driver reloaded?)"
                else:
                    joules = (last - first) / 1000.0
            out[index] = EnergyReading(joules, window_s, short, reason)
        return out

    def result(self) -> dict[str, Any]:
        """The worker payload's ``energy`` (per NVML index) and ``energy_reason``."""
        readings = self.readings()
        if readings is None:
            return {"energy": None, "energy_reason": self.reason}
        return {
            "energy": {str(index): reading.to_dict() for index, reading in readings.items()},
            "energy_reason": None,
        }

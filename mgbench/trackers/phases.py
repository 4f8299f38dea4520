"""Where a worker process's time goes: its phases, in order, on an injected clock.

A worker process (``mgbench.execution.worker``) runs in phases that follow each other with no
gap, so their seconds add up to the process's time from its creation to its record. Its first
phase, :data:`INTERPRETER`, is the process's age when the worker's code starts measuring
(:func:`process_age_s`): the interpreter starting and importing mgbench. What the launcher's
``wall_s`` holds beyond the phases is the process exiting after its record was written
(``Record.process_phases_s`` names it ``exit``).

The names are shared by isolated and paired processes where the phase is the same work:

* both: :data:`INTERPRETER`, :data:`DEVICES` (TensorFlow and the devices starting, NVML),
  :data:`BUILD` (the template, its wrappers and their compile), and last :data:`RECORD` (memory
  peaks, the environment, the record's payload);
* isolated: ``fit`` (the first step, the warm-up and the timed steps, inside Keras's ``fit``),
  ``audit`` (the placement and transfer audit, after the timed steps);
* paired: ``step_functions`` (each strategy's training step made ready: its dataset, its
  symbolic build, its train function), ``first_steps`` (each strategy's first step: the trace),
  ``warmup`` (each strategy's warm-up steps), ``paired_rounds`` (the timed rounds).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from mgbench.platform.hardware import Clock, monotonic

INTERPRETER = "interpreter_and_imports"
DEVICES = "tensorflow_and_devices"
BUILD = "build_and_compile"
RECORD = "record"
FIT = "fit"
AUDIT = "audit"
STEP_FUNCTIONS = "step_functions"
FIRST_STEPS = "first_steps"
WARMUP = "warmup"
PAIRED_ROUNDS = "paired_rounds"
# What the launcher's wall time holds beyond a process's recorded phases (derived, not recorded).
EXIT = "exit"

ISOLATED_PHASES = (INTERPRETER, DEVICES, BUILD, FIT, AUDIT, RECORD)
PAIRED_PHASES = (
    *(INTERPRETER, DEVICES, BUILD),
    *(STEP_FUNCTIONS, FIRST_STEPS, WARMUP, PAIRED_ROUNDS),
    RECORD,
)


class PhaseClock:
    """Seconds spent in each phase, in order: :meth:`done` closes the phase running since the
    last one closed (or since the clock was made) under the name given. ``already`` opens the
    clock with a phase that ran before it (the interpreter's, :func:`process_age_s`)."""

    def __init__(self, clock: Clock = monotonic, *, already: tuple[str, float] | None = None):
        self._clock = clock
        self.seconds: dict[str, float] = {}
        if already is not None:
            name, seconds = already
            self.seconds[name] = seconds
        self._started = clock()

    def done(self, name: str) -> float:
        """Close the running phase as ``name``; its seconds (a name closed twice adds up)."""
        now = self._clock()
        spent = now - self._started
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self._started = now
        return spent


def _proc_start_s(stat: str, ticks_per_s: float) -> float:
    """A process's start, in seconds since boot, from its ``/proc/PID/stat`` line (field 22,
    in clock ticks; the command name in field 2 may hold spaces, so fields count from its ``)``)."""
    after_name = stat.rsplit(")", 1)[1].split()
    return int(after_name[19]) / ticks_per_s


def process_age_s(
    *,
    read_stat: Callable[[], str] | None = None,
    boot_clock: Callable[[], float] | None = None,
    ticks_per_s: float | None = None,
) -> float:
    """Seconds since this process was created (fork), to ~10 ms (a clock tick).

    On Linux both ends are read on the clock since boot (``/proc/self/stat``'s start time and
    ``CLOCK_BOOTTIME``). ``psutil.Process().create_time()`` is not used there: it adds the boot
    time, which Linux gives in whole seconds, so the age it gives is off by up to a second (0.65 s
    on the VM the CPU runs were made on). Elsewhere it is the fallback, with that error."""
    if read_stat is None and sys.platform.startswith("linux"):

        def read_stat() -> str:
            with open("/proc/self/stat", encoding="ascii") as handle:
                return handle.read()

    if read_stat is None:
        import psutil

        return time.time() - psutil.Process().create_time()
    now = (boot_clock or (lambda: time.clock_gettime(time.CLOCK_BOOTTIME)))()
    ticks = ticks_per_s if ticks_per_s is not None else os.sysconf("SC_CLK_TCK")
    return now - _proc_start_s(read_stat(), ticks)

"""The paired loop: two strategies trained alternately in one process, each step timed.

Both step functions run once (the first step traces the graph) and ``warmup_steps`` more, then
``rounds`` rounds of one block of ``block_steps`` steps each: A then B in even rounds, B then A
in odd ones (AB, BA, AB, ...: consecutive rounds form ABBA, so a linear drift within the process
cancels). Every step is synced by the step function itself (it returns the loss it read) before
its end time is taken. The clock is injected, so tests drive the loop with a fake one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mgbench.platform.hardware import Clock, monotonic

Step = Callable[[], float]  # one training step, synced: it returns the loss it read


def block_order(rounds: int) -> list[tuple[str, str]]:
    """Which strategy runs first in each round: ("a", "b"), ("b", "a"), ... (ABBA over two)."""
    return [("a", "b") if r % 2 == 0 else ("b", "a") for r in range(rounds)]


@dataclass(frozen=True)
class PairedRoundTimes:
    first: str  # "a" or "b"
    a_step_s: tuple[float, ...]
    b_step_s: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "first": self.first,
            "a_step_s": list(self.a_step_s),
            "b_step_s": list(self.b_step_s),
        }


@dataclass(frozen=True)
class PairedTiming:
    """What one paired process measured; ``to_dict`` is the record's ``paired`` object."""

    a: str
    b: str
    block_steps: int
    first_step_s: tuple[float, float]  # (a, b): tracing plus the first step
    warmup_step_s: tuple[tuple[float, ...], tuple[float, ...]]  # (a, b), not recorded
    rounds: tuple[PairedRoundTimes, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "block_steps": self.block_steps,
            "first_step_s": list(self.first_step_s),
            "rounds": [r.to_dict() for r in self.rounds],
        }


def _timed(step: Step, clock: Clock) -> float:
    begin = clock()
    step()  # returns only after reading the loss: the device work is inside the time
    return clock() - begin


def run_paired(
    step_a: Step,
    step_b: Step,
    *,
    names: tuple[str, str],
    warmup_steps: int,
    rounds: int,
    block_steps: int,
    clock: Clock = monotonic,
    on_rounds_start: Callable[[], None] | None = None,
    on_rounds_end: Callable[[], None] | None = None,
) -> PairedTiming:
    """Trace and warm both steps, then time ``rounds`` alternating blocks of each.

    ``on_rounds_start``/``on_rounds_end`` bracket the timed rounds (memory sampling)."""
    if rounds < 1 or block_steps < 1 or warmup_steps < 0:
        raise ValueError(
            f"need rounds >= 1, block_steps >= 1, warmup_steps >= 0; "
            f"got {rounds}, {block_steps}, {warmup_steps}"
        )
    steps = {"a": step_a, "b": step_b}
    first = {name: _timed(step, clock) for name, step in steps.items()}
    warmup = {
        name: tuple(_timed(step, clock) for _ in range(warmup_steps))
        for name, step in steps.items()
    }
    if on_rounds_start:
        on_rounds_start()
    timed: list[PairedRoundTimes] = []
    for order in block_order(rounds):
        blocks = {
            name: tuple(_timed(steps[name], clock) for _ in range(block_steps)) for name in order
        }
        timed.append(PairedRoundTimes(order[0], blocks["a"], blocks["b"]))
    if on_rounds_end:
        on_rounds_end()
    return PairedTiming(
        a=names[0],
        b=names[1],
        block_steps=block_steps,
        first_step_s=(first["a"], first["b"]),
        warmup_step_s=(warmup["a"], warmup["b"]),
        rounds=tuple(timed),
    )

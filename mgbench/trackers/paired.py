"""The paired loop: k >= 2 strategies trained in turn in one process, each step timed.

Every step function runs once (the first step traces the graph) and ``warmup_steps`` more, then
``rounds`` rounds, each one block of ``block_steps`` steps of every strategy. The strategies are
labelled ``a``, ``b``, ``c``, ... in the order they are given, and the rounds run their blocks in
the orders of a Williams design (Williams 1949, the crossover trials' standard), cycled:

* k = 2: AB, BA, AB, ... (consecutive rounds form ABBA), exactly as before there were k-way
  processes;
* k even: the rows of a Williams square, ``row0 = 0, 1, k-1, 2, k-2, ...`` and row i its every
  label shifted by i: each strategy runs at each position once, and each ordered pair of
  neighbours (x right before y) occurs once, in every k rounds;
* k odd (k = 3: abc, cba, bca, acb, cab, bac, the 6 orders): the rows of the cyclic square each
  followed by its mirror image; in every 2k rounds each strategy leads equally often and each
  ordered pair of neighbours occurs equally often (twice).

Why a Williams design: a block's position in its round (the first block after a switch may pay
for caches the others left) and the block run right before it (carry-over) must not favour any
strategy, and a drift of the machine over time must cancel in every pairwise ratio. With the
mirror pairs (odd k, and k = 2 whose rows mirror each other) every two consecutive rounds form a
palindrome, so each strategy's mean position over them is the same: a drift linear in time
cancels in every pair's mean every two rounds, as ABBA does for two; for even k >= 4, over each
cycle of k rounds. Every step is synced by the step function itself (it returns the loss it read)
before its end time is taken. The clock is injected, so tests drive the loop with a fake one.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mgbench.platform.hardware import Clock, monotonic
from mgbench.trackers.phases import FIRST_STEPS, PAIRED_ROUNDS, WARMUP, PhaseClock

Step = Callable[[], float]  # one training step, synced: it returns the loss it read

LABELS = string.ascii_lowercase  # the k strategies of a process are labels[:k], in order


def williams_orders(k: int) -> list[tuple[int, ...]]:
    """One cycle of block orders for ``k`` strategies, as positions 0..k-1 (see the module):
    k rows for even k, 2k for odd k (each row followed by its mirror)."""
    if k < 2:
        raise ValueError(f"a paired process needs at least 2 strategies, got {k}")
    first = [0]
    for step in range(1, k):  # 0, 1, k-1, 2, k-2, ...
        first.append((step + 1) // 2 if step % 2 else k - step // 2)
    square = [tuple((label + shift) % k for label in first) for shift in range(k)]
    if k % 2 == 0:
        return square
    return [order for row in square for order in (row, row[::-1])]


def block_order(rounds: int, k: int = 2) -> list[tuple[str, ...]]:
    """The order of each round's blocks by label: ("a", "b"), ("b", "a"), ... for two; the
    Williams cycle (:func:`williams_orders`) repeated for more."""
    cycle = williams_orders(k)
    return [tuple(LABELS[i] for i in cycle[r % len(cycle)]) for r in range(rounds)]


@dataclass(frozen=True)
class PairedRoundTimes:
    """One round: the labels in the order their blocks ran, and each strategy's block, by
    label (a's, b's, ...)."""

    order: tuple[str, ...]
    blocks: tuple[tuple[float, ...], ...]

    @property
    def first(self) -> str:
        return self.order[0]

    @property
    def a_step_s(self) -> tuple[float, ...]:
        return self.blocks[0]

    @property
    def b_step_s(self) -> tuple[float, ...]:
        return self.blocks[1]

    def to_dict(self) -> dict[str, object]:
        """The record's round: ``first``, ``a_step_s``, ``b_step_s`` as ever; a round of more
        than two adds ``order`` and ``others_step_s`` (c's block, d's, ...)."""
        out: dict[str, object] = {
            "first": self.first,
            "a_step_s": list(self.a_step_s),
            "b_step_s": list(self.b_step_s),
        }
        if len(self.blocks) > 2:
            out["order"] = list(self.order)
            out["others_step_s"] = [list(block) for block in self.blocks[2:]]
        return out


@dataclass(frozen=True)
class PairedTiming:
    """What one paired process measured; ``to_dict`` is the record's ``paired`` object."""

    names: tuple[str, ...]  # the strategies, labelled a, b, c, ... in this order
    block_steps: int
    first_step_s: tuple[float, ...]  # by label: tracing plus the first step
    warmup_step_s: tuple[tuple[float, ...], ...]  # by label
    rounds: tuple[PairedRoundTimes, ...]

    @property
    def a(self) -> str:
        return self.names[0]

    @property
    def b(self) -> str:
        return self.names[1]

    def to_dict(self) -> dict[str, object]:
        """A process of two as ever, plus ``warmup_step_s`` (every strategy's warm-up steps, by
        label: a's, b's, ...); one of more adds ``others`` (the strategies after a and b) and
        ``others_first_step_s``."""
        out: dict[str, object] = {
            "a": self.a,
            "b": self.b,
            "block_steps": self.block_steps,
            "first_step_s": list(self.first_step_s[:2]),
            "warmup_step_s": [list(steps) for steps in self.warmup_step_s],
            "rounds": [r.to_dict() for r in self.rounds],
        }
        if len(self.names) > 2:
            out["others"] = list(self.names[2:])
            out["others_first_step_s"] = list(self.first_step_s[2:])
        return out


def _timed(step: Step, clock: Clock) -> float:
    begin = clock()
    step()  # returns only after reading the loss: the device work is inside the time
    return clock() - begin


def run_paired(
    *steps: Step,
    names: Sequence[str],
    warmup_steps: int,
    rounds: int,
    block_steps: int,
    clock: Clock = monotonic,
    on_rounds_start: Callable[[], None] | None = None,
    on_rounds_end: Callable[[], None] | None = None,
    phases: PhaseClock | None = None,
) -> PairedTiming:
    """Trace and warm every step, then time ``rounds`` rounds of one block of each, in the
    orders of :func:`block_order`. ``steps[i]`` is the strategy ``names[i]``.

    ``on_rounds_start``/``on_rounds_end`` bracket the timed rounds (memory sampling); ``phases``
    closes ``first_steps``, ``warmup`` and ``paired_rounds`` as each ends."""
    if rounds < 1 or block_steps < 1 or warmup_steps < 0:
        raise ValueError(
            f"need rounds >= 1, block_steps >= 1, warmup_steps >= 0; "
            f"got {rounds}, {block_steps}, {warmup_steps}"
        )
    if len(steps) != len(names) or len(steps) < 2:
        raise ValueError(
            f"need one name per step and 2 steps or more; got {len(steps)} step(s)"
            f" and names {list(names)}"
        )
    first = tuple(_timed(step, clock) for step in steps)
    if phases:
        phases.done(FIRST_STEPS)
    warmup = tuple(tuple(_timed(step, clock) for _ in range(warmup_steps)) for step in steps)
    if phases:
        phases.done(WARMUP)
    if on_rounds_start:
        on_rounds_start()
    timed: list[PairedRoundTimes] = []
    for order in block_order(rounds, len(steps)):
        blocks: dict[str, tuple[float, ...]] = {}
        for label in order:
            step = steps[LABELS.index(label)]
            blocks[label] = tuple(_timed(step, clock) for _ in range(block_steps))
        timed.append(PairedRoundTimes(order, tuple(blocks[x] for x in LABELS[: len(steps)])))
    if on_rounds_end:
        on_rounds_end()
    if phases:
        phases.done(PAIRED_ROUNDS)
    return PairedTiming(
        names=tuple(names),
        block_steps=block_steps,
        first_step_s=first,
        warmup_step_s=warmup,
        rounds=tuple(timed),
    )

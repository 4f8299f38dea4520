"""Timing and memory trackers against a fake clock and a fake NVML: exact known answers."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter

import pytest
from fakes import FakeClock, FakeNvml

from mgbench.platform import hardware
from mgbench.trackers.memory import MemorySampler
from mgbench.trackers.paired import block_order, run_paired, williams_orders
from mgbench.trackers.timing import StepTimer


def drive(timer: StepTimer, clock: FakeClock, durations: list[float], gap: float = 0.0):
    for step, duration in enumerate(durations):
        timer.begin(step)
        clock.advance(duration)
        timer.end(step)
        clock.advance(gap)


def test_step_timer_separates_first_warmup_and_timed_steps():
    clock = FakeClock()
    timer = StepTimer(warmup_steps=2, timed_steps=3, images_per_step=64, clock=clock)
    drive(timer, clock, [5.0, 0.5, 0.4, 0.2, 0.3, 0.25], gap=0.01)
    timing = timer.result()
    assert timing.first_step_s == pytest.approx(5.0)
    assert timing.warmup_step_s == pytest.approx((0.5, 0.4))
    assert timing.step_s == pytest.approx((0.2, 0.3, 0.25))
    assert timing.timed_wall_s == pytest.approx(0.2 + 0.3 + 0.25 + 2 * 0.01)
    assert timing.images_per_s == pytest.approx(3 * 64 / 0.77)
    record = timing.to_dict()
    assert record["images_per_s"] == pytest.approx(249.350649, rel=1e-6)
    assert record["step_s"] == pytest.approx([0.2, 0.3, 0.25])


def test_the_sync_runs_before_the_end_time_is_taken():
    clock = FakeClock()
    timer = StepTimer(warmup_steps=0, timed_steps=1, images_per_step=1, clock=clock)
    for step in range(2):
        timer.begin(step)
        timer.end(step, sync=lambda: clock.advance(0.75))  # device work finishing in the sync
    assert timer.result().step_s == pytest.approx((0.75,))


def test_hooks_bracket_exactly_the_timed_steps():
    clock = FakeClock(start=0.0)
    events = []
    timer = StepTimer(
        warmup_steps=1,
        timed_steps=2,
        images_per_step=1,
        clock=clock,
        on_timed_start=lambda: events.append(("start", clock())),
        on_timed_end=lambda: events.append(("end", clock())),
    )
    # Steps of 1, 2, 4 and 8 s: each moment on the clock says which steps had run.
    drive(timer, clock, [1, 2, 4, 8], gap=0.5)
    # After the first and the warm-up step (1 + 0.5 + 2 + 0.5), before the timed ones; and
    # right after the last timed step ended (+ 4 + 0.5 + 8).
    assert events == [("start", 4.0), ("end", 16.5)]
    assert timer.result().step_s == pytest.approx((4.0, 8.0))


def test_out_of_order_and_unfinished_steps_are_errors():
    clock = FakeClock()
    timer = StepTimer(warmup_steps=0, timed_steps=2, images_per_step=1, clock=clock)
    with pytest.raises(RuntimeError, match="step 1 began out of order"):
        timer.begin(1)
    drive(timer, clock, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="only 2 of 3 steps finished"):
        timer.result()


def test_sampler_keeps_per_gpu_peaks_of_process_and_device():
    nvml = FakeNvml(
        {
            0: {"process": [100, 900, 300], "device": [1000, 5000, 2000]},
            1: {"process": [50, 60, 40], "device": [700, 600, 800]},
        },
        pid=42,
    )
    rss = iter([10, 30, 20])
    sampler = MemorySampler(nvml, [0, 1], 42, lambda: next(rss))
    for _ in range(3):
        sampler.sample()
    assert sampler.samples == 3
    assert sampler.host_rss_peak_bytes == 30
    assert sampler.nvml_result() == {
        "0": {
            "name": "Fake GPU 0",
            "total_bytes": 80 * 2**30,
            "process_peak_bytes": 900,
            "device_used_peak_bytes": 5000,
        },
        "1": {
            "name": "Fake GPU 1",
            "total_bytes": 80 * 2**30,
            "process_peak_bytes": 60,
            "device_used_peak_bytes": 800,
        },
    }


def test_sampler_ignores_unreadable_process_memory():
    nvml = FakeNvml({0: {"process": [None, 400, None], "device": [1, 2, 3]}}, pid=7)
    sampler = MemorySampler(nvml, [0], 7, lambda: 1)
    for _ in range(3):
        sampler.sample()
    assert sampler.nvml_result()["0"]["process_peak_bytes"] == 400


def test_sampler_without_nvml_still_reads_host_memory():
    sampler = MemorySampler(None, [], 1, lambda: 123)
    sampler.start()
    sampler.stop()
    assert sampler.samples >= 2  # one at start, one at stop, any in between
    assert sampler.host_rss_peak_bytes == 123
    assert sampler.nvml_result() == {}


@pytest.mark.parametrize("period", [0, 0.051, -1])
def test_sampler_period_must_be_at_most_50_ms(period):
    with pytest.raises(ValueError, match=r"sampling period must be in \(0, 0.05\]"):
        MemorySampler(None, [], 1, lambda: 0, period_s=period)


def test_missing_nvml_is_a_reason_not_a_crash(monkeypatch):
    import pynvml

    def broken():
        raise pynvml.NVMLError_LibraryNotFound()

    monkeypatch.setattr(pynvml, "nvmlInit", broken)
    with pytest.raises(hardware.NvmlUnavailable, match="NVML could not start"):
        hardware.open_nvml()
    assert hardware.gpu_count() == 0


def test_hidden_gpus_count_as_none(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert hardware.gpu_count() == 0


class FakeStep:
    """A training step that takes ``seconds`` on the fake clock and logs its name."""

    def __init__(self, name: str, seconds: float, clock: FakeClock, log: list[str]):
        self.name, self.seconds, self.clock, self.log = name, seconds, clock, log

    def __call__(self) -> float:
        self.log.append(self.name)
        self.clock.advance(self.seconds)
        return 0.5


def test_paired_loop_traces_warms_then_alternates_blocks_in_abba_order():
    clock, log = FakeClock(), []
    hooks = []
    timing = run_paired(
        FakeStep("a", 0.1, clock, log),
        FakeStep("b", 0.3, clock, log),
        names=("inplace", "concat"),
        warmup_steps=2,
        rounds=3,
        block_steps=2,
        clock=clock,
        on_rounds_start=lambda: hooks.append(("start", len(log))),
        on_rounds_end=lambda: hooks.append(("end", len(log))),
    )
    # first step of each, 2 warm-up steps of each, then AB, BA, AB blocks of 2 steps
    assert "".join(log) == "ab" + "aabb" + "aabb" + "bbaa" + "aabb"
    assert hooks == [("start", 6), ("end", 18)]
    assert [r.first for r in timing.rounds] == ["a", "b", "a"]
    assert all(r.a_step_s == pytest.approx((0.1, 0.1)) for r in timing.rounds)
    assert all(r.b_step_s == pytest.approx((0.3, 0.3)) for r in timing.rounds)
    assert timing.first_step_s == pytest.approx((0.1, 0.3))
    assert timing.warmup_step_s[0] == pytest.approx((0.1, 0.1))
    assert timing.warmup_step_s[1] == pytest.approx((0.3, 0.3))
    record = timing.to_dict()
    assert record["a"] == "inplace" and record["b"] == "concat" and record["block_steps"] == 2
    assert record["rounds"][1]["first"] == "b"
    assert record["rounds"][1]["b_step_s"] == pytest.approx([0.3, 0.3])
    assert set(record) == {"a", "b", "block_steps", "first_step_s", "warmup_step_s", "rounds"}
    assert [pytest.approx(s) for s in record["warmup_step_s"]] == [[0.1, 0.1], [0.3, 0.3]]


def test_paired_rounds_alternate_so_two_rounds_are_abba():
    assert block_order(4) == [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]
    clock, log = FakeClock(), []
    timing = run_paired(
        FakeStep("a", 0.1, clock, log),
        FakeStep("b", 0.1, clock, log),
        names=("inplace", "inplace"),
        warmup_steps=0,
        rounds=6,
        block_steps=1,
        clock=clock,
    )
    assert [r.first for r in timing.rounds] == ["a", "b", "a", "b", "a", "b"]
    assert log == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b", "a"]


def test_a_step_time_covers_the_step_until_its_loss_is_read():
    clock, log = FakeClock(), []
    durations = iter([1.0, 2.0] + [0.25, 0.5] * 4)

    def step(name):
        def run() -> float:
            log.append(name)
            clock.advance(next(durations))
            return 0.0

        return run

    timing = run_paired(
        step("a"), step("b"), names=("x", "y"), warmup_steps=0, rounds=2, block_steps=2, clock=clock
    )
    assert timing.first_step_s == (1.0, 2.0)
    # round 0: a a b b takes 0.25 0.5 0.25 0.5; round 1: b b a a
    assert timing.rounds[0].a_step_s == (0.25, 0.5) and timing.rounds[0].b_step_s == (0.25, 0.5)


def test_a_three_way_loop_traces_warms_then_cycles_through_the_six_orders():
    clock, log = FakeClock(), []
    timing = run_paired(
        FakeStep("a", 0.1, clock, log),
        FakeStep("b", 0.2, clock, log),
        FakeStep("c", 0.4, clock, log),
        names=("inplace", "wholebatch", "concat"),
        warmup_steps=1,
        rounds=7,
        block_steps=2,
        clock=clock,
    )
    orders = ["abc", "cba", "bca", "acb", "cab", "bac", "abc"]  # 6 orders, then again
    assert "".join(log) == "abc" + "abc" + "".join(x * 2 for order in orders for x in order)
    assert ["".join(r.order) for r in timing.rounds] == orders
    assert [r.first for r in timing.rounds] == [order[0] for order in orders]
    for label, seconds in enumerate((0.1, 0.2, 0.4)):
        blocks = [list(r.blocks[label]) for r in timing.rounds]
        assert blocks == [pytest.approx([seconds] * 2)] * 7
    assert timing.first_step_s == pytest.approx((0.1, 0.2, 0.4))
    assert [w for (w,) in timing.warmup_step_s] == pytest.approx([0.1, 0.2, 0.4])
    record = timing.to_dict()
    assert (record["a"], record["b"], record["others"]) == ("inplace", "wholebatch", ["concat"])
    assert record["first_step_s"] == pytest.approx([0.1, 0.2])
    assert record["others_first_step_s"] == pytest.approx([0.4])
    assert record["rounds"][1]["first"] == "c" and record["rounds"][1]["order"] == ["c", "b", "a"]
    assert record["rounds"][1]["others_step_s"] == [pytest.approx([0.4, 0.4])]
    assert set(record["rounds"][1]) == {"first", "order", "a_step_s", "b_step_s", "others_step_s"}


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_the_orders_balance_position_and_the_block_before_each_block(k):
    cycle = williams_orders(k)
    assert len(cycle) == (k if k % 2 == 0 else 2 * k)
    assert all(sorted(order) == list(range(k)) for order in cycle)
    at_position = Counter((label, i) for order in cycle for i, label in enumerate(order))
    assert len(at_position) == k * k and len(set(at_position.values())) == 1
    neighbours = Counter(pair for order in cycle for pair in itertools.pairwise(order))
    assert len(neighbours) == k * (k - 1) and len(set(neighbours.values())) == 1
    if k == 3:
        assert sorted(cycle) == sorted(itertools.permutations(range(3)))  # all six orders


def drifting_steps(k: int, clock: FakeClock, slope: float) -> list:
    """k equal strategies on a machine slowing down linearly in time: a step started at t takes
    0.1 s x (1 + slope x (t - t0))."""
    start = clock.now

    def step() -> float:
        clock.advance(0.1 * (1 + slope * (clock.now - start)))
        return 0.0

    return [step] * k


def pairwise_log_ratios(timing, x: int, y: int) -> list[float]:
    return [
        math.log(statistics.median(r.blocks[y]) / statistics.median(r.blocks[x]))
        for r in timing.rounds
    ]


@pytest.mark.parametrize(("k", "rounds"), [(2, 2), (2, 10), (3, 2), (3, 6), (3, 20), (4, 8)])
def test_a_drift_linear_in_time_cancels_in_every_pairwise_mean(k, rounds):
    clock = FakeClock()
    timing = run_paired(
        *drifting_steps(k, clock, slope=0.02),
        names=[f"s{i}" for i in range(k)],
        warmup_steps=1,
        rounds=rounds,
        block_steps=3,
        clock=clock,
    )
    for x, y in itertools.combinations(range(k), 2):
        ratios = pairwise_log_ratios(timing, x, y)
        assert max(abs(r) for r in ratios) > 1e-3  # each round sees the drift...
        assert statistics.mean(ratios) == pytest.approx(0, abs=1e-12)  # ...the mean does not


def test_one_fixed_order_would_not_cancel_the_drift():
    """The check above can fail: the same drift under abc in every round biases every pair."""
    clock = FakeClock()
    steps = drifting_steps(3, clock, slope=0.02)
    timing = run_paired(
        *steps, names=("x", "y", "z"), warmup_steps=1, rounds=1, block_steps=3, clock=clock
    )
    assert "".join(timing.rounds[0].order) == "abc"
    assert statistics.mean(pairwise_log_ratios(timing, 0, 2)) > 1e-3


@pytest.mark.parametrize(("rounds", "block_steps", "warmup"), [(0, 5, 1), (3, 0, 1), (3, 5, -1)])
def test_paired_loop_refuses_empty_settings(rounds, block_steps, warmup):
    with pytest.raises(ValueError, match="need rounds >= 1, block_steps >= 1, warmup_steps >= 0"):
        run_paired(
            lambda: 0.0,
            lambda: 0.0,
            names=("a", "b"),
            warmup_steps=warmup,
            rounds=rounds,
            block_steps=block_steps,
        )


@pytest.mark.parametrize("names", [("a",), ("a", "b", "c")])
def test_paired_loop_needs_one_name_per_step_and_two_steps_or_more(names):
    steps = [lambda: 0.0] * (1 if len(names) == 1 else 2)
    with pytest.raises(ValueError, match="need one name per step and 2 steps or more"):
        run_paired(*steps, names=names, warmup_steps=0, rounds=2, block_steps=1)


def test_a_diverged_loss_is_counted_not_hidden():
    clock = FakeClock()
    timer = StepTimer(warmup_steps=0, timed_steps=3, images_per_step=8, clock=clock)
    losses = iter([2.3, 2.1, float("nan"), float("inf")])
    for step in range(timer.total_steps):
        timer.begin(step)
        clock.advance(0.1)
        timer.end(step, sync=lambda: next(losses))
    record = timer.result().to_dict()
    assert record["first_loss"] == 2.3
    assert record["last_loss"] is None  # the last step's loss was not finite: never 2.1
    assert record["nonfinite_losses"] == 2

"""A worker process's phases: the phase clock and the process's age against fakes, the paired
loop's phases, the worker recording them field by field (a fake backend on a fake clock), and the
record reading them (and reading files older than them)."""

from __future__ import annotations

import dataclasses
import json
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from data.make_paired_results import kway_record, paired_record
from fakes import FakeClock, tiny_cnn_cell

from mgbench.analysis import plan
from mgbench.analysis.phases import median_phases_s, process_phases_s
from mgbench.backends.base import Built, DeviceSetup
from mgbench.execution import worker
from mgbench.records.record import Record, RecordError, RunContext
from mgbench.trackers import phases as phase
from mgbench.trackers.paired import run_paired
from mgbench.trackers.phases import PhaseClock, process_age_s
from mgbench.vocabulary import DeviceMode


def test_each_phase_is_the_time_since_the_last_one_closed():
    clock = FakeClock(start=50.0)
    phases = PhaseClock(clock, already=("interpreter_and_imports", 1.25))
    clock.advance(2.0)
    assert phases.done("tensorflow_and_devices") == 2.0
    clock.advance(0.5)
    phases.done("step_functions")
    clock.advance(0.75)
    phases.done("step_functions")  # a phase closed twice (once per strategy) adds up
    assert phases.seconds == {
        "interpreter_and_imports": 1.25,
        "tensorflow_and_devices": 2.0,
        "step_functions": 1.25,
    }
    assert list(phases.seconds) == [
        "interpreter_and_imports",
        "tensorflow_and_devices",
        "step_functions",
    ]


def test_the_process_age_is_read_on_the_clock_since_boot():
    # /proc/PID/stat: the command name (field 2) may hold spaces and parentheses; field 22 is the
    # start in clock ticks since boot: 123456 ticks at 100 per second = 1234.56 s.
    fields = ["S", *map(str, range(4, 22)), "123456", "999"]
    stat = "4242 (python -m (x) y) " + " ".join(fields)
    age = process_age_s(read_stat=lambda: stat, boot_clock=lambda: 1240.0, ticks_per_s=100)
    assert age == pytest.approx(5.44)


class Step:
    def __init__(self, seconds: float, clock: FakeClock):
        self.seconds, self.clock = seconds, clock

    def __call__(self) -> float:
        self.clock.advance(self.seconds)
        return 1.0


def test_the_paired_loop_closes_first_steps_warmup_and_rounds():
    clock = FakeClock()
    phases = PhaseClock(clock)
    run_paired(
        Step(0.5, clock),
        Step(0.25, clock),
        Step(0.125, clock),
        names=("inplace", "wholebatch", "concat"),
        warmup_steps=2,
        rounds=4,
        block_steps=3,
        clock=clock,
        phases=phases,
    )
    assert phases.seconds == {
        "first_steps": 0.875,
        "warmup": 2 * 0.875,
        "paired_rounds": 4 * 3 * 0.875,
    }


# -- the worker, on a fake backend -------------------------------------------------------------


class FakeBackend:
    """Each call advances the fake clock by a known number of seconds."""

    name = "keras3"

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.made: list[Step] = []

    def _spend(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def check_pairable(self, spec: Any, strategies: Any) -> None:
        pass

    def prepare_process(self, replicas: int, **options: Any) -> DeviceSetup:
        self._spend(3.0)
        return DeviceSetup(mode=DeviceMode.CPU_SIMULATION, has_gpus=False)

    def check_runnable(self, spec: Any, virtual_gpus: int) -> None:
        self._spend(0.5)

    def build_many(self, spec: Any, strategies: Any) -> tuple[Built, ...]:
        self._spend(1.5)
        return tuple(
            Built(
                model=SimpleNamespace(jit_compile=False),
                replica_devices=("CPU:1", "CPU:2"),
                weights_device="CPU:0",
            )
            for _ in strategies
        )

    def step_function(self, spec: Any, built: Built) -> Step:
        self._spend(0.25)
        self.made.append(Step(0.125, self.clock))
        return self.made[-1]

    def reset_memory_peaks(self) -> None:
        pass

    def memory_peaks(self, cell_devices: Any = None) -> tuple[None, str]:
        self._spend(0.0625)
        return None, "fake: no GPU"

    def environment(self, nvml: Any) -> dict[str, Any]:
        self._spend(0.0625)
        return {"tensorflow": "fake"}


def test_the_worker_records_a_paired_process_phase_by_phase(monkeypatch):
    clock = FakeClock()
    backend = FakeBackend(clock)
    monkeypatch.setattr(worker.backends, "get", lambda name: backend)
    monkeypatch.setattr(worker, "host_environment", lambda: {"host": "fake"})
    cell = dataclasses.replace(
        tiny_cnn_cell(),
        versus="wholebatch",
        also=("concat",),
        warmup_steps=1,
        timed_steps=0,
        rounds=2,
        block_steps=2,
    )
    phases = PhaseClock(clock, already=(phase.INTERPRETER, 2.0))
    payload = worker.run_cell(cell, phases=phases)
    paired = payload["paired"]
    # three strategies, steps of 0.125 s each
    assert paired["phases_s"] == {
        "interpreter_and_imports": 2.0,
        "tensorflow_and_devices": 3.5,
        "build_and_compile": 1.5,
        "step_functions": 0.75,
        "first_steps": 0.375,
        "warmup": 0.375,
        "paired_rounds": 2 * 2 * 0.375,
        "record": 0.125,
    }
    assert tuple(paired["phases_s"]) == phase.PAIRED_PHASES
    assert paired["step_function_s"] == [0.25, 0.25, 0.25]
    record = Record.from_payload(
        cell,
        0,
        {"status": "ok", **payload},
        RunContext("demo", "cpu", "run-1", {}),
        started_at="2026-01-01T00:00:00+00:00",
        wall_s=12.0,
    )
    assert record.paired is not None and record.paired.phases_s == paired["phases_s"]
    assert record.paired.step_function_s == (0.25, 0.25, 0.25)
    # the step functions (a tf.data iterator each) and the models outlive the record: freeing
    # them stalls for seconds, measuring nothing
    kept = {id(each) for each in worker._KEPT_UNTIL_EXIT}
    assert all(id(step) in kept for step in backend.made) and len(backend.made) == 3
    # the steps themselves are timed on the paired loop's own clock (real time here): one
    # warm-up step of each strategy
    assert record.paired.warmup_step_s is not None
    assert [len(steps) for steps in record.paired.warmup_step_s] == [1, 1, 1]
    # exit: the wall time beyond the phases' 10.125 s
    assert process_phases_s(record) == {**paired["phases_s"], "exit": 12.0 - 10.125}


# -- the record ----------------------------------------------------------------------------------


def test_a_paired_record_keeps_its_phases_warmup_and_step_functions():
    data = kway_record(0, np.random.default_rng(1))
    data["paired"].update(
        phases_s={"interpreter_and_imports": 1.0, "first_steps": 30.0, "record": 0.5},
        warmup_step_s=[[0.5, 0.25], [0.5, 0.25], []],
        step_function_s=[1.0, 1.5, 2.0],
    )
    record = Record.from_json(data)
    assert record.paired is not None
    assert record.paired.phases_s == {
        "interpreter_and_imports": 1.0,
        "first_steps": 30.0,
        "record": 0.5,
    }
    assert record.paired.warmup_step_s == ((0.5, 0.25), (0.5, 0.25), ())
    assert record.paired.step_function_s == (1.0, 1.5, 2.0)
    assert record.phases_s == record.paired.phases_s
    assert process_phases_s(record) == {**record.paired.phases_s, "exit": 60.0 - 31.5}
    assert Record.from_json(record.to_json()) == record


def test_records_older_than_phases_still_load():
    record = Record.from_json(paired_record(0, np.random.default_rng(1)))
    assert record.paired is not None
    assert record.paired.phases_s is None and record.paired.warmup_step_s is None
    assert record.paired.step_function_s is None
    assert record.phases_s is None and process_phases_s(record) is None


def test_an_isolated_record_without_the_interpreter_phase_has_no_exit():
    # The phases before the interpreter was measured start after it: the rest is not the exit.
    data = paired_record(0, np.random.default_rng(1))
    data["paired"]["phases_s"] = {"tensorflow_and_devices": 3.0, "paired_rounds": 20.0}
    record = Record.from_json(data)
    assert record.phases_s == {"tensorflow_and_devices": 3.0, "paired_rounds": 20.0}
    assert process_phases_s(record) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phases_s", {"warmup": -0.5}, r"paired\.phases_s: expected seconds >= 0, got -0\.5"),
        ("phases_s", {"warmup": "1"}, r"paired\.phases_s"),
        ("warmup_step_s", [[0.5]], r"paired\.warmup_step_s: expected 3 list\(s\), one per"),
        ("warmup_step_s", [[0.5], [0.0], []], r"paired\.warmup_step_s\[1\]\[0\]"),
        ("step_function_s", [1.0, 2.0], r"paired\.step_function_s: expected 3 number\(s\)"),
        ("step_function_s", [1.0, 2.0, -1.0], r"paired\.step_function_s: expected seconds >= 0"),
    ],
)
def test_bad_phases_are_refused_naming_the_field(field, value, message):
    data = kway_record(0, np.random.default_rng(1))
    data["paired"][field] = value
    with pytest.raises(RecordError, match=message):
        Record.from_json(data)


def _with_phases(repeat: int, phases_s: dict[str, float], wall_s: float) -> Record:
    data = kway_record(repeat, np.random.default_rng(repeat))
    data["paired"]["phases_s"] = phases_s
    data["wall_s"] = wall_s
    return Record.from_json(data)


def test_the_median_of_each_phase_over_processes():
    records = [
        _with_phases(0, {"interpreter_and_imports": 1.0, "first_steps": 30.0}, 40.0),
        _with_phases(1, {"interpreter_and_imports": 3.0, "first_steps": 20.0}, 30.0),
        _with_phases(2, {"interpreter_and_imports": 2.0, "first_steps": 40.0}, 44.0),
        # recorded before the process's age was: left out (its exit is unknown)
        _with_phases(3, {"first_steps": 99.0}, 99.0),
    ]
    processes, medians = median_phases_s(records)
    assert processes == 3
    # exits: 40 - 31 = 9, 30 - 23 = 7, 44 - 42 = 2
    assert medians == {
        "interpreter_and_imports": 2.0,
        "first_steps": 30.0,
        "exit": 7.0,
        "wall": 40.0,
    }


def test_the_plan_takes_a_paired_process_warmup_and_phases_as_recorded():
    data = kway_record(0, np.random.default_rng(1), rounds=2)  # steps of ~0.1 s
    cell_warmup = data["cell"]["warmup_steps"]
    estimated = plan.measured_cells([Record.from_json(data)])[data["cell_id"]]
    data["paired"]["warmup_step_s"] = [[2.0] * cell_warmup] * 3
    data["paired"]["phases_s"] = {"interpreter_and_imports": 1.5, "warmup": 6.0 * cell_warmup}
    measured = plan.measured_cells([Record.from_json(data)])[data["cell_id"]]
    assert measured.phases_s == {"interpreter_and_imports": 1.5, "warmup": 6.0 * cell_warmup}
    # the warm-up estimated at the rounds' medians (~0.3 s a step of all three) is replaced by
    # the 6 s a step of all three it took: the fixed cost is that much smaller
    medians = [0.1 * np.exp(np.log1p(p / 100)) for p in (0.0, 8.0, 3.0)]
    assert estimated.fixed_s - measured.fixed_s == pytest.approx(
        cell_warmup * (6.0 - sum(medians)), rel=0.01
    )


# -- the cuts --------------------------------------------------------------------------------------


def _main_with(tmp_path, monkeypatch, cell, *, timeline=None):
    """worker.main as its process runs it, run_cell faked; what it did at the end."""
    spec = {"cell": cell.to_dict(), "devices": {}}
    if timeline is not None:
        spec["timeline"] = timeline
    spec_path, out_path = tmp_path / "spec.json", tmp_path / "out.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    exits: list[tuple[int, bool]] = []
    monkeypatch.setattr(worker, "run_cell", lambda cell, **options: {"device_mode": "fake"})
    monkeypatch.setattr(worker, "timeline_cell", lambda cell, **options: {"profile": {}})
    monkeypatch.setattr(worker, "_exit_now", lambda code: exits.append((code, out_path.exists())))
    code = worker.main([str(spec_path), str(out_path)], exit_when_written=True)
    return code, exits, json.loads(out_path.read_text(encoding="utf-8"))


def test_a_measured_process_exits_the_moment_its_payload_is_written(tmp_path, monkeypatch):
    code, exits, out = _main_with(tmp_path, monkeypatch, tiny_cnn_cell())
    assert out == {"status": "ok", "device_mode": "fake"}
    assert code == 0 and exits == [(0, True)]  # after the payload, whole, was written


@pytest.mark.parametrize(
    ("cell", "timeline"),
    [
        (tiny_cnn_cell(strategy="multiworker", replicas=2, workers=2), None),
        (tiny_cnn_cell(), {"steps": 2, "logdir": "/tmp/x"}),
    ],
    ids=["multiworker", "timeline"],
)
def test_multiworker_and_timeline_processes_exit_as_ever(tmp_path, monkeypatch, cell, timeline):
    code, exits, out = _main_with(tmp_path, monkeypatch, cell, timeline=timeline)
    assert out["status"] == "ok" and code == 0 and exits == []


def test_tf_keras_version_is_read_without_importing_it(monkeypatch):
    from mgbench.backends import tf_base

    monkeypatch.delitem(sys.modules, "tf_keras", raising=False)
    monkeypatch.setattr(tf_base, "installed_version", lambda name: f"{name} 9.9")
    assert tf_base._tf_keras_version() == "tf-keras 9.9"
    assert "tf_keras" not in sys.modules
    # where it runs (the tf_keras backend), the module's own number, as before
    monkeypatch.setitem(sys.modules, "tf_keras", SimpleNamespace(__version__="2.21.0"))
    assert tf_base._tf_keras_version() == "2.21.0"

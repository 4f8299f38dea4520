"""Energy: the meter against a scripted NVML counter and a fake clock, the record's energy part,
and joules per image per cell. Known answers, no GPU."""

from __future__ import annotations

import json

import pytest
from data.make_small_results import record as small_record
from fakes import FakeClock, FakeNvml

from mgbench.analysis.cells import cell_results, energy_rows, process_joules_per_image
from mgbench.records.record import GpuEnergy, Record, RecordError
from mgbench.trackers.energy import COUNTER_UPDATE_PERIOD_S, NO_COUNTER_REASON, EnergyMeter


def metered(nvml, indices, seconds: float, **kwargs) -> EnergyMeter:
    clock = FakeClock()
    meter = EnergyMeter(nvml, indices, clock, **kwargs)
    meter.start()
    clock.advance(seconds)
    meter.stop()
    return meter


def test_joules_are_the_counter_difference_per_gpu():
    nvml = FakeNvml({0: {"energy": [10_000, 910_000]}, 1: {"energy": [5_000, 455_000]}}, pid=1)
    meter = metered(nvml, [0, 1], 3.0)
    assert meter.result() == {
        "energy": {
            "0": {"joules": 900.0, "window_s": 3.0, "short_window": False, "reason": None},
            "1": {"joules": 450.0, "window_s": 3.0, "short_window": False, "reason": None},
        },
        "energy_reason": None,
    }
    # each counter read exactly twice, at the start and at the end
    assert [c for c in nvml.calls if c[0] == "energy_mj"] == [("energy_mj", i) for i in (0, 1)] * 2


def test_a_window_shorter_than_the_counter_update_is_flagged():
    nvml = FakeNvml({0: {"energy": [10_000, 10_000]}}, pid=1)
    reading = metered(nvml, [0], COUNTER_UPDATE_PERIOD_S / 2).readings()[0]
    assert reading.joules == 0.0 and reading.short_window
    long_enough = metered(FakeNvml({0: {"energy": [0, 70_000]}}, 1), [0], 0.25).readings()[0]
    assert not long_enough.short_window and long_enough.joules == 70.0


def test_a_gpu_without_a_counter_gets_none_and_the_reason():
    nvml = FakeNvml({0: {"energy": [0, 1000]}, 1: {}}, pid=1)
    readings = metered(nvml, [0, 1], 1.0).readings()
    assert readings[0].joules == 1.0
    assert readings[1].joules is None and readings[1].reason == NO_COUNTER_REASON


def test_without_nvml_or_gpus_there_is_a_reason_not_a_crash():
    cpu = metered(None, [], 1.0, unavailable_reason="no GPU: CPU simulation")
    assert cpu.result() == {"energy": None, "energy_reason": "no GPU: CPU simulation"}
    none_visible = metered(FakeNvml({0: {}}, pid=1), [], 1.0)
    assert none_visible.result()["energy_reason"] == "no GPU visible to this process"


def test_nvml_errors_and_a_counter_going_backwards_are_reasons():
    class Broken(FakeNvml):
        def energy_mj(self, index):
            raise RuntimeError("GPU is lost")

    broken = metered(Broken({0: {}}, pid=1), [0], 1.0).readings()[0]
    assert broken.joules is None
    assert broken.reason == "NVML could not read the energy counter: RuntimeError: GPU is lost"
    backwards = metered(FakeNvml({0: {"energy": [900, 100]}}, pid=1), [0], 1.0).readings()[0]
    assert backwards.joules is None and "went backwards" in backwards.reason


def test_readings_need_start_and_stop():
    meter = EnergyMeter(None, [], FakeClock())
    with pytest.raises(RuntimeError, match=r"stop\(\) before start\(\)"):
        meter.stop()
    with pytest.raises(RuntimeError, match="known after start"):
        meter.readings()


# -- the record's energy part, and J/image ------------------------------------------------------


def with_energy(strategy: str, repeat: int, energy, reason=None, **timing) -> Record:
    import numpy as np

    data = small_record(strategy, repeat, np.random.default_rng(repeat))
    data["timing"].update(timing)
    data["energy"], data["energy_reason"] = energy, reason
    return Record.from_json(data)


def gpu(joules, window_s=2.0, short=False, reason=None) -> dict:
    return {"joules": joules, "window_s": window_s, "short_window": short, "reason": reason}


def test_energy_round_trips_through_json_and_old_records_lack_it():
    record = with_energy("inplace", 0, {"0": gpu(64.0), "1": gpu(None, reason="no counter")})
    assert record.energy == {
        "0": GpuEnergy(64.0, 2.0, False, None),
        "1": GpuEnergy(None, 2.0, False, "no counter"),
    }
    assert Record.from_json(json.loads(json.dumps(record.to_json()))) == record
    old = with_energy("inplace", 0, None)
    assert old.energy is None and old.energy_reason is None


@pytest.mark.parametrize(
    ("energy", "message"),
    [
        ({"0": gpu(-1.0)}, r"energy\.0\.joules: expected joules >= 0"),
        ({"0": {**gpu(1.0), "short_window": "yes"}}, r"energy\.0\.short_window: expected true"),
        ([1, 2], "energy: expected an object"),
    ],
)
def test_bad_energy_fields_are_named(energy, message):
    with pytest.raises(RecordError, match=message):
        with_energy("inplace", 0, energy)


def test_joules_per_image_sums_the_gpus_over_the_timed_images():
    # inplace: 2 replicas x 16 images x 10 timed steps = 320 images
    record = with_energy("inplace", 0, {"0": gpu(64.0), "1": gpu(32.0)})
    assert process_joules_per_image(record) == (pytest.approx(96.0 / 320), None)
    short = with_energy("inplace", 0, {"0": gpu(0.0, window_s=0.05, short=True)})
    value, reason = process_joules_per_image(short)
    assert value is None and "shorter than the energy counter's update period" in reason
    missing = with_energy("inplace", 0, {"0": gpu(64.0), "1": gpu(None, reason="no counter")})
    assert process_joules_per_image(missing) == (None, "GPU 1: no counter")
    cpu = with_energy("inplace", 0, None, "no GPU: CPU simulation")
    assert process_joules_per_image(cpu) == (None, "no GPU: CPU simulation")


def test_a_cells_joules_per_image_is_the_median_of_its_usable_processes():
    records = [
        with_energy("inplace", 0, {"0": gpu(32.0)}),
        with_energy("inplace", 1, {"0": gpu(64.0)}),
        with_energy("inplace", 2, {"0": gpu(96.0)}),
        with_energy("inplace", 3, {"0": gpu(0.0, window_s=0.01, short=True)}),
    ]
    (row,) = energy_rows(cell_results(records))
    assert row.joules_per_image == pytest.approx(64.0 / 320)
    assert row.processes == 3
    assert len(row.reasons) == 1 and "update period" in row.reasons[0]

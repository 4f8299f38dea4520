"""The typed record and its JSON Lines store: one constructor, exact round trips, published files
load, append-only, fsynced, torn last line tolerated, versions and types checked."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from data.make_paired_results import kway_record, paired_record
from fakes import tiny_cnn_cell
from published import published

from mgbench.config.suite import Cell
from mgbench.records import environment, store
from mgbench.records.record import (
    SCHEMA_VERSION,
    Environment,
    Memory,
    NvmlPeak,
    Placement,
    Record,
    RecordError,
    RunContext,
    Timing,
    round_log_ratio,
)

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = published("*/*/results.jsonl")
SMALL_RESULTS = Path(__file__).resolve().parent / "data" / "small_results.jsonl"

CELL = tiny_cnn_cell(placement=True)
CONTEXT = RunContext("demo", "cpu", "run-1", {"host": "box", "cpu": "Some CPU", "cpu_count": 2})


def ok_payload() -> dict:
    """Every key the worker's ``run_cell`` returns, with ``status`` added by its ``main``."""
    return {
        "status": "ok",
        "device_mode": "cpu-simulation",
        "jit_compile": False,
        "replica_devices": ["CPU:1", "CPU:2"],
        "weights_device": "CPU:0",
        "timing": {
            "first_step_s": 1.5,
            "warmup_step_s": [0.25],
            "step_s": [0.125, 0.25],
            "timed_wall_s": 0.5,
            "images_per_step": 32,
            "images_per_s": 128.0,
            "process_to_first_timed_step_s": 3.0,
            "first_loss": 2.5,
            "last_loss": 1.25,
            "nonfinite_losses": 0,
            "phases_s": {"fit": 2.0, "build_and_compile": 0.5},
        },
        "memory": {
            "tf_peak_bytes": {"GPU:0": 700, "GPU:1": 640},
            "tf_peak_reason": None,
            "nvml": {
                "0": {
                    "name": "Fake GPU",
                    "total_bytes": 8000,
                    "process_peak_bytes": 900,
                    "device_used_peak_bytes": 1000,
                    "process_reason": None,
                }
            },
            "nvml_reason": None,
            "host_rss_peak_bytes": 2**30,
            "sample_period_s": 0.02,
            "samples": 7,
            "sampler_error": None,
        },
        "placement": {
            "default_device": "CPU:0",
            "replica_devices": ["CPU:1", "CPU:2"],
            "variable_devices": ["CPU:0"],
            "slice_devices": ["CPU:0"],
            "merge_devices": ["CPU:0"],
            "grad_aggregate_devices": ["CPU:0"],
            "update_devices": ["CPU:0"],
            "ops_per_device": {"CPU:1": {"forward": 16}},
            "unplaced_ops": {"loss": 12},
        },
        "placement_reason": None,
        "backend": "keras3",
        "environment": {"tensorflow": "2.21.0", "keras": "3.15.1", "gpus": []},
    }


def make(payload: dict | None = None, *, repeat: int = 0, cell: Cell = CELL) -> Record:
    return Record.from_payload(
        cell,
        repeat,
        payload if payload is not None else ok_payload(),
        CONTEXT,
        started_at="2026-01-01T00:00:00+00:00",
        wall_s=4.0,
    )


def failed(cell_id_model: str, repeat: int) -> Record:
    cell = dataclasses.replace(CELL, model=cell_id_model)
    return make({"status": "failed", "reason": "boom", "error_tail": "x"}, repeat=repeat, cell=cell)


def test_the_record_is_built_from_cell_payload_and_context_field_by_field():
    record = make()
    assert record.cell_id == "TinyCNN-32px-b16-inplace-x2" and record.repeat == 0
    assert record.status == "ok" and record.ok and record.cell == CELL
    assert record.reason is None and record.error_tail is None
    assert (record.suite, record.profile, record.run_id) == ("demo", "cpu", "run-1")
    assert record.started_at == "2026-01-01T00:00:00+00:00" and record.wall_s == 4.0
    assert record.backend == "keras3" and record.device_mode == "cpu-simulation"
    assert record.jit_compile is False and record.weights_device == "CPU:0"
    assert record.replica_devices == ("CPU:1", "CPU:2")
    assert record.timing == Timing(
        first_step_s=1.5,
        warmup_step_s=(0.25,),
        step_s=(0.125, 0.25),
        timed_wall_s=0.5,
        images_per_step=32,
        images_per_s=128.0,
        process_to_first_timed_step_s=3.0,
        phases_s={"fit": 2.0, "build_and_compile": 0.5},
        first_loss=2.5,
        last_loss=1.25,
        nonfinite_losses=0,
    )
    assert record.memory == Memory(
        tf_peak_bytes={"GPU:0": 700, "GPU:1": 640},
        tf_peak_reason=None,
        nvml={"0": NvmlPeak("Fake GPU", 8000, 900, 1000)},
        nvml_reason=None,
        host_rss_peak_bytes=2**30,
        sample_period_s=0.02,
        samples=7,
        sampler_error=None,
    )
    assert record.placement is not None and record.placement.unplaced_total == 12
    assert record.placement.slice_devices == ("CPU:0",)
    assert record.placement.ops_per_device == {"CPU:1": {"forward": 16}}
    # The launcher's host part and the worker's TF part make one environment.
    env = record.environment
    assert (env.host, env.cpu, env.cpu_count, env.tensorflow) == ("box", "Some CPU", 2, "2.21.0")
    assert env.gpus == () and env.driver is None


def test_to_json_keeps_every_payload_key_and_from_json_restores_the_record():
    record = make()
    data = record.to_json()
    payload = ok_payload()
    for key, value in payload.items():
        if key != "environment":
            assert data[key] == value, key
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["cell"] == CELL.to_dict()
    assert data["environment"]["host"] == "box" and data["environment"]["keras"] == "3.15.1"
    assert Record.from_json(json.loads(json.dumps(data))) == record


def assert_survives(written, published, where):
    """``published`` is in ``written``; fields added since it was written may be there, null."""
    if isinstance(published, dict):
        assert isinstance(written, dict), where
        for key, value in published.items():
            assert_survives(written[key], value, f"{where}.{key}")
        for key in written.keys() - published.keys():
            assert written[key] is None, f"{where}.{key}: a later field, null in older files"
    else:
        assert written == published, where


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.parent.name)
def test_published_results_load_and_round_trip(path):
    lines = path.read_text().splitlines()
    records = store.read_records(path)
    assert len(records) == len(lines) > 0
    for line, record in zip(lines, records, strict=True):
        data = json.loads(line)
        written = record.to_json()
        for key in data:  # every published field survives, nested ones too
            if key not in ("memory", "environment"):
                assert_survives(written[key], data[key], key)
        for key in data["memory"] or {}:  # null for a skipped cell
            assert written["memory"][key] == data["memory"][key], key
        assert Record.from_json(written) == record
    for record in records:
        if record.ok:  # an ok record holds its measurement: isolated timing or paired rounds
            assert (record.timing is not None) != (record.paired is not None)
            assert record.cell.paired == (record.paired is not None)
    first = records[0]
    assert first.environment.tensorflow == "2.21.0" and first.cell.backend in ("keras3", "tf_keras")


def test_an_older_record_without_later_fields_loads_with_none():
    record = store.read_records(SMALL_RESULTS)[0]
    assert record.cell.backend == "keras3"  # the cell's default before the backend field
    assert record.backend is None and record.started_at is None
    assert record.timing is not None and record.timing.phases_s is None
    assert record.memory is not None and record.memory.samples is None
    assert record.environment.platform is None and record.environment.host == "synthetic-host"


def test_round_trip_through_the_store_keeps_records_field_by_field(tmp_path):
    path = tmp_path / "results.jsonl"
    first, second = make(), make(repeat=1)
    store.append_record(path, first)
    store.append_record(path, second)
    assert store.read_records(path) == [first, second]
    assert store.finished_keys(store.read_records(path)) == {
        ("TinyCNN-32px-b16-inplace-x2", 0),
        ("TinyCNN-32px-b16-inplace-x2", 1),
    }


def test_a_failed_record_has_no_measurement():
    record = failed("TinyCNN", 0)
    assert record.status == "failed" and not record.ok
    assert record.reason == "boom" and record.error_tail == "x"
    assert record.timing is None and record.memory is None and record.placement is None
    assert record.environment.host == "box" and record.environment.tensorflow is None


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "results.jsonl"
    store.append_record(path, failed("a", 0))
    with open(path, "a") as handle:
        handle.write('{"schema_version": 1, "cell_id": "b", "rep')
    assert [r.cell.model for r in store.read_records(path)] == ["a"]


def test_a_broken_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("not json\n" + json.dumps(make().to_json()) + "\n")
    with pytest.raises(store.ResultsError, match=r"results.jsonl:1: not a JSON record"):
        store.read_records(path)


def test_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({**make().to_json(), "schema_version": 99}) + "\n")
    with pytest.raises(store.ResultsError, match="schema version 99"):
        store.read_records(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["timing"].update(step_s="fast"), "timing.step_s: expected a list"),
        (lambda d: d["timing"].pop("timed_wall_s"), "timing.timed_wall_s: missing"),
        (lambda d: d["cell"].update(replicas="2"), "cell.replicas: expected int"),
        (lambda d: d["cell"].pop("model"), "cell: "),
        (lambda d: d.update(repeat=True), "repeat: expected an integer"),
        (lambda d: d["memory"].update(tf_peak_bytes=[1]), "memory.tf_peak_bytes: expected an"),
        (
            lambda d: d.update(status="ok", timing=None),
            "timing: missing, and an ok record needs it",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_naming_line_and_field(tmp_path, change, message):
    data = make().to_json()
    change(data)
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(data) + "\n" + json.dumps(make().to_json()) + "\n")
    with pytest.raises(store.ResultsError, match=rf"results.jsonl:1: {message}"):
        store.read_records(path)


@pytest.mark.parametrize("line", ["[]", "3", '"text"'])
def test_a_line_that_is_not_an_object_is_refused(tmp_path, line):
    path = tmp_path / "results.jsonl"
    path.write_text(line + "\n{}\n")
    with pytest.raises(store.ResultsError, match=r"results\.jsonl:1: record: expected an object"):
        store.read_records(path)


def test_bytes_that_are_not_text_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\xff\xfe junk")
    with pytest.raises(store.ResultsError, match=r"results\.jsonl: not a text file"):
        store.read_records(path)


def test_nan_is_never_written(tmp_path):
    payload = ok_payload()
    payload["timing"]["images_per_s"] = float("nan")
    with pytest.raises(ValueError):
        store.append_record(tmp_path / "r.jsonl", make(payload))


def test_unknown_status_is_refused():
    with pytest.raises(RecordError, match="unknown status 'meh'"):
        make({"status": "meh"})


def test_host_environment_names_the_machine_and_commit():
    env = environment.host_environment()
    assert env["host"] and env["cpu"] and env["cpu_count"] >= 1
    assert env["memory_bytes"] > 0
    assert env["mgbench"] == "0.1.0"
    assert set(env) >= {"git_commit", "git_dirty", "python", "platform"}
    assert Environment.from_json(env).host == env["host"]


def test_appending_after_a_torn_line_keeps_the_file_readable(tmp_path):
    path = tmp_path / "results.jsonl"
    store.append_record(path, failed("a", 0))
    with open(path, "a") as handle:
        handle.write('{"schema_version": 1, "cell_id": "b", "rep')  # a crash mid-write
    store.append_record(path, failed("b", 0))
    store.append_record(path, failed("c", 0))
    assert [r.cell.model for r in store.read_records(path)] == ["a", "b", "c"]


def test_placement_summary_of_a_published_record_is_typed():
    record = next(
        r for path in PUBLISHED for r in store.read_records(path) if r.placement is not None
    )
    assert isinstance(record.placement, Placement)
    assert record.placement.default_device and isinstance(record.placement.slice_devices, tuple)


# -- paired records of k > 2 strategies ----------------------------------------------------------


def three_way() -> dict:
    return kway_record(0, np.random.default_rng(3), rounds=4)


def test_a_three_way_record_reads_back_equal_through_the_store(tmp_path):
    record = Record.from_json(three_way())
    assert record.paired.strategies == ("inplace", "wholebatch", "concat")
    assert record.paired.first_steps_s == (2.0, 2.1, 2.2)
    assert ["".join(r.labels_in_order) for r in record.paired.rounds] == [
        "abc",
        "cba",
        "bca",
        "acb",
    ]
    path = tmp_path / "results.jsonl"
    store.append_record(path, record)
    (read_back,) = store.read_records(path)
    assert read_back == record
    assert read_back.to_json()["paired"] == three_way()["paired"]


def test_a_paired_record_of_two_writes_exactly_the_fields_it_wrote_before():
    data = paired_record(0, np.random.default_rng(1), rounds=2)
    written = Record.from_json(data).to_json()
    assert written["paired"] == data["paired"]
    assert set(written["paired"]) == {"a", "b", "block_steps", "first_step_s", "rounds"}
    assert set(written["paired"]["rounds"][0]) == {"first", "a_step_s", "b_step_s"}
    assert "also" not in written["cell"]


def test_log_ratios_give_any_two_strategies_rounds_either_way_round():
    paired = Record.from_json(three_way()).paired
    for x, y in itertools.permutations(paired.strategies, 2):
        i, j = paired.strategies.index(x), paired.strategies.index(y)
        expected = [
            math.log(statistics.median(r.blocks[j]) / statistics.median(r.blocks[i]))
            for r in paired.rounds
        ]
        assert paired.log_ratios(x, y) == pytest.approx(expected, rel=1e-12)
        assert paired.log_ratios(y, x) == pytest.approx([-v for v in expected], rel=1e-12)
    assert paired.log_ratios("inplace", "wholebatch") == [
        round_log_ratio(r.a_step_s, r.b_step_s) for r in paired.rounds
    ]
    with pytest.raises(ValueError, match="'mirrored': this process holds inplace, wholebatch"):
        paired.log_ratios("inplace", "mirrored")
    with pytest.raises(ValueError, match="'concat' against 'concat'"):
        paired.log_ratios("concat", "concat")


def test_an_aa_record_gives_its_a_against_its_b():
    data = paired_record(0, np.random.default_rng(2), rounds=3, versus="inplace")
    paired = Record.from_json(data).paired
    assert paired.log_ratios("inplace", "inplace") == [
        round_log_ratio(r.a_step_s, r.b_step_s) for r in paired.rounds
    ]


def _round(data, index, **change):
    data["paired"]["rounds"][index].update(change)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["paired"]["rounds"][0].pop("others_step_s"),
            r"paired.rounds\[0\].others_step_s: missing",
        ),
        (
            lambda d: _round(d, 0, others_step_s=[]),
            r"paired.rounds\[0\].others_step_s: expected 1 block\(s\), one per paired.others",
        ),
        (
            lambda d: _round(d, 0, others_step_s=[[0.1, "x"]]),
            r"paired.rounds\[0\].others_step_s\[0\]\[1\]: expected a finite number, got 'x'",
        ),
        (
            lambda d: _round(d, 2, order=["b", "c", "c"]),
            r"paired.rounds\[2\].order: expected an order of \['a', 'b', 'c'\]",
        ),
        (
            lambda d: _round(d, 1, first="a"),
            r"paired.rounds\[1\].first: expected the order's first, 'c', got 'a'",
        ),
        (
            lambda d: d["paired"].update(others_first_step_s=[]),
            r"paired.others_first_step_s: expected 1 number\(s\), one per paired.others",
        ),
        (
            lambda d: d["paired"].update(others=["inplace"]),
            r"paired.others: expected strategies other than a, b and each other",
        ),
        (
            lambda d: d["paired"].update(others=["mirrored"]),
            r"paired.others: the process holds inplace, wholebatch, mirrored, its cell inplace, "
            r"wholebatch, concat",
        ),
        (lambda d: d["cell"].update(also="concat"), r"cell.also: expected a list of strings"),
    ],
)
def test_a_malformed_three_way_record_is_refused_naming_the_field(change, message):
    data = three_way()
    change(data)
    with pytest.raises(RecordError, match=message):
        Record.from_json(data)


def test_a_round_of_two_with_a_field_of_more_is_refused():
    data = paired_record(0, np.random.default_rng(1), rounds=2)
    data["paired"]["rounds"][1]["order"] = ["b", "a"]
    with pytest.raises(RecordError, match=r"paired.rounds\[1\].order: only a process of more"):
        Record.from_json(data)

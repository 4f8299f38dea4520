"""The JSON Lines store: append-only, fsynced, torn last line tolerated, versions checked."""

from __future__ import annotations

import json

import pytest

from mgbench.records import store


def record(cell_id: str, repeat: int) -> dict:
    return store.base_record({"model": "TinyCNN"}, cell_id, repeat, "ok")


def test_round_trip_keeps_records_field_by_field(tmp_path):
    path = tmp_path / "results.jsonl"
    first, second = record("a", 0), record("b", 1)
    second["timing"] = {"step_s": [0.25, 0.5]}
    store.append_record(path, first)
    store.append_record(path, second)
    assert store.read_records(path) == [first, second]
    assert store.finished_keys(store.read_records(path)) == {("a", 0), ("b", 1)}


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "results.jsonl"
    store.append_record(path, record("a", 0))
    with open(path, "a") as handle:
        handle.write('{"schema_version": 1, "cell_id": "b", "rep')
    assert [r["cell_id"] for r in store.read_records(path)] == ["a"]


def test_a_broken_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("not json\n" + json.dumps(record("a", 0)) + "\n")
    with pytest.raises(store.ResultsError, match=r"results.jsonl:1: not a JSON record"):
        store.read_records(path)


def test_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({**record("a", 0), "schema_version": 99}) + "\n")
    with pytest.raises(store.ResultsError, match="schema version 99"):
        store.read_records(path)


def test_nan_is_never_written(tmp_path):
    bad = record("a", 0)
    bad["timing"] = {"images_per_s": float("nan")}
    with pytest.raises(ValueError):
        store.append_record(tmp_path / "r.jsonl", bad)


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown status 'meh'"):
        store.base_record({}, "a", 0, "meh")


def test_host_environment_names_the_machine_and_commit():
    env = store.host_environment()
    assert env["host"] and env["cpu"] and env["cpu_count"] >= 1
    assert env["memory_bytes"] > 0
    assert env["mgbench"] == "0.1.0"
    assert set(env) >= {"git_commit", "git_dirty", "python", "platform"}


def test_appending_after_a_torn_line_keeps_the_file_readable(tmp_path):
    path = tmp_path / "results.jsonl"
    store.append_record(path, record("a", 0))
    with open(path, "a") as handle:
        handle.write('{"schema_version": 1, "cell_id": "b", "rep')  # a crash mid-write
    store.append_record(path, record("b", 0))
    store.append_record(path, record("c", 0))
    assert [r["cell_id"] for r in store.read_records(path)] == ["a", "b", "c"]

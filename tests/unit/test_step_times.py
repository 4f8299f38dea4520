"""Step times that are 0, negative, nan or inf are refused at the record, naming the cell and
the field, so that no estimator ever sees one; a run keeps such a process as a failed record."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from data.make_paired_results import paired_record
from data.make_small_results import record as small_record
from test_launcher import SUITE, FakeSpawner, ok_payload

from mgbench.config.suite import parse_suite
from mgbench.execution.launcher import run_suite
from mgbench.records import store
from mgbench.records.record import Record, RecordError, RunContext

BROKEN = [0.0, -0.1, math.nan, math.inf]


def _context():
    return RunContext(suite="fake", profile="cpu", run_id="r", host_environment={"host": "h"})


@pytest.mark.parametrize("bad", BROKEN)
def test_a_broken_step_time_in_a_payload_is_refused_naming_the_cell_and_the_field(bad):
    (cell, *_) = parse_suite(SUITE, "fake.toml").cells()
    payload = ok_payload(cell)
    payload["timing"]["step_s"] = [0.1, bad]
    with pytest.raises(RecordError) as raised:
        Record.from_payload(cell, 1, payload, _context(), started_at="t", wall_s=1.0)
    message = str(raised.value)
    assert message.startswith(f"{cell.cell_id} repeat 1: timing.step_s[1]: expected ")
    assert ("a finite number" if not math.isfinite(bad) else "a step time > 0 s") in message


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (("timing", "first_step_s"), r"timing.first_step_s: expected a step time > 0 s, got 0"),
        (("timing", "warmup_step_s"), r"timing.warmup_step_s\[0\]: expected a step time > 0 s"),
    ],
)
def test_every_step_time_of_a_timing_is_checked(where, message):
    data = small_record("inplace", 0, np.random.default_rng(0))
    data[where[0]][where[1]] = 0 if where[1] == "first_step_s" else [-1.0]
    with pytest.raises(RecordError, match=message):
        Record.from_json(data)


def test_an_empty_timed_block_is_refused_and_an_empty_warm_up_is_not():
    data = small_record("inplace", 0, np.random.default_rng(0))
    data["timing"]["warmup_step_s"] = []
    assert Record.from_json(data).timing.warmup_step_s == ()
    data["timing"]["step_s"] = []
    with pytest.raises(RecordError, match=r"timing.step_s: no step times"):
        Record.from_json(data)


@pytest.mark.parametrize("bad", BROKEN)
def test_a_broken_step_in_a_paired_block_is_refused_before_any_log_ratio(bad):
    data = paired_record(0, np.random.default_rng(0))
    rounds = data["paired"]["rounds"]
    rounds[1]["b_step_s"] = [bad, *rounds[1]["b_step_s"][1:]]
    with pytest.raises(RecordError, match=r"paired.rounds\[1\].b_step_s\[0\]: expected"):
        Record.from_json(data)
    first = copy.deepcopy(paired_record(0, np.random.default_rng(0)))
    first["paired"]["first_step_s"] = [bad, 1.0]
    with pytest.raises(RecordError, match=r"paired.first_step_s\[0\]: expected"):
        Record.from_json(first)


def test_a_run_keeps_a_process_with_a_broken_step_as_a_failure_and_goes_on(tmp_path):
    suite = parse_suite(SUITE, "fake.toml")
    (inplace_cell,) = [c for c in suite.cells() if c.strategy == "inplace"]
    broken = ok_payload(inplace_cell)
    broken["timing"]["step_s"] = [0.1, math.nan]
    outcome = run_suite(
        suite, tmp_path / "run", spawn=FakeSpawner({"inplace": broken}), emit=lambda _: None
    )
    by_strategy = {}
    for r in outcome.records:
        by_strategy.setdefault(r.cell.strategy, []).append(r)
    assert [r.status for r in by_strategy["inplace"]] == ["failed", "failed"]
    assert all(r.ok for s in ("single", "concat") for r in by_strategy[s])
    reason = by_strategy["inplace"][0].reason
    assert reason == (
        f"invalid worker output: {inplace_cell.cell_id} repeat 0: timing.step_s[1]: "
        "expected a finite number, got nan"
    )
    assert list(outcome.records) == store.read_records(outcome.results_path)


def test_a_stored_record_with_an_infinite_step_is_refused_naming_its_line(tmp_path):
    data = small_record("inplace", 0, np.random.default_rng(0))
    data["timing"]["step_s"][3] = math.inf
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    with pytest.raises(store.ResultsError, match=r"results.jsonl:1: timing.step_s\[3\]: expected"):
        store.read_run(path)

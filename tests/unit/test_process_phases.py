"""benchmarks/process_phases.py's table and benchmarks/seeded_steps.py's comparison, on known
records and losses."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from data.make_paired_results import kway_record

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"benchmarks/{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


process_phases = _load("process_phases")
seeded_steps = _load("seeded_steps")


def _folder(path: Path, processes: list[tuple[dict[str, float], float]]) -> Path:
    path.mkdir()
    with open(path / "results.jsonl", "w", encoding="utf-8") as handle:
        for repeat, (phases, wall) in enumerate(processes):
            data = kway_record(repeat, np.random.default_rng(repeat))
            data["paired"]["phases_s"] = phases
            data["wall_s"] = wall
            handle.write(json.dumps(data) + "\n")
    return path


def test_the_table_gives_each_phase_median_before_and_after(tmp_path):
    before = _folder(
        tmp_path / "before",
        [
            ({"interpreter_and_imports": 0.5, "step_functions": 3.0}, 10.0),
            ({"interpreter_and_imports": 0.25, "step_functions": 2.0}, 9.0),
            ({"interpreter_and_imports": 0.75, "step_functions": 4.0}, 12.0),
        ],
    )
    after = _folder(
        tmp_path / "after",
        [
            ({"interpreter_and_imports": 0.5, "step_functions": 0.5}, 1.5),
            ({"interpreter_and_imports": 0.5, "step_functions": 1.5}, 2.0),
        ],
    )
    text = process_phases.table([before], [after])
    assert "(before 3 process(es), after 2 process(es))" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}

    # medians: before 0.5 and 3.0 (exits 6.5, 6.75, 7.25), after 0.5 and 1.0 (exits 0.5, 0.0)
    def cells(name):
        return [c.strip() for c in rows[name].split("|")[2:5]]

    assert cells("interpreter_and_imports") == ["0.50", "0.50", "+0.00"]
    assert cells("step_functions") == ["3.00", "1.00", "-2.00"]
    assert cells("exit") == ["6.75", "0.25", "-6.50"]
    assert cells("wall") == ["10.00", "1.75", "-8.25"]
    # in the order the phases run (the store sorts a record's keys), then the strategies' steps
    assert list(rows)[1:5] == ["interpreter_and_imports", "step_functions", "exit", "wall"]
    assert list(rows)[5:8] == [
        "(first step, inplace)",
        "(first step, wholebatch)",
        "(first step, concat)",
    ]


def test_seeded_losses_compare_bit_for_bit():
    before = {"inplace": {"losses": ["0x1.8p+1", "0x1.4p+1"], "times": [9.0, 0.1]}}
    same = {"inplace": {"losses": ["0x1.8p+1", "0x1.4p+1"], "times": [7.0, 0.1]}}
    other = {"inplace": {"losses": ["0x1.8p+1", "0x1.4000000000001p+1"], "times": [7.0, 0.1]}}
    assert seeded_steps.compare(before, same)[0] is True
    equal, lines = seeded_steps.compare(before, other)
    assert equal is False and "DIFFER" in lines[0]

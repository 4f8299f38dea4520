"""Gates: pass on two samples of one distribution, fail on injected slowdowns and memory growth;
the pytest-benchmark export is read by pytest-benchmark itself."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from data.make_small_results import record

from mgbench.analysis import gates
from mgbench.analysis.cells import CellKey, cell_results
from mgbench.analysis.comparisons import run_changes, strategy_ratios
from mgbench.commands.export import export_run
from mgbench.commands.gate import gate_command
from mgbench.present import export
from mgbench.records import store
from mgbench.records.record import Record

MIB = 2**20


def run_records(
    seed: int, *, slow: dict[str, float] | None = None, grow: float = 1.0, processes: int = 5
):
    """Synthetic records (see tests/data); ``slow`` scales a strategy's step times."""
    rng = np.random.default_rng(seed)
    out = []
    for repeat in range(processes):
        for strategy in ("single", "inplace", "concat", "mirrored"):
            r = record(strategy, repeat, rng)
            factor = (slow or {}).get(strategy, 1.0)
            timing = r["timing"]
            timing["step_s"] = [s * factor for s in timing["step_s"]]
            timing["timed_wall_s"] *= factor
            timing["images_per_s"] /= factor
            r["memory"]["tf_peak_bytes"] = {
                d: int(v * grow) for d, v in r["memory"]["tf_peak_bytes"].items()
            }
            out.append(Record.from_json(r))
    return out


def test_two_samples_of_one_distribution_pass():
    lines = gates.gate_runs(run_records(1), run_records(2))
    assert lines and all(line.passed for line in lines)
    assert {line.subject for line in lines} == {
        "TinyCNN-32px-b16-single-x1",
        "TinyCNN-32px-b16-inplace-x2",
        "TinyCNN-32px-b16-concat-x2",
        "TinyCNN-32px-b16-mirrored-x2",
    }


def test_an_injected_20_percent_slowdown_fails():
    # 4 cells at alpha 0.01: Holm asks p < 0.0025 of the smallest, which 6 a side can reach.
    lines = gates.gate_runs(
        run_records(1, processes=6), run_records(2, slow={"concat": 1.25}, processes=6)
    )
    failed = [line for line in lines if not line.passed]
    assert [line.subject for line in failed] == ["TinyCNN-32px-b16-concat-x2"]
    assert failed[0].decision is gates.Decision.FAIL
    assert "images/s -20." in failed[0].reason
    assert "Holm-adjusted p=0.00866 over 4 cells" in failed[0].reason
    assert "significantly slower (p < 0.01 across the cells) by more than 5%" in failed[0].reason


def test_a_slowdown_significant_alone_but_not_across_the_cells_is_inconclusive():
    # 5 a side: U p >= 2/252 = 0.0079 < 0.01 alone, but Holm over 4 cells makes it 0.032.
    lines = gates.gate_runs(run_records(1), run_records(2, slow={"concat": 1.25}))
    (line,) = [x for x in lines if not x.passed]
    assert line.decision is gates.Decision.INCONCLUSIVE
    assert "significant alone, not across the 4 cells gated" in line.reason
    assert "6 processes a side can reach the adjusted level" in line.reason


def test_an_injected_memory_growth_fails():
    lines = gates.gate_runs(run_records(1), run_records(2, grow=1.10))
    failed = [line for line in lines if not line.passed]
    assert failed and all("TF peak GPU:" in line.reason for line in failed)
    text = " ".join(f.reason for f in failed)
    assert "TF peak GPU:0 (median) 700.0 -> 770.0 MiB (+10.0%): grew more than 5%" in text
    assert all(line.passed for line in lines if "images/s" in line.reason)


def test_ratio_gate_inside_one_run():
    records = run_records(1)  # inplace is ~3% faster than concat in the synthetic data
    assert all(line.passed for line in gates.gate_ratio(records, "inplace", "concat"))
    slow = run_records(1, slow={"inplace": 1.3})
    (line,) = gates.gate_ratio(slow, "inplace", "concat", minimum=0.97)
    assert not line.passed
    assert line.subject == "TinyCNN-32px-b16-x2 inplace/concat"
    assert "significantly slower" in line.reason and "unpaired ratio 0.79" in line.reason
    with pytest.raises(ValueError, match="no cell pairs inplace/horovod"):
        gates.gate_ratio(records, "inplace", "horovod")


def write_run(folder, records):
    folder.mkdir()
    for r in records:
        store.append_record(folder / "results.jsonl", r)
    return folder


def test_gate_command_exit_codes(tmp_path):
    base = write_run(tmp_path / "base", run_records(1, processes=6))
    same = write_run(tmp_path / "same", run_records(2, processes=6))
    slow = write_run(tmp_path / "slow", run_records(2, slow={"inplace": 1.25}, processes=6))
    text, code = gate_command(
        base,
        same,
        ratio=None,
        minimum=0.97,
        max_slowdown_pct=5,
        max_memory_growth_pct=5,
        alpha=0.01,
    )
    assert code == 0 and text.endswith("all checks passed")
    text, code = gate_command(
        base,
        slow,
        ratio=None,
        minimum=0.97,
        max_slowdown_pct=5,
        max_memory_growth_pct=5,
        alpha=0.01,
    )
    failing = [line for line in text.splitlines() if line.startswith("FAIL ")]
    assert code == 1 and len(failing) == 1
    assert "TinyCNN-32px-b16-inplace-x2: images/s" in failing[0]
    bad = subprocess.run(
        [sys.executable, "-m", "mgbench.cli", "gate", str(base), "--ratio", "inplace"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2 and "--ratio expects A/B" in bad.stderr


def test_pytest_benchmark_compare_reads_the_export(tmp_path):
    run = write_run(tmp_path / "run", run_records(1))
    path = export_run(run, fmt="pytest-benchmark", output=tmp_path / "export.json")
    document = json.loads(path.read_text())
    bench = {b["name"]: b for b in document["benchmarks"]}
    inplace = bench["TinyCNN-32px-b16-inplace-x2"]
    assert inplace["stats"]["rounds"] == 50 and len(inplace["stats"]["data"]) == 50
    assert inplace["stats"]["median"] == pytest.approx(float(np.median(inplace["stats"]["data"])))
    assert inplace["extra_info"]["strategy"] == "inplace"
    assert document["machine_info"]["node"] == "synthetic-host"
    result = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for name in bench:
        assert name in result.stdout
    assert "Failed to load" not in result.stderr


def test_export_refuses_mixed_machines():
    records = run_records(1)
    elsewhere = dataclasses.replace(records[0].environment, host="elsewhere")
    records[0] = dataclasses.replace(records[0], environment=elsewhere)
    with pytest.raises(ValueError, match="different machines"):
        export.to_pytest_benchmark(records)


def test_export_needs_a_success(tmp_path):
    failed = [dataclasses.replace(r, status="failed") for r in run_records(1)]
    with pytest.raises(ValueError, match="no successful cell runs"):
        export.to_pytest_benchmark(failed)


def test_a_new_run_whose_cells_failed_or_vanished_fails_the_gate():
    base = run_records(1)
    new = [
        dataclasses.replace(r, status="failed") if r.cell.strategy == "inplace" else r
        for r in run_records(2)
        if r.cell.strategy != "mirrored"
    ]
    failed = {line.subject: line.reason for line in gates.gate_runs(base, new) if not line.passed}
    assert failed == {
        "TinyCNN-32px-b16-mirrored-x2": "in the baseline but missing from the new run",
        "TinyCNN-32px-b16-inplace-x2": "no successful run in the new run (failed)",
    }


def test_a_ratio_without_a_success_on_one_side_fails():
    records = [
        dataclasses.replace(r, status="failed") if r.cell.strategy == "concat" else r
        for r in run_records(1)
    ]
    (line,) = gates.gate_ratio(records, "inplace", "concat")
    assert not line.passed and line.reason == "a strategy has no successful run"


def test_run_changes_are_numbers_not_text():
    before = cell_results(run_records(1))
    after = cell_results(run_records(2, slow={"concat": 1.25}))
    changes = {change.cell_id: change for change in run_changes(before, after)}
    concat = changes["TinyCNN-32px-b16-concat-x2"]
    assert concat.comparison is not None
    assert concat.comparison.change_pct == pytest.approx(-20, abs=1.5)
    assert concat.comparison.ci_pct[1] < 0 and concat.comparison.significant
    assert concat.before is not None and concat.after is not None
    assert concat.after.images_per_s < concat.before.images_per_s
    (ratio,) = strategy_ratios(after, "inplace", "concat")
    assert ratio.key == CellKey("TinyCNN", 32, 16, 2, "keras3")
    assert ratio.key.label == "TinyCNN-32px-b16-x2"


def gate(base, new, **options):
    settings = {"ratio": None, "minimum": 0.97, "max_slowdown_pct": 5}
    settings.update({"max_memory_growth_pct": 5, "alpha": 0.01, **options})
    return gate_command(base, new, **settings)


def test_three_processes_a_side_are_inconclusive_with_exit_3_not_a_pass(tmp_path):
    # Even a 25% slowdown cannot be shown at alpha 0.01 with 3 processes a side (p >= 0.1).
    base = write_run(tmp_path / "base", run_records(1, processes=3))
    slow = write_run(tmp_path / "slow", run_records(2, processes=3, slow={"inplace": 1.25}))
    text, code = gate(base, slow)
    assert code == gates.EXIT_INCONCLUSIVE == 3
    speed = [line for line in text.splitlines() if "images/s" in line]
    assert speed and all(line.startswith("INCONCLUSIVE") for line in speed)
    assert "cannot go below p = 0.1 >= alpha 0.01" in speed[0]
    assert "run at least 5 processes a side" in speed[0] and "about" not in speed[0]
    assert text.endswith("checks cannot decide with these data (exit 3)")
    assert not any(line.startswith("FAIL") for line in text.splitlines())  # memory noise


def test_a_failure_outranks_an_inconclusive_check():
    lines = [
        gates.GateLine("a", gates.Decision.INCONCLUSIVE, ""),
        gates.GateLine("b", gates.Decision.FAIL, ""),
    ]
    assert gates.exit_code(lines) == 1
    assert gates.exit_code(lines[:1]) == 3
    assert gates.exit_code([gates.GateLine("c", gates.Decision.PASS, "")]) == 0


def test_a_ci_reaching_past_the_limit_without_a_significant_slowdown_is_inconclusive():
    # 4% slower, 5 processes a side: significant, yet not beyond 5%, and the 99% CI may reach it.
    lines = gates.gate_runs(run_records(1), run_records(2, slow={"concat": 1.04}))
    (line,) = [x for x in lines if x.subject.endswith("concat-x2") and "images/s" in x.reason]
    assert line.decision is gates.Decision.INCONCLUSIVE, line.reason
    assert "without a significant slowdown beyond it" in line.reason


def _with_memory(records, strategy, repeat, *, tf_scale=1.0, rss_scale=1.0):
    out = []
    for r in records:
        if r.cell.strategy == strategy and r.repeat == repeat:
            memory = r.memory
            tf = {d: int(v * tf_scale) for d, v in memory.tf_peak_bytes.items()}
            rss = int(memory.host_rss_peak_bytes * rss_scale)
            memory = dataclasses.replace(memory, tf_peak_bytes=tf, host_rss_peak_bytes=rss)
            r = dataclasses.replace(r, memory=memory)
        out.append(r)
    return out


def test_memory_is_gated_by_the_median_so_one_process_decides_nothing():
    new = _with_memory(run_records(2), "inplace", 0, tf_scale=1.5)
    lines = gates.gate_runs(run_records(1), new)
    assert all(line.passed for line in lines if "TF peak" in line.reason)


def test_host_rss_has_its_own_wider_tolerance():
    new = run_records(2)
    for repeat in range(5):
        new = _with_memory(new, "concat", repeat, rss_scale=1.15)
    lines = gates.gate_runs(run_records(1), new)
    rss = [x for x in lines if "host RSS" in x.reason and x.subject.endswith("concat-x2")]
    assert rss[0].passed and "(+15.0%) <= 20%" in rss[0].reason
    lines = gates.gate_runs(run_records(1), new, max_rss_growth_pct=10)
    rss = [x for x in lines if "host RSS" in x.reason and x.subject.endswith("concat-x2")]
    assert not rss[0].passed and "grew more than 10%" in rss[0].reason


def test_a_pair_whose_cells_were_both_skipped_passes_the_ratio_gate():
    records = [
        dataclasses.replace(r, status="skipped", reason="needs 2 GPUs, found 0", timing=None)
        if r.cell.strategy in ("inplace", "concat")
        else r
        for r in run_records(1)
    ]
    (line,) = gates.gate_ratio(records, "inplace", "concat")
    assert line.passed and line.reason == "skipped: not runnable here"

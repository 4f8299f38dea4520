"""End to end on the CPU: real workers on simulated devices, records checked field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgbench.commands.run import run_and_summarise
from mgbench.config.suite import parse_suite

HERE = Path(__file__).resolve().parent

SMOKE = """
[suite]
name = "e2e"
strategies = ["single", "inplace", "concat", "mirrored"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 8
repeats = 2
timeout_s = 240
compare = []
timeline = true
timeline_steps = 2
[[models]]
name = "TinyMLP"
image_size = 8
classes = 5
"""


def json_records(results_path: Path) -> list[dict]:
    """The results file as its JSON objects: the field names are the contract checked here."""
    lines = results_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def smoke_records(tmp_path_factory):
    output = tmp_path_factory.mktemp("e2e") / "run"
    lines: list[str] = []
    suite = parse_suite(SMOKE, "e2e.toml", cpu_only=True)
    code = run_and_summarise(suite, output, emit=lines.append)
    return code, json_records(output / "results.jsonl"), output, lines


def test_smoke_run_succeeds_with_one_record_per_cell(smoke_records):
    code, records, output, lines = smoke_records
    assert code == 0, "\n".join(lines)
    strategies = ["single", "inplace", "concat", "mirrored"]
    # Interleaved: each repeat runs every strategy, in an order shuffled per repeat, before the
    # next repeat starts (two repeats show it: one more cost CI four processes and proved nothing
    # new). (The paired design has its own end-to-end test.)
    assert len(records) == 2 * len(strategies)
    for repeat in range(2):
        block = records[repeat * 4 : repeat * 4 + 4]
        assert sorted(r["cell"]["strategy"] for r in block) == sorted(strategies)
        assert {r["repeat"] for r in block} == {repeat}
    assert all(r["status"] == "ok" for r in records)
    assert (output / "summary.md").read_text().count("| TinyMLP |") == 4


@pytest.mark.parametrize("index", range(8))
def test_records_are_complete_and_consistent(smoke_records, index):
    record = smoke_records[1][index]
    cell = record["cell"]
    timing = record["timing"]
    assert record["device_mode"] == "cpu-simulation"
    assert record["jit_compile"] is False
    assert len(timing["step_s"]) == cell["timed_steps"] == 8
    assert len(timing["warmup_step_s"]) == cell["warmup_steps"] == 1
    assert all(t > 0 for t in [*timing["step_s"], timing["first_step_s"], timing["timed_wall_s"]])
    assert timing["timed_wall_s"] >= sum(timing["step_s"])
    assert timing["images_per_step"] == cell["batch_per_replica"] * cell["replicas"]
    assert timing["images_per_s"] == pytest.approx(
        timing["images_per_step"] * 8 / timing["timed_wall_s"], rel=1e-9
    )
    assert 0 < timing["process_to_first_timed_step_s"] < record["wall_s"]
    # placement and transfers are read from the step fit traced, after the timed steps: no
    # second trace before them (the store sorts keys, so the phases are compared as a set)
    assert set(timing["phases_s"]) == {
        "interpreter_and_imports",
        "tensorflow_and_devices",
        "build_and_compile",
        "fit",
        "audit",
        "record",
    }
    memory = record["memory"]
    assert memory["tf_peak_bytes"] is None and "only for GPUs" in memory["tf_peak_reason"]
    assert memory["nvml"] is None and memory["nvml_reason"] == "no GPU: CPU simulation"
    assert memory["host_rss_peak_bytes"] > 50 * 2**20
    assert memory["samples"] >= 2
    env = record["environment"]
    assert env["tensorflow"].startswith("2.21") and env["keras"].startswith("3.")
    assert env["host"] and env["mgbench"] and "git_commit" in env
    if cell["strategy"] == "mirrored":
        assert record["placement"] is None and "MirroredStrategy" in record["placement_reason"]
    else:
        placement = record["placement"]
        assert placement["variable_devices"] == ["CPU:0"]
        assert placement["update_devices"] == ["CPU:0"]
    if cell["strategy"] in ("inplace", "concat"):
        assert record["replica_devices"] == ["CPU:1", "CPU:2"]
        assert set(record["placement"]["ops_per_device"]) == {"CPU:0", "CPU:1", "CPU:2"}
        assert record["placement"]["slice_devices"] == ["CPU:0"]
        # TinyMLP on 8x8x3 float32 images, 4 a replica: the batch crosses as slices or whole.
        sample = 8 * 8 * 3 * 4
        on_gpus = record["transfers"]["on_gpus"]
        moved = {(r["src"], r["dst"], r["role"]): r["bytes"] for r in on_gpus}
        if cell["strategy"] == "inplace":
            assert moved[("CPU:0", "GPU:0", "slices")] == moved[("CPU:0", "GPU:1", "slices")]
            assert moved[("CPU:0", "GPU:1", "slices")] == 4 * sample
        else:
            assert moved[("CPU:0", "GPU:0", "batch")] == 8 * sample
            assert moved[("GPU:0", "GPU:1", "slices")] == 4 * sample
    if cell["strategy"] == "mirrored":
        assert "transfers" not in record or record["transfers"] is None


def test_profile_true_profiles_every_cell_with_its_trace(smoke_records):
    from mgbench.analysis.timeline import summarise_timeline
    from mgbench.records.timelines import read_timelines

    _, _, output, _ = smoke_records
    profiles = {p.cell.strategy: p for p in read_timelines(output)}
    assert set(profiles) == {"single", "inplace", "concat", "mirrored"}
    assert all(p.status == "ok" for p in profiles.values()), profiles
    for strategy in ("inplace", "concat"):
        profile = profiles[strategy].timeline
        assert (output / profile["trace_path"]).is_file()
        summary = summarise_timeline(profile)
        assert summary.steps == 2
        for replica in ("CPU:1", "CPU:2"):
            device = summary.device(replica)
            assert device.seconds["forward"] > 0 and device.seconds["backward"] > 0
        assert summary.devices_with("slicing") == ["CPU:0"]
        # every op the trace names is one the placement audit placed
        assert summary.unmatched == ()


def test_a_raising_cell_and_a_hanging_cell_are_recorded_and_the_suite_goes_on(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    suite = parse_suite(
        """
[suite]
name = "broken"
strategies = ["inplace"]
replicas = [2]
batch_per_replica = 2
warmup_steps = 0
timed_steps = 2
repeats = 1
timeout_s = 15
[[models]]
name = "factories:explode"
image_size = 8
classes = 2
[[models]]
name = "factories:hang"
image_size = 8
classes = 2
[[models]]
name = "TinyMLP"
image_size = 8
classes = 2
""",
        "broken.toml",
    )
    code = run_and_summarise(suite, tmp_path / "run", emit=lambda _: None)
    assert code == 1
    failed, hung, fine = json_records(tmp_path / "run" / "results.jsonl")
    assert failed["status"] == "failed"
    assert failed["reason"] == "RuntimeError: this factory always fails"
    assert "factories.py" in failed["error_tail"]
    assert hung["status"] == "timeout"
    assert hung["reason"] == "exceeded the cell timeout of 15 s"
    assert hung["wall_s"] < 30
    assert fine["status"] == "ok"

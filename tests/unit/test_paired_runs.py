"""Paired cells through the launcher (fake worker): run order, records, skips, and the run
folder's lock (no TF)."""

from __future__ import annotations

import os

import pytest

from mgbench import backends, cli
from mgbench.backends.base import CellSkipped
from mgbench.config.suite import parse_suite
from mgbench.execution.launcher import WorkerResult, run_suite
from mgbench.execution.lock import FolderInUse, hold_run_folder
from mgbench.records import store

SUITE = """
[suite]
name = "paired"
strategies = ["single", "inplace", "concat", "mirrored"]
backend = ["keras3", "tf_keras"]
replicas = [2]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 2
repeats = 2
pairs = 3
rounds = 2
block_steps = 2
seed = 11
[[models]]
name = "TinyMLP"
image_size = 8
classes = 3
"""


def isolated_payload(cell):
    return {
        "status": "ok",
        "timing": {
            "first_step_s": 1.0,
            "step_s": [0.1, 0.1],
            "images_per_s": 80.0,
            "timed_wall_s": 0.2,
            "images_per_step": cell.global_batch,
        },
        "memory": {"tf_peak_bytes": None, "nvml": None, "host_rss_peak_bytes": 2**30},
    }


def paired_payload(cell):
    rounds = [{"first": first, "a_step_s": [0.1, 0.1], "b_step_s": [0.2, 0.2]} for first in "abab"]
    return {
        "status": "ok",
        "paired": {
            "a": cell.strategy,
            "b": cell.versus,
            "block_steps": cell.block_steps,
            "first_step_s": [3.0, 2.0],
            "rounds": rounds,
        },
        "placement": None,
        "placement_reason": "paired process: placement is recorded by the isolated cells",
        "memory": {"tf_peak_bytes": None, "nvml": None, "host_rss_peak_bytes": 2**30},
    }


class FakeSpawner:
    def __init__(self):
        self.calls = []

    def __call__(self, cell, options, log_path):
        self.calls.append(log_path.name.removesuffix(".log"))
        payload = paired_payload(cell) if cell.paired else isolated_payload(cell)
        return WorkerResult(payload, wall_s=1.0)


def test_each_round_runs_the_shuffled_isolated_cells_then_one_paired_process(tmp_path):
    suite = parse_suite(SUITE, "paired.toml")
    spawn = FakeSpawner()
    lines = []
    outcome = run_suite(suite, tmp_path / "run", spawn=spawn, emit=lines.append)
    assert outcome.exit_code == 0
    keras3 = [call for call in spawn.calls if "tf_keras" not in call]
    isolated = {
        f"TinyMLP-8px-b4-{s}-x{2 if s != 'single' else 1}" for s in suite.settings.strategies
    }
    paired = "TinyMLP-8px-b4-inplace-vs-concat-x2"
    for round_ in (0, 1):
        block = keras3[round_ * 5 : round_ * 5 + 5]
        assert {call.removesuffix(f"-r{round_}") for call in block[:4]} == isolated
        assert block[4] == f"{paired}-r{round_}"
    assert keras3[10:] == [f"{paired}-r2"]  # the third pair runs after the last repeat
    records = store.read_records(outcome.results_path)
    (first_pair,) = [r for r in records if r.cell_id == paired and r.repeat == 0]
    assert first_pair.paired is not None and first_pair.timing is None
    assert [r.first for r in first_pair.paired.rounds] == ["a", "b", "a", "b"]
    assert lines[8].startswith("[ 5/22] TinyMLP 8px b4 inplace vs concat x2 · repeat 1/3")
    assert "4 rounds, median step inplace 100.0 ms, concat 200.0 ms" in "\n".join(lines)
    assert "repeat 3/3" in "\n".join(lines)  # a paired cell counts its pairs, not repeats


def test_the_isolated_order_differs_between_rounds_and_follows_the_seed(tmp_path):
    suite = parse_suite(SUITE.replace("repeats = 2", "repeats = 6"), "paired.toml")
    first, again = FakeSpawner(), FakeSpawner()
    run_suite(suite, tmp_path / "one", spawn=first, emit=lambda _: None)
    run_suite(suite, tmp_path / "two", spawn=again, emit=lambda _: None)
    assert first.calls == again.calls
    keras3 = [call for call in first.calls if "tf_keras" not in call and "-vs-" not in call]
    per_round = {tuple(c.rsplit("-r", 1)[0] for c in keras3[r * 4 : r * 4 + 4]) for r in range(6)}
    assert len(per_round) > 1


def test_a_tf_keras_paired_cell_is_skipped_with_the_backends_reason_without_a_process(tmp_path):
    spawn = FakeSpawner()
    outcome = run_suite(
        parse_suite(SUITE, "paired.toml"), tmp_path / "run", spawn=spawn, emit=lambda _: None
    )
    assert not [call for call in spawn.calls if "-vs-" in call and "tf_keras" in call]
    skipped = [r for r in outcome.records if r.cell.paired and r.cell.backend == "tf_keras"]
    assert [r.repeat for r in skipped] == [0, 1, 2]
    assert all(r.status == "skipped" for r in skipped)
    assert "keras3-only" in skipped[0].reason and "graph mode" in skipped[0].reason


def test_a_second_run_on_a_locked_folder_exits_2_naming_the_holder(tmp_path, capsys):
    suite_path = tmp_path / "paired.toml"
    suite_path.write_text(SUITE, encoding="utf-8")
    folder = tmp_path / "run"
    folder.mkdir()
    with hold_run_folder(folder):
        code = cli.main(["run", str(suite_path), "--output", str(folder), "--profile", "default"])
        assert code == 2
        message = capsys.readouterr().err
        assert f"{folder} is in use by another mgbench run (pid {os.getpid()})" in message
        assert not (folder / store.RESULTS_FILE).exists()
    assert cli.main(["run", str(suite_path), "--output", str(folder), "--pairs", "0"]) == 2


def test_a_resume_on_a_folder_in_use_is_refused_and_the_lock_is_free_afterwards(tmp_path):
    suite = parse_suite(SUITE, "paired.toml")
    folder = tmp_path / "run"
    run_suite(suite, folder, spawn=FakeSpawner(), emit=lambda _: None)
    with hold_run_folder(folder), pytest.raises(FolderInUse, match=f"pid {os.getpid()}"):
        run_suite(suite, folder, resume=True, spawn=FakeSpawner(), emit=lambda _: None)
    spawn = FakeSpawner()
    run_suite(suite, folder, resume=True, spawn=spawn, emit=lambda _: None)
    assert spawn.calls == []  # everything was recorded; the released lock let it in
    assert (folder / "run.lock").read_text() == ""  # no stale pid left behind


def kway_payload(cell):
    """A fake process of k strategies, each strategy's steps of its own time, in two rounds."""
    seconds = [0.1, 0.3, 0.2, 0.4][: len(cell.paired_strategies)]
    rounds = [
        {
            "first": order[0],
            "order": list(order),
            "a_step_s": [seconds[0]] * 2,
            "b_step_s": [seconds[1]] * 2,
            "others_step_s": [[s] * 2 for s in seconds[2:]],
        }
        for order in ("abc", "cba")
    ]
    payload = paired_payload(cell)
    payload["paired"].update(
        rounds=rounds, others=list(cell.also), others_first_step_s=[2.5] * len(cell.also)
    )
    return payload


class KwaySpawner(FakeSpawner):
    def __call__(self, cell, options, log_path):
        self.calls.append(log_path.name.removesuffix(".log"))
        payload = kway_payload(cell) if cell.paired else isolated_payload(cell)
        return WorkerResult(payload, wall_s=1.0)


def test_a_three_way_process_runs_once_a_pair_repeat_and_says_every_median(tmp_path):
    text = SUITE.replace('"inplace", "concat"', '"inplace", "wholebatch", "concat"')
    spawn, lines = KwaySpawner(), []
    outcome = run_suite(
        parse_suite(text, "k.toml"), tmp_path / "run", spawn=spawn, emit=lines.append
    )
    assert outcome.exit_code == 0
    three = "TinyMLP-8px-b4-inplace-vs-wholebatch-vs-concat-x2"
    assert [c for c in spawn.calls if "-vs-" in c] == [f"{three}-r{r}" for r in range(3)]
    said = "\n".join(lines)
    assert "TinyMLP 8px b4 inplace vs wholebatch vs concat x2 · repeat 1/3" in said
    assert "2 rounds, median step inplace 100.0 ms, wholebatch 300.0 ms, concat 200.0 ms" in said
    records = [r for r in store.read_records(outcome.results_path) if r.cell_id == three]
    assert [r.paired.strategies for r in records] == [("inplace", "wholebatch", "concat")] * 3
    # the tf_keras backend cannot pair: its three-way cell is skipped without a process
    skipped = [r for r in outcome.records if r.cell.also and r.cell.backend == "tf_keras"]
    assert [r.status for r in skipped] == ["skipped"] * 3 and "keras3-only" in skipped[0].reason


def test_the_keras3_backend_pairs_any_wrappers_and_nothing_else():
    backend = backends.get("keras3")
    cell = parse_suite(SUITE, "paired.toml").cells()[0]
    backend.check_pairable(cell, ("inplace", "wholebatch", "concat"))  # no refusal
    backend.check_pairable(cell, ("inplace", "inplace"))
    with pytest.raises(
        CellSkipped, match=r"between wrappers \(inplace, wholebatch, concat\), not 'mirrored'"
    ):
        backend.check_pairable(cell, ("inplace", "concat", "mirrored"))

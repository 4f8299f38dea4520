"""``mgbench validate``: a run folder fit to publish passes with a summary; the first bad record
is named (file, line, cell, what is wrong) and the command exits 2. Records carry the checksum
the store wrote, and readers other than validate never judge it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import tiny_cnn_cell
from published import published

from mgbench import cli
from mgbench.config.suite import Cell
from mgbench.records import store
from mgbench.records.integrity import ValidationError, validate_run
from mgbench.records.record import Record, RunContext, content_checksum

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = [path.parent for path in published("**/results.jsonl")]

HOST = {
    "host": "box",
    "cpu": "Some CPU",
    "cpu_count": 2,
    "python": "3.11.7",
    "mgbench": "0.1.0",
    "git_commit": "0123456789abcdef0123456789abcdef01234567",
    "git_dirty": False,
    "packages": {"tensorflow": "2.21.0", "keras": "3.15.1", "jax": "0.10.2"},
}


def cell(strategy: str = "inplace", backend: str = "keras3") -> Cell:
    return tiny_cnn_cell(strategy=strategy, backend=backend)


def record(
    repeat: int = 0,
    *,
    host: dict | None = None,
    device_mode: str = "cpu-simulation",
    worker_env: dict | None = None,
    the_cell: Cell | None = None,
) -> Record:
    payload = {
        "status": "ok",
        "device_mode": device_mode,
        "backend": (the_cell or cell()).backend,
        "timing": {
            "first_step_s": 1.5,
            "step_s": [0.1 + repeat / 1000, 0.2 / 3],  # floats that need every digit
            "timed_wall_s": 0.5,
            "images_per_step": 32,
            "images_per_s": 128.0,
        },
        "environment": worker_env if worker_env is not None else {"tensorflow": "2.21.0"},
    }
    context = RunContext("demo", "cpu", "run-1", host if host is not None else HOST)
    return Record.from_payload(
        the_cell or cell(),
        repeat,
        payload,
        context,
        started_at="2026-01-01T00:00:00+00:00",
        wall_s=4.0,
    )


def run_folder(tmp_path: Path, records: list[Record]) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"argv": ["mgbench", "run", "s.toml"]}))
    (folder / "suite.json").write_text("{}")
    for r in records:
        store.append_record(folder / store.RESULTS_FILE, r)
    return folder


def edit_line(folder: Path, number: int, edit) -> None:
    path = folder / store.RESULTS_FILE
    lines = path.read_text().splitlines()
    data = json.loads(lines[number - 1])
    edit(data)
    lines[number - 1] = json.dumps(data, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")


def test_a_run_written_by_the_store_validates(tmp_path, capsys):
    folder = run_folder(tmp_path, [record(0), record(1), record(0, the_cell=cell("concat"))])
    assert cli.main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{folder}: valid" in out
    assert "records: 3 (3 ok) in 2 cells" in out
    assert "machine: box (Some CPU; cpu-simulation; TF 2.21.0" in out
    assert "not provable" not in out  # every record carries its checksum


def test_the_store_writes_the_checksum_of_exactly_what_it_wrote(tmp_path):
    folder = run_folder(tmp_path, [record(0)])
    data = json.loads((folder / store.RESULTS_FILE).read_text())
    assert data["checksum"].startswith("sha256:")
    assert data["checksum"] == content_checksum(data)
    read = store.read_records(folder / store.RESULTS_FILE)[0]
    assert read == record(0) and read.checksum == data["checksum"]


def test_one_edited_number_is_named_and_exits_2(tmp_path, capsys):
    folder = run_folder(tmp_path, [record(0), record(1), record(2)])
    edit_line(folder, 2, lambda d: d["timing"].update(images_per_s=129.0))
    assert cli.main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "mgbench: error: results.jsonl line 2 (TinyCNN-32px-b16-inplace-x2-r1): "
        "checksum mismatch: edited after it was written"
    )
    # Other commands still read the edited record: only validate judges checksums.
    assert store.read_records(folder / store.RESULTS_FILE)[1].timing.images_per_s == 129.0


def test_records_written_before_checksums_pass_with_a_note(tmp_path):
    folder = run_folder(tmp_path, [record(0), record(1)])
    for number in (1, 2):
        edit_line(folder, number, lambda d: d.pop("checksum"))
    result = validate_run(folder)
    assert result.notes == ("2 of 2 records written before checksums: not provable unedited",)


@pytest.mark.parametrize("folder", PUBLISHED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_published_runs_pass(folder):
    result = validate_run(folder)
    assert result.records > 0 and result.machine.startswith("vm (")


@pytest.mark.parametrize(
    ("host", "worker_env", "message"),
    [
        ({**HOST, "git_commit": None}, None, "environment incomplete: no git commit"),
        ({**HOST, "host": None, "cpu": ""}, None, "environment incomplete: no host, no cpu"),
        ({**HOST, "packages": None}, {}, "environment incomplete: no tensorflow version"),
    ],
)
def test_missing_environment_fields_are_refused(tmp_path, host, worker_env, message):
    folder = run_folder(tmp_path, [record(0), record(1, host=host, worker_env=worker_env)])
    with pytest.raises(
        ValidationError, match=rf"results\.jsonl line 2 \(TinyCNN.*-r1\): {message}"
    ):
        validate_run(folder)


def test_a_jax_record_needs_the_jax_version(tmp_path):
    jax_cell = cell("dataparallel", backend="jax")
    folder = run_folder(
        tmp_path, [record(0, the_cell=jax_cell, host={**HOST, "packages": None}, worker_env={})]
    )
    with pytest.raises(ValidationError, match="no jax version"):
        validate_run(folder)


def test_a_gpu_record_needs_gpu_names_and_the_driver(tmp_path):
    gpus = {"tensorflow": "2.21.0", "gpus": [{"name": None, "tf_device": "GPU:0"}]}
    folder = run_folder(tmp_path, [record(0, device_mode="gpu", worker_env=gpus)])
    with pytest.raises(ValidationError, match="no GPU names, no GPU driver"):
        validate_run(folder)


def test_mixed_machines_are_refused_naming_the_other_record(tmp_path):
    other = {**HOST, "host": "other-box"}
    folder = run_folder(tmp_path, [record(0), record(1), record(2, host=other)])
    with pytest.raises(ValidationError) as caught:
        validate_run(folder)
    assert str(caught.value).startswith(
        "results.jsonl line 3 (TinyCNN-32px-b16-inplace-x2-r2): another machine or version than "
        "line 1 (host=other-box, not box)"
    )


def test_a_line_that_is_not_a_record_is_named(tmp_path):
    folder = run_folder(tmp_path, [record(0), record(1)])
    edit_line(folder, 2, lambda d: d.update(repeat="one"))
    with pytest.raises(
        ValidationError, match=r"line 2 \(TinyCNN-.*-rone\): not a valid record: repeat: expected"
    ):
        validate_run(folder)


def test_a_torn_last_line_is_refused(tmp_path):
    folder = run_folder(tmp_path, [record(0)])
    with open(folder / store.RESULTS_FILE, "a") as handle:
        handle.write('{"schema_version": 1, "cell')
    with pytest.raises(ValidationError, match=r"line 2: not a JSON record .*torn line"):
        validate_run(folder)


@pytest.mark.parametrize("missing", ["run.json", "suite.json"])
def test_the_run_files_must_be_there(tmp_path, missing):
    folder = run_folder(tmp_path, [record(0)])
    (folder / missing).unlink()
    with pytest.raises(ValidationError, match=rf"{missing}: missing"):
        validate_run(folder)


def test_a_script_run_needs_no_suite_file(tmp_path):
    folder = run_folder(tmp_path, [record(0)])
    (folder / "suite.json").unlink()
    (folder / "run.json").write_text(json.dumps({"argv": ["benchmarks/calibration.py"]}))
    assert "no suite.json: made by benchmarks/calibration.py" in validate_run(folder).notes[0]


def test_a_checksum_removed_from_one_record_of_a_checksummed_run_is_refused(tmp_path, capsys):
    folder = run_folder(tmp_path, [record(0), record(1)])
    edit_line(folder, 2, lambda d: d.pop("checksum"))
    assert cli.main(["validate", str(folder)]) == 2
    assert "1 of 2 records have no checksum while the others have one" in capsys.readouterr().err

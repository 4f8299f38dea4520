"""``mgbench predict``: a synthetic run folder whose records carry transfer audits, predicted on
the shipped profiles, beside the run's measured paired verdict; bad input fails with one line."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from data.make_paired_results import ENVIRONMENT, PAIRED_CELL, paired_record

from mgbench import cli
from mgbench.analysis.cells import CellKey
from mgbench.commands.predict import predict_command
from mgbench.config import hardware_specs
from mgbench.present import prediction, render
from mgbench.present.model import Report
from mgbench.records.record import Record
from mgbench.transfers import Transfer

# The paired cell's workload (ResNet50 32px, 8 per replica, 2 replicas): the isolated cells
# below share it, so the prediction and the measured paired verdict meet in one row.
BATCH = 8 * 32 * 32 * 3 * 4  # 98,304 bytes: the whole batch
SLICE = BATCH // 2
WEIGHTS = 94_000_000
ROWS = {
    "inplace": [
        ("CPU:0", "GPU:0", "slices", SLICE),
        ("CPU:0", "GPU:1", "slices", SLICE),
        ("CPU:0", "GPU:0", "weights", WEIGHTS),
        ("CPU:0", "GPU:1", "weights", WEIGHTS),
        ("GPU:0", "CPU:0", "gradients", WEIGHTS),
        ("GPU:1", "CPU:0", "gradients", WEIGHTS),
    ],
    "wholebatch": [
        ("CPU:0", "GPU:0", "batch", BATCH),
        ("CPU:0", "GPU:1", "batch", BATCH),
        ("CPU:0", "GPU:0", "weights", WEIGHTS),
        ("CPU:0", "GPU:1", "weights", WEIGHTS),
        ("GPU:0", "CPU:0", "gradients", WEIGHTS),
        ("GPU:1", "CPU:0", "gradients", WEIGHTS),
    ],
    "concat": [
        ("CPU:0", "GPU:0", "batch", BATCH),
        ("GPU:0", "GPU:1", "slices", SLICE),
        ("CPU:0", "GPU:0", "weights", WEIGHTS),
        ("CPU:0", "GPU:1", "weights", WEIGHTS),
        ("GPU:0", "CPU:0", "gradients", WEIGHTS),
        ("GPU:1", "CPU:0", "gradients", WEIGHTS),
    ],
}


def isolated_record(strategy: str, repeat: int, *, audited: bool = True, **cell) -> dict:
    """An isolated cell's record as JSON; ``cell`` overrides the paired cell's workload."""
    fields = {k: v for k, v in PAIRED_CELL.items() if k not in ("versus", "rounds", "block_steps")}
    cell_dict = {**fields, "strategy": strategy, "placement": True, **cell}
    batch = cell_dict["batch_per_replica"] * cell_dict["replicas"]
    label = f"{cell_dict['model']}-{cell_dict['image_size']}px-b{cell_dict['batch_per_replica']}"
    record = {
        "schema_version": 1,
        "cell_id": f"{label}-{strategy}-x{cell_dict['replicas']}",
        "repeat": repeat,
        "status": "ok",
        "reason": None,
        "cell": cell_dict,
        "suite": "synthetic",
        "run_id": "synthetic",
        "device_mode": "gpu",
        "environment": ENVIRONMENT,
        "timing": {
            "first_step_s": 2.0,
            "step_s": [0.1 + 0.001 * i for i in range(10)],
            "timed_wall_s": 1.05,
            "images_per_step": batch,
            "images_per_s": batch / 0.105,
        },
    }
    if audited:
        rows = [
            {"src": s, "dst": d, "role": r, "bytes": b}
            for s, d, r, b in ROWS.get(strategy, ROWS["inplace"])
        ]
        record["transfers"] = {"as_run": [], "on_gpus": rows}
    return record


def write_run(folder, records):
    folder.mkdir()
    with open(folder / "results.jsonl", "w", encoding="utf-8") as handle:
        for record in records:
            Record.from_json(record)  # the synthetic records are valid records
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    return folder


SPLITS = ("inplace", "wholebatch", "concat")


def synthetic_run(tmp_path, **options):
    """Isolated cells of the three splits, and paired processes of in-place against whole-batch
    (true speed-up 8%) and against concat (true speed-up 3%)."""
    rng = np.random.default_rng(3)
    records = [isolated_record(s, r, **options) for s in SPLITS for r in (0, 1)]
    records += [paired_record(r, rng, true_pct=8.0, round_sd=0.01) for r in range(3)]
    records += [
        paired_record(r, rng, true_pct=3.0, round_sd=0.01, versus="concat") for r in range(3)
    ]
    return write_run(tmp_path / "run", records)


def test_predict_prints_both_tables_per_workload_and_the_measured_verdict(tmp_path):
    text = predict_command(synthetic_run(tmp_path), "4xP100-pcie3", compute_ms=100)
    assert text.startswith("# mgbench predict: run on 4xP100-pcie3")
    assert "## ResNet50-32px-b8-x2: inplace vs wholebatch" in text
    assert "## ResNet50-32px-b8-x2: inplace vs concat" in text
    assert "### Copies per step on 4xP100-pcie3" in text
    assert "### Sweep over compute time per step (4xP100-pcie3)" in text
    assert "- serial: every copy one after another" in text
    # concat's 0.09 MiB batch to GPU:0 and its slice on to GPU:1, in MiB
    concat_row = next(line for line in text.splitlines() if line.startswith("| concat "))
    assert f"| {(BATCH + 2 * WEIGHTS) / 2**20:,.2f} " in concat_row and "| 0.05 " in concat_row
    assert "compute 100.0 ms/step (given)" in text
    section = text.split(f"## {prediction.SECTION_TITLE}")[1]
    assert "supports the claim" in section  # the paired processes' +8% against whole-batch
    assert "| inplace vs concat " in section and "| faster" in section  # +3%, read against 0
    assert "measured on synthetic-host" in section


def test_the_numbers_behind_the_text(tmp_path):
    profile = hardware_specs.load_spec("4xP100-pcie3")
    records = [Record.from_json(isolated_record(s, 0)) for s in ("inplace", "concat")]
    section = prediction.prediction_section(records, profile, compute_s=0.1)
    (row,) = section.rows  # the seed's question: no whole-batch records here
    values = dict(zip(section.headers, row, strict=True))
    assert values["comparison"] == "inplace vs concat" and values["claimed"] is None
    predicted = values["predicted (serial / parallel)"]
    serial = (
        (0.1 + (BATCH + SLICE + 2 * WEIGHTS) / 11.7e9 + 2 * WEIGHTS / 12.9e9)
        / (0.1 + (2 * SLICE + 2 * WEIGHTS) / 11.7e9 + 2 * WEIGHTS / 12.9e9)
        - 1
    ) * 100
    assert predicted["serial"] == pytest.approx(serial)
    assert predicted["parallel"] > predicted["serial"] > 0
    assert values["measured paired"] is None  # no paired processes in these records
    assert values["unpaired verdict"].startswith("inconclusive")  # one process a side
    data = json.loads(render.render(Report("t", [], [section]), "json"))
    shown = data["sections"][0]["rows"][0]["predicted (serial / parallel)"]
    assert shown["serial"] == pytest.approx(serial)


def test_the_profile_reference_gives_the_compute_time(tmp_path):
    run = write_run(
        tmp_path / "claim",
        [
            isolated_record(
                s, 0, model="ResNet50", image_size=224, batch_per_replica=96, replicas=4
            )
            for s in SPLITS
        ],
    )
    text = predict_command(run, "4xP100-pcie3")
    assert "step 979.6 ms from ResNet50 224px, 392 img/s on 4 GPU(s)" in text
    # PR #10230's "before" step holds the whole-batch split's copies: out of the compute term
    assert "the compute term is that step less the whole-batch split's own predicted" in text
    vs_wholebatch, vs_concat = text.split("## ResNet50-224px-b96-x4: inplace vs concat")
    assert "Claimed on this machine for this workload: +6.4%." in vs_wholebatch
    assert "Claimed on this machine" not in vs_concat  # the PR measured the other pair
    assert "compute used (serial)" in text and "compute used (parallel)" in text


def test_no_reference_shows_the_sweep_only(tmp_path):
    text = predict_command(synthetic_run(tmp_path), "dgx1-v100")
    assert "dgx1-v100 has no published throughput for ResNet50 32px" in text
    assert "speed-up (no compute time)" in text


def test_a_users_hardware_file_is_read(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('gpus = 2\n[host_link]\nh2d_gb_s = 1\nd2h_gb_s = 1\n[peer]\nvia = "host"\n')
    assert "on mine" in predict_command(synthetic_run(tmp_path), path, compute_ms=50)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_bad_input_raises_one_line(tmp_path):
    run = synthetic_run(tmp_path)
    with pytest.raises(ValueError) as caught:
        predict_command(run, "dgx2")
    assert one_line(caught).startswith("unknown hardware spec 'dgx2'; known: 4xP100-pcie3")
    bad = tmp_path / "bad.toml"
    bad.write_text("gpus = 4\n[host_link\n")
    with pytest.raises(ValueError) as caught:
        predict_command(run, bad)
    assert one_line(caught).startswith(f"{bad}:2: not valid TOML")
    with pytest.raises(ValueError) as caught:
        predict_command(tmp_path / "nowhere", "4xP100-pcie3")
    assert "no such run folder" in one_line(caught)
    with pytest.raises(ValueError) as caught:
        predict_command(run, "4xP100-pcie3", compute_ms=-1)
    assert one_line(caught) == "--compute-ms: expected a time >= 0, got -1"


def test_a_run_without_audits_is_refused(tmp_path):
    old = write_run(
        tmp_path / "old", [isolated_record(s, 0, audited=False) for s in ("inplace", "concat")]
    )
    with pytest.raises(ValueError) as caught:
        predict_command(old, "4xP100-pcie3")
    assert one_line(caught) == (
        f"no record in {old} has a transfer audit; re-run it with this mgbench"
    )


def test_a_run_without_both_splits_is_refused(tmp_path):
    one = write_run(tmp_path / "one", [isolated_record("inplace", 0)])
    with pytest.raises(ValueError) as caught:
        predict_command(one, "4xP100-pcie3")
    assert one_line(caught) == (
        f"no workload in {one} has transfer audits of both inplace and wholebatch or inplace "
        "and concat (audited: inplace)"
    )


def test_replicas_beyond_the_profile_are_refused(tmp_path):
    rows8 = [("CPU:0", f"GPU:{i}", "slices", SLICE) for i in range(8)]
    records = [isolated_record(s, 0, replicas=8) for s in ("inplace", "concat")]
    for record in records:
        record["transfers"]["on_gpus"] = [
            {"src": s, "dst": d, "role": r, "bytes": b} for s, d, r, b in rows8
        ]
    run = write_run(tmp_path / "eight", records)
    with pytest.raises(ValueError) as caught:
        predict_command(run, "4xP100-pcie3")
    assert one_line(caught) == (
        f"nothing in {run} can be predicted on 4xP100-pcie3: ResNet50-32px-b8-x8: inplace vs "
        "concat: GPU:4 is beyond 4xP100-pcie3's 4 GPUs (GPU:0..GPU:3)"
    )
    assert "GPU:4 is beyond" not in predict_command(run, "dgx1-v100", compute_ms=10)


def test_rows_given_directly_are_predicted_on_every_profile():
    """What the placement command prints for a configuration it traced: no run needed."""
    rows = {s: [Transfer(*r) for r in ROWS[s]] for s in ROWS}
    key = CellKey("ResNet50", 224, 96, 4, "keras3")
    profiles = [hardware_specs.load_spec(n) for n in hardware_specs.names()]
    section = prediction.specs_section(rows, profiles, key)
    assert [row[0] for row in section.rows] == hardware_specs.names()
    assert all(row[1] is not None for row in section.rows)  # every profile has ResNet50 224px
    claimed = {row[0]: row[-1] for row in section.rows}
    assert claimed["4xP100-pcie3"] == pytest.approx((417 / 392 - 1) * 100)
    text = prediction.workload_text(rows, profiles[0], key=key, title="claim")
    assert text.startswith("## claim") and "step 979.6 ms" in text


def claim_workload_rows() -> dict[str, list[Transfer]]:
    """ResNet50 224px 96 x 4 on GPUs, its batch, slices and gradients (DESIGN §2.18) as each
    split moves them, the same weight reads and gradients for all three."""
    whole, gradients = 231_211_008, 102_334_368
    replicas = [f"GPU:{i}" for i in range(4)]
    common = [Transfer("CPU:0", gpu, "weights", gradients) for gpu in replicas]
    common += [Transfer(gpu, "CPU:0", "gradients", gradients) for gpu in replicas]
    return {
        "inplace": [Transfer("CPU:0", gpu, "slices", whole // 4) for gpu in replicas] + common,
        "wholebatch": [Transfer("CPU:0", gpu, "batch", whole) for gpu in replicas] + common,
        "concat": [
            Transfer("CPU:0", "GPU:0", "batch", whole),
            *(Transfer("GPU:0", gpu, "slices", whole // 4) for gpu in replicas[1:]),
            *common,
        ],
    }


def _spec_row(section: str) -> list[str]:
    row = next(line for line in section.splitlines() if line.startswith("| 4xP100-pcie3"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_the_placement_command_predicts_the_claims_pair_then_the_seeds_question():
    from mgbench.commands.placement import predictions
    from mgbench.vocabulary import Strategy

    rows = claim_workload_rows()
    key = CellKey("ResNet50", 224, 96, 4, "keras3")
    spec = [hardware_specs.load_spec("4xP100-pcie3")]
    first, second = predictions(rows, spec, key)
    title = "## ResNet50-224px-b96-x4: predicted in-place speed-up over {} per hardware spec"
    assert first.startswith(title.format("whole-batch"))
    assert second.startswith(title.format("concat"))
    # spec, compute, a's copy ms, b's copy ms, predicted, claimed: the PR's own +6.4% for
    # ResNet50 224px 96 x 4 beside the claim's pair only
    whole, concat = _spec_row(first), _spec_row(second)
    assert (whole[5], concat[5]) == ("+6.4%", "")
    assert whole[2] == concat[2]  # in-place's copies, the same in both
    serial = [float(row[3].split(" / ")[0]) for row in (whole, concat)]
    assert serial[0] > serial[1] > float(whole[2].split(" / ")[0])
    # the compute term: the PR's 979.6 ms "before" step less the whole-batch split's copies,
    # under each assumption, for both pairs (the same reference, the same rows)
    compute = [float(ms.replace(",", "")) for ms in whole[1].split(" / ")]
    assert whole[1] == concat[1] and all(c < 979.6 for c in compute)
    assert compute[0] == pytest.approx(979.6 - serial[0], abs=0.15)
    # a pair not traced is not predicted; without the whole-batch rows nothing comes out
    del rows[Strategy.WHOLEBATCH]
    (only,) = predictions(rows, spec, key)
    assert only.startswith(title.format("concat")) and _spec_row(only)[1] == "979.6 / 979.6"


def _registered(command: str) -> bool:
    parser = cli.build_parser()
    return any(
        isinstance(action, argparse._SubParsersAction) and command in action.choices
        for action in parser._actions
    )


@pytest.mark.skipif(
    not _registered("predict"), reason="the predict command is not registered in cli.py yet"
)
def test_the_cli_exits_2_with_one_line(tmp_path, run_cli):
    run = synthetic_run(tmp_path)
    for args in (
        ("predict", run, "--hardware", "dgx2"),
        ("predict", tmp_path / "nowhere", "--hardware", "4xP100-pcie3"),
    ):
        result = run_cli(*args)
        assert result.code == 2
        assert result.err.count("\n") == 1 and result.err.startswith("mgbench: error: ")
    result = run_cli("predict", run, "--hardware", "4xP100-pcie3", "--compute-ms", "100")
    assert result.code == 0 and "ResNet50-32px-b8-x2" in result.out

"""The memory half: batch data per GPU from an audit on GPUs, duplication factors with known
answers for the PR's 4-GPU pattern, measured beside predicted differences, and their sentence."""

from __future__ import annotations

import pytest

from mgbench.analysis.cells import CellKey
from mgbench.analysis.duplication import (
    duplication_row,
    gpu_batch_bytes,
    memory_differences,
)
from mgbench.models import batch_image_bytes
from mgbench.present import prose
from mgbench.transfers import Transfer

KEY = CellKey("ResNet50", 224, 96, 4, "keras3")
BATCH = 384 * 224 * 224 * 3 * 4  # 231,211,008 B: PR #10230's ResNet50 224px batch of 96 x 4
SHARE = BATCH // 4
WEIGHTS = 102_545_408
GPUS = [f"GPU:{i}" for i in range(4)]


def rows(*spec: tuple[str, str, str, int]) -> list[Transfer]:
    return [Transfer(*row) for row in spec]


# The three splits as the audit resolves them on GPUs; weights and labels are not batch data.
AUDITS = {
    "inplace": rows(
        *(("CPU:0", gpu, "slices", SHARE) for gpu in GPUS),
        *(("CPU:0", gpu, "weights", WEIGHTS) for gpu in GPUS),
        ("CPU:0", "GPU:0", "labels", 1536),
    ),
    "wholebatch": rows(*(("CPU:0", gpu, "batch", BATCH) for gpu in GPUS)),
    "concat": rows(
        ("CPU:0", "GPU:0", "batch", BATCH),
        *(("GPU:0", gpu, "slices", SHARE) for gpu in GPUS[1:]),
    ),
}


def test_batch_bytes_are_float32_images():
    assert batch_image_bytes(224, 384) == BATCH


def test_batch_data_per_gpu_counts_batch_and_slices_only():
    assert gpu_batch_bytes(AUDITS["inplace"], 4) == dict.fromkeys(GPUS, SHARE)
    assert gpu_batch_bytes(AUDITS["concat"], 4) == {
        "GPU:0": BATCH,
        **dict.fromkeys(GPUS[1:], SHARE),
    }
    # every replica's GPU is listed, even one nothing reaches
    assert gpu_batch_bytes(rows(("CPU:0", "GPU:0", "batch", 8)), 2) == {"GPU:0": 8, "GPU:1": 0}


@pytest.mark.parametrize(
    ("strategy", "factor", "most"),
    [("inplace", 1.0, SHARE), ("wholebatch", 4.0, BATCH), ("concat", 1.75, BATCH)],
)
def test_duplication_factors_of_the_three_splits_on_four_gpus(strategy, factor, most):
    row = duplication_row(KEY, strategy, AUDITS[strategy])
    assert row.batch_bytes == BATCH
    assert row.factor == pytest.approx(factor) and row.max_gpu_bytes == most


def test_differences_are_predicted_per_gpu_and_measured_where_peaks_exist():
    audited = [duplication_row(KEY, s, AUDITS[s]) for s in AUDITS]
    pairs = [("inplace", "wholebatch"), ("inplace", "concat")]
    whole, concat = memory_differences(audited, [], pairs)
    assert whole.predicted_bytes == dict.fromkeys(GPUS, BATCH - SHARE)
    assert concat.predicted_bytes == {"GPU:0": BATCH - SHARE, **dict.fromkeys(GPUS[1:], 0)}
    assert whole.measured_bytes == {} and concat.measured_bytes == {}
    text = prose.memory_verdict(whole, "CPU simulation: no GPU memory")
    assert text == (
        "ResNet50-224px-b96-x4: in-place holds 165 MiB less on each GPU than whole-batch "
        "(audit, batch data per step); measured: not measured here (CPU simulation: no GPU memory)."
    )
    assert "165 MiB less on GPU:0 and the same on GPU:1, GPU:2, GPU:3 than concat" in (
        prose.memory_verdict(concat, "n/a")
    )

"""The transfer audit on real traced Keras 3 steps: exact bytes per link and role.

Simulated CPU replicas stand for GPUs in the ``on_gpus`` resolution; ``as_run`` is this CPU
machine, where the default device is the host and the in-place and concat splits coincide (the
whole-batch split still sends every replica the whole batch).
"""

from __future__ import annotations

import numpy as np
import pytest
import templates

from mgbench import backends, models, transfers
from mgbench.backends.base import BuildSpec
from mgbench.vocabulary import Strategy
from mgbench.wrappers import MultiGpuModel, ParallelModel, WholeBatchModel

FLOAT = 4
IMAGE_BYTES = 32 * 32 * 3 * FLOAT  # one TinyCNN sample
KERAS3 = backends.get("keras3")


def traced_cell(strategy: str, *, replicas: int = 2, batch_per_replica: int = 8, **spec):
    spec = BuildSpec(
        model="TinyCNN",
        image_size=32,
        classes=10,
        strategy=strategy,
        replicas=replicas,
        batch_per_replica=batch_per_replica,
        **spec,
    )
    built = KERAS3.build_compiled(spec)
    x, y = models.synthetic_batch(32, 10, spec.global_batch)
    traced, reason = KERAS3.trace_step(built, x, y)
    assert reason is None
    param_bytes = sum(int(np.prod(v.shape)) * FLOAT for v in built.model.trainable_variables)
    return traced, spec.global_batch, param_bytes


def audit(strategy: str, resolution: str, **spec) -> tuple[transfers.TransferAudit, int]:
    traced, batch, param_bytes = traced_cell(strategy, **spec)
    result = transfers.audit(traced, global_batch=batch, resolution=resolution)
    assert result.unresolved == ()
    return result, param_bytes


def test_on_gpus_the_inplace_split_sends_each_replica_only_its_slice():
    result, _ = audit("inplace", "on_gpus")
    assert result.bytes_between("CPU:0", "GPU:0", "slices") == 8 * IMAGE_BYTES
    assert result.bytes_between("CPU:0", "GPU:1", "slices") == 8 * IMAGE_BYTES
    assert result.total_bytes("batch") == 0  # nothing whole goes to GPU:0 first
    assert result.bytes_between("GPU:0", "GPU:1") == 0


def test_on_gpus_the_concat_split_copies_the_whole_batch_to_gpu0_then_one_slice_on():
    result, _ = audit("concat", "on_gpus")
    assert [r for r in result.rows if r.role == "batch"] == [
        transfers.Transfer("CPU:0", "GPU:0", "batch", 16 * IMAGE_BYTES)
    ]
    assert [r for r in result.rows if r.role == "slices"] == [
        transfers.Transfer("GPU:0", "GPU:1", "slices", 8 * IMAGE_BYTES)
    ]


@pytest.mark.parametrize("replicas", [2, 3])
def test_the_whole_batch_split_sends_the_whole_batch_to_every_replica(replicas):
    whole = 8 * replicas * IMAGE_BYTES
    on_gpus, _ = audit("wholebatch", "on_gpus", replicas=replicas)
    assert [r for r in on_gpus.rows if r.role in ("batch", "slices")] == [
        transfers.Transfer("CPU:0", f"GPU:{i}", "batch", whole) for i in range(replicas)
    ]
    as_run, _ = audit("wholebatch", "as_run", replicas=replicas)
    assert [r for r in as_run.rows if r.role in ("batch", "slices")] == [
        transfers.Transfer("CPU:0", f"CPU:{i + 1}", "batch", whole) for i in range(replicas)
    ]


@pytest.mark.parametrize(
    ("strategy", "on_gpus", "as_run"),
    [
        ("inplace", Strategy.INPLACE, Strategy.INPLACE),
        ("wholebatch", Strategy.WHOLEBATCH, Strategy.WHOLEBATCH),
        # on this CPU the default device is the host: concat is cut there, as in place
        ("concat", Strategy.CONCAT, Strategy.INPLACE),
    ],
)
@pytest.mark.parametrize("replicas", [2, 3])
def test_each_traced_split_resolves_to_itself_on_gpus(strategy, on_gpus, as_run, replicas):
    traced, batch, _ = traced_cell(strategy, replicas=replicas)
    found = transfers.audits(traced, global_batch=batch)
    assert transfers.resolved_split(found["on_gpus"].rows, replicas) is on_gpus
    assert transfers.resolved_split(found["as_run"].rows, traced.replica_devices) is as_run


def test_as_run_on_the_cpu_the_two_splits_move_the_same_bytes():
    inplace, _ = audit("inplace", "as_run")
    concat, _ = audit("concat", "as_run")
    assert inplace.rows == concat.rows
    assert inplace.total_bytes("batch") == 0
    assert inplace.bytes_between("CPU:0", "CPU:1", "slices") == 8 * IMAGE_BYTES


@pytest.mark.parametrize("strategy", ["inplace", "wholebatch", "concat"])
def test_each_replica_sends_one_gradient_per_weight_and_reads_each_weight_once(strategy):
    result, param_bytes = audit(strategy, "on_gpus")
    for replica in ("GPU:0", "GPU:1"):
        assert result.bytes_between(replica, "CPU:0", "gradients") == param_bytes
    assert result.bytes_between("CPU:0", "GPU:1", "weights") == param_bytes


def test_weights_on_gpu0_keep_replica_zero_gradients_local():
    result, param_bytes = audit("inplace", "on_gpus", weights="gpu0")
    assert result.bytes_between("GPU:1", "GPU:0", "gradients") == param_bytes
    assert result.bytes_between("GPU:0", "CPU:0", "gradients") == 0
    assert result.bytes_between("GPU:0", "GPU:1", "weights") == param_bytes


def test_an_uneven_batch_gives_the_last_replica_the_remainder():
    model = MultiGpuModel(templates.mlp(), 3)
    model.compile(optimizer="sgd", loss="mse")
    x, y = templates.arrays((7, 4), (7, 3))
    traced, _ = KERAS3.trace_step(_built(model), x, y)
    result = transfers.audit(traced, global_batch=7, resolution="on_gpus")
    sample = 4 * FLOAT
    assert [result.bytes_between("CPU:0", f"GPU:{i}", "slices") for i in range(3)] == [
        2 * sample,
        2 * sample,
        3 * sample,
    ]


def test_an_uneven_batch_goes_whole_to_every_replica_in_the_whole_batch_split():
    model = WholeBatchModel(templates.mlp(), 3)
    model.compile(optimizer="sgd", loss="mse")
    x, y = templates.arrays((7, 4), (7, 3))
    traced, _ = KERAS3.trace_step(_built(model), x, y)
    result = transfers.audit(traced, global_batch=7, resolution="on_gpus")
    assert result.unresolved == ()
    assert [(r.dst, r.bytes) for r in result.rows if r.role in ("batch", "slices")] == [
        (f"GPU:{i}", 7 * 4 * FLOAT) for i in range(3)
    ]


@pytest.mark.parametrize(
    ("wrapper", "expected"),
    [
        (
            MultiGpuModel,
            [("CPU:0", "GPU:0", "slices", 256), ("CPU:0", "GPU:1", "slices", 256)],
        ),
        (
            WholeBatchModel,
            [("CPU:0", "GPU:0", "batch", 512), ("CPU:0", "GPU:1", "batch", 512)],
        ),
        (
            ParallelModel,
            [("CPU:0", "GPU:0", "batch", 512), ("GPU:0", "GPU:1", "slices", 256)],
        ),
    ],
)
def test_a_two_input_template_counts_every_input(wrapper, expected):
    # inputs (6,) and (2,) float32: 8 floats = 32 bytes a sample; batch 16 over 2 replicas
    model = wrapper(templates.two_in_two_out(), 2)
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    x = templates.arrays((16, 6), (16, 2))
    y = templates.arrays((16, 1), (16, 3))
    traced, reason = KERAS3.trace_step(_built(model), x, y)
    assert reason is None
    result = transfers.audit(traced, global_batch=16, resolution="on_gpus")
    moved = [(r.src, r.dst, r.role, r.bytes) for r in result.rows if r.role in ("batch", "slices")]
    assert moved == expected
    assert result.bytes_between("CPU:0", "GPU:0", "labels") == 16 * (1 + 3) * FLOAT


def test_mirrored_is_not_traced_and_says_why():
    spec = BuildSpec(model="TinyMLP", image_size=8, classes=5, strategy="mirrored", replicas=2)
    built = KERAS3.build_compiled(spec)
    x, y = models.synthetic_batch(8, 5, spec.global_batch)
    traced, reason = KERAS3.trace_step(built, x, y)
    assert traced is None and "MirroredStrategy" in reason


def test_the_record_field_holds_both_resolutions():
    traced, batch, _ = traced_cell("concat")
    field = transfers.both_resolutions(traced, global_batch=batch)
    assert set(field) == {"as_run", "on_gpus"}
    assert {"src": "CPU:0", "dst": "GPU:0", "role": "batch", "bytes": 16 * IMAGE_BYTES} in field[
        "on_gpus"
    ]
    assert all(isinstance(row["bytes"], int) for rows in field.values() for row in rows)


def _built(model):
    from mgbench.backends.base import Built

    return Built(model, model.replica_devices, "CPU:0", strategy="inplace")


def test_on_gpus_a_one_device_model_runs_on_gpu0_reading_its_weights_from_the_host():
    spec = BuildSpec(model="TinyCNN", image_size=32, classes=10, strategy="single", replicas=1)
    built = KERAS3.build_compiled(spec)
    x, y = models.synthetic_batch(32, 10, spec.global_batch)
    traced, _ = KERAS3.trace_step(built, x, y)
    param_bytes = sum(int(np.prod(v.shape)) * FLOAT for v in built.model.trainable_variables)
    on_gpus = transfers.audit(traced, global_batch=spec.global_batch, resolution="on_gpus")
    assert on_gpus.bytes_between("CPU:0", "GPU:0", "batch") == spec.global_batch * IMAGE_BYTES
    assert on_gpus.bytes_between("CPU:0", "GPU:0", "weights") >= param_bytes
    # as run on this CPU machine, one device is the host itself: nothing crosses
    assert transfers.audit(traced, global_batch=spec.global_batch).rows == ()

"""The transfer audit and the placer heuristics on synthetic graphs (no TensorFlow)."""

from __future__ import annotations

import pytest

from mgbench.placement import OpInfo, TensorInfo, TracedStep, resolve_devices
from mgbench.records.record import RecordError, Transfers
from mgbench.transfers import Transfer, audit, replica_batches


def f32(*shape: int | None) -> tuple[TensorInfo]:
    return (TensorInfo(shape=tuple(shape), dtype="float32", itemsize=4),)


HANDLE = (TensorInfo(shape=(), dtype="resource", itemsize=0),)


def step(*ops: OpInfo, replicas=("CPU:1", "CPU:2"), **kwargs) -> TracedStep:
    return TracedStep(
        ops=ops, replica_devices=replicas, default_device="CPU:0", batch_inputs=("x",), **kwargs
    )


def test_a_constant_runs_with_its_consumers_when_they_agree_else_on_the_default():
    ops = [
        OpInfo("c", "Const", outputs=f32()),
        OpInfo("a", "Mul", requested_device="CPU:1", inputs=("c",), outputs=f32()),
        OpInfo("shared", "Const", outputs=f32()),
        OpInfo("b", "Mul", requested_device="CPU:2", inputs=("shared",), outputs=f32()),
        OpInfo("d", "Mul", requested_device="CPU:1", inputs=("shared",), outputs=f32()),
    ]
    placed = resolve_devices(ops, "CPU:0")
    assert placed["c"] == ("CPU:1", "with_consumer")
    assert placed["shared"] == ("CPU:0", "default")


def test_a_shape_op_runs_with_its_input_and_its_input_edge_moves_nothing():
    ops = [
        OpInfo("x", "Placeholder", outputs=f32(4, 10)),
        OpInfo("big", "Relu", requested_device="CPU:1", inputs=("x",), outputs=f32(4, 10)),
        OpInfo("shape", "Shape", inputs=("big",), outputs=f32(2)),
        OpInfo("far", "Shape", requested_device="CPU:2", inputs=("big",), outputs=f32(2)),
    ]
    assert resolve_devices(ops, "CPU:0")["shape"] == ("CPU:1", "with_input")
    result = audit(step(*ops), global_batch=4)
    assert result.bytes_between("CPU:1", "CPU:2") == 0  # "far" reads only the shape
    assert result.rows == (Transfer("CPU:0", "CPU:1", "batch", 160),)


def test_a_tensor_is_sent_once_per_destination_device():
    ops = [
        OpInfo("x", "Placeholder", outputs=f32(8, 2)),
        OpInfo("r0a", "Relu", requested_device="CPU:1", inputs=("x",), outputs=f32(8, 2)),
        OpInfo("r0b", "Tanh", requested_device="CPU:1", inputs=("x",), outputs=f32(8, 2)),
        OpInfo("r1", "Relu", requested_device="CPU:2", inputs=("x",), outputs=f32(8, 2)),
    ]
    result = audit(step(*ops), global_batch=8)
    assert result.rows == (
        Transfer("CPU:0", "CPU:1", "batch", 64),
        Transfer("CPU:0", "CPU:2", "batch", 64),
    )


def test_handles_move_no_data():
    ops = [
        OpInfo("w", "Placeholder", captured_device="CPU:0", outputs=HANDLE),
        OpInfo("x", "Placeholder", outputs=f32(1)),
        OpInfo("uses_handle", "Mul", requested_device="CPU:1", inputs=("w",), outputs=f32(1)),
    ]
    # an op reading a resource runs on the resource's device (CPU:0): nothing crosses
    assert audit(step(*ops), global_batch=1).rows == ()


def test_on_gpus_unplaced_ops_go_to_the_first_replica_renamed_gpu0():
    ops = [
        OpInfo("x", "Placeholder", outputs=f32(4, 3)),
        OpInfo("mgbench_split/split", "Split", inputs=("x",), outputs=f32(2, 3) * 2),
        OpInfo(
            "replica_1/dense", "MatMul", requested_device="CPU:2",
            inputs=("mgbench_split/split",), input_indices=(1,), outputs=f32(2, 5),
        ),
    ]  # fmt: skip
    traced = step(*ops)
    assert audit(traced, global_batch=4, resolution="as_run").rows == (
        Transfer("CPU:0", "CPU:2", "slices", 24),
    )
    assert audit(traced, global_batch=4, resolution="on_gpus").rows == (
        Transfer("CPU:0", "GPU:0", "batch", 48),
        Transfer("GPU:0", "GPU:1", "slices", 24),
    )


def test_an_unknown_batch_dimension_is_resolved_from_the_cell():
    ops = [
        OpInfo("x", "Placeholder", outputs=f32(None, 3)),
        OpInfo("mgbench_split/split", "Split", inputs=("x",), outputs=f32(None, 3) * 3),
        OpInfo(
            "replica_2/dense", "MatMul", requested_device="CPU:3",
            inputs=("mgbench_split/split",), input_indices=(2,), outputs=f32(None, 5),
        ),
        OpInfo("mgbench_merge/concat", "ConcatV2", requested_device="CPU:0",
               inputs=("replica_2/dense",), outputs=f32(None, 5)),
    ]  # fmt: skip
    traced = step(*ops, replicas=("CPU:1", "CPU:2", "CPU:3"))
    result = audit(traced, global_batch=7, resolution="on_gpus")
    assert result.rows == (
        Transfer("CPU:0", "GPU:0", "batch", 7 * 12),
        Transfer("GPU:0", "GPU:2", "slices", 3 * 12),  # the last replica's share: 7 = 2 + 2 + 3
        Transfer("GPU:2", "CPU:0", "outputs", 3 * 20),
    )
    assert replica_batches(7, 3) == [2, 2, 3]


def test_a_tensor_of_unknown_size_is_named_not_guessed():
    ops = [
        OpInfo("x", "Placeholder", outputs=f32(4, None)),
        OpInfo("r", "Relu", requested_device="CPU:1", inputs=("x",), outputs=f32(4, None)),
    ]
    result = audit(step(*ops), global_batch=4)
    assert result.rows == () and result.unresolved == ("x:0",)


def test_a_placeholder_asked_for_elsewhere_is_fed_by_a_copy():
    ops = [
        OpInfo("x", "Placeholder", requested_device="CPU:1", outputs=f32(4, 2)),
        OpInfo("r", "Relu", requested_device="CPU:1", inputs=("x",), outputs=f32(4, 2)),
    ]
    assert audit(step(*ops), global_batch=4).rows == (Transfer("CPU:0", "CPU:1", "batch", 32),)
    # prefetched onto the first replica: nothing to copy
    assert audit(step(*ops), global_batch=4, input_device="CPU:1").rows == ()


def test_an_unknown_resolution_is_refused():
    with pytest.raises(ValueError, match="resolution must be one of as_run, on_gpus"):
        audit(step(), global_batch=1, resolution="on_tpus")


def test_the_record_field_round_trips_and_names_a_bad_row():
    data = {
        "as_run": [],
        "on_gpus": [{"src": "CPU:0", "dst": "GPU:0", "role": "batch", "bytes": 8}],
    }
    assert Transfers.from_json(data).on_gpus == (Transfer("CPU:0", "GPU:0", "batch", 8),)
    bad = {"as_run": [], "on_gpus": [{"src": "CPU:0", "dst": "GPU:0", "role": "x", "bytes": 1.5}]}
    with pytest.raises(RecordError, match=r"transfers.on_gpus\[0\].bytes: expected an integer"):
        Transfers.from_json(bad)
    with pytest.raises(RecordError, match=r"transfers.as_run: expected a list"):
        Transfers.from_json({"on_gpus": []})


def test_the_claims_baseline_sends_the_whole_batch_to_every_replica():
    from mgbench.transfers import whole_batch_to_every_replica

    inplace = (
        Transfer("CPU:0", "GPU:0", "slices", 30),
        Transfer("CPU:0", "GPU:1", "slices", 30),
        Transfer("CPU:0", "GPU:2", "slices", 40),  # the last replica's remainder
        Transfer("GPU:1", "CPU:0", "gradients", 7),
    )
    assert whole_batch_to_every_replica(inplace) == (
        Transfer("CPU:0", "GPU:0", "batch", 100),
        Transfer("CPU:0", "GPU:1", "batch", 100),
        Transfer("CPU:0", "GPU:2", "batch", 100),
        Transfer("GPU:1", "CPU:0", "gradients", 7),
    )


def test_ops_that_only_forward_a_handle_are_not_pulled_to_the_variable():
    # Keras 2's BatchNormalization runs an If whose branches read the moving statistics: TF
    # exempts If (and calls, While, IdentityN) from running beside the resources they take.
    ops = [
        OpInfo("moving_mean", "Placeholder", captured_device="CPU:0", outputs=HANDLE),
        OpInfo("replica_0/conv", "Conv2D", requested_device="CPU:1", outputs=f32(8, 4, 4, 16)),
        OpInfo(
            "replica_0/bn/cond", "If", requested_device="CPU:1",
            inputs=("replica_0/conv", "moving_mean"), outputs=f32(8, 4, 4, 16),
        ),
        OpInfo("replica_0/bn/read", "ReadVariableOp", requested_device="CPU:1",
               inputs=("moving_mean",), outputs=f32(16)),
        OpInfo("replica_0/bn/scale", "Mul", requested_device="CPU:1",
               inputs=("replica_0/bn/read",), outputs=f32(16)),
    ]  # fmt: skip
    placed = resolve_devices(ops, "CPU:0")
    assert placed["replica_0/bn/cond"] == ("CPU:1", "requested")
    assert placed["replica_0/bn/read"] == ("CPU:0", "resource")
    assert audit(step(*ops), global_batch=8).rows == (Transfer("CPU:0", "CPU:1", "weights", 64),)


def test_resolving_a_large_graph_stays_linear():
    # 20,000 constants each feeding one op: a list-membership scan made this quadratic
    # (minutes); a count of comparisons, not a timer, keeps it honest.
    import mgbench.placement as placement_module

    ops = []
    for i in range(10_000):
        ops.append(OpInfo(f"c{i}", "Const", outputs=f32()))
        ops.append(OpInfo(f"m{i}", "Mul", requested_device="CPU:1", inputs=(f"c{i}",)))
    compared = 0
    original_eq = OpInfo.__eq__

    def counting_eq(self, other):
        nonlocal compared
        compared += 1
        return original_eq(self, other)

    OpInfo.__eq__ = counting_eq
    try:
        placed = placement_module.resolve_devices(ops, "CPU:0")
    finally:
        OpInfo.__eq__ = original_eq
    assert placed["c9999"] == ("CPU:1", "with_consumer")
    assert compared < len(ops)

"""The transfer audit and the placer heuristics on synthetic graphs (no TensorFlow)."""

from __future__ import annotations

import pytest

from mgbench.placement import OpInfo, TensorInfo, TracedStep, resolve_devices
from mgbench.records.record import RecordError, Transfers
from mgbench.transfers import (
    Transfer,
    audit,
    format_resolved_split,
    replica_batches,
    resolved_split,
)
from mgbench.vocabulary import Strategy


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


# -- the three splits, traced on synthetic graphs, and the split their rows resolve to ---------


def split_step(where: str, *, replicas: int = 3, batch: int | None = 7) -> TracedStep:
    """A one-input step over ``replicas`` simulated replicas (CPU:1..n), each sample 3 float32
    (12 bytes), its batch ``batch`` (None: unknown in the graph, resolved from the cell).

    ``where`` says where each replica's slice is cut: ``host`` (the in-place split: requested on
    CPU:0, each slice's shape static as Keras 3 traces it), ``replica`` (the whole-batch split:
    under each replica's device and name scope, its size unknown in the graph), or ``default``
    (the concat split: one unplaced Split).
    """
    devices = [f"CPU:{i + 1}" for i in range(replicas)]
    shares = replica_batches(batch or 7, replicas)
    ops = [OpInfo("x", "Placeholder", outputs=f32(batch, 3))]
    if where == "default":
        ops.append(
            OpInfo("mgbench_split/split", "Split", inputs=("x",), outputs=f32(None, 3) * replicas)
        )
    for i, device in enumerate(devices):
        if where == "default":
            sliced, index = "mgbench_split/split", i
        else:
            on = device if where == "replica" else "CPU:0"
            prefix = f"replica_{i}/" if where == "replica" else ""
            sliced, index = f"{prefix}mgbench_split/strided_slice_{i}", 0
            share = shares[i] if where == "host" else None
            ops.append(
                OpInfo(sliced, "StridedSlice", requested_device=on, inputs=("x",),
                       outputs=f32(share, 3))
            )  # fmt: skip
        ops.append(
            OpInfo(f"replica_{i}/dense", "MatMul", requested_device=device, inputs=(sliced,),
                   input_indices=(index,), outputs=f32(None, 5))
        )  # fmt: skip
    return step(*ops, replicas=tuple(devices))


WHOLE = 7 * 12  # the whole batch of 7 samples
SHARES = [2 * 12, 2 * 12, 3 * 12]  # 7 = 2 + 2 + 3: the last replica takes the remainder


@pytest.mark.parametrize("batch", [7, None])
def test_the_whole_batch_split_sends_the_whole_batch_to_every_replica(batch):
    traced = split_step("replica", batch=batch)
    assert traced.placement().devices_for("slice") == ["CPU:1", "CPU:2", "CPU:3"]
    assert audit(traced, global_batch=7).rows == tuple(
        Transfer("CPU:0", f"CPU:{i + 1}", "batch", WHOLE) for i in range(3)
    )
    on_gpus = audit(traced, global_batch=7, resolution="on_gpus").rows
    assert on_gpus == tuple(Transfer("CPU:0", f"GPU:{i}", "batch", WHOLE) for i in range(3))
    assert resolved_split(on_gpus, 3) is Strategy.WHOLEBATCH


def test_the_in_place_split_sends_each_replica_its_share_from_the_host():
    traced = split_step("host")
    expected = tuple(Transfer("CPU:0", f"GPU:{i}", "slices", SHARES[i]) for i in range(3))
    on_gpus = audit(traced, global_batch=7, resolution="on_gpus").rows
    assert on_gpus == expected
    assert resolved_split(on_gpus, 3) is Strategy.INPLACE
    assert resolved_split(audit(traced, global_batch=7).rows, traced.replica_devices) == (
        Strategy.INPLACE
    )


def test_the_concat_split_resolves_as_concat_on_gpus_and_as_in_place_on_this_cpu():
    traced = split_step("default", batch=6)
    on_gpus = audit(traced, global_batch=6, resolution="on_gpus").rows
    assert on_gpus == (
        Transfer("CPU:0", "GPU:0", "batch", 6 * 12),
        Transfer("GPU:0", "GPU:1", "slices", 2 * 12),
        Transfer("GPU:0", "GPU:2", "slices", 2 * 12),
    )
    assert resolved_split(on_gpus, 3) is Strategy.CONCAT
    # as run here the default device is the host: the split is cut there, as in place
    as_run = audit(traced, global_batch=6).rows
    assert resolved_split(as_run, traced.replica_devices) is Strategy.INPLACE


def rows(*spec: tuple[str, str, str, int]) -> list[Transfer]:
    return [Transfer(*row) for row in spec]


@pytest.mark.parametrize(
    "found",
    [
        rows(("CPU:0", "GPU:0", "batch", 84), ("CPU:0", "GPU:1", "batch", 84)),  # not GPU:2
        rows(*(("CPU:0", f"GPU:{i}", "batch", 84 - i) for i in range(3))),  # not one batch
        rows(("CPU:0", "GPU:0", "slices", 24), ("GPU:1", "GPU:2", "slices", 36)),  # two sources
        rows(("CPU:0", "GPU:0", "batch", 84), ("GPU:1", "GPU:2", "slices", 36)),  # not from GPU:0
        rows(("CPU:0", "GPU:0", "batch", 84), ("CPU:0", "GPU:1", "slices", 24)),  # a mix
        rows(("GPU:0", "CPU:0", "gradients", 8)),  # nothing split
    ],
)
def test_rows_that_are_no_known_split_resolve_to_none(found):
    assert resolved_split(found, 3) is None


def test_one_replica_has_no_split():
    assert resolved_split(rows(("CPU:0", "GPU:0", "batch", 84)), 1) is None


def test_the_resolved_split_line_says_how_and_whether_it_is_the_split_built():
    whole = rows(*(("CPU:0", f"GPU:{i}", "batch", 1_000) for i in range(2)))
    assert format_resolved_split(whole, 2, "wholebatch") == (
        "split on gpus: wholebatch (as built): the whole batch (1,000 B) from CPU:0 to each of "
        "GPU:0, GPU:1"
    )
    assert format_resolved_split(whole, 2, "inplace") == (
        "split on gpus: wholebatch (NOT the inplace split it was built as): the whole batch "
        "(1,000 B) from CPU:0 to each of GPU:0, GPU:1"
    )
    concat = rows(("CPU:0", "GPU:0", "batch", 1_000), ("GPU:0", "GPU:1", "slices", 500))
    assert format_resolved_split(concat, 2, "concat") == (
        "split on gpus: concat (as built): the whole batch (1,000 B) from CPU:0 to GPU:0, "
        "slices from there to GPU:1"
    )
    inplace = rows(("CPU:0", "GPU:0", "slices", 500), ("CPU:0", "GPU:1", "slices", 500))
    assert format_resolved_split(inplace, 2, "inplace", "as_run") == (
        "split as run: inplace (as built): each replica's slice from CPU:0, no whole batch moved"
    )
    assert format_resolved_split([], 2, "inplace") == (
        "split on gpus: none of inplace, wholebatch, concat (built as inplace)"
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

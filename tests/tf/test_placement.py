"""Placement, op by op: each replica's forward and backward ops on its own device."""

from __future__ import annotations

import pytest
import templates
from templates import arrays, keras

from mgbench.placement import OpInfo, analyse, format_placement, trace_train_step
from mgbench.wrappers import MultiGpuModel, ParallelModel, WholeBatchModel

# -- the pure resolver, on synthetic graphs -----------------------------------------------------


def test_resolver_applies_the_placer_rules_in_order():
    ops = [
        OpInfo("w", "Placeholder", captured_device="/job:localhost/replica:0/task:0/device:CPU:0"),
        OpInfo("x", "Placeholder"),
        OpInfo("replica_0/read", "ReadVariableOp", requested_device="/device:CPU:1", inputs=("w",)),
        OpInfo(
            "replica_0/matmul",
            "MatMul",
            requested_device="/device:CPU:1",
            inputs=("x", "replica_0/read"),
        ),
        OpInfo("replica_1/matmul", "MatMul", requested_device="/device:CPU:2", inputs=("x",)),
        OpInfo("gradients/replica_0/matmul_grad", "MatMul", colocated_with="replica_0/matmul"),
        OpInfo("gradients/replica_1/matmul_grad", "MatMul", colocated_with="replica_1/matmul"),
        OpInfo(
            "gradients/AddN",
            "AddN",
            colocated_with="w",
            inputs=("gradients/replica_0/matmul_grad", "gradients/replica_1/matmul_grad"),
        ),
        OpInfo("sgd/AssignSub", "AssignSubVariableOp", inputs=("w", "gradients/AddN")),
        OpInfo("compile_loss/mse", "Mean"),
        OpInfo("mgbench_split/split", "Split"),
        OpInfo("mgbench_merge/concat", "ConcatV2", requested_device="/device:CPU:0"),
    ]
    report = analyse(
        ops,
        replica_devices=["/device:CPU:1", "/device:CPU:2"],
        default_device="/device:GPU:0",
        writable_captures=["w"],
    )
    placed = {op.name: (op.role, op.device, op.placed_by) for op in report.ops}
    assert "w" not in placed and "x" not in placed
    assert placed["replica_0/read"] == ("variable_read", "CPU:0", "resource")
    assert placed["replica_0/matmul"] == ("forward", "CPU:1", "requested")
    assert placed["gradients/replica_1/matmul_grad"] == ("backward", "CPU:2", "colocated")
    assert placed["gradients/AddN"] == ("grad_aggregate", "CPU:0", "colocated")
    assert placed["sgd/AssignSub"] == ("update", "CPU:0", "resource")
    assert placed["compile_loss/mse"] == ("loss", "GPU:0", "default")
    assert placed["mgbench_split/split"] == ("slice", "GPU:0", "default")
    assert placed["mgbench_merge/concat"] == ("merge", "CPU:0", "requested")
    summary = report.summary()
    assert summary["unplaced_ops"] == {"loss": 1, "slice": 1}
    assert summary["grad_aggregate_devices"] == ["CPU:0"]
    assert report.counts()["CPU:1"] == {"forward": 1, "backward": 1}


def test_an_add_within_one_replica_is_not_an_aggregation():
    ops = [
        OpInfo("gradients/replica_0/a", "Mul", requested_device="/device:CPU:1"),
        OpInfo("gradients/replica_0/b", "Mul", requested_device="/device:CPU:1"),
        OpInfo(
            "gradients/replica_0/AddN",
            "AddN",
            inputs=("gradients/replica_0/a", "gradients/replica_0/b"),
            colocated_with="gradients/replica_0/a",
        ),
    ]
    report = analyse(ops, replica_devices=["CPU:1"], default_device="CPU:0")
    assert {op.role for op in report.ops} == {"backward"}


# -- real traced steps ---------------------------------------------------------------------------


def traced(wrapper, replicas, build=templates.mlp, batch=6):
    model = wrapper(build(), replicas)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = arrays((batch, 4), (batch, 3))
    return model, trace_train_step(model, x, y)


@pytest.mark.parametrize("wrapper", [MultiGpuModel, WholeBatchModel, ParallelModel])
@pytest.mark.parametrize("replicas", [2, 3])
def test_each_replica_runs_its_forward_and_backward_on_its_own_device(wrapper, replicas):
    model, report = traced(wrapper, replicas)
    expected = [f"CPU:{i + 1}" for i in range(replicas)]
    assert list(report.replica_devices) == expected
    for role in ("forward", "backward"):
        per_replica = {i: set() for i in range(replicas)}
        for op in report.ops_for(role):
            index = report.replica_of(op)
            if index is not None:
                per_replica[index].add(op.device)
        assert per_replica == {i: {expected[i]} for i in range(replicas)}, role
    backward_on_replicas = [op for op in report.ops_for("backward") if op.device in expected]
    assert len(backward_on_replicas) >= 2 * replicas  # each Dense layer's weight gradient at least
    assert all(op.placed_by != "default" for op in backward_on_replicas)
    assert report.devices_for("grad_aggregate") == ["CPU:0"]  # the weights' device
    assert len(report.ops_for("grad_aggregate")) == len(model.trainable_variables)
    assert report.devices_for("update") == ["CPU:0"]
    assert report.devices_for("merge") == ["CPU:0"]
    assert report.variable_devices == ("CPU:0",)


def test_in_place_split_slices_on_the_host_by_request():
    _, report = traced(MultiGpuModel, 2)
    slices = report.ops_for("slice")
    assert slices and {(op.device, op.placed_by) for op in slices} == {("CPU:0", "requested")}


@pytest.mark.parametrize("replicas", [2, 3])
def test_whole_batch_split_slices_every_replica_on_its_own_device_by_request(replicas):
    model, report = traced(WholeBatchModel, replicas, batch=7)
    expected = [f"CPU:{i + 1}" for i in range(replicas)]
    slices = report.ops_for("slice")
    assert {report.replica_of(op) for op in slices} == set(range(replicas))
    for op in slices:  # op by op: each in its replica's scope, on that replica's device
        assert (op.device, op.placed_by) == (expected[report.replica_of(op)], "requested"), op
    assert model.jit_compile is False  # XLA would erase the placement


def test_concat_split_slices_wherever_the_default_device_is():
    """No device scope: on a GPU machine the placer would put this on GPU:0 (DESIGN §1)."""
    _, report = traced(ParallelModel, 2)
    splits = [op for op in report.ops_for("slice") if op.type == "Split"]
    assert len(splits) == 1
    assert splits[0].placed_by == "default"
    assert splits[0].device == report.default_device == "CPU:0"


def test_gradient_tape_leaves_the_bare_template_backward_unplaced():
    """The trap the wrappers avoid: GradientTape's backward ops carry no device."""
    template = templates.mlp()
    template.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = arrays((6, 4), (6, 3))
    report = trace_train_step(template, x, y)
    backward = report.ops_for("backward")
    # Only the placer's heuristics place them (a constant with its consumer, a Shape with its
    # input): nothing asks for a device or colocates them, so they follow the default device.
    assert backward
    assert {op.placed_by for op in backward} <= {"default", "with_consumer", "with_input"}
    assert any(op.placed_by == "default" for op in backward)
    assert report.ops_for("forward")


def test_placement_table_names_every_stage():
    _, report = traced(MultiGpuModel, 2)
    text = format_placement(report, "MultiGpuModel, 2 replicas")
    lines = text.splitlines()
    assert lines[0] == "MultiGpuModel, 2 replicas"
    assert lines[1].split("|")[1].strip() == "device"
    assert any(line.startswith("| CPU:1 (replica 0)") for line in lines)
    assert "input slicing         : CPU:0" in lines
    assert "gradient aggregation  : CPU:0" in lines

"""Where the step time goes: trace events joined with the placement audit, on synthetic traces
with known answers (no TensorFlow: the profiler module imports it only to run and read)."""

from __future__ import annotations

import json

import pytest

from mgbench.analysis.timeline import (
    CPU_COPY_NOTE,
    TimelineSummary,
    summarise,
    summarise_events,
    summarise_timeline,
)
from mgbench.present.timeline import format_timeline
from mgbench.trackers.tf_profiler import (
    CATEGORIES,
    TraceEvent,
    attribute,
    copy_category,
    memcpy_bytes,
    parse_rendezvous_key,
    split_op_event,
    strip_call_scopes,
)

HOST = "/host:CPU"
GPU0, GPU1 = "/device:GPU:0", "/device:GPU:1"
CALL = "StatefulPartitionedCall/"
KEY = "/job:localhost/replica:0/task:0/device:{};5ac13c85242d1ddd;/job:localhost/replica:0/task:0/device:{};edge_7_x;0:0"  # noqa: E501


def op(name, type_, us, *, line="tf_Compute/1", src=None, dst=None):
    return TraceEvent(CALL + name, type_, us * 1e-6, HOST, line, "op", src=src, dst=dst)


def send(name, us, src, dst):
    return op(name, "_Send", us, src=src, dst=dst)


# -- parsing ------------------------------------------------------------------------------------


def test_op_event_names_split_into_op_and_type():
    assert split_op_event("StatefulPartitionedCall/a/b_1/Relu:_MklNativeFusedConv2D") == (
        "StatefulPartitionedCall/a/b_1/Relu",
        "_MklNativeFusedConv2D",
    )
    for not_an_op in ("ExecutorState::Process", "EagerLocalExecute: __inference_f_1", "Iterator"):
        assert split_op_event(not_an_op) is None


def test_a_rendezvous_key_names_both_ends():
    assert parse_rendezvous_key(KEY.format("CPU:0", "CPU:2")) == ("CPU:0", "CPU:2")
    assert parse_rendezvous_key(KEY.format("GPU:1", "CPU:0")) == ("GPU:1", "CPU:0")
    assert parse_rendezvous_key("not;a;key") is None
    assert parse_rendezvous_key("a;b;c;d;e") is None


def test_memcpy_details_give_the_bytes():
    assert memcpy_bytes("kind_src:pageable kind_dst:device size:393216 dest:0 async:1") == 393216
    assert memcpy_bytes("num_bytes:12") == 12
    assert memcpy_bytes("kind_src:device") is None


def test_call_scopes_are_stripped_to_the_audited_name():
    assert strip_call_scopes("StatefulPartitionedCall/parallelmodel/replica_0/x") == (
        "parallelmodel/replica_0/x"
    )
    assert strip_call_scopes("StatefulPartitionedCall_3/PartitionedCall/loss/Sum") == "loss/Sum"
    assert strip_call_scopes("IteratorGetNext") == "IteratorGetNext"


@pytest.mark.parametrize(
    ("src", "dst", "category"),
    [
        ("CPU:0", "GPU:0", "copy_h2d"),
        ("GPU:0", "GPU:1", "copy_d2d"),
        ("CPU:2", "CPU:0", "copy_d2h"),
        ("CPU:0", "CPU:0", "other"),
    ],
)
def test_a_copy_is_classified_by_its_ends(src, dst, category):
    assert copy_category(src, dst, "CPU:0") == category


# -- the CPU simulation: _Send/_Recv on the host plane -------------------------------------------

PLACEMENT = {
    "m/split/split": ("CPU:0", "slice"),
    "m/replica_0/conv/Relu": ("CPU:1", "forward"),
    "m/replica_1/conv/Relu": ("CPU:2", "forward"),
    "gradients/m/replica_0/conv_grad/F": ("CPU:1", "backward"),
    "gradients/m/replica_1/conv_grad/F": ("CPU:2", "backward"),
    "m/merge/concat": ("CPU:0", "merge"),
    "compile_loss/Sum": ("CPU:0", "loss"),
    "gradients/AddN": ("CPU:0", "grad_aggregate"),
    "sgd/AssignSub": ("CPU:0", "update"),
    "sgd/Read": ("CPU:0", "variable_read"),
}


def cpu_step():
    """One concat step on simulated CPUs: the host slices, sends each replica its slice, and
    receives the outputs and gradients back. Times in microseconds."""
    return [
        op("IteratorGetNext", "IteratorGetNext", 3),
        op("m/split/split", "Split", 4),
        send("m/split/split/_10", 1, "CPU:0", "CPU:1"),
        send("m/split/split/_12", 1, "CPU:0", "CPU:2"),
        # Recvs show as their async kernel's Start and Done, named by the stats (no key).
        op("m/split/split/_11", "_Recv", 0.5, line="tf_Compute/2"),
        op("m/split/split/_11", "_Recv", 0.5, line="tf_Compute/3"),
        op("m/split/split/_13", "_Recv", 2, line="tf_Compute/2"),
        op("m/replica_0/conv/Relu", "_MklNativeFusedConv2D", 60),
        op("m/replica_1/conv/Relu", "_MklNativeFusedConv2D", 40),
        send("m/replica_0/conv/Relu/_20", 2, "CPU:1", "CPU:0"),
        # partitioning numbered this Recv apart from its Send: the producer still pairs them
        op("m/replica_0/conv/Relu/_25", "_Recv", 2),
        op("m/merge/concat", "ConcatV2", 5),
        op("compile_loss/Sum", "Sum", 1),
        op("gradients/m/replica_0/conv_grad/F", "Conv2DBackpropFilter", 100),
        op("gradients/m/replica_1/conv_grad/F", "Conv2DBackpropFilter", 80),
        op("gradients/AddN", "AddN", 2),
        op("sgd/AssignSub", "AssignSubVariableOp", 3),
        op("sgd/Read", "ReadVariableOp", 1),
        op("mystery/op", "Mul", 4),
    ]


def test_cpu_trace_attributes_every_op_and_copy_to_its_device():
    attribution = attribute(cpu_step() * 2, PLACEMENT, host="CPU:0")
    s = attribution.seconds
    us = pytest.approx
    assert s["CPU:0"] == {
        "slicing": us(8e-6),
        "copy_h2d": us(4e-6),  # the two Sends of the slices
        "copy_d2h": us(4e-6),  # the host's Recv of replica 0's output
        "merge": us(10e-6),
        "loss": us(2e-6),
        "grad_aggregate": us(4e-6),
        "update": us(6e-6),
        "other": us(8e-6),  # input (IteratorGetNext) and the optimizer's variable read
    }
    assert s["CPU:1"] == {
        "copy_h2d": us(2e-6),  # its Recv, Start and Done
        "forward": us(120e-6),
        "copy_d2h": us(4e-6),  # its Send of the output
        "backward": us(200e-6),
    }
    assert s["CPU:2"] == {"copy_h2d": us(4e-6), "forward": us(80e-6), "backward": us(160e-6)}
    assert s["unknown"] == {"other": us(8e-6)}
    assert attribution.unmatched == ("mystery/op",)
    assert attribution.bytes == {}
    assert attribution.copies == "rendezvous"
    assert attribution.events == 38


def test_cpu_summary_is_per_step_with_shares_and_the_cpu_note():
    summary = summarise_events(
        cpu_step() * 2,
        PLACEMENT,
        steps=2,
        host="CPU:0",
        replica_devices=("CPU:1", "CPU:2"),
        wall_s=0.002,
    )
    assert [(d.device, d.label) for d in summary.devices] == [
        ("CPU:0", "host"),
        ("CPU:1", "replica 0"),
        ("CPU:2", "replica 1"),
        ("unknown", "not placed"),
    ]
    host, replica0 = summary.device("CPU:0"), summary.device("CPU:1")
    assert set(host.seconds) == set(CATEGORIES)
    assert host.seconds["slicing"] == pytest.approx(4e-6)
    assert host.total_s == pytest.approx(23e-6)
    assert host.attributed_share == pytest.approx(19 / 23)
    assert replica0.seconds["forward"] == pytest.approx(60e-6)
    assert replica0.attributed_share == 1.0
    assert summary.devices_with("slicing") == ["CPU:0"]
    assert summary.devices_with("forward") == ["CPU:1", "CPU:2"]
    assert summary.total_s == pytest.approx(312e-6)  # 23 + 163 + 122 + 4 us
    assert summary.attributed_share == pytest.approx((312 - 8) / 312)
    placed_by_audit = 4 + 60 + 40 + 5 + 1 + 100 + 80 + 2 + 3 + 1
    assert summary.matched_share == pytest.approx(placed_by_audit / 312)
    assert summary.wall_s_per_step == pytest.approx(0.001)
    assert summary.note == CPU_COPY_NOTE


def test_a_recv_whose_send_went_to_several_devices_stays_unknown():
    events = [
        send("x/_1", 1, "CPU:0", "CPU:1"),
        send("x/_3", 1, "CPU:0", "CPU:2"),
        op("x/_9", "_Recv", 1),  # neither n + 1 nor a producer sent to one device only
    ]
    attribution = attribute(events, {}, host="CPU:0")
    assert attribution.seconds["unknown"] == {"other": pytest.approx(1e-6)}
    assert attribution.unmatched == ("x/_9",)


# -- GPUs: kernels and Memcpy events on device planes -------------------------------------------


def kernel(plane, name, type_, us):
    return TraceEvent(CALL + name, type_, us * 1e-6, plane, "Stream #7(Compute)", "kernel")


def memcpy(plane, direction, us, size, *, src=None, dst=None):
    name, type_ = CALL + "m/x/_5", f"Memcpy{direction}"
    return TraceEvent(name, type_, us * 1e-6, plane, "Stream #9", "memcpy", size, src, dst)


GPU_PLACEMENT = {
    "m/split/split": ("GPU:0", "slice"),
    "m/replica_0/conv/Relu": ("GPU:0", "forward"),
    "m/replica_1/conv/Relu": ("GPU:1", "forward"),
    "gradients/AddN": ("CPU:0", "grad_aggregate"),
}


def gpu_step():
    """A concat step on two GPUs: the batch goes to GPU:0 whole, a slice on to GPU:1."""
    return [
        memcpy(GPU0, "H2D", 30, 393216, dst="GPU:0"),
        kernel(GPU0, "m/split/split", "Split", 2),
        memcpy(GPU1, "P2P", 10, 196608, src="GPU:1", dst="GPU:1"),
        kernel(GPU0, "m/replica_0/conv/Relu", "Conv2D", 50),
        kernel(GPU1, "m/replica_1/conv/Relu", "Conv2D", 50),
        memcpy(GPU1, "D2H", 4, 1024, src="GPU:1"),
        kernel(GPU1, "m/unknown_kernel", "Mul", 1),
        # the host side: launches of GPU ops and rendezvous bookkeeping are not device time
        op("m/replica_0/conv/Relu", "Conv2D", 20),
        send("m/split/split/_1", 3, "GPU:0", "GPU:1"),
        op("m/split/split/_2", "_Recv", 3),
        op("gradients/AddN", "AddN", 6),  # placed on the host: host time
    ]


def test_gpu_trace_counts_device_kernels_and_memcpy_bytes_once():
    summary = summarise_events(
        gpu_step() * 3, GPU_PLACEMENT, steps=3, host="CPU:0", replica_devices=("GPU:0", "GPU:1")
    )
    gpu0, gpu1, host = summary.device("GPU:0"), summary.device("GPU:1"), summary.device("CPU:0")
    assert gpu0.seconds["copy_h2d"] == pytest.approx(30e-6)
    assert gpu0.bytes == {"copy_h2d": 393216}
    assert gpu0.seconds["slicing"] == pytest.approx(2e-6)
    assert gpu0.seconds["forward"] == pytest.approx(50e-6)  # the host's 20 us launch is left out
    assert gpu1.bytes == {"copy_d2d": 196608, "copy_d2h": 1024}
    assert gpu1.seconds["other"] == pytest.approx(1e-6)
    assert host.seconds["grad_aggregate"] == pytest.approx(6e-6)
    assert host.total_s == pytest.approx(6e-6)  # no _Send/_Recv time on the host
    assert summary.copies == "memcpy"
    assert summary.note is None
    assert [d.label for d in summary.devices] == ["host", "replica 0", "replica 1"]


# -- JSON and text ------------------------------------------------------------------------------


def test_the_profile_json_round_trips_and_summarises():
    attribution = attribute(cpu_step(), PLACEMENT, host="CPU:0")
    profile = {
        "steps": 1,
        "wall_s": 0.5,
        "trace_path": "/runs/x/plugins/profile/r/h.xplane.pb",
        "host": "CPU:0",
        "replica_devices": ["CPU:1", "CPU:2"],
        "attribution": json.loads(json.dumps(attribution.to_json())),
    }
    summary = summarise_timeline(profile)
    assert summary == summarise(
        attribution,
        steps=1,
        replica_devices=("CPU:1", "CPU:2"),
        wall_s=0.5,
        trace_path=profile["trace_path"],
    )
    data = json.loads(json.dumps(summary.to_json(), allow_nan=False))
    assert TimelineSummary.from_json(data) == summary


def test_summaries_need_a_step():
    with pytest.raises(ValueError, match="steps"):
        summarise(attribute([], {}), steps=0)


def test_an_empty_trace_summarises_to_nothing_without_dividing_by_zero():
    summary = summarise(attribute([], {}), steps=2)
    assert summary.devices == () and summary.total_s == 0.0 and summary.attributed_share == 0.0


def test_the_table_shows_ms_per_device_and_category_with_the_note_under_it():
    summary = summarise_events(
        gpu_step(), GPU_PLACEMENT, steps=1, host="CPU:0", replica_devices=("GPU:0", "GPU:1")
    )
    text = format_timeline(summary, "TinyCNN concat, 2 replicas")
    lines = text.splitlines()
    assert lines[0] == "TinyCNN concat, 2 replicas"
    assert [c.strip() for c in lines[1].split("|")[1:5]] == ["device", "", "forward", "backward"]
    gpu0 = next(line for line in lines if line.startswith("| GPU:0"))
    assert "0.050" in gpu0  # 50 us of forward, in ms
    assert "0.030 (0.38 MiB)" in gpu0  # the whole batch to GPU:0
    assert lines[-1].startswith("named:") or lines[-1].startswith("ops the audit")

    cpu = summarise_events(cpu_step(), PLACEMENT, steps=1, replica_devices=("CPU:1", "CPU:2"))
    assert format_timeline(cpu).splitlines()[-1] == CPU_COPY_NOTE

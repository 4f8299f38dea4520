"""The step-time profile, for real: TinyCNN on two simulated CPU replicas, both wrappers, two
profiled steps each, read back from the trace the profiler wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgbench import backends
from mgbench.analysis.timeline import CPU_COPY_NOTE, summarise_timeline
from mgbench.backends.base import BuildSpec
from mgbench.execution.timeline_capture import capture_timeline
from mgbench.present.timeline import format_timeline
from mgbench.trackers import tf_profiler

REPLICAS = ("CPU:1", "CPU:2")
HOST = "CPU:0"


@pytest.fixture(scope="module", params=["concat", "inplace"])
def profiled(request, tmp_path_factory):
    backend = backends.get("keras3")
    spec = BuildSpec(model="TinyCNN", image_size=32, strategy=request.param, batch_per_replica=4)
    built = backend.build_compiled(spec)
    logdir = tmp_path_factory.mktemp(f"profile_{request.param}")
    result = capture_timeline(backend, spec, built, warmup_steps=2, steps=2, logdir=logdir)
    return request.param, logdir, result


def test_the_trace_is_kept_where_tensorboard_finds_it(profiled):
    _, logdir, result = profiled
    trace = Path(result["trace_path"])
    assert trace.is_file() and trace.name.endswith(".xplane.pb")
    assert trace.parent.parent == logdir / "plugins" / "profile"
    json.dumps(result, allow_nan=False)  # a record can keep it as it is


def test_each_replica_spends_forward_and_backward_time_on_its_own_device(profiled):
    _, _, result = profiled
    summary = summarise_timeline(result)
    assert [d.device for d in summary.devices] == [HOST, *REPLICAS]
    for device in REPLICAS:
        seconds = summary.device(device).seconds
        assert seconds["forward"] > 0 and seconds["backward"] > 0, device
    assert summary.devices_with("forward") == list(REPLICAS)


def test_slicing_runs_where_the_placement_audit_puts_it(profiled):
    # On simulated CPUs both splits slice on the host: in-place by request, concat because
    # the host is the default device (on GPUs concat's split would land on GPU:0).
    _, _, result = profiled
    summary = summarise_timeline(result)
    assert summary.devices_with("slicing") == [HOST]
    assert summary.devices_with("merge") == [HOST]
    assert summary.devices_with("update") == [HOST]


def test_step_time_is_positive_and_every_op_is_attributed(profiled):
    # Shares of time vary with the machine's load (the host's input pipeline is "other"), so
    # the checks are structural: every op the trace names is one the audit placed, and the
    # replicas' time is all in named categories.
    _, _, result = profiled
    summary = summarise_timeline(result)
    assert summary.steps == 2
    assert all(d.total_s > 0 for d in summary.devices)
    assert summary.unmatched == ()
    for replica in ("CPU:1", "CPU:2"):
        assert summary.device(replica).seconds["other"] == 0.0
        assert summary.device(replica).attributed_share == 1.0
    assert summary.wall_s_per_step is not None and summary.wall_s_per_step > 0


def test_cpu_copies_are_rendezvous_hand_offs_with_the_note(profiled):
    _, _, result = profiled
    summary = summarise_timeline(result)
    assert summary.copies == "rendezvous"
    assert summary.note == CPU_COPY_NOTE
    for device in REPLICAS:
        seconds = summary.device(device).seconds
        assert seconds["copy_h2d"] > 0 and seconds["copy_d2h"] > 0, device  # slices in, out back
        assert summary.device(device).bytes == {}  # a CPU hand-off moves no bytes to count
    assert summary.device(HOST).seconds["copy_h2d"] > 0  # the host's Sends of the slices
    assert format_timeline(summary).splitlines()[-2] == CPU_COPY_NOTE


def test_the_trace_holds_sends_with_their_ends_and_recvs(profiled):
    _, _, result = profiled
    events = tf_profiler.read_xspace(result["trace_path"])
    sends = [e for e in events if e.type == "_Send"]
    recvs = [e for e in events if e.type == "_Recv"]
    assert sends and recvs
    assert {(e.src, e.dst) for e in sends} >= {(HOST, r) for r in REPLICAS}
    assert all(e.plane == "/host:CPU" and e.line for e in events)

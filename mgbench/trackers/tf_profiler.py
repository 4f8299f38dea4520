"""Where a step's time goes: run steps under TensorFlow's profiler and read its trace back.

:func:`profile` runs a step function under ``tf.profiler.experimental`` and keeps the trace in
``logdir`` (``plugins/profile/<run>/<host>.xplane.pb``, which TensorBoard's profile plugin opens);
:func:`read_xspace` turns that file into plain :class:`TraceEvent` records; :func:`attribute`
(pure) joins them with the placement audit into seconds and bytes per (device, category).

Why the XPlane protos, read directly: the ``.xplane.pb`` file *is* what the profiler writes, and
TensorFlow ships its schema (``tensorflow.tsl.profiler.protobuf.xplane_pb2``), so reading it costs
no extra dependency and no conversion step. The converter packages (``xprof``, formerly
``tensorboard-plugin-profile``) bring a native library pinned to their own TensorFlow/XLA
release, and what they produce (trace-viewer JSON, op-profile tables) is a *re-aggregation*:
trace-viewer JSON drops stats such as the rendezvous key that names a copy's source and
destination device, and the op tables group by op type/category rather than keeping the graph op
name the placement audit is keyed by. The raw events keep the op name (``"name:type"`` on host
op events, the ``tf_op`` stat on GPU kernels), the ``_Send`` rendezvous key
(``src_device;incarnation;dst_device;edge;frame:iter``) and the ``memcpy_details`` stat with the
bytes of a GPU copy. The format is TensorFlow's long-lived on-disk profile format (TensorBoard
reads old runs with it), and only a few of its field and stat names are relied on here.

What the trace contains differs by machine. On the CPU simulation there is one plane,
``/host:CPU``: op kernels are ``"<op name>:<op type>"`` events on the executor threads
(``tf_Compute/...``), ``_Send`` is such an event carrying the rendezvous key, and ``_Recv``, an
asynchronous kernel, shows only as ``ExecutorState::ProcessAsync::Start``/``::Done`` events whose
``name`` and ``kernel_type`` stats name it. With GPUs, each GPU has a ``/device:GPU:N`` plane
whose kernels carry ``tf_op`` and whose copies are ``MemcpyH2D``/``MemcpyD2H``/``MemcpyD2D``/
``MemcpyP2P`` events with ``memcpy_details`` (``... size:<bytes> ...``). The device planes are
physical GPUs: virtual GPUs split from one chip share its plane, so their kernels find their
logical device through the audit, but their copies are all charged to the chip's GPU:N.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgbench.devices import short_name
from mgbench.platform import lazy

# The categories a step's time is attributed to, in the order a summary shows them.
CATEGORIES = (
    "forward",
    "backward",
    "slicing",
    "merge",
    "loss",
    "grad_aggregate",
    "update",
    "copy_h2d",
    "copy_d2d",
    "copy_d2h",
    "other",
)
COPY_CATEGORIES = ("copy_h2d", "copy_d2d", "copy_d2h")
_ROLE_CATEGORY = {
    "slice": "slicing",
    "forward": "forward",
    "merge": "merge",
    "loss": "loss",
    "backward": "backward",
    "grad_aggregate": "grad_aggregate",
    "update": "update",
}
UNKNOWN_DEVICE = "unknown"
# How a trace shows its cross-device copies (the summary's note depends on it).
COPIES_RENDEZVOUS = "rendezvous"  # host-side _Send/_Recv only: the CPU simulation
COPIES_MEMCPY = "memcpy"  # device-plane Memcpy* events: real GPUs
COPIES_NONE = "none"

HOST_PLANE = "/host:CPU"
_DEVICE_PLANE_RE = re.compile(r"^/device:(GPU|TPU):\d+$")
# TF names op-kernel events "<op name>:<op type>"; op names never hold ":" (TF forbids it).
_OP_EVENT_RE = re.compile(r"^([A-Za-z0-9.][\w.\-/>]*):([A-Za-z_]\w*)$")
_ASYNC_KERNEL_EVENTS = frozenset(
    {"ExecutorState::ProcessAsync::Start", "ExecutorState::ProcessAsync::Done"}
)
_SEND_TYPES = frozenset({"_Send", "_HostSend"})
_RECV_TYPES = frozenset({"_Recv", "_HostRecv"})
# CUPTI names a copy by its direction; older TensorFlow spelled it HtoD/DtoH/DtoD.
_MEMCPY_RE = re.compile(r"^Memcpy(H2D|HtoD|D2H|DtoH|D2D|DtoD|P2P|PtoP|Other)\b")
_MEMCPY_DIRECTION = {
    "H2D": "copy_h2d",
    "HtoD": "copy_h2d",
    "D2H": "copy_d2h",
    "DtoH": "copy_d2h",
    "D2D": "copy_d2d",
    "DtoD": "copy_d2d",
    "P2P": "copy_d2d",
    "PtoP": "copy_d2d",
}
_MEMCPY_BYTES_RE = re.compile(r"\b(?:size|num_bytes):(\d+)")
# Function calls wrap a step's ops in these scopes; the placement audit names ops without them.
_CALL_SCOPE_RE = re.compile(r"^(?:Stateful)?PartitionedCall(?:_\d+)?$|^__inference_\w+$")
# Partitioning names a Send/Recv pair "<producer>/_<n>"; the Recv usually takes n + 1.
_RENDEZVOUS_NAME_RE = re.compile(r"^(.*)/_(\d+)$")
# Input-pipeline kernels run where the iterator lives (the host) and are no audited op.
_HOST_INPUT_TYPES = frozenset(
    {"IteratorGetNext", "OptionalFromValue", "OptionalHasValue", "OptionalGetValue"}
)


@dataclass(frozen=True)
class TraceEvent:
    """One op kernel, GPU kernel or copy from the trace, in plain values."""

    name: str  # the graph op's name as the trace gives it (call scopes included)
    type: str  # op type (``_MklNativeFusedConv2D``, ``_Send``) or ``MemcpyH2D``-like for copies
    seconds: float
    plane: str  # ``/host:CPU``, ``/device:GPU:0``
    line: str  # thread (host) or stream (device)
    kind: str = "op"  # "op" (host op kernel), "kernel" (device kernel) or "memcpy"
    bytes: int | None = None  # memcpy events only, when the trace gives them
    src: str | None = None  # copies: sending device (short name), when the trace names it
    dst: str | None = None  # copies: receiving device
    start_ns: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "seconds": self.seconds,
            "plane": self.plane,
            "line": self.line,
            "kind": self.kind,
            "bytes": self.bytes,
            "src": self.src,
            "dst": self.dst,
            "start_ns": self.start_ns,
        }


@dataclass(frozen=True)
class ProfiledSteps:
    """The trace of ``steps`` profiled steps: where it is and what it holds."""

    trace_path: Path  # the .xplane.pb file
    events: tuple[TraceEvent, ...]
    steps: int
    wall_s: float  # the profiled steps' wall time, profiler overhead included


# -- pure parsing helpers ---------------------------------------------------------------------


def split_op_event(name: str) -> tuple[str, str] | None:
    """``"scope/op:Type"`` -> ``("scope/op", "Type")``; None for any other event name."""
    match = _OP_EVENT_RE.match(name)
    return (match.group(1), match.group(2)) if match else None


def parse_rendezvous_key(key: str) -> tuple[str, str] | None:
    """``(src, dst)`` short device names from a rendezvous key, None if it is not one.

    The key is ``src_device;src_incarnation;dst_device;edge_name;frame_id:iter_id``.
    """
    parts = key.split(";")
    if len(parts) != 5:
        return None
    try:
        return short_name(parts[0]), short_name(parts[2])
    except ValueError:
        return None


def memcpy_bytes(details: str) -> int | None:
    """Bytes copied, from a ``memcpy_details`` stat (``"kind_src:... size:1024 ..."``)."""
    match = _MEMCPY_BYTES_RE.search(details)
    return int(match.group(1)) if match else None


def strip_call_scopes(name: str) -> str:
    """The op's name inside the traced step: leading function-call scopes removed."""
    parts = name.split("/")
    while len(parts) > 1 and _CALL_SCOPE_RE.match(parts[0]):
        parts = parts[1:]
    return "/".join(parts)


# -- reading the XSpace ------------------------------------------------------------------------


def _xplane_pb2() -> Any:
    lazy.tensorflow()
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:  # a TensorFlow that vendors TSL elsewhere
        from tsl.profiler.protobuf import xplane_pb2
    return xplane_pb2


def _stat_value(stat: Any, stat_metadata: Any) -> Any:
    kind = stat.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(stat, kind)
    # Repeated strings are stored once in the plane's stat metadata and referenced by id.
    return stat_metadata[value].name if kind == "ref_value" else value


def _stats(stats: Iterable[Any], stat_metadata: Any) -> dict[str, Any]:
    return {stat_metadata[s.metadata_id].name: _stat_value(s, stat_metadata) for s in stats}


def _host_events(plane: Any) -> list[TraceEvent]:
    events = []
    for line in plane.lines:
        for event in line.events:
            metadata = plane.event_metadata[event.metadata_id]
            op = split_op_event(metadata.name)
            stats: dict[str, Any] | None = None
            if op is None and metadata.name in _ASYNC_KERNEL_EVENTS:
                stats = _stats(event.stats, plane.stat_metadata)
                if "name" in stats and "kernel_type" in stats:
                    op = (str(stats["name"]), str(stats["kernel_type"]))
            if op is None:
                continue
            src = dst = None
            if op[1] in _SEND_TYPES:
                stats = stats or _stats(event.stats, plane.stat_metadata)
                ends = parse_rendezvous_key(str(stats.get("key", "")))
                if ends is not None:
                    src, dst = ends
            events.append(
                TraceEvent(
                    name=op[0],
                    type=op[1],
                    seconds=event.duration_ps * 1e-12,
                    plane=plane.name,
                    line=line.name,
                    kind="op",
                    src=src,
                    dst=dst,
                    start_ns=line.timestamp_ns + event.offset_ps // 1000,
                )
            )
    return events


def _device_events(plane: Any) -> list[TraceEvent]:
    device = short_name(plane.name)
    events = []
    for line in plane.lines:
        for event in line.events:
            metadata = plane.event_metadata[event.metadata_id]
            stats = _stats(event.stats, plane.stat_metadata)
            stats.update(_stats(metadata.stats, plane.stat_metadata))
            tf_op = split_op_event(str(stats.get("tf_op", ""))) or ("", "")
            copy = _MEMCPY_RE.match(metadata.name)
            if copy is not None:
                direction = _MEMCPY_DIRECTION.get(copy.group(1))
                events.append(
                    TraceEvent(
                        name=tf_op[0] or metadata.name,
                        type=f"Memcpy{copy.group(1)}",
                        seconds=event.duration_ps * 1e-12,
                        plane=plane.name,
                        line=line.name,
                        kind="memcpy",
                        bytes=memcpy_bytes(str(stats.get("memcpy_details", ""))),
                        src=None if direction == "copy_h2d" else device,
                        dst=None if direction == "copy_d2h" else device,
                        start_ns=line.timestamp_ns + event.offset_ps // 1000,
                    )
                )
            elif tf_op[0]:
                events.append(
                    TraceEvent(
                        name=tf_op[0],
                        type=tf_op[1],
                        seconds=event.duration_ps * 1e-12,
                        plane=plane.name,
                        line=line.name,
                        kind="kernel",
                        start_ns=line.timestamp_ns + event.offset_ps // 1000,
                    )
                )
    return events


def read_xspace(path: str | Path) -> list[TraceEvent]:
    """The op kernels, device kernels and copies of an ``.xplane.pb`` file, as plain events.

    Everything else (executor bookkeeping, Python calls, tf.data internals, CUDA API calls on
    ``/host:CUDA``) is left out: it belongs to no graph op.
    """
    space = _xplane_pb2().XSpace()
    space.ParseFromString(Path(path).read_bytes())
    events: list[TraceEvent] = []
    for plane in space.planes:
        if plane.name == HOST_PLANE:
            events += _host_events(plane)
        elif _DEVICE_PLANE_RE.match(plane.name):
            events += _device_events(plane)
    return events


def _trace_files(logdir: Path) -> set[Path]:
    return set((logdir / "plugins" / "profile").glob("*/*.xplane.pb"))


def profile(step: Callable[[], Any], *, steps: int, logdir: str | Path) -> ProfiledSteps:
    """Run ``step`` ``steps`` times under the profiler (the caller has warmed it up).

    The trace stays in ``logdir`` for TensorBoard; a new run folder is made per call.
    """
    if steps < 1:
        raise ValueError(f"profile: steps must be at least 1, got {steps}")
    tf = lazy.tensorflow()
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    before = _trace_files(logdir)
    tf.profiler.experimental.start(str(logdir))
    try:
        began = time.perf_counter()
        for _ in range(steps):
            step()
        wall_s = time.perf_counter() - began
    finally:
        tf.profiler.experimental.stop()
    written = sorted(_trace_files(logdir) - before, key=lambda p: p.stat().st_mtime)
    if not written:
        raise RuntimeError(f"the profiler wrote no .xplane.pb under {logdir}/plugins/profile")
    trace = written[-1]
    return ProfiledSteps(trace, tuple(read_xspace(trace)), steps, wall_s)


# -- attribution (pure) -----------------------------------------------------------------------


@dataclass
class _Cell:
    seconds: float = 0.0
    bytes: int | None = None
    events: int = 0


@dataclass(frozen=True)
class Attribution:
    """Trace time (and copied bytes) summed per (device, category), over all profiled steps."""

    seconds: dict[str, dict[str, float]]  # device -> category -> seconds
    bytes: dict[str, dict[str, int]]  # device -> copy category -> bytes, where the trace had them
    events: int
    matched_s: float  # time of events whose op the placement audit knew
    inferred_s: float  # time placed by the trace itself (a copy's ends, a device plane, input)
    unknown_s: float  # time of events neither could place
    unmatched: tuple[str, ...] = field(default=())  # a sample of op names the audit lacked
    copies: str = COPIES_NONE

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "bytes": self.bytes,
            "events": self.events,
            "matched_s": self.matched_s,
            "inferred_s": self.inferred_s,
            "unknown_s": self.unknown_s,
            "unmatched": list(self.unmatched),
            "copies": self.copies,
        }


def copy_category(src: str, dst: str, host: str) -> str:
    """``copy_h2d``, ``copy_d2d`` or ``copy_d2h`` for a copy between two devices."""
    if src == host and dst != host:
        return "copy_h2d"
    if src != host and dst == host:
        return "copy_d2h"
    if src != host and dst != host:
        return "copy_d2d"
    return "other"


def _recv_ends(events: Iterable[TraceEvent]) -> dict[str, tuple[str, str]]:
    """Recv op name -> (src, dst), from the Send events' rendezvous keys.

    A Recv's own events carry no key. Partitioning names the pair ``<producer>/_<n>`` and
    ``<producer>/_<n+1>``; failing that, a producer sent to one device only is unambiguous.
    """
    by_name: dict[str, tuple[str, str]] = {}
    by_producer: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for event in events:
        if event.type in _SEND_TYPES and event.src and event.dst:
            match = _RENDEZVOUS_NAME_RE.match(strip_call_scopes(event.name))
            if match:
                by_name[f"{match.group(1)}/_{int(match.group(2)) + 1}"] = (event.src, event.dst)
                by_producer[match.group(1)].add((event.src, event.dst))
    for producer, ends in by_producer.items():
        if len(ends) == 1:
            by_name.setdefault(producer, next(iter(ends)))
    return by_name


def attribute(
    events: Iterable[TraceEvent],
    placement: Mapping[str, tuple[str, str]],
    *,
    host: str = "CPU:0",
) -> Attribution:
    """Sum the events' time per (device, category); pure, so synthetic events test it.

    ``placement`` maps an op name, as the placement audit gives it, to ``(device, role)``.
    An op's device and category come from the audit; a copy's category from its two ends
    (``_Send``/``_Recv`` between devices, or a ``Memcpy*`` event's direction), and its time goes
    to the device that ran it. When the trace has device planes, their kernels and copies are the
    device's time, so host-side events of ops placed on a device (kernel launches) and the
    host's ``_Send``/``_Recv`` bookkeeping are left out rather than counted twice.
    """
    event_list = list(events)
    device_planes = any(e.kind in ("kernel", "memcpy") for e in event_list)
    recv_ends = _recv_ends(event_list)
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    matched_s = inferred_s = unknown_s = 0.0
    unmatched: list[str] = []
    copies = COPIES_NONE
    counted = 0

    def add(device: str, category: str, event: TraceEvent) -> None:
        nonlocal counted
        cell = cells[(device, category)]
        cell.seconds += event.seconds
        cell.events += 1
        if event.bytes is not None:
            cell.bytes = (cell.bytes or 0) + event.bytes
        counted += 1

    for event in event_list:
        name = strip_call_scopes(event.name)
        if event.kind == "memcpy":
            copies = COPIES_MEMCPY
            direction = _MEMCPY_RE.match(event.type)
            category = _MEMCPY_DIRECTION.get(direction.group(1), "other") if direction else "other"
            device = event.src if category == "copy_d2h" else event.dst
            add(device or short_name(event.plane), category, event)
            inferred_s += event.seconds
            continue
        if event.type in _SEND_TYPES or event.type in _RECV_TYPES:
            if device_planes:
                continue
            is_send = event.type in _SEND_TYPES
            ends = (event.src, event.dst) if is_send else recv_ends.get(name)
            if ends is None:
                match = _RENDEZVOUS_NAME_RE.match(name)
                ends = recv_ends.get(match.group(1)) if match else None
            if ends is None or not ends[0] or not ends[1]:
                add(UNKNOWN_DEVICE, "other", event)
                unknown_s += event.seconds
                _note(unmatched, name)
                continue
            copies = COPIES_RENDEZVOUS
            src, dst = str(ends[0]), str(ends[1])
            add(src if is_send else dst, copy_category(src, dst, host), event)
            inferred_s += event.seconds
            continue
        placed = placement.get(name)
        if placed is not None:
            device, role = placed
            if event.kind == "op" and device_planes and not device.startswith("CPU"):
                continue  # its launch on the host; the device plane has its kernel time
            add(device, _ROLE_CATEGORY.get(role, "other"), event)
            matched_s += event.seconds
        elif event.kind == "kernel":
            add(short_name(event.plane), "other", event)
            inferred_s += event.seconds
            _note(unmatched, name)
        elif event.type in _HOST_INPUT_TYPES:
            add(host, "other", event)
            inferred_s += event.seconds
        else:
            add(UNKNOWN_DEVICE, "other", event)
            unknown_s += event.seconds
            _note(unmatched, name)

    seconds: dict[str, dict[str, float]] = defaultdict(dict)
    copied: dict[str, dict[str, int]] = defaultdict(dict)
    for (device, category), cell in sorted(cells.items()):
        seconds[device][category] = cell.seconds
        if cell.bytes is not None:
            copied[device][category] = cell.bytes
    return Attribution(
        seconds=dict(seconds),
        bytes=dict(copied),
        events=counted,
        matched_s=matched_s,
        inferred_s=inferred_s,
        unknown_s=unknown_s,
        unmatched=tuple(unmatched),
        copies=copies,
    )


_UNMATCHED_SAMPLE = 20


def _note(sample: list[str], name: str) -> None:
    if len(sample) < _UNMATCHED_SAMPLE and name not in sample:
        sample.append(name)

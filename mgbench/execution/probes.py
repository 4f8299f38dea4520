"""The checks of ``mgbench doctor`` that need TensorFlow or NVML, as plain data.

Three kinds, by where they must run:

- :func:`inspect_tensorflow` runs in the doctor's own process: the TF build (CUDA, cuDNN), the
  physical and logical GPUs (memory growth on first, so the process holds little), and TF's
  allocator statistics per GPU (``get_memory_info``: a known allocation must show in its peak).
- :func:`read_nvml` reads the driver, each GPU's name, memory and UUID, whether NVML lists this
  process, and which NVML index each TF GPU is (by UUID, honouring ``CUDA_VISIBLE_DEVICES``:
  ``hardware.visible_nvml_indices``). No TensorFlow; call it after :func:`inspect_tensorflow` so
  this process has a context on its GPUs for NVML to list.
- In a child process, because devices must be configured before TensorFlow starts
  (``python -m mgbench.execution.probes KIND SPEC.json OUT.json``, spawned by :func:`run_child`):
  ``virtual-gpus`` splits the first GPU in two and checks what TF made of it; ``placement``
  trains ONE tiny step per strategy on 2 replicas and records where its ops were predicted to run
  (``mgbench.placement``) and where they ran.

How the ran-where is observed: TensorFlow's run metadata of the function call. With
``context.enable_run_metadata()`` on when a function is first instantiated, the runtime keeps its
*partition graphs*: the graph as it is executed, one ``GraphDef`` per device after the placer,
Grappler and partitioning, every node with the device it was assigned. That is the placement that
ran, on CPUs and GPUs alike, for the real Keras ``train_function`` (its nested functions inlined;
names match the traced step once the call scopes are stripped). The alternatives fall short: on
the CPU the profiler's host events carry no device, so the XPlane trace cannot tell simulated
replicas apart (``mgbench.trackers.tf_profiler`` joins them with the prediction instead);
``tf.debugging.set_log_device_placement`` prints the same facts as C++ log lines to be scraped
back; ``RunOptions(trace_level=FULL_TRACE)`` reaches only TF1 sessions, not a ``tf.function``
step; and a concrete function's graph carries only requested devices, which is the prediction's
own input. Limits: Grappler fuses and folds ops (a ``Conv2D`` + ``BiasAdd`` become one fused node
named after one of them; constants fold into new nodes), so only ops that ran under their traced
name are compared (their share is reported), and nodes added by partitioning (``_Send``/``_Recv``,
``_Arg``/``_Retval``) are left out. The step is the function's first run: the graphs are recorded
at instantiation only.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgbench import devices
from mgbench.execution import child
from mgbench.platform import hardware, quiet
from mgbench.vocabulary import BACKENDS, Strategy

CHILD_MODULE = "mgbench.execution.probes"
# Every strategy the keras3 backend builds in one process.
STRATEGIES = BACKENDS["keras3"].strategies
PLACEMENT_REPLICAS = 2
VIRTUAL_GPUS = 2
VIRTUAL_GPU_MEMORY_MB = 1024
PLACEMENT_TIMEOUT_S = 75.0
TRACEBACK_TAIL_LINES = 15  # a failed probe's traceback, in the doctor's report
VIRTUAL_GPU_TIMEOUT_S = 30.0
# A known allocation on each GPU that TF's peak statistics must show.
PEAK_PROBE_BYTES = 64 * 2**20
# The tiny step: TinyCNN on 32 px images, 4 per replica.
PROBE_MODEL, PROBE_IMAGE_SIZE, PROBE_CLASSES, PROBE_BATCH_PER_REPLICA = "TinyCNN", 32, 10, 4
# Nodes partitioning adds to carry tensors between devices and in and out of a function.
PARTITION_NODE_TYPES = frozenset(
    {"_Send", "_Recv", "_HostSend", "_HostRecv", "_Arg", "_Retval", "_DeviceArg", "_DeviceRetval"}
)


# -- in this process: TensorFlow ---------------------------------------------------------------


@dataclass(frozen=True)
class TfGpu:
    device: str  # short name: GPU:0
    model: str | None  # what TF calls the chip ("NVIDIA H200")
    compute_capability: str | None = None


@dataclass(frozen=True)
class MemoryProbe:
    """TF's allocator peak on one GPU after allocating ``expected_bytes`` there."""

    device: str
    expected_bytes: int
    peak_bytes: int | None
    error: str | None = None


@dataclass(frozen=True)
class TfInspection:
    version: str
    built_with_cuda: bool
    cuda_build: str | None
    cudnn_build: str | None
    physical_gpus: tuple[TfGpu, ...]
    logical_gpus: tuple[str, ...]
    cpu_devices: int
    memory: tuple[MemoryProbe, ...] = ()
    auto_jit: str = ""  # tf.config.optimizer.get_jit(): "" when XLA auto-clustering is off


def inspect_tensorflow(*, probe_bytes: int = PEAK_PROBE_BYTES) -> TfInspection:
    """Start TensorFlow here (memory growth on) and read its build, devices and GPU allocator."""
    from mgbench.platform import lazy

    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    tf = lazy.tensorflow()
    build = dict(tf.sysconfig.get_build_info())
    physical = tf.config.list_physical_devices("GPU")
    devices.enable_memory_growth()  # before the runtime starts: hold only what is used
    gpus = []
    for gpu in physical:
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        gpus.append(
            TfGpu(
                # "/physical_device:GPU:0" is no device name short_name knows
                device=f"GPU:{gpu.name.rsplit(':', 1)[-1]}",
                model=details.get("device_name"),
                compute_capability=".".join(map(str, capability)) if capability else None,
            )
        )
    logical = tuple(d.name for d in tf.config.list_logical_devices("GPU"))
    return TfInspection(
        version=tf.__version__,
        built_with_cuda=bool(tf.test.is_built_with_cuda()),
        cuda_build=build.get("cuda_version"),
        cudnn_build=build.get("cudnn_version"),
        physical_gpus=tuple(gpus),
        logical_gpus=tuple(devices.short_name(d) for d in logical),
        cpu_devices=len(tf.config.list_physical_devices("CPU")),
        memory=tuple(_probe_peak(tf, name, probe_bytes) for name in logical),
        auto_jit=str(tf.config.optimizer.get_jit() or ""),
    )


def _probe_peak(tf: Any, device: str, probe_bytes: int) -> MemoryProbe:
    short = devices.short_name(device)
    try:
        tf.config.experimental.reset_memory_stats(device)
        with tf.device(device):
            probe = tf.zeros([probe_bytes // 4], dtype=tf.float32)
        _ = probe.numpy()[:1]  # the allocation is real once its value is read
        peak = int(tf.config.experimental.get_memory_info(device)["peak"])
        del probe
    except Exception as error:  # a device that cannot answer is a finding, not a crash
        return MemoryProbe(short, probe_bytes, None, _one_line(error))
    return MemoryProbe(short, probe_bytes, peak)


# -- in this process: NVML ---------------------------------------------------------------------


@dataclass(frozen=True)
class NvmlGpu:
    index: int
    name: str
    uuid: str
    memory_total_bytes: int
    memory_used_bytes: int
    process_listed: bool  # NVML lists this process among the GPU's compute processes
    process_bytes: int | None  # its memory there (None: not listed, or listed without a figure)
    other_processes: int  # compute processes NVML lists that are not this one


@dataclass(frozen=True)
class NvmlSnapshot:
    driver: str
    gpus: tuple[NvmlGpu, ...]
    pid: int
    cuda_visible_devices: str | None
    cuda_device_order: str | None
    visible_indices: tuple[int, ...] | None  # TF GPU i -> NVML index visible_indices[i]
    mapping_error: str | None = None


def read_nvml(
    nvml: hardware.Nvml,
    *,
    pid: int,
    cuda_visible_devices: str | None,
    cuda_device_order: str | None,
) -> NvmlSnapshot:
    """Everything the doctor asks NVML, in one snapshot (fakes stand in for it in tests)."""
    gpus = []
    mig_parents: dict[str, str] = {}
    for index in range(nvml.device_count()):
        uuid = nvml.device_uuid(index)
        mig_parents.update(dict.fromkeys(nvml.mig_uuids(index), uuid))
        process = nvml.process_memory(index, pid)
        gpus.append(
            NvmlGpu(
                index=index,
                name=nvml.device_name(index),
                uuid=uuid,
                memory_total_bytes=nvml.memory_total_bytes(index),
                memory_used_bytes=nvml.memory_used_bytes(index),
                process_listed=process.listed,
                process_bytes=process.used_bytes,
                other_processes=process.other_processes,
            )
        )
    visible: tuple[int, ...] | None = None
    error = None
    try:
        visible = tuple(
            hardware.visible_nvml_indices([g.uuid for g in gpus], cuda_visible_devices, mig_parents)
        )
    except ValueError as reason:
        error = str(reason)
    return NvmlSnapshot(
        driver=nvml.driver_version(),
        gpus=tuple(gpus),
        pid=pid,
        cuda_visible_devices=cuda_visible_devices,
        cuda_device_order=cuda_device_order,
        visible_indices=visible,
        mapping_error=error,
    )


def open_and_read_nvml() -> tuple[NvmlSnapshot | None, str | None]:
    """This machine's NVML snapshot, or None and why NVML cannot be read here."""
    try:
        nvml = hardware.open_nvml()
    except hardware.NvmlUnavailable as reason:
        return None, str(reason)
    try:
        snapshot = read_nvml(
            nvml,
            pid=os.getpid(),
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            cuda_device_order=os.environ.get("CUDA_DEVICE_ORDER"),
        )
    except Exception as error:  # a driver that answers badly is reported, not a traceback
        return None, f"NVML failed while being read: {_one_line(error)}"
    return snapshot, None


# -- in a child process: virtual GPUs and placement --------------------------------------------


def virtual_gpu_probe(*, count: int = VIRTUAL_GPUS, memory_mb: int = VIRTUAL_GPU_MEMORY_MB) -> dict:
    """Split the first GPU in ``count`` (a fresh process), then check what TensorFlow made of it:
    the logical GPUs and their limits, a tensor on each, and that a late split is refused."""
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    names = devices.simulate(count, kind="gpu", memory_limit_mb=memory_mb)
    first = tf.config.list_physical_devices("GPU")[0]
    limits = [c.memory_limit for c in tf.config.get_logical_device_configuration(first)]
    logical = [devices.short_name(d.name) for d in tf.config.list_logical_devices("GPU")]
    ran_on = []
    for name in names:
        with tf.device(name):
            value = tf.reduce_sum(tf.ones([256, 256]))
        ran_on.append(devices.short_name(value.device))
    try:
        devices.simulate(count, kind="gpu", memory_limit_mb=memory_mb)
        late_message = None
    except RuntimeError as refused:
        late_message = _one_line(refused)
    return {
        "asked": count,
        "memory_mb": memory_mb,
        "physical_gpus": len(tf.config.list_physical_devices("GPU")),
        "logical_gpus": logical,
        "memory_limits_mb": limits,
        "ran_on": ran_on,
        "late_split_refused": late_message,
    }


def placement_probe(
    *,
    replicas: int = PLACEMENT_REPLICAS,
    virtual_gpus: int = 0,
    virtual_gpu_memory_mb: int = VIRTUAL_GPU_MEMORY_MB,
    strategies: Sequence[str] = STRATEGIES,
    backend: str = "keras3",
) -> dict:
    """Per strategy ONE training step on ``replicas`` devices, with the predicted placement of
    its traced step and the placement it ran with (partition graphs), as JSON-ready data."""
    from mgbench import backends
    from mgbench.platform import lazy

    chosen = backends.get(backend)
    setup = chosen.prepare_process(
        replicas, virtual_gpus=virtual_gpus, virtual_gpu_memory_mb=virtual_gpu_memory_mb
    )
    tf = lazy.tensorflow()
    results = []
    for strategy in strategies:
        try:
            results.append(_probe_strategy(chosen, strategy, replicas))
        except Exception as error:  # one strategy's failure is its own finding
            results.append(
                {
                    "strategy": strategy,
                    "error": f"{type(error).__name__}: {_one_line(error)}",
                    "error_tail": quiet.tail_text(traceback.format_exc(), TRACEBACK_TAIL_LINES),
                }
            )
    return {
        "mode": setup.mode,
        "backend": backend,
        "host": devices.short_name(devices.HOST_DEVICE),
        "default_device": devices.short_name(devices.default_device()),
        "auto_jit": str(tf.config.optimizer.get_jit() or ""),
        "strategies": results,
    }


def _probe_strategy(backend: Any, strategy: str, replicas: int) -> dict:
    from mgbench import models
    from mgbench.backends.base import BuildSpec

    spec = BuildSpec(
        model=PROBE_MODEL,
        image_size=PROBE_IMAGE_SIZE,
        classes=PROBE_CLASSES,
        strategy=strategy,
        replicas=1 if strategy == Strategy.SINGLE else replicas,
        batch_per_replica=PROBE_BATCH_PER_REPLICA,
    )
    built = backend.build_compiled(spec)
    x, y = models.synthetic_batch(spec.image_size, spec.classes, spec.global_batch)
    traced, reason = backend.trace_step(built, x, y)
    predicted = None
    if traced is not None:
        predicted = [
            [op.name, op.type, op.role, op.device, op.placed_by] for op in traced.placement().ops
        ]
    step = backend.step_function(spec, built)
    loss, observed = observe_first_step(step)
    return {
        "strategy": strategy,
        "replica_devices": [devices.short_name(d) for d in built.replica_devices],
        "jit_compile": bool(getattr(built.model, "jit_compile", False)),
        "loss": loss if math.isfinite(loss) else None,
        "predicted": predicted,
        "predicted_reason": reason,
        "observed": observed,
        "error": None,
    }


def observe_first_step(step: Callable[[], float]) -> tuple[float, list[list[str]]]:
    """Run a step function's FIRST call with run metadata on; its loss and every executed node
    as ``[name, type, device]`` (call scopes stripped, partitioning's own nodes left out)."""
    # TF's own switch for a function's run metadata; it has no public alias in TF 2.x.
    from tensorflow.python.eager import context

    from mgbench.trackers.tf_profiler import strip_call_scopes

    context.enable_run_metadata()
    context.export_run_metadata()  # drops anything recorded before: only this step's graphs
    try:
        loss = step()
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    nodes = [
        [strip_call_scopes(node.name), node.op, devices.short_name(node.device)]
        for function in metadata.function_graphs
        for graph in function.partition_graphs
        for node in graph.node
        if node.op not in PARTITION_NODE_TYPES and node.device
    ]
    return loss, nodes


# -- running a probe in a child process ------------------------------------------------------------


@dataclass(frozen=True)
class ChildResult:
    payload: dict | None  # None when the child wrote nothing
    error: str | None
    log_path: Path | None
    wall_s: float
    error_tail: str = field(default="")


def run_child(
    kind: str,
    spec: dict,
    *,
    log_path: Path | None,
    timeout_s: float,
) -> ChildResult:
    """Run ``python -m mgbench.execution.probes KIND SPEC.json OUT.json`` with ``spec``
    (:mod:`mgbench.execution.child`); its output goes to ``log_path`` (None: to this terminal).
    A timeout kills its process group."""
    # The doctor checks the GPU order this shell asks for: the child keeps it (PCI bus order when
    # none is set), as the doctor's own process does.
    order = os.environ.get("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    env = child.environment({"CUDA_DEVICE_ORDER": order})
    started = time.monotonic()
    with child.scratch(spec, prefix="mgbench-doctor-") as files:
        code = child.run(
            child.command(CHILD_MODULE, kind, files.spec, files.out),
            env=env,
            log_path=log_path,
            timeout_s=timeout_s,
        )
        result = child.read_result(files.out)
    wall = time.monotonic() - started
    if code is None:
        error = f"did not finish within {timeout_s:g} s"
        return ChildResult(None, error, log_path, wall, _log_tail(log_path))
    if result.payload is None:
        wrote = (
            "wrote no result"
            if result.missing
            else f"wrote an unreadable result: {result.unreadable}"
        )
        error = f"the child process exited with {code} and {wrote}"
        return ChildResult(None, error, log_path, wall, _log_tail(log_path))
    payload = result.payload
    if payload.get("status") != "ok":
        return ChildResult(
            None, payload.get("error", "failed"), log_path, wall, payload.get("error_tail", "")
        )
    return ChildResult(payload["result"], None, log_path, wall)


def _log_tail(path: Path | None) -> str:
    return quiet.tail(path) if path is not None else ""


def _one_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


_PROBES: dict[str, Callable[..., dict]] = {
    "placement": placement_probe,
    "virtual-gpus": virtual_gpu_probe,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``KIND SPEC.json OUT.json``: run one probe with SPEC's keyword arguments; OUT.json gets
    ``{"status": "ok", "result": ...}`` or ``{"status": "failed", "error": ..., ...}``."""
    kind, spec_path, out_path = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    try:
        out = {"status": "ok", "result": _PROBES[kind](**spec)}
        code = 0
    except Exception as error:
        out = {
            "status": "failed",
            "error": f"{type(error).__name__}: {_one_line(error)}",
            "error_tail": quiet.tail_text(traceback.format_exc(), TRACEBACK_TAIL_LINES),
        }
        code = 1
    child.write_result(Path(out_path), out)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""``mgbench doctor``: is this machine ready to measure? Exit 0 when every check that could run
passed, 1 when one failed; checks that cannot apply here are listed as skipped, with why.

In this process: TensorFlow's build, its GPUs and allocator statistics (TF's start-up lines go
to a log file), then NVML (driver, GPUs, UUIDs, the TF GPU -> NVML index mapping, whether it
lists this process). In child processes, since devices must be configured before TensorFlow
starts: the virtual-GPU split of the first GPU, and one training step per strategy on 2
replicas (2 GPUs; 2 virtual GPUs on a one-GPU machine; 2 simulated CPUs without a GPU) whose
observed placement is compared role by role with mgbench's prediction, XLA off.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from mgbench.analysis import readiness
from mgbench.analysis.readiness import FAIL, SKIP, Check
from mgbench.execution import probes
from mgbench.platform import quiet
from mgbench.present.checklist import format_check, format_summary

NAME = "doctor"
HELP = (
    "check this machine before measuring: TF build, GPUs, NVML, virtual GPUs, and one step per "
    "strategy whose observed placement must match the prediction (exit 0 passed, 1 a check "
    "failed)"
)


def setup_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments: ``--verbose`` (every command's) shows TensorFlow's own output."""


def run_from_args(args: argparse.Namespace) -> int:
    return doctor_command()


def doctor_command(
    *,
    verbose: bool | None = None,
    emit: Callable[[str], None] = print,
    child_timeouts_s: tuple[float, float] = (
        probes.VIRTUAL_GPU_TIMEOUT_S,
        probes.PLACEMENT_TIMEOUT_S,
    ),
) -> int:
    """Run every check, print each group as it is done, then the verdict; the exit status."""
    verbose = quiet.is_verbose() if verbose is None else verbose
    started = time.monotonic()
    checks: list[Check] = []

    def report(new: list[Check]) -> None:
        checks.extend(new)
        for check in new:
            emit(format_check(check))

    inspection, tf_error = _inspect_tensorflow(verbose)
    snapshot, nvml_reason = probes.open_and_read_nvml()
    nvml_gpus = len(snapshot.gpus) if snapshot is not None else 0
    if inspection is None:
        report(
            [
                Check("TensorFlow", FAIL, f"TensorFlow did not start here: {tf_error}"),
                *readiness.nvml_checks(snapshot, nvml_reason, ()),
            ]
        )
        emit(format_summary(checks, wall_s=time.monotonic() - started))
        return readiness.exit_code(checks)
    report(readiness.tensorflow_checks(inspection, nvml_gpus=nvml_gpus))
    report(readiness.nvml_checks(snapshot, nvml_reason, inspection.physical_gpus))

    virtual_timeout_s, placement_timeout_s = child_timeouts_s
    physical_gpus = len(inspection.physical_gpus)
    if physical_gpus == 0:
        report([Check("virtual GPUs (child process)", SKIP, "no physical GPU to split")])
    else:
        child = probes.run_child(
            "virtual-gpus",
            {"count": probes.VIRTUAL_GPUS, "memory_mb": probes.VIRTUAL_GPU_MEMORY_MB},
            log_path=_child_log("virtual-gpus", verbose),
            timeout_s=virtual_timeout_s,
        )
        report([readiness.virtual_gpu_check(child.payload, _child_error(child), child.error_tail)])

    # Two real GPUs where there are; one GPU is split in two; without a GPU, simulated CPUs.
    virtual_gpus = probes.VIRTUAL_GPUS if physical_gpus == 1 else 0
    child = probes.run_child(
        "placement",
        {
            "replicas": probes.PLACEMENT_REPLICAS,
            "virtual_gpus": virtual_gpus,
            "virtual_gpu_memory_mb": probes.VIRTUAL_GPU_MEMORY_MB,
        },
        log_path=_child_log("placement", verbose),
        timeout_s=placement_timeout_s,
    )
    report(readiness.placement_checks(child.payload, _child_error(child), child.error_tail))
    emit(format_summary(checks, wall_s=time.monotonic() - started))
    if not verbose:
        emit(f"TensorFlow's own output: {quiet.log_dir()}/tf-doctor*.log (--verbose shows it)")
    return readiness.exit_code(checks)


def _inspect_tensorflow(verbose: bool) -> tuple[probes.TfInspection | None, str | None]:
    try:
        with quiet.native_stderr_to_log("doctor", verbose=verbose):
            return probes.inspect_tensorflow(), None
    except Exception as error:  # a TF that cannot start is the doctor's finding, not a crash
        return None, f"{type(error).__name__}: {error}".splitlines()[0]


def _child_log(kind: str, verbose: bool) -> Path | None:
    return None if verbose else quiet.log_path(f"doctor-{kind}")


def _child_error(child: probes.ChildResult) -> str | None:
    if child.error is None:
        return None
    where = f" (log: {child.log_path})" if child.log_path is not None else ""
    return f"{child.error}{where}"

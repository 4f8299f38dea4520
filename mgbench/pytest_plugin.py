"""pytest plugin (entry point ``pytest11``): gate a wrapper's speed with pytest-benchmark.

    def test_inplace_speed(mgbench_cell):
        mgbench_cell(model="TinyCNN", strategy="inplace", replicas=2)

builds the cell in this process (simulated devices when there is no GPU), runs its training step
through ``benchmark.pedantic`` (fixed rounds, warm-up rounds, one iteration per round) and
attaches images/s, strategy, replica count and peak memory as ``extra_info``. pytest-benchmark's
``machine_info`` gains ``mgbench``: GPU names, driver, CUDA and cuDNN build, TF and Keras versions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest

from mgbench.vocabulary import DEFAULT_BACKEND, Strategy

NO_GPU = "no GPU"


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def gpu_info() -> dict[str, Any]:
    """The GPUs this process sees, by NVML (cheap, no TensorFlow): ``gpu`` says "no GPU" and why
    on a machine without one."""
    from mgbench.platform import hardware

    try:
        nvml = hardware.open_nvml()
        indices = hardware.visible_gpu_indices(nvml)
    except (hardware.NvmlUnavailable, ValueError) as reason:
        return {"gpu": f"{NO_GPU} ({reason})", "gpus": [], "gpu_uuids": [], "driver": None}
    names = [nvml.device_name(index) for index in indices]
    return {
        "gpu": ", ".join(names) or f"{NO_GPU} (CUDA_VISIBLE_DEVICES hides every GPU)",
        "gpus": names,
        "gpu_uuids": [nvml.device_uuid(index) for index in indices],
        "driver": nvml.driver_version(),
    }


def framework_info() -> dict[str, Any]:
    """TensorFlow's build (CUDA, cuDNN) when this session loaded TensorFlow; otherwise the
    installed versions only, since importing TensorFlow here would cost seconds and flood the
    terminal for a session that never used it."""
    tf = sys.modules.get("tensorflow")
    info: dict[str, Any] = {
        "tensorflow": _installed_version("tensorflow"),
        "keras": _installed_version("keras"),
        "cuda_build": None,
        "cudnn_build": None,
        "tf_build_note": "TensorFlow was not loaded in this session: its CUDA build was not read",
    }
    if tf is not None:
        build = dict(tf.sysconfig.get_build_info())
        info.update(
            tensorflow=getattr(tf, "__version__", info["tensorflow"]),
            cuda_build=build.get("cuda_version"),
            cudnn_build=build.get("cudnn_version"),
            tf_build_note=None if build.get("is_cuda_build") else "a TensorFlow build without CUDA",
        )
    return info


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """pytest-benchmark's hook: what ran the benchmarks, beside its CPU and Python details."""
    machine_info["mgbench"] = {**gpu_info(), **framework_info()}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mgbench")
    group.addoption(
        "--mgbench-rounds", type=int, default=None, help="override rounds of mgbench_cell gates"
    )


@pytest.fixture
def mgbench_cell(benchmark: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    rounds_override = request.config.getoption("mgbench_rounds")

    def run(
        model: str = "TinyCNN",
        strategy: str = Strategy.INPLACE,
        replicas: int = 2,
        *,
        batch_per_replica: int = 16,
        image_size: int = 32,
        classes: int = 10,
        rounds: int = 30,
        warmup_rounds: int = 5,
        backend: str = DEFAULT_BACKEND,
    ) -> Any:
        from mgbench.execution.inprocess import build_cell

        cell = build_cell(
            model,
            strategy,
            replicas,
            batch_per_replica=batch_per_replica,
            image_size=image_size,
            classes=classes,
            backend=backend,
        )
        cell.step()  # the first step traces: keep it out of the warm-up budget too
        benchmark.extra_info.update(cell.info())
        benchmark.pedantic(
            cell.step, rounds=rounds_override or rounds, warmup_rounds=warmup_rounds, iterations=1
        )
        stats = getattr(benchmark, "stats", None)
        if stats is not None and stats.stats.median > 0:
            benchmark.extra_info["images_per_s"] = cell.images_per_step / stats.stats.median
        benchmark.extra_info.update(cell.memory())
        return cell

    return run

"""pytest plugin (entry point ``pytest11``): gate a wrapper's speed with pytest-benchmark.

    def test_inplace_speed(mgbench_cell):
        mgbench_cell(model="TinyCNN", strategy="inplace", replicas=2)

builds the cell in this process (simulated devices when there is no GPU), runs its training step
through ``benchmark.pedantic`` (fixed rounds, warm-up rounds, one iteration per round) and
attaches images/s, strategy, replica count and peak memory as ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


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
        strategy: str = "inplace",
        replicas: int = 2,
        *,
        batch_per_replica: int = 16,
        image_size: int = 32,
        classes: int = 10,
        rounds: int = 30,
        warmup_rounds: int = 5,
        backend: str = "keras3",
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

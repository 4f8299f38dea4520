"""Gate benchmarks: the smoke models through every strategy, timed by pytest-benchmark.

``nox -s bench`` saves a baseline; ``nox -s gate`` compares against it. In the plain test run
they also check that the plugin attaches what it promises.
"""

from __future__ import annotations

import pytest

STRATEGIES = ["single", "inplace", "wholebatch", "concat", "mirrored"]
MODELS = [("TinyCNN", 32), ("TinyMLP", 16)]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("model", "image_size"), MODELS)
def test_gate(mgbench_cell, benchmark, model, image_size, strategy):
    benchmark.group = f"{model}-{image_size}px"
    cell = mgbench_cell(model=model, strategy=strategy, replicas=2, image_size=image_size)
    info = benchmark.extra_info
    assert info["strategy"] == strategy and info["model"] == model
    assert info["replicas"] == (1 if strategy == "single" else 2)
    assert info["images_per_step"] == 16 * info["replicas"]
    assert info["jit_compile"] is False
    assert info["process_rss_peak_bytes"] > 50 * 2**20
    if benchmark.stats is not None:  # None under --benchmark-disable
        assert len(benchmark.stats.stats.data) >= 5
        assert info["images_per_s"] == pytest.approx(
            info["images_per_step"] / benchmark.stats.stats.median
        )
    assert cell.step() > 0  # still trains after the rounds

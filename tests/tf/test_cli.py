"""The command line, run as a user would (fresh processes: device simulation is per process)."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_import_mgbench_is_light():
    code = (
        "import sys, mgbench, mgbench.cli, mgbench.devices, mgbench.placement;"
        "import mgbench.platform.hardware;"
        "heavy = [m for m in ('tensorflow', 'keras', 'pynvml') if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_placement_command_prints_both_wrappers_on_simulated_replicas():
    result = run("placement", "--replicas", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "devices: cpu-simulation; backend: keras3" in out
    assert "## inplace (keras3): TinyCNN, 2 replica(s)" in out
    assert "## concat (keras3): TinyCNN, 2 replica(s)" in out
    assert out.count("| CPU:2 (replica 1)") == 2


def test_placement_command_on_the_graph_mode_backend():
    result = run("placement", "--replicas", "2", "--backend", "tf_keras")
    assert result.returncode == 0, result.stderr
    assert "## inplace (tf_keras): TinyCNN, 2 replica(s)" in result.stdout
    assert result.stdout.count("gradient aggregation  : CPU:0") == 2


def test_a_bad_replica_count_is_a_clean_error():
    result = run("placement", "--replicas", "1")
    assert result.returncode == 2
    assert "mgbench: error:" in result.stderr
    assert "Traceback" not in result.stderr

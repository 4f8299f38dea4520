"""The command line, run as a user would (fresh processes: device simulation is per process)."""

from __future__ import annotations

import subprocess
import sys


def test_import_mgbench_is_light():
    code = (
        "import sys, mgbench, mgbench.cli, mgbench.devices, mgbench.placement;"
        "import mgbench.platform.hardware, mgbench.wrappers, mgbench.wrappers.scopes;"
        "import mgbench.backends, mgbench.execution.worker, mgbench.commands.placement;"
        "[mgbench.backends.get(name) for name in mgbench.backends.names()];"
        "heavy = [m for m in ('tensorflow', 'keras', 'tf_keras', 'pynvml', 'jax', 'jaxlib') "
        "if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_placement_command_prints_both_wrappers_on_simulated_replicas(run_cli_process):
    result = run_cli_process("placement", "--replicas", "2", "--hardware", "4xP100-pcie3")
    assert result.code == 0, result.err
    out = result.out
    assert "devices: cpu-simulation; backend: keras3" in out
    assert "## inplace (keras3): TinyCNN 32px, 2 replica(s) x 4 images" in out
    assert "## concat (keras3): TinyCNN 32px, 2 replica(s) x 4 images" in out
    assert out.count("| CPU:2 (replica 1)") == 2
    # both resolutions of the transfer audit, per strategy; the whole batch (8 x 12 KiB =
    # 0.094 MiB) goes to GPU:0 only in the concat split on GPUs
    assert out.count("transfers as run (MiB per step):") == 2
    assert out.count("transfers on gpus (MiB per step):") == 2
    assert out.count("| CPU:0 -> GPU:0 | 0.094") == 1
    # predictions on the claim's machine: against concat, and against the claim's own baseline
    assert "## TinyCNN-32px-b4-x2: predicted in-place speed-up per hardware spec" in out
    assert "over Keras <= 2.1's split (whole batch to every replica" in out
    assert out.count("| 4xP100-pcie3 |") == 2


def test_placement_command_on_the_graph_mode_backend(run_cli_process):
    result = run_cli_process("placement", "--replicas", "2", "--backend", "tf_keras")
    assert result.code == 0, result.err
    assert "## inplace (tf_keras): TinyCNN 32px, 2 replica(s) x 4 images" in result.out
    assert result.out.count("gradient aggregation  : CPU:0") == 2


def test_a_bad_replica_count_is_a_clean_error(run_cli_process):
    result = run_cli_process("placement", "--replicas", "1")
    assert result.code == 2
    assert "mgbench: error:" in result.err
    assert "Traceback" not in result.err

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


def test_placement_command_prints_every_wrapper_on_simulated_replicas(run_cli_process):
    from mgbench.analysis.claim import DEFAULT_CLAIMS

    result = run_cli_process("placement", "--replicas", "2", "--hardware", "4xP100-pcie3")
    assert result.code == 0, result.err
    out = result.out
    assert "devices: cpu-simulation; backend: keras3" in out
    for strategy in ("inplace", "wholebatch", "concat"):
        assert f"## {strategy} (keras3): TinyCNN 32px, 2 replica(s) x 4 images" in out
    assert out.count("| CPU:2 (replica 1)") == 3
    # both resolutions of the transfer audit, per strategy; the whole batch (8 x 12 KiB =
    # 0.094 MiB) goes to every replica in the whole-batch split, to GPU:0 only in concat's
    assert out.count("transfers as run (MiB per step):") == 3
    assert out.count("transfers on gpus (MiB per step):") == 3
    assert out.count("| CPU:0 -> GPU:0 | 0.094") == 2
    assert out.count("| CPU:0 -> GPU:1 | 0.094") == 1
    # and the split each audit on GPUs resolves to
    assert "split on gpus: inplace (as built): each replica's slice from CPU:0" in out
    assert (
        "split on gpus: wholebatch (as built): the whole batch (98,304 B) from CPU:0 to each of "
        "GPU:0, GPU:1"
    ) in out
    assert (
        "split on gpus: concat (as built): the whole batch (98,304 B) from CPU:0 to GPU:0, "
        "slices from there to GPU:1"
    ) in out
    # predictions on the claim's machine: the claim's pair, then in-place against concat
    # the memory half: one copy of the batch per GPU for whole-batch, halves for in-place
    assert "## The memory half: copies of each batch on the GPUs (from the audit)" in out
    whole = next(line for line in out.splitlines() if line.startswith("| wholebatch "))
    assert "GPU:0 0.094 · GPU:1 0.094" in whole and "| 2.00x " in whole
    assert (
        "TinyCNN-32px-b4-x2: in-place holds 0.047 MiB less on each GPU than whole-batch (audit, "
        "batch data per step); measured: not measured here (traced only: nothing ran"
    ) in out
    for words in ("whole-batch", "concat"):
        title = f"## TinyCNN-32px-b4-x2: predicted in-place speed-up over {words} per hardware spec"
        assert title in out
    assert out.count("| 4xP100-pcie3 |") == len(DEFAULT_CLAIMS.items)


def test_placement_command_on_the_graph_mode_backend(run_cli_process):
    result = run_cli_process("placement", "--replicas", "2", "--backend", "tf_keras")
    assert result.code == 0, result.err
    assert "## inplace (tf_keras): TinyCNN 32px, 2 replica(s) x 4 images" in result.out
    assert result.out.count("gradient aggregation  : CPU:0") == 3
    # the backend builds its template under the host: the in-place split is in place
    assert "split on gpus: inplace (as built)" in result.out
    assert "split on gpus: wholebatch (as built)" in result.out


def test_a_bad_replica_count_is_a_clean_error(run_cli_process):
    result = run_cli_process("placement", "--replicas", "1")
    assert result.code == 2
    assert "mgbench: error:" in result.err
    assert "Traceback" not in result.err

"""benchmarks/device_probe.py runs where TensorFlow and Keras cannot be imported: its dry run
drives mgbench's NVML layer, memory check, energy meter and hardware spec writer against fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mgbench.config.hardware_specs import load_spec

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "benchmarks" / "device_probe.py"
DRY_RUN_UUID_1 = "GPU-d0d0d0d0-0000-4000-8000-000000000001"  # the dry run's NVML device 1

# Runs the probe with a meta-path finder in front that refuses TensorFlow and Keras (and, when
# asked, the GPU libraries), and reports at exit every refused import the probe attempted.
HIDING_SHIM = """
import atexit, importlib.abc, os, runpy, sys
hidden = set(os.environ["HIDDEN_MODULES"].split(","))
attempted = []
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            attempted.append(name)
            raise ImportError(f"{name} is hidden: this machine does not have it")
        return None
sys.meta_path.insert(0, Hide())
atexit.register(lambda: print("HIDDEN IMPORTS ATTEMPTED:", sorted(set(attempted)), file=sys.stderr))
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
NO_TENSORFLOW = "tensorflow,keras,tf_keras"


def run_probe(*args: str, hidden: str = NO_TENSORFLOW, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    environ.update(PYTHONPATH=str(ROOT), HIDDEN_MODULES=hidden, **env)
    return subprocess.run(
        [sys.executable, "-c", HIDING_SHIM, str(PROBE), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        env=environ,
    )


def test_the_dry_run_passes_every_section_without_tensorflow(tmp_path):
    done = run_probe("--dry-run", "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HIDDEN IMPORTS ATTEMPTED: []" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for section in ("NVML", "process memory", "energy", "bandwidth", "hardware spec"):
        assert f"### {section}: ok" in done.stdout
    assert "device mapping by UUID: CUDA 0 -> NVML 0" in done.stdout

    raw = json.loads((tmp_path / "probe.json").read_text())
    assert raw["probe"]["dry_run"] is True and raw["mapping"]["cuda_to_nvml"] == [0]
    steps = raw["memory_check"]["steps"]
    # 256 MiB, +1 GiB, +4 GiB held, then all freed: NVML's process figure follows exactly
    assert [s["process_delta_bytes"] // 2**20 for s in steps] == [256, 1280, 5376, 0]
    assert all(s["agrees"] for s in steps)
    busy, short = raw["energy"]["windows"]
    assert busy["joules"] == 1400.0 and busy["watts"] == 700.0 and not busy["short_window"]
    assert short["joules"] == 0.0 and short["short_window"]  # the counter had not updated
    bandwidth = raw["bandwidth"]
    assert bandwidth["h2d_pinned"]["ResNet50 96x224x224x3"]["bytes"] == 96 * 224 * 224 * 3 * 4
    assert bandwidth["h2d_pinned"]["InceptionV3 64x299x299x3"]["median_gb_s"] == (
        pytest.approx(50.0)
    )
    assert bandwidth["d2d_peer"] == {"reason": "one GPU: no second chip to copy to"}

    spec = load_spec(tmp_path / "hardware_spec.toml")
    assert (spec.gpus, spec.gpus_per_chip) == (4, 4)
    assert (spec.h2d_gb_s, spec.d2h_gb_s) == (50.0, 52.0)  # pinned rates
    assert (spec.peer.via, spec.peer.gb_s) == ("chip", 1500.0)
    (uplink,) = spec.uplinks
    assert uplink.gpus == (0, 1, 2, 3) and uplink.h2d_gb_s == 50.0
    assert 'ONE physical GPU: there is no second chip, so peer via = "chip"' in (
        (tmp_path / "hardware_spec.toml").read_text()
    )


def test_a_container_hiding_the_process_and_a_uuid_remap_are_reported(tmp_path):
    done = run_probe(
        "--dry-run",
        "container",
        "--dry-run-gpus",
        "2",
        "--output",
        str(tmp_path),
        CUDA_VISIBLE_DEVICES=DRY_RUN_UUID_1,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "device mapping by UUID: CUDA 0 -> NVML 1" in done.stdout
    assert "NVML never listed this process" in done.stdout
    assert "a PID namespace (a container) hides it" in done.stdout
    raw = json.loads((tmp_path / "probe.json").read_text())
    check = raw["memory_check"]
    assert check["nvml_index"] == 1  # the allocations land on the remapped device
    assert [s["process_listed"] for s in check["steps"]] == [False] * 4
    assert [s["device_delta_bytes"] // 2**20 for s in check["steps"]] == [256, 1280, 5376, 0]
    assert raw["energy"]["nvml_index"] == 1
    # one GPU visible of two: the spec is the one-chip (virtual GPUs) kind
    assert load_spec(tmp_path / "hardware_spec.toml").peer.via == "chip"


def test_two_gpus_give_a_peer_rate_and_a_physical_spec(tmp_path):
    done = run_probe("--dry-run", "--dry-run-gpus", "2", "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    spec = load_spec(tmp_path / "hardware_spec.toml")
    assert (spec.gpus, spec.gpus_per_chip, spec.uplinks) == (2, 1, ())
    assert (spec.peer.via, spec.peer.gb_s) == ("pcie", 400.0)


def test_without_a_gpu_library_every_section_says_why(tmp_path):
    """The real mode where neither CuPy nor JAX can start: reasons and exit 1, no traceback."""
    done = run_probe("--output", str(tmp_path), hidden=f"{NO_TENSORFLOW},cupy,jax")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "not used: cupy: ImportError: cupy is hidden" in done.stdout
    assert "### bandwidth: FAILED" in done.stdout
    assert "no GPU library started" in done.stdout
    assert "no hardware_spec.toml: no host <-> GPU rate was measured" in done.stdout
    assert json.loads((tmp_path / "probe.json").read_text())["probe"]["library"] is None

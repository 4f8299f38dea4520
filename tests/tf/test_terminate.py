"""SIGTERM (a scheduler's or `timeout`'s kill) ends `mgbench run` the way Ctrl-C does: its worker
processes, which run in sessions of their own, do not outlive it, and the run says how to resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent

SUITE = """
[suite]
name = "terminated"
strategies = ["single"]
replicas = [2]
batch_per_replica = 2
warmup_steps = 0
timed_steps = 2
repeats = 1
timeout_s = 600
[[models]]
name = "factories:hang"
image_size = 8
classes = 2
"""


def wait_for(condition, timeout_s: float = 120.0):
    ends_at = time.monotonic() + timeout_s
    while time.monotonic() < ends_at:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s:g} s")


def test_sigterm_kills_the_workers_and_keeps_the_run_resumable(tmp_path):
    suite = tmp_path / "terminated.toml"
    suite.write_text(SUITE, encoding="utf-8")
    output = tmp_path / "run"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "mgbench.cli", "run", str(suite), "--output", str(output)],
        env=dict(os.environ, PYTHONPATH=str(HERE)),  # factories:hang never returns
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        workers = wait_for(lambda: psutil.Process(launcher.pid).children(recursive=True))
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 143
    assert "mgbench: terminated" in err
    for worker in workers:
        gone = not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
        assert gone, f"worker {worker.pid} outlived the run"
    assert (output / "suite.json").exists()  # --resume can continue it

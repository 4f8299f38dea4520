"""Benchmark records: the versioned schema, the JSON Lines store and environment metadata.

A record is one cell run (one process). It is appended, flushed and fsynced the moment the cell
ends, so a crash or Ctrl-C loses at most the cell in flight; a torn last line is ignored on read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mgbench

SCHEMA_VERSION = 1
RESULTS_FILE = "results.jsonl"
STATUSES = ("ok", "failed", "timeout", "skipped")


class ResultsError(ValueError):
    """A results file cannot be read; the message names the file and line."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def base_record(cell: dict[str, Any], cell_id: str, repeat: int, status: str) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return {
        "schema_version": SCHEMA_VERSION,
        "cell_id": cell_id,
        "repeat": repeat,
        "status": status,
        "cell": cell,
        "reason": None,
        "error_tail": None,
    }


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a crash left unfinished, so the next record starts on its own line."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def append_record(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, sort_keys=True, allow_nan=False)
    if Path(path).exists():
        _drop_torn_tail(Path(path))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete record; a torn final line (a crash mid-write) is skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ResultsError(f"{path}: cannot read results: {error.strerror}") from error
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):
                break
            raise ResultsError(f"{path}:{number}: not a JSON record: {error}") from error
        version = record.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"{path}:{number}: schema version {version!r}, this mgbench reads {SCHEMA_VERSION}"
            )
        records.append(record)
    return records


def locate(path: str | Path) -> tuple[Path, Path]:
    """(run folder, results file) for a run folder or a results file."""
    path = Path(path)
    if path.is_dir():
        results_path = path / RESULTS_FILE
        if not results_path.exists():
            raise ResultsError(f"{path}: no {RESULTS_FILE} in this folder; is it a run folder?")
        return path, results_path
    if not path.exists():
        raise ResultsError(f"{path}: no such run folder or results file")
    return path.parent, path


def finished_keys(records: Iterable[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(r["cell_id"], r["repeat"]) for r in records}


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=Path(mgbench.__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_environment() -> dict[str, Any]:
    """What the launcher knows without TensorFlow: host, CPU, Python, mgbench, git."""
    import psutil

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": sys.version.split()[0],
        "mgbench": mgbench.__version__,
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
    }


def tf_environment(nvml: Any | None) -> dict[str, Any]:
    """What only a worker (with TensorFlow loaded) knows: versions, CUDA build, GPUs."""
    from mgbench.platform import lazy

    tf = lazy.tensorflow()
    keras = lazy.keras()
    build = dict(tf.sysconfig.get_build_info())
    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append({"name": details.get("device_name"), "tf_device": gpu.name})
    if nvml is not None:
        for index, gpu in enumerate(gpus):
            if index < nvml.device_count():
                gpu["memory_bytes"] = nvml.memory_total_bytes(index)
    try:
        import tf_keras

        tf_keras_version = tf_keras.__version__
    except ImportError:
        tf_keras_version = None
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf_keras": tf_keras_version,
        "cuda_build": build.get("cuda_version"),
        "cudnn_build": build.get("cudnn_version"),
        "gpus": gpus,
        "driver": nvml.driver_version() if nvml is not None else None,
    }

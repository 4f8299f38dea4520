"""Child processes: the one way mgbench starts a process, waits for it, times it out, kills it and
reads the JSON it leaves.

A child is ``python -m MODULE ARGS... SPEC.json OUT.json`` (:func:`command`): it reads what to do
from SPEC.json and writes its result, one JSON object, to OUT.json (:func:`write_result`, whole
or not at all; :func:`read_result` on this side). Both files live in a scratch folder
(:func:`scratch`) unless the caller keeps them elsewhere (:func:`write_spec`). Its environment is
this process's with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so TensorFlow and NVML number the GPUs
alike, and ``PYTHONUNBUFFERED=1``, so its log is whole up to a kill (:func:`environment`). Its
output goes to a log file, or to this terminal.

Every child starts a session of its own, so it and whatever it starts form one process group, and
the group is killed (SIGKILL): when the child runs past its timeout, and on any exception while it
runs, Ctrl-C and SIGTERM (``cli.Terminated``) included, before the exception goes on. Nothing a run
starts outlives it. Children run side by side (:func:`run_side_by_side`) stop together: the first
that fails has the others killed, since they would wait for it until the timeout.

The idea is pyperf's ``_utils.popen_killer`` and ``_manager.py``: one guarded way to spawn a
worker and load its JSON result.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

# The longest wait on one running child before every child is looked at again (and the clock).
POLL_S = 0.05


class ChildFiles(NamedTuple):
    spec: Path  # what the child is to do, written before it starts
    out: Path  # where the child writes its result


@dataclass(frozen=True)
class Result:
    """What a child left in its OUT.json: the JSON object, or why there is none."""

    payload: dict[str, Any] | None
    missing: bool = False  # no OUT.json: the child ended (or was killed) before writing it
    unreadable: str | None = None  # OUT.json holds no JSON object: why


def command(module: str, *args: str | os.PathLike[str]) -> list[str]:
    """The command line of a child: ``module`` run by this Python, with ``args``."""
    return [sys.executable, "-m", module, *(os.fspath(arg) for arg in args)]


def environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child's environment: this process's, GPUs in PCI bus order, output unbuffered, then
    ``overrides``."""
    return {
        **os.environ,
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "PYTHONUNBUFFERED": "1",
        **(overrides or {}),
    }


def write_spec(folder: Path, spec: Mapping[str, Any]) -> ChildFiles:
    """``spec`` as SPEC.json in ``folder``, and where OUT.json will be."""
    files = ChildFiles(folder / "spec.json", folder / "out.json")
    files.spec.write_text(json.dumps(spec), encoding="utf-8")
    return files


@contextlib.contextmanager
def scratch(
    spec: Mapping[str, Any], *, prefix: str = "mgbench-", parent: Path | None = None
) -> Iterator[ChildFiles]:
    """A fresh folder (under ``parent``, else the system's temporary one) holding SPEC.json; it
    and OUT.json are removed on leaving."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as folder:
        yield write_spec(Path(folder), spec)


def write_result(path: Path, payload: Mapping[str, Any]) -> None:
    """The child's side: write its result so that the parent reads all of it or nothing."""
    partial = Path(f"{path}.partial")
    partial.write_text(json.dumps(payload, allow_nan=False), encoding="utf-8")
    os.replace(partial, path)


def read_result(path: Path) -> Result:
    """The JSON object a child wrote to ``path``, or why there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Result(None, missing=True)
    except (OSError, UnicodeDecodeError) as error:
        return Result(None, unreadable=str(error))
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        return Result(None, unreadable=str(error))
    if not isinstance(payload, dict):
        return Result(None, unreadable=f"expected a JSON object, got {type(payload).__name__}")
    return Result(payload)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path | None,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> int | None:
    """Run one child to its end, its output to ``log_path`` (None: this terminal). Its exit code
    (negative: minus the signal that ended it), or None when it ran past ``timeout_s``."""
    codes = run_side_by_side([argv], [env], [log_path], timeout_s=timeout_s, clock=clock)
    return None if codes is None else codes[0]


def _nonzero(index: int, code: int) -> bool:
    return code != 0


def run_side_by_side(
    commands: Sequence[Sequence[str]],
    envs: Sequence[Mapping[str, str]],
    logs: Sequence[Path | None],
    *,
    timeout_s: float,
    failed: Callable[[int, int], bool] = _nonzero,
    clock: Callable[[], float] = time.monotonic,
) -> list[int | None] | None:
    """Start every child, wait for all: their exit codes, or None when ``timeout_s`` passed
    (every child is killed then). The first child to end ``failed(index, code)`` (by default: a
    nonzero exit code) has every child still running killed at once; their codes stay None."""
    ends_at = clock() + timeout_s
    processes: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as open_logs:
        try:
            for argv, env, log in zip(commands, envs, logs, strict=True):
                processes.append(_start(argv, env, _open_log(log, open_logs)))
            return _wait(processes, ends_at, failed, clock)
        except BaseException:  # Ctrl-C, SIGTERM, a bug: no child outlives the run
            _kill(processes)
            raise


def _open_log(path: Path | None, open_logs: contextlib.ExitStack) -> IO[str] | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return open_logs.enter_context(open(path, "w", encoding="utf-8"))


def _start(argv: Sequence[str], env: Mapping[str, str], log: IO[str] | None) -> subprocess.Popen:
    return subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        stdin=subprocess.DEVNULL,
        env=dict(env),
        start_new_session=True,  # a group of its own: killing it kills what it started too
    )


def _wait(
    processes: Sequence[subprocess.Popen],
    ends_at: float,
    failed: Callable[[int, int], bool],
    clock: Callable[[], float],
) -> list[int | None] | None:
    codes: list[int | None] = [None] * len(processes)
    running = list(range(len(processes)))
    while running:
        for index in list(running):
            code = processes[index].poll()
            if code is None:
                continue
            running.remove(index)
            codes[index] = code
            if failed(index, code):  # the others would wait for this one until the timeout
                _kill([processes[i] for i in running])
                return codes
        if not running:
            break
        if clock() > ends_at:
            _kill([processes[i] for i in running])
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            processes[running[0]].wait(timeout=POLL_S)  # returns as soon as it ends
    return codes


def _kill(processes: Sequence[subprocess.Popen]) -> None:
    """SIGKILL each child's whole process group, then reap the child."""
    for process in processes:
        # The group may be gone already; a failed kill must not hide the exception that led here.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    for process in processes:
        process.wait()

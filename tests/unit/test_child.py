"""Child processes (mgbench.execution.child) with tiny Python children: results read, reasons for
none, exit codes, and the whole process group killed on a timeout, Ctrl-C, an error or a failing
peer. Timeouts are decided by a fake clock that passes them once the children are set up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from mgbench.execution import child

MODULE = """
import json, os, sys
from pathlib import Path
from mgbench.execution import child
spec, out = sys.argv[1:]
n = json.loads(Path(spec).read_text())["n"]
print("doubling", n, os.environ["CUDA_DEVICE_ORDER"], os.environ["PYTHONUNBUFFERED"])
child.write_result(Path(out), {"doubled": 2 * n})
"""


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def starts_a_sleeper(pid_file: Path, then: str = "time.sleep(600)") -> str:
    """A child that starts a grandchild (in its own process group, as anything it starts would
    be), writes the grandchild's pid to ``pid_file``, then runs ``then``."""
    return (
        "import os, pathlib, signal, subprocess, sys, time\n"
        "sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"partial = pathlib.Path({str(pid_file)!r} + '.partial')\n"
        "partial.write_text(str(sleeper.pid))\n"
        f"os.replace(partial, {str(pid_file)!r})\n"
        f"{then}\n"
    )


def after(path: Path, code: str) -> str:
    """A child that waits until ``path`` exists (a peer is set up), then runs ``code``."""
    wait = f"while not pathlib.Path({str(path)!r}).exists(): time.sleep(0.01)"
    return f"import pathlib, sys, time\n{wait}\n{code}"


def past_the_timeout_once(*paths: Path):
    """A clock at 0 until every path exists, then far past any timeout."""
    return lambda: 1000.0 if all(p.exists() for p in paths) else 0.0


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def gone_soon(pid: int, within_s: float = 10.0) -> bool:
    """SIGKILL is delivered at once but the process ends when next scheduled: wait for that."""
    ends_at = time.monotonic() + within_s
    while not is_gone(pid):
        if time.monotonic() > ends_at:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def sleepers(tmp_path):
    """Pid files of grandchildren; any still alive after the test is killed."""
    files = [tmp_path / f"sleeper{i}.pid" for i in range(2)]
    yield files
    for path in files:
        if path.exists() and not is_gone(pid := int(path.read_text())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- files, command line, environment and the result ---------------------------------------------


def test_a_child_that_writes_its_result_is_read(tmp_path):
    (tmp_path / "doubler.py").write_text(MODULE)
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = child.environment({"PYTHONPATH": path})
    log = tmp_path / "logs" / "doubler.log"
    with child.scratch({"n": 21}) as files:
        code = child.run(
            child.command("doubler", files.spec, files.out), env=env, log_path=log, timeout_s=60
        )
        result = child.read_result(files.out)
    assert code == 0
    assert result == child.Result({"doubled": 42})
    assert log.read_text() == "doubling 21 PCI_BUS_ID 1\n"
    assert not files.spec.parent.exists()  # the scratch folder is gone


def test_the_environment_keeps_this_processs_and_takes_overrides(monkeypatch):
    monkeypatch.setenv("MGBENCH_CHILD_TEST", "kept")
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    env = child.environment({"TF_CONFIG": "{}"})
    assert env["MGBENCH_CHILD_TEST"] == "kept" and env["TF_CONFIG"] == "{}"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" and env["PYTHONUNBUFFERED"] == "1"
    assert child.command("mgbench.execution.worker", Path("/s.json"), "/o.json") == [
        sys.executable,
        "-m",
        "mgbench.execution.worker",
        "/s.json",
        "/o.json",
    ]


def test_a_child_that_writes_nothing_gives_its_exit_code_and_a_missing_result(tmp_path):
    files = child.write_spec(tmp_path, {})
    assert json.loads(files.spec.read_text()) == {}
    code = child.run(python("import sys; sys.exit(3)"), env=os.environ, log_path=None, timeout_s=60)
    assert code == 3
    assert child.read_result(files.out) == child.Result(None, missing=True)


def test_a_child_killed_by_a_signal_gives_minus_the_signal(tmp_path):
    code = child.run(
        python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
        env=os.environ,
        log_path=tmp_path / "killed.log",
        timeout_s=60,
    )
    assert code == -signal.SIGKILL


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"status": "ok"', "Expecting ',' delimiter: line 1 column 16 (char 15)"),
        ("[1, 2]", "expected a JSON object, got list"),
        ("", "Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_an_unreadable_result_says_why(tmp_path, text, why):
    out = tmp_path / "out.json"
    code = child.run(
        python(f"import pathlib; pathlib.Path({str(out)!r}).write_text({text!r})"),
        env=os.environ,
        log_path=None,
        timeout_s=60,
    )
    assert code == 0
    assert child.read_result(out) == child.Result(None, unreadable=why)


def test_bytes_that_are_not_utf8_are_an_unreadable_result(tmp_path):
    out = tmp_path / "out.json"
    out.write_bytes(b'{"status": "\xff"}')
    result = child.read_result(out)
    assert result.payload is None and not result.missing
    assert result.unreadable is not None and "can't decode byte 0xff" in result.unreadable


# -- timeouts, Ctrl-C and errors kill the whole process group -----------------------------------


def test_a_timeout_returns_none_and_kills_the_childs_whole_process_group(tmp_path, sleepers):
    log = tmp_path / "sleeper.log"
    code = child.run(
        python(starts_a_sleeper(sleepers[0]) + "\nprint('set up', flush=True)"),
        env=os.environ,
        log_path=log,
        timeout_s=30,
        clock=past_the_timeout_once(sleepers[0]),
    )
    assert code is None
    assert gone_soon(int(sleepers[0].read_text()))  # the grandchild too, not just the child


def test_ctrl_c_while_waiting_kills_the_group_and_goes_on(tmp_path, sleepers):
    # The child presses Ctrl-C for us once its grandchild runs: a real SIGINT to this process.
    then = "os.kill(os.getppid(), signal.SIGINT); time.sleep(600)"
    # A shell that starts a job in the background (`cmd &`) starts it with SIGINT ignored, and
    # Python then raises no KeyboardInterrupt: give this test Python's own handler back.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            child.run(
                python(starts_a_sleeper(sleepers[0], then)),
                env=os.environ,
                log_path=tmp_path / "interrupted.log",
                timeout_s=60,  # only if the SIGINT never came: fail, never hang
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 60
    assert gone_soon(int(sleepers[0].read_text()))


# -- side by side ---------------------------------------------------------------------------------


def test_children_side_by_side_all_ending_ok_give_their_codes(tmp_path):
    codes = child.run_side_by_side(
        [python("print('a')"), python("print('b')")],
        [os.environ] * 2,
        [tmp_path / "a.log", tmp_path / "b.log"],
        timeout_s=60,
    )
    assert codes == [0, 0]
    assert (tmp_path / "a.log").read_text() == "a\n" and (tmp_path / "b.log").read_text() == "b\n"


def test_the_first_child_to_fail_stops_its_peers_and_their_groups(tmp_path, sleepers):
    codes = child.run_side_by_side(
        [python(starts_a_sleeper(sleepers[0])), python(after(sleepers[0], "sys.exit(3)"))],
        [os.environ] * 2,
        [tmp_path / "w0.log", tmp_path / "w1.log"],
        timeout_s=60,
    )
    assert codes == [None, 3]  # the waiting peer was killed, not waited for
    assert gone_soon(int(sleepers[0].read_text()))


def test_what_counts_as_failing_is_the_callers(tmp_path, sleepers):
    ended = []

    def failed(index: int, code: int) -> bool:
        ended.append((index, code))
        return index == 1  # e.g. it exited 0 but its result says "failed"

    codes = child.run_side_by_side(
        [python(starts_a_sleeper(sleepers[0])), python(after(sleepers[0], "sys.exit(0)"))],
        [os.environ] * 2,
        [None, None],
        timeout_s=60,
        failed=failed,
    )
    assert (codes, ended) == ([None, 0], [(1, 0)])
    assert gone_soon(int(sleepers[0].read_text()))


def test_a_timeout_side_by_side_kills_every_child_and_group(tmp_path, sleepers):
    codes = child.run_side_by_side(
        [python(starts_a_sleeper(path)) for path in sleepers],
        [os.environ] * 2,
        [tmp_path / "w0.log", tmp_path / "w1.log"],
        timeout_s=30,
        clock=past_the_timeout_once(*sleepers),
    )
    assert codes is None
    assert all(gone_soon(int(path.read_text())) for path in sleepers)


def test_an_error_while_waiting_kills_every_child_and_goes_on(tmp_path, sleepers):
    def failed(index: int, code: int) -> bool:
        raise RuntimeError("a bug in the caller")

    with pytest.raises(RuntimeError, match="a bug in the caller"):
        child.run_side_by_side(
            [python(starts_a_sleeper(sleepers[0])), python(after(sleepers[0], "pass"))],
            [os.environ] * 2,
            [None, None],
            timeout_s=60,
            failed=failed,
        )
    assert gone_soon(int(sleepers[0].read_text()))

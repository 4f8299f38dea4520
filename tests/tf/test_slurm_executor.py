"""The Slurm executor through submitit's real Slurm code path, against fake ``sbatch``, ``sacct``,
``scancel`` and ``srun`` put first on PATH. The fake sbatch keeps each submission script and runs
it in the background with the SLURM_* environment a node gives a job (unless a test forces the
state sacct reports, and then the job never runs); the fake sacct reports RUNNING until the
script ends, then COMPLETED or FAILED; the fake scancel records its call and kills the job.

These fakes are all the Slurm this executor has met: no real cluster has run it yet."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sys
import time
from pathlib import Path

import pytest
import submitit.slurm.slurm
from test_executors import SUITE  # the same tiny suite as the submitit-local tests

from mgbench import cli
from mgbench.commands.run import run_and_summarise
from mgbench.config.slurm import SlurmOptions
from mgbench.config.suite import parse_suite
from mgbench.execution.executors import RunError, make_spawner
from mgbench.execution.executors.slurm import SlurmSpawner, run_worker_task
from mgbench.execution.executors.submitit_jobs import run_worker_job
from mgbench.records import store

SLURM_TABLE = """
[slurm]
partition = "table-partition"
account = "acct42"
sbatch = ["--qos=high"]
setup = ["export MGBENCH_FAKE_SETUP=ran"]
"""

FAKE_SBATCH = r"""
import json, os, shlex, subprocess, sys
from pathlib import Path

root = Path(os.environ["FAKE_SLURM"])
script = Path(sys.argv[-1])
text = script.read_text()
directives = {}
for line in text.splitlines():
    if line.startswith("#SBATCH --"):
        key, _, value = line[len("#SBATCH --"):].partition("=")
        directives[key] = shlex.split(value)[0] if value else True
if directives.get("partition") == "nope":
    print("sbatch: error: invalid partition specified: nope", file=sys.stderr)
    sys.exit(1)
counter = root / "next_id"
job_id = int(counter.read_text())
counter.write_text(str(job_id + 1))
job = root / "jobs" / str(job_id)
job.mkdir(parents=True)
(job / "script.sh").write_text(text)
forced = root / "force_state"
if forced.exists():  # the job never runs: sacct reports this state
    (job / "state").write_text(forced.read_text())
else:
    def stream(key):
        path = Path(str(directives.get(key, directives["output"])).replace("%j", str(job_id)))
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "ab")

    env = dict(
        os.environ,
        SLURM_JOB_ID=str(job_id),
        SLURM_PROCID="0",
        SLURM_NTASKS="1",
        SLURM_LOCALID="0",
        SLURM_NODEID="0",
        SLURM_JOB_NUM_NODES="1",
        SLURM_JOB_NODELIST="localhost",
    )
    process = subprocess.Popen(
        ["bash", "-c", 'bash "$0"; echo $? > "$1"', str(job / "script.sh"), str(job / "exit")],
        stdin=subprocess.DEVNULL,
        stdout=stream("output"),
        stderr=stream("error"),
        env=env,
        start_new_session=True,
    )
    (job / "pid").write_text(str(process.pid))
print(f"Submitted batch job {job_id}")
"""

FAKE_SACCT = r"""
import os, sys
from pathlib import Path

root = Path(os.environ["FAKE_SLURM"])
print("JobID|State|NodeList")
for flag, job_id in zip(sys.argv, sys.argv[1:]):
    job = root / "jobs" / job_id
    if flag != "-j" or not job.exists():
        continue
    if (job / "state").exists():
        state = (job / "state").read_text()
    elif (job / "exit").exists():
        state = "COMPLETED" if (job / "exit").read_text().strip() == "0" else "FAILED"
    else:
        state = "RUNNING"
    print(f"{job_id}|{state}|localhost")
    print(f"{job_id}.batch|{state}|localhost")
"""

FAKE_SCANCEL = r"""
import contextlib, os, signal, sys
from pathlib import Path

root = Path(os.environ["FAKE_SLURM"])
with open(root / "scancel.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
for job_id in sys.argv[1:]:
    job = root / "jobs" / job_id
    if job.exists():
        (job / "state").write_text("CANCELLED by 0")
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            os.killpg(int((job / "pid").read_text()), signal.SIGKILL)
"""

FAKE_SRUN = r"""
import os, sys
from pathlib import Path

args = sys.argv[1:]
streams = {}
while args and args[0].startswith("--"):
    flag = args.pop(0)
    if flag in ("--output", "--error"):
        streams[flag] = args.pop(0)
for flag, fd in (("--output", 1), ("--error", 2)):
    if flag in streams:
        path = streams[flag].replace("%j", os.environ["SLURM_JOB_ID"]).replace("%t", "0")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), fd)
os.execvp(args[0], args)
"""

# submitit's sacct watcher is shared by every Slurm job of this process and remembers finished
# jobs by id, so each fake cluster numbers its jobs apart from the others.
_FIRST_IDS = itertools.count(1000, 1000)


class FakeSlurm:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True)
        tools = {"sbatch": FAKE_SBATCH, "sacct": FAKE_SACCT, "scancel": FAKE_SCANCEL}
        for name, source in {**tools, "srun": FAKE_SRUN}.items():
            tool = bin_dir / name
            tool.write_text(f"#!{sys.executable}\n{source}")
            tool.chmod(0o755)
        (root / "next_id").write_text(str(next(_FIRST_IDS)))
        monkeypatch.setenv("FAKE_SLURM", str(root))
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def force_state(self, state: str) -> None:
        (self.root / "force_state").write_text(state)

    def jobs(self) -> list[str]:
        folder = self.root / "jobs"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def script(self, job_id: str) -> str:
        return (self.root / "jobs" / job_id / "script.sh").read_text()

    def exit_code(self, job_id: str, wait_s: float = 30.0) -> str:
        """The job script's exit code. The fake node writes it after the script ends, which can
        be just after submitit has read the job's result: wait for it."""
        path = self.root / "jobs" / job_id / "exit"
        ends_at = time.monotonic() + wait_s
        while not path.exists() and time.monotonic() < ends_at:
            time.sleep(0.05)
        return path.read_text().strip()

    def scancel_calls(self) -> list[str]:
        log = self.root / "scancel.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    return FakeSlurm(tmp_path / "slurm", monkeypatch)


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The tiny suite run once, as a user runs it, by ``mgbench run --executor slurm``."""
    root = tmp_path_factory.mktemp("slurm-run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        fake = FakeSlurm(root / "slurm", monkeypatch)
        suite_path = root / "executors.toml"
        suite_path.write_text(SUITE + SLURM_TABLE, encoding="utf-8")
        output = root / "run"
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = cli.main(
                [
                    "run",
                    str(suite_path),
                    "--output",
                    str(output),
                    "--executor",
                    "slurm",
                    "--slurm-partition",
                    "cli-partition",
                    "--slurm-gpus-per-node",
                    "2",
                    "--slurm-time",
                    "9",
                    "--slurm-sbatch=--constraint=h100",
                ]
            )
    return (code, err.getvalue()), parse_suite(SUITE, "executors.toml", cpu_only=True), output, fake


def test_every_cell_runs_as_a_slurm_job_with_the_usual_record(slurm_run):
    (code, err), suite, output, fake = slurm_run
    assert code == 0, err
    records = store.read_records(output / "results.jsonl")
    # what the local executor records: every (cell, repeat) in the suite's order, each ok
    assert [(r.cell_id, r.repeat) for r in records] == [(c.cell_id, r) for c, r in suite.runs()]
    assert all(r.status == "ok" and r.timing is not None for r in records)
    assert all(r.transfers is not None and r.placement is not None for r in records)
    # one job per process, each run by the fake node with the worker's output in the run's log
    assert len(fake.jobs()) == len(records)
    for record in records:
        assert (output / "logs" / f"{record.cell_id}-r0.log").read_text().strip()
    for job_id in fake.jobs():
        assert (output / "logs" / "submitit" / job_id / f"{job_id}_0_result.pkl").exists()
        assert fake.exit_code(job_id) == "0"


def test_the_submission_script_asks_for_one_whole_node_and_the_options(slurm_run):
    _, _, _, fake = slurm_run
    for job_id in fake.jobs():
        lines = fake.script(job_id).splitlines()
        directives = {line for line in lines if line.startswith("#SBATCH ")}
        assert {
            "#SBATCH --exclusive",
            "#SBATCH --nodes=1",
            "#SBATCH --ntasks-per-node=1",
            "#SBATCH --gpus-per-node=2",
            "#SBATCH --partition=cli-partition",  # the flag over the table
            "#SBATCH --account=acct42",  # the table's
            "#SBATCH --time=9",
            "#SBATCH --qos=high",  # the table's extra line...
            "#SBATCH --constraint=h100",  # ...and the flag's
            "#SBATCH --no-requeue",
            "#SBATCH --signal=USR2@30",
        } <= directives
        assert len([d for d in directives if d.startswith("#SBATCH --partition")]) == 1
        assert any(d.startswith("#SBATCH --job-name=mgbench-") for d in directives)
        # the setup lines run before the worker, which srun starts through submitit
        setup = lines.index("export MGBENCH_FAKE_SETUP=ran")
        command = next(i for i, line in enumerate(lines) if "submitit.core._submit" in line)
        assert lines[command].startswith("srun ") and setup < command
        assert max(i for i, line in enumerate(lines) if line.startswith("#SBATCH")) < setup


def test_jobs_after_the_first_ask_for_its_node(slurm_run):
    _, _, _, fake = slurm_run
    first, *later = fake.jobs()
    assert later
    assert not [line for line in fake.script(first).splitlines() if "--nodelist" in line]
    for job_id in later:  # every comparison's processes are measured on one machine
        assert "#SBATCH --nodelist=localhost" in fake.script(job_id).splitlines()


def test_a_jobs_time_limit_defaults_to_its_cell_timeout_plus_a_minute(fake_slurm, tmp_path):
    cell = parse_suite(SUITE, "executors.toml", cpu_only=True).cells()[0]  # timeout 240 s
    assert SlurmSpawner(tmp_path, SlurmOptions()).job_parameters(cell)["timeout_min"] == 5
    spawner = SlurmSpawner(tmp_path, SlurmOptions(time_min=30))
    assert spawner.job_parameters(cell)["timeout_min"] == 30
    assert SlurmSpawner(tmp_path, SlurmOptions()).job_parameters(cell)["gpus_per_node"] is None
    with pytest.raises(ValueError, match=r"expected at least 5"):
        SlurmSpawner(tmp_path, SlurmOptions(time_min=4)).job_parameters(cell)


def test_a_multiworker_cells_job_asks_for_one_node_and_task_per_worker(fake_slurm, tmp_path):
    text = SUITE.replace('strategies = ["inplace", "concat"]', 'strategies = ["multiworker"]')
    text = text.replace("[suite]", '[suite]\nbackend = "tf_keras"')
    (cell,) = parse_suite(text, "executors.toml", cpu_only=True).cells()
    spawner = SlurmSpawner(tmp_path, SlurmOptions(gpus_per_node=4))
    parameters = spawner.job_parameters(cell)
    assert (parameters["nodes"], parameters["tasks_per_node"]) == (2, 1)
    assert parameters["slurm_exclusive"] is True
    function, extra = spawner.job_call(cell)
    assert function is run_worker_task and extra == (4,)  # SlurmClusterResolver's GPUs per node
    one_process = parse_suite(SUITE, "executors.toml", cpu_only=True).cells()[0]
    assert spawner.job_parameters(one_process)["nodes"] == 1
    assert spawner.job_call(one_process) == (run_worker_job, ())


@pytest.mark.parametrize(
    "state", ["CANCELLED by 1000", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"]
)
def test_a_job_slurm_ends_early_is_a_failed_record_naming_the_job_and_state(
    fake_slurm, tmp_path, state
):
    fake_slurm.force_state(state)
    output = tmp_path / "run"
    suite = parse_suite(SUITE, "executors.toml", cpu_only=True)
    spawn = make_spawner("slurm", output, SlurmOptions())
    assert run_and_summarise(suite, output, spawn=spawn, emit=lambda _: None) == 1
    records = store.read_records(output / "results.jsonl")
    assert len(records) == len(fake_slurm.jobs()) == 2
    for record, job_id in zip(records, fake_slurm.jobs(), strict=True):
        assert record.status == "failed"
        assert record.reason.startswith(f"Slurm job {job_id} ended {state} ")


def test_ctrl_c_while_waiting_cancels_the_job_with_scancel(fake_slurm, tmp_path, monkeypatch):
    fake_slurm.force_state("PENDING")  # the job waits in the queue until cancelled
    polls = []

    def done(job, force_check=False):
        polls.append(job.job_id)
        if len(polls) == 3:
            raise KeyboardInterrupt
        return False

    monkeypatch.setattr(submitit.slurm.slurm.SlurmJob, "done", done)
    output = tmp_path / "run"
    suite = parse_suite(SUITE, "executors.toml", cpu_only=True)
    with pytest.raises(KeyboardInterrupt):
        run_and_summarise(suite, output, spawn=make_spawner("slurm", output), emit=lambda _: None)
    [job_id] = fake_slurm.jobs()
    assert fake_slurm.scancel_calls() == [job_id]
    assert not (output / "results.jsonl").exists()


def test_a_submission_sbatch_refuses_stops_the_run_with_its_message(fake_slurm, tmp_path):
    output = tmp_path / "run"
    suite = parse_suite(SUITE, "executors.toml", cpu_only=True)
    spawn = make_spawner("slurm", output, SlurmOptions(partition="nope"))
    with pytest.raises(RunError, match=r": sbatch: error: invalid partition specified: nope$"):
        run_and_summarise(suite, output, spawn=spawn, emit=lambda _: None)
    assert fake_slurm.jobs() == []

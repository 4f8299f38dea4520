"""Runs a suite: one fresh worker process per (cell, repeat), in the suite's seeded order, with
resume, progress, a deadline, and the timeline processes after the measured ones. Where and how
each process starts is its executor's (:mod:`mgbench.execution.executors`; ``local`` by default):
the launcher only asks a :class:`~mgbench.execution.executors.Spawner` for each result.

Records are appended the moment each cell ends, so Ctrl-C or a crash keeps every finished cell,
and ``--resume`` continues without redoing them. With a :class:`Deadline` (``--deadline``) no
process starts that would not end in time; each process left out is recorded as skipped with a
reason naming the deadline, and ``--resume`` runs those again.

A paired cell run until decided (``until_decided``: its ``sequential_max``) is looked at after
each of its paired processes from the second on, by a :data:`LookRule` the caller gives (the
statistics are the analysis room's, above this one); once a look stops it, each of its remaining
processes is recorded as skipped, its reason starting with
:data:`~mgbench.records.record.NOT_NEEDED_REASON`, and ``--resume`` does not run them (it looks
again at the cell's records to know which cells had stopped).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench import backends
from mgbench.backends.base import CellSkipped
from mgbench.config.suite import Cell, Suite
from mgbench.execution.executors import DeviceOptions, RunError, Spawner, WorkerResult
from mgbench.execution.executors.local import spawn_worker
from mgbench.execution.lock import hold_run_folder
from mgbench.records import environment, store
from mgbench.records.record import (
    Record,
    RecordError,
    RunContext,
    not_needed_ending,
    not_needed_reason,
)
from mgbench.records.run_folder import RESULTS_ROOT, RunFolder
from mgbench.records.timelines import TimelineRecord, append_timeline, read_timelines

DEADLINE_REASON = "left out by --deadline"  # how a skipped record's reason starts


# (cell, timeline) -> the seconds one process of it should take; None when unknown
ProcessEstimate = Callable[[Cell, bool], "float | None"]


@dataclass(frozen=True)
class Look:
    """What a paired cell's sequential design says after one of its processes."""

    processes: int  # the paired processes it read; it is the design's (processes - 1)-th look
    stop: bool
    ending: str | None  # when it stops: "decided" or "futile" (records.record.STOP_ENDINGS)
    why: str  # the design's reason, in words
    line: str  # the progress line: estimates, adjusted intervals, verdicts, stop or continue


# (a cell run until decided, its records so far in run order) -> the look after its latest
# process; None when there is none to take (fewer than two processes gave rounds).
LookRule = Callable[[Cell, Sequence[Record]], "Look | None"]


@dataclass(frozen=True)
class Deadline:
    """``--deadline MINUTES``: no process starts that would not end within ``minutes`` of the
    run's start. A process's time is ``estimate(cell, timeline)`` (the plan's per-phase costs)
    scaled by how long the finished processes took against their estimates, or without an
    estimate the longest process finished so far; the first one without either starts."""

    minutes: float
    estimate: ProcessEstimate | None = None

    def __post_init__(self) -> None:
        if not 0 < self.minutes < math.inf:
            raise RunError(f"--deadline: expected minutes > 0, got {self.minutes:g}")


class _DeadlineWatch:
    """Decides, before each process, whether it still fits; once one does not, none starts."""

    def __init__(self, deadline: Deadline, clock: Callable[[], float]):
        self.deadline = deadline
        self.clock = clock
        self.started = clock()
        self.ends_at = self.started + deadline.minutes * 60
        self.estimated_s = 0.0  # finished processes that had an estimate: estimated...
        self.took_s = 0.0  # ...and taken
        self.longest_s: float | None = None
        self.stopped_at: float | None = None  # seconds into the run when starts stopped

    def _base(self, cell: Cell, timeline: bool) -> float | None:
        return self.deadline.estimate(cell, timeline) if self.deadline.estimate else None

    def expected_s(self, cell: Cell, timeline: bool) -> float | None:
        base = self._base(cell, timeline)
        if base is None:
            return self.longest_s
        if self.estimated_s > 0:  # the estimates' error so far, on this machine
            return base * self.took_s / self.estimated_s
        return base

    def refusal(self, cell: Cell, timeline: bool, emit: Callable[[str], None]) -> str | None:
        """Why this process must not start (a skipped record's reason), or None: start it.
        The first refusal is emitted."""
        minutes = f"{self.deadline.minutes:g} min"
        if self.stopped_at is not None:
            return (
                f"{DEADLINE_REASON} {minutes}: processes stopped starting "
                f"{_format_duration(self.stopped_at)} into the run"
            )
        now = self.clock()
        left = self.ends_at - now
        expected = self.expected_s(cell, timeline)
        if left > 0 and (expected is None or expected <= left):
            return None
        self.stopped_at = now - self.started
        need = "" if expected is None else f"it needed about {expected:.0f} s and "
        reason = f"{DEADLINE_REASON} {minutes}: {need}{max(left, 0):.0f} s were left"
        emit(
            f"deadline: {cell.cell_id}{' (timeline)' if timeline else ''} would not end in time "
            f"({need}{max(left, 0):.0f} s were left): it and every later process are recorded "
            "as skipped"
        )
        return reason

    def finished(self, cell: Cell, timeline: bool, wall_s: float) -> None:
        base = self._base(cell, timeline)
        if base is not None and base > 0:
            self.estimated_s += base
            self.took_s += wall_s
        self.longest_s = max(self.longest_s or 0.0, wall_s)


def is_left_out_by_deadline(status: str, reason: str | None) -> bool:
    return status == "skipped" and (reason or "").startswith(DEADLINE_REASON)


class _Looks:
    """Which cells run until decided have stopped, and the reason their remaining processes
    are recorded with; each look's line is emitted."""

    def __init__(self, rule: LookRule | None, emit: Callable[[str], None]):
        self.rule = rule
        self.emit = emit
        self.records: dict[str, list[Record]] = {}
        self.stopped: dict[str, str] = {}  # cell id -> its not-needed processes' reason

    def resume(self, cells: Sequence[Cell], recorded: Sequence[Record]) -> None:
        """From an earlier run's records: a cell with a not-needed process had stopped; any
        other is looked at again (after its latest recorded process), saying so."""
        for record in recorded:
            self.records.setdefault(record.cell_id, []).append(record)
        for cell in dict.fromkeys(c for c in cells if c.sequential_max is not None):
            earlier = self.records.get(cell.cell_id, [])
            reason = next(
                (r.reason for r in earlier if not_needed_ending(r.status, r.reason) and r.reason),
                None,
            )
            if reason is not None:
                self.stopped[cell.cell_id] = reason
            elif any(r.ok for r in earlier):
                self._look(cell, "resumed: ")

    def not_needed(self, cell: Cell) -> str | None:
        """The reason this process of ``cell`` is not run, or None: run it."""
        return self.stopped.get(cell.cell_id)

    def finished(self, cell: Cell, record: Record) -> None:
        self.records.setdefault(cell.cell_id, []).append(record)
        if cell.sequential_max is not None and record.ok:
            self._look(cell)

    def _look(self, cell: Cell, prefix: str = "") -> None:
        assert self.rule is not None and cell.sequential_max is not None
        try:
            look = self.rule(cell, self.records[cell.cell_id])
        except ValueError as error:  # running on to the maximum is always valid
            self.emit(f"      look: {cell.cell_id}: none taken ({error}); its processes go on")
            return
        if look is None:
            return
        self.emit(f"      {prefix}{look.line}")
        if look.stop and look.ending is not None:
            looks = cell.sequential_max - 1
            self.stopped[cell.cell_id] = not_needed_reason(
                look.ending, look.processes, looks, look.why
            )


def default_output(suite: Suite, root: Path = RESULTS_ROOT) -> Path:
    """A new run folder for ``suite``: ``root/<suite>/<time>-<host>``."""
    return RunFolder.new(suite.name, root).path


def latest_output(suite: Suite, root: Path = RESULTS_ROOT) -> Path:
    """The newest run folder of this suite on this host, for ``--resume`` without ``--output``."""
    found = RunFolder.latest(suite.name, root)
    if found is None:
        raise RunError(
            f"--resume: no earlier run of suite {suite.name!r} under {root / suite.name}"
        )
    return found.path


def _format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@dataclass
class Progress:
    """Which cell, how many are left, and an ETA from the mean duration of finished cells."""

    total: int
    emit: Callable[[str], None]
    durations: list[float]

    def starting(self, index: int, cell: Cell, repeat: int, repeats: int) -> None:
        remaining = self.total - index
        eta = ""
        if self.durations:
            eta = (
                f" · ETA {_format_duration(remaining * sum(self.durations) / len(self.durations))}"
            )
        strategy = " vs ".join(cell.paired_strategies) if cell.paired else cell.strategy_label
        label = f"{cell.model} {cell.image_size}px b{cell.batch_per_replica} {strategy}"
        self.emit(
            f"[{index + 1:>{len(str(self.total))}}/{self.total}] {label} x{cell.replicas} "
            f"· repeat {repeat + 1}/{repeats}{eta}"
        )

    def finished(self, record: Record, wall_s: float) -> None:
        self.durations.append(wall_s)
        detail = record.reason or ""
        if record.timing is not None:
            detail = f"{record.timing.images_per_s:,.1f} img/s"
        if record.paired is not None and record.paired.rounds:
            detail = _paired_detail(record)
        self.emit(f"      {record.status}: {detail} ({wall_s:.1f} s)")


def _paired_detail(record: Record) -> str:
    """A paired process in one line: its rounds and each strategy's median step, in its order
    (the estimates and their intervals are the report's, which sees every process)."""
    paired = record.paired
    assert paired is not None
    medians = (
        statistics.median(t for r in paired.rounds for t in r.blocks[label])
        for label in range(len(paired.strategies))
    )
    steps = ", ".join(
        f"{name} {median * 1000:.1f} ms"
        for name, median in zip(paired.strategies, medians, strict=True)
    )
    return f"{len(paired.rounds)} rounds, median step {steps}"


def _prepare_folder(
    suite: Suite,
    output: Path,
    resume: bool,
    host_env: dict[str, Any],
    order: Sequence[tuple[Cell, int]],
    about: Mapping[str, Any] | None = None,
) -> None:
    folder = RunFolder(output)
    suite_file = folder.suite
    resolved = {"suite": suite.to_dict(), "cells": [c.to_dict() for c in suite.cells()]}
    if resume:
        if not suite_file.exists():
            raise RunError(f"--resume: {output} holds no earlier run (no {suite_file.name})")
        earlier = json.loads(suite_file.read_text(encoding="utf-8"))
        if earlier.get("cells") != resolved["cells"]:
            _refuse_another_design(
                earlier.get("cells"), [c.to_dict() for c in suite.cells()], output
            )
            raise RunError(
                f"--resume: the suite's cells differ from the run in {output}; "
                "start a new run instead (drop --resume)"
            )
        return
    if folder.results.exists():
        raise RunError(f"{output} already holds results; pass --resume to continue that run")
    suite_file.write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    run_info = {
        "started_at": store.now_iso(),
        "argv": sys.argv,
        "environment": host_env,
        "seed": suite.settings.seed,
        # The resolved run order (the suite file's settings hold the seed that made it).
        "order": [[cell.cell_id, repeat] for cell, repeat in order],
        **(about or {}),
    }
    folder.run_info.write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")


def _refuse_another_design(earlier: Any, now: list[dict[str, Any]], output: Path) -> None:
    """A resume whose cells differ only in whether they run until decided is refused saying
    how the run was made."""
    if not isinstance(earlier, list) or not all(isinstance(c, dict) for c in earlier):
        return

    def fixed(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "sequential_max"} for c in cells]

    if fixed(earlier) != fixed(now):
        return
    was = any(c.get("sequential_max") for c in earlier)
    flag = "--until-decided" if was else "--no-until-decided"
    raise RunError(
        f"--resume: the run in {output} was made {'' if was else 'not '}until decided (with its "
        f"maximum of paired processes); resume it as it was made: {flag}, and the same --pairs"
    )


def _record(
    cell: Cell, repeat: int, outcome: WorkerResult, context: RunContext, started_at: str
) -> Record:
    try:
        return Record.from_payload(
            cell, repeat, outcome.payload, context, started_at=started_at, wall_s=outcome.wall_s
        )
    except RecordError as error:  # a worker bug must not stop the suite: record it as a failure
        failure = {"status": "failed", "reason": f"invalid worker output: {error}"}
        return Record.from_payload(
            cell, repeat, failure, context, started_at=started_at, wall_s=outcome.wall_s
        )


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run left: its folder, every record in it, and the exit code."""

    folder: Path
    records: tuple[Record, ...]
    timelines_left_out: tuple[TimelineRecord, ...] = ()  # timeline processes --deadline left out

    @property
    def results_path(self) -> Path:
        return RunFolder(self.folder).results

    @property
    def logs(self) -> Path:
        return RunFolder(self.folder).logs

    @property
    def failed(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.status in ("failed", "timeout"))

    @property
    def left_out(self) -> tuple[Record, ...]:
        """The measured processes ``--deadline`` left out (skipped records naming it)."""
        return tuple(r for r in self.records if is_left_out_by_deadline(r.status, r.reason))

    @property
    def not_needed(self) -> tuple[Record, ...]:
        """The paired processes a look made unnecessary (their cell was decided or futile)."""
        return tuple(r for r in self.records if not_needed_ending(r.status, r.reason))

    @property
    def exit_code(self) -> int:
        """1 when a process failed or timed out; processes left out by the deadline are not
        failures."""
        return 1 if self.failed else 0


def run_suite(
    suite: Suite,
    output: Path,
    *,
    resume: bool = False,
    options: DeviceOptions = DeviceOptions(),
    spawn: Spawner = spawn_worker,
    emit: Callable[[str], None] = print,
    deadline: Deadline | None = None,
    clock: Callable[[], float] = time.monotonic,
    looks: LookRule | None = None,
    about: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run every (cell, repeat) not yet recorded in ``output``; emits progress, not results.
    ``about``: facts about how the run was made, kept in a new run's ``run.json`` (say, the
    earlier run whose spread its futility reads).

    With ``deadline``, a process that would not end in time is not started: it and every later
    one (timeline ones too) are recorded as skipped, with a reason naming the deadline.
    ``looks`` looks at a paired cell run until decided after each of its processes (required
    when the suite has such cells); once it stops one, the cell's remaining processes are
    recorded as skipped, not needed.
    The folder is locked while the run writes it: a second run or ``--resume`` on it is refused
    (:class:`mgbench.execution.lock.FolderInUse`, naming the holder's pid)."""
    suite_file = RunFolder(output).suite
    if resume and not suite_file.exists():
        raise RunError(f"--resume: {output} holds no earlier run (no {suite_file.name})")
    if looks is None and any(c.sequential_max is not None for c in suite.cells()):
        raise RunError(
            "until_decided: the suite's paired cells run until decided, and the run was given "
            "no look rule to decide with (mgbench run gives one)"
        )
    watch = _DeadlineWatch(deadline, clock) if deadline is not None else None
    output.mkdir(parents=True, exist_ok=True)
    with hold_run_folder(output):
        return _run_locked(suite, output, resume, options, spawn, emit, watch, looks, about)


def _unpairable(cell: Cell) -> WorkerResult | None:
    """A paired cell its backend cannot run, recorded as skipped without starting a process."""
    if not cell.paired:
        return None
    try:
        backends.get(cell.backend).check_pairable(cell, cell.paired_strategies)
    except CellSkipped as reason:
        return WorkerResult({"status": "skipped", "reason": str(reason)}, 0.0)
    return None


def _run_locked(
    suite: Suite,
    output: Path,
    resume: bool,
    options: DeviceOptions,
    spawn: Spawner,
    emit: Callable[[str], None],
    watch: _DeadlineWatch | None = None,
    rule: LookRule | None = None,
    about: Mapping[str, Any] | None = None,
) -> RunOutcome:
    host_env = environment.host_environment()
    order = suite.runs()
    _prepare_folder(suite, output, resume, host_env, order, about)
    folder = RunFolder(output)
    results_path = folder.results
    folder.logs.mkdir(exist_ok=True)
    recorded = store.read_records(results_path) if results_path.exists() else []
    # A process an earlier --deadline left out was not run: --resume runs it.
    done = store.finished_keys(
        r for r in recorded if not is_left_out_by_deadline(r.status, r.reason)
    )
    todo = [(cell, repeat) for cell, repeat in order if (cell.cell_id, repeat) not in done]
    if done:
        emit(f"resuming {output}: {len(done)} cell run(s) already recorded, {len(todo)} to go")
    if suite.profile == "cpu":
        emit("no GPU found: the suite's [cpu] profile applies (CPU simulation, not a speed test)")
    context = RunContext(suite.name, suite.profile, output.name, host_env)
    progress = Progress(len(todo), emit, [])
    looks = _Looks(rule, emit)
    try:
        looks.resume([cell for cell, _ in todo], recorded)
        for index, (cell, repeat) in enumerate(todo):
            started_at = store.now_iso()
            not_needed = looks.not_needed(cell)
            if not_needed is not None:  # an earlier look decided the cell: no process starts
                skipped = WorkerResult({"status": "skipped", "reason": not_needed}, 0.0)
                store.append_record(
                    results_path, _record(cell, repeat, skipped, context, started_at)
                )
                continue
            outcome = _unpairable(cell)
            refusal = watch.refusal(cell, False, emit) if watch and outcome is None else None
            if refusal is not None:
                outcome = WorkerResult({"status": "skipped", "reason": refusal}, 0.0)
                record = _record(cell, repeat, outcome, context, started_at)
                store.append_record(results_path, record)
                continue
            progress.starting(index, cell, repeat, suite.repeats_of(cell))
            if outcome is None:
                outcome = spawn(cell, options, folder.log(cell.cell_id, repeat))
                if watch:
                    watch.finished(cell, False, outcome.wall_s)
            record = _record(cell, repeat, outcome, context, started_at)
            store.append_record(results_path, record)
            progress.finished(record, outcome.wall_s)
            looks.finished(cell, record)
        timelines = run_timelines(
            suite.timeline_cells(),
            output,
            steps=suite.settings.timeline_steps,
            options=options,
            spawn=spawn,
            emit=emit,
            watch=watch,
        )
    except KeyboardInterrupt:
        emit(
            f"\ninterrupted: every finished cell is kept in {results_path}; continue with "
            f"`mgbench run {suite.path} --resume --output {output}`"
        )
        raise
    timelines_left_out = tuple(p for p in timelines if is_left_out_by_deadline(p.status, p.reason))
    return RunOutcome(output, tuple(store.read_records(results_path)), timelines_left_out)


def run_timelines(
    cells: Sequence[Cell],
    output: Path,
    *,
    steps: int,
    options: DeviceOptions = DeviceOptions(),
    spawn: Spawner = spawn_worker,
    emit: Callable[[str], None] = print,
    watch: _DeadlineWatch | None = None,
) -> list[TimelineRecord]:
    """One more process per cell, its steps under TF's profiler (``timeline = true``): each
    result is appended to ``profiles.jsonl`` as it ends, the trace kept under ``profiles/``.
    Cells with a timeline in ``output`` get none again (``--resume``). With a deadline
    (``watch``), a timeline process that would not end in time is recorded as skipped."""
    folder = RunFolder(output)
    done = {p.cell_id for p in read_timelines(output) if p.status == "ok"}
    todo = [cell for cell in cells if cell.cell_id not in done]
    folder.logs.mkdir(parents=True, exist_ok=True)
    found = []
    for index, cell in enumerate(todo):
        refusal = watch.refusal(cell, True, emit) if watch else None
        if refusal is not None:
            record = TimelineRecord.from_payload(
                cell,
                {"status": "skipped", "reason": refusal},
                started_at=store.now_iso(),
                wall_s=0.0,
            )
            append_timeline(output, record)
            found.append(record)
            continue
        emit(
            f"[timeline {index + 1}/{len(todo)}] {cell.cell_id}: {steps} steps under TF's "
            "profiler (not timed)"
        )
        started_at = store.now_iso()
        outcome = spawn(
            cell,
            options,
            folder.timeline_log(cell.cell_id),
            timeline={"steps": steps, "logdir": str(folder.traces(cell.cell_id))},
        )
        if watch:
            watch.finished(cell, True, outcome.wall_s)
        record = TimelineRecord.from_payload(
            cell,
            _relative_trace(outcome.payload, output),
            started_at=started_at,
            wall_s=outcome.wall_s,
        )
        append_timeline(output, record)
        found.append(record)
        emit(f"      {record.status}: {record.reason or 'trace kept'} ({outcome.wall_s:.1f} s)")
    return found


def _relative_trace(payload: dict[str, Any], output: Path) -> dict[str, Any]:
    """The trace's path relative to the run folder, so a published run's record still finds it."""
    profile = payload.get("profile")
    if not isinstance(profile, dict) or not profile.get("trace_path"):
        return payload
    try:
        relative = Path(profile["trace_path"]).relative_to(output)
    except ValueError:
        return payload
    return {**payload, "profile": {**profile, "trace_path": str(relative)}}

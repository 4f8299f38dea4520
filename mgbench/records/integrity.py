"""Whether a run folder is fit to publish: its run files, each record's checksum and
environment, one machine, duplicates. ``mgbench validate`` prints the outcome; normal readers
read records whatever their checksum, only this judges it.

Checked, in this order, and the first failure named (file, line, record, what is wrong): the run's
own files (``run.json``, and ``suite.json`` for a run of ``mgbench run``), then each line of
``results.jsonl`` in file order: it is a record, it is unedited since the run wrote it (its
checksum), an ok record names its machine completely, and every ok record comes from the machine
of the first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench.records import environment, store
from mgbench.records.record import (
    CHECKSUM_ALGORITHM,
    CHECKSUM_KEY,
    Environment,
    Record,
    RecordError,
    content_checksum,
)
from mgbench.records.run_folder import RUN_FILE, SUITE_FILE, RunFolder
from mgbench.vocabulary import BACKENDS


class ValidationError(ValueError):
    """The run folder is not fit to publish; the message names the file, line and record."""


@dataclass(frozen=True)
class Validation:
    """A run folder that passed: what it holds, and what could be checked only in part."""

    folder: Path
    records: int
    statuses: dict[str, int]
    cells: int
    machine: str
    notes: tuple[str, ...]


def validate_run(run: str | Path) -> Validation:
    """Check the run folder ``run`` (or its results file); :class:`ValidationError` on the first
    fault found."""
    folder, results_path = store.locate(run)
    notes = _check_run_files(folder)
    lines = _read_lines(results_path)
    records: list[tuple[int, Record]] = []
    unproven = 0
    first_machine: tuple[int, environment.MachineIdentity] | None = None
    for number, line in lines:
        where = f"{results_path.name} line {number}"
        data = _parse(line, where)
        try:
            record = Record.from_json(data)
        except RecordError as error:
            raise ValidationError(f"{where}{_named(data)}: not a valid record: {error}") from error
        where = f"{where} ({record.cell_id}-r{record.repeat})"
        if not _checksum_matches(data, where):
            unproven += 1
        if record.ok:
            missing = missing_environment(record)
            if missing:
                raise ValidationError(
                    f"{where}: environment incomplete: no {', no '.join(missing)}"
                )
            identity = environment.machine_identity(record)
            if first_machine is None:
                first_machine = (number, identity)
            elif identity != first_machine[1]:
                raise ValidationError(
                    f"{where}: another machine or version than line {first_machine[0]} "
                    f"({_difference(identity, first_machine[1])}); one folder holds one machine's "
                    "run, publish the other as its own run"
                )
        records.append((number, record))
    if not records:
        raise ValidationError(f"{results_path}: no records")
    if 0 < unproven < len(records):
        # A run writes a checksum on every record or on none: a line without one among lines
        # with one had its checksum removed.
        raise ValidationError(
            f"{results_path.name}: {unproven} of {len(records)} records have no checksum while "
            "the others have one: removed after they were written"
        )
    if unproven:
        notes.append(
            f"{unproven} of {len(records)} records written before checksums: not provable unedited"
        )
    notes.extend(_duplicates(records))
    dirty = sorted(
        {(r.environment.git_commit or "?")[:7] for _, r in records if r.environment.git_dirty}
    )
    if dirty:
        notes.append(
            f"measured with uncommitted changes at mgbench {', '.join(dirty)} (git_dirty): "
            "say what they were in the run's notes.md"
        )
    statuses: dict[str, int] = {}
    for _, record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    kept = [record for _, record in records]
    return Validation(
        folder=folder,
        records=len(records),
        statuses=statuses,
        cells=len({record.cell_id for record in kept}),
        machine=environment.machine_label(kept),
        notes=tuple(notes),
    )


# -- the checks ----------------------------------------------------------------------------------


def _check_run_files(folder: Path) -> list[str]:
    """``run.json`` must be there and be JSON; ``suite.json`` too, unless a script wrote the
    run (``benchmarks/calibration.py``: its run.json holds its arguments, not the launcher's
    environment) and resolved no suite file."""
    run_folder = RunFolder(folder)
    run_path = run_folder.run_info
    if not run_path.exists():
        raise ValidationError(f"{run_path}: missing (every run writes it: machine and command)")
    try:
        run_info = json.loads(run_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationError(f"{run_path}: not JSON: {error}") from error
    if not isinstance(run_info, dict):
        raise ValidationError(f"{run_path}: expected a JSON object")
    if run_folder.suite.exists():
        return []
    argv = run_info.get("argv") or ["?"]
    by_script = "environment" not in run_info and str(argv[0]).endswith(".py")
    if by_script:
        return [
            f"no {SUITE_FILE}: made by {argv[0]}, not `mgbench run`; its {RUN_FILE} is the record"
        ]
    raise ValidationError(f"{run_folder.suite}: missing (the resolved suite of the run)")


def _read_lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(f"{path}: not a text file: {error.reason}") from error
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _parse(line: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"{where}: not a JSON record ({error}); a torn line from a run stopped mid-write?"
        ) from error
    if not isinstance(data, dict):
        raise ValidationError(f"{where}: not a JSON object")
    return data


def _named(data: dict[str, Any]) -> str:
    """`` (cell-rN)`` when the broken record still says which it is."""
    cell_id, repeat = data.get("cell_id"), data.get("repeat")
    return f" ({cell_id}-r{repeat})" if isinstance(cell_id, str) else ""


def _checksum_matches(data: dict[str, Any], where: str) -> bool:
    """True when the line's checksum matches its content; False when it has none (written
    before checksums). A checksum that does not match is an error."""
    stored = data.get(CHECKSUM_KEY)
    if stored is None:
        return False
    if not isinstance(stored, str) or not stored.startswith(f"{CHECKSUM_ALGORITHM}:"):
        raise ValidationError(f"{where}: checksum {stored!r} is not {CHECKSUM_ALGORITHM}:<hex>")
    if stored != content_checksum(data):
        raise ValidationError(f"{where}: checksum mismatch: edited after it was written")
    return True


def missing_environment(record: Record) -> list[str]:
    """What an ok record's environment lacks to say where it was measured: host, CPU, mgbench
    version and commit, Python, its backend's framework version, and on GPUs their names and
    the driver."""
    env = record.environment
    wanted = {
        "host": env.host,
        "cpu": env.cpu,
        "mgbench version": env.mgbench,
        "git commit": env.git_commit,
        "python version": env.python,
    }
    missing = [name for name, value in wanted.items() if not value]
    backend = record.backend or record.cell.backend
    # The framework whose version says what measured the records, from the declaration: no
    # backend (nor the framework it wraps) is imported to validate.
    entry = BACKENDS.get(backend)
    framework = entry.framework if entry is not None else None
    if framework is None:
        missing.append(f"known framework for backend {backend!r}")
    elif not _framework_version(env, framework):
        missing.append(f"{framework} version")
    if record.device_mode in environment.GPU_MODES:
        names = env.gpu_names()
        if not names or not all(names):
            missing.append("GPU names")
        if not env.driver:
            missing.append("GPU driver")
    return missing


def _framework_version(env: Environment, framework: str) -> str | None:
    """The worker's own view, else the installed version the launcher read (newer records)."""
    seen = getattr(env, framework, None)
    return seen or (env.packages or {}).get(framework)


def _difference(identity: environment.MachineIdentity, first: environment.MachineIdentity) -> str:
    """``host=b, not a``: the parts of the identity that differ from the first record's."""
    now, before = (dict(part.split("=", 1) for part in parts) for parts in (identity, first))
    keys = [*now, *(key for key in before if key not in now)]
    return ", ".join(
        f"{key}={now.get(key)}, not {before.get(key)}"
        for key in keys
        if now.get(key) != before.get(key)
    )


def _duplicates(records: Sequence[tuple[int, Record]]) -> list[str]:
    """A (cell, repeat) written twice is read once (the last); said, not refused."""
    lines: dict[tuple[str, int], list[int]] = {}
    for number, record in records:
        lines.setdefault((record.cell_id, record.repeat), []).append(number)
    return [
        f"{cell_id} repeat {repeat} written {len(numbers)} times (lines "
        f"{', '.join(map(str, numbers))}); readers keep the last"
        for (cell_id, repeat), numbers in lines.items()
        if len(numbers) > 1
    ]

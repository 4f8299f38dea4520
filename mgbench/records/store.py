"""The JSON Lines store of records: append, read, locate.

Each line is appended, flushed and fsynced the moment its process ends (:func:`append_json_line`,
which results and timeline records share), so a crash or Ctrl-C loses at most the process in
flight; a line a crash left unfinished is cut before the next is appended, so ``--resume`` never
glues a record onto a torn one. Readers count nothing twice and drop nothing silently: a torn
last line is skipped, and a (cell, repeat) written twice (two runs on one folder) is kept once,
the last written; both are said in :attr:`RunRecords.warnings`, which the report shows.

Each line carries the checksum of its content, written with it. Readers do not judge it: a record
edited since is still read (``mgbench validate`` is what refuses it before publishing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench.records.record import (
    CHECKSUM_KEY,
    SCHEMA_VERSION,
    Record,
    RecordError,
    content_checksum,
)
from mgbench.records.run_folder import RESULTS_FILE

__all__ = [
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "JsonLines",
    "ResultsError",
    "RunRecords",
    "append_json_line",
    "append_record",
    "finished_keys",
    "locate",
    "now_iso",
    "read_json_lines",
    "read_records",
    "read_run",
]


class ResultsError(ValueError):
    """A results file cannot be read; the message names the file and line."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a crash left unfinished, so the next record starts on its own line."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def append_json_line(path: Path, data: Mapping[str, Any]) -> None:
    """Append ``data`` as one JSON line, flushed and fsynced; a last line a crash left unfinished
    is cut first, so the new line starts on its own."""
    line = json.dumps(data, sort_keys=True, allow_nan=False)
    if Path(path).exists():
        _drop_torn_tail(Path(path))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class JsonLines:
    """The complete lines of a JSON Lines file, each (line number, value), and the number of a
    torn last line that was skipped (a run stopped mid-write), if any."""

    rows: tuple[tuple[int, Any], ...]
    torn_line: int | None


def read_json_lines(path: Path, error: type[Exception] = ValueError) -> JsonLines:
    """Every line of ``path`` as JSON; a torn last line is skipped, any other line that is not
    JSON raises ``error`` naming the file and line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as problem:
            if number == len(lines):
                return JsonLines(tuple(rows), number)
            raise error(f"{path}:{number}: not a JSON record: {problem}") from problem
    return JsonLines(tuple(rows), None)


def append_record(path: Path, record: Record) -> None:
    """Append ``record`` as one line carrying the checksum of its content (see
    :func:`~mgbench.records.record.content_checksum`), so an edit made later can be shown."""
    # Hash the object as it will read back (tuples as lists, keys as text): what a checker
    # recomputes from the line is then exactly what was hashed here.
    data = json.loads(json.dumps(record.to_json(), allow_nan=False))
    data[CHECKSUM_KEY] = content_checksum(data)
    append_json_line(path, data)


@dataclass(frozen=True)
class RunRecords:
    """The records of a results file, each (cell, repeat) once, and what reading left out."""

    records: tuple[Record, ...]
    warnings: tuple[str, ...]


def read_run(path: Path) -> RunRecords:
    """Every complete record, duplicates collapsed (the last written wins, in the place of the
    first); a torn final line (a crash mid-write) is skipped. Both are said in ``warnings``."""
    try:
        lines = read_json_lines(path, ResultsError)
    except OSError as error:
        raise ResultsError(f"{path}: cannot read results: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ResultsError(f"{path}: not a text file: {error.reason}") from error
    by_run: dict[tuple[str, int], Record] = {}
    written: dict[tuple[str, int], int] = {}
    warnings = []
    if lines.torn_line is not None:
        warnings.append(
            f"{path}:{lines.torn_line}: a torn last line (a run stopped mid-write) was skipped"
        )
    for number, data in lines.rows:
        try:
            record = Record.from_json(data)
        except RecordError as error:
            raise ResultsError(f"{path}:{number}: {error}") from error
        key = (record.cell_id, record.repeat)
        by_run[key] = record
        written[key] = written.get(key, 0) + 1
    for (cell_id, repeat), times in written.items():
        if times > 1:
            warnings.append(
                f"{path}: {cell_id} repeat {repeat} was written {times} times (two runs on one "
                "folder?); the last is kept and counted once"
            )
    return RunRecords(tuple(by_run.values()), tuple(warnings))


def read_records(path: Path) -> list[Record]:
    """The records of :func:`read_run`, without its warnings."""
    return list(read_run(path).records)


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


def finished_keys(records: Iterable[Record]) -> set[tuple[str, int]]:
    return {(r.cell_id, r.repeat) for r in records}

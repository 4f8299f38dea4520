"""The timeline record: one cell's steps under TensorFlow's profiler, kept apart from the timing.

A timeline process is slower than a measured one (the profiler records every op), so its numbers
never mix with the timing records: they go to ``profiles.jsonl`` beside ``results.jsonl`` in the
run folder (the file keeps its first name, so published runs read as ever), one record per
cell, appended the moment it ends. ``timeline`` (the JSON key ``profile``) holds what
``execution.timeline_capture.capture_timeline`` measured (the attribution of op time to device
and category, and the trace's path, which TensorBoard opens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell
from mgbench.records.record import STATUSES, RecordError
from mgbench.records.run_folder import RunFolder
from mgbench.records.store import append_json_line, read_json_lines


@dataclass(frozen=True)
class TimelineRecord:
    cell_id: str
    cell: Cell
    status: str
    reason: str | None
    started_at: str | None
    wall_s: float | None
    timeline: Mapping[str, Any] | None  # set when status is "ok"; JSON key "profile"
    environment: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RecordError(f"timeline record: unknown status {self.status!r}")
        if self.status == "ok" and not self.timeline:
            raise RecordError("timeline record: an ok record needs its timeline (profile)")

    @classmethod
    def from_payload(
        cls, cell: Cell, payload: Mapping[str, Any], *, started_at: str, wall_s: float
    ) -> TimelineRecord:
        return cls(
            cell_id=cell.cell_id,
            cell=cell,
            status=str(payload.get("status")),
            reason=payload.get("reason"),
            started_at=started_at,
            wall_s=wall_s,
            timeline=payload.get("profile"),
            environment=payload.get("environment") or {},
        )

    @classmethod
    def from_json(cls, data: Any) -> TimelineRecord:
        if not isinstance(data, Mapping):
            raise RecordError("timeline record: expected an object")
        try:
            cell = Cell.from_dict(data["cell"])
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"timeline record: cell: {error}") from error
        return cls(
            cell_id=str(data.get("cell_id") or cell.cell_id),
            cell=cell,
            status=str(data.get("status")),
            reason=data.get("reason"),
            started_at=data.get("started_at"),
            wall_s=data.get("wall_s"),
            timeline=data.get("profile"),
            environment=data.get("environment") or {},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cell_id": self.cell_id,
            "cell": self.cell.to_dict(),
            "status": self.status,
            "reason": self.reason,
            "started_at": self.started_at,
            "wall_s": self.wall_s,
            "profile": self.timeline,
            "environment": dict(self.environment),
        }


def append_timeline(folder: Path, record: TimelineRecord) -> None:
    """Append ``record`` to the run folder's timeline file, as results are appended (a torn last
    line cut first)."""
    append_json_line(RunFolder(Path(folder)).timelines, record.to_json())


def read_timelines(folder: Path) -> list[TimelineRecord]:
    """The run folder's timeline records (none when it has no such file); a torn last line
    (a crash mid-write) is skipped, any other bad line is an error naming file and line."""
    path = RunFolder(Path(folder)).timelines
    if not path.exists():
        return []
    found = []
    for number, data in read_json_lines(path, RecordError).rows:
        try:
            found.append(TimelineRecord.from_json(data))
        except RecordError as error:
            raise RecordError(f"{path}:{number}: {error}") from error
    return found

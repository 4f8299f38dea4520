"""The profile record: one cell's steps under TensorFlow's profiler, kept apart from the timing.

A profiled process is slower than a measured one (the profiler records every op), so its numbers
never mix with the timing records: they go to ``profiles.jsonl`` beside ``results.jsonl`` in the
run folder, one record per profiled cell, appended the moment it ends. ``profile`` holds what
``execution.profiling.profile_built`` measured (the attribution of op time to device and
category, and the trace's path, which TensorBoard opens).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgbench.config.suite import Cell
from mgbench.records.record import STATUSES, RecordError

PROFILES_FILE = "profiles.jsonl"


@dataclass(frozen=True)
class ProfileRecord:
    cell_id: str
    cell: Cell
    status: str
    reason: str | None
    started_at: str | None
    wall_s: float | None
    profile: Mapping[str, Any] | None  # set when status is "ok"
    environment: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RecordError(f"profile: unknown status {self.status!r}")
        if self.status == "ok" and not self.profile:
            raise RecordError("profile: an ok profile record needs its profile")

    @classmethod
    def from_payload(
        cls, cell: Cell, payload: Mapping[str, Any], *, started_at: str, wall_s: float
    ) -> ProfileRecord:
        return cls(
            cell_id=cell.cell_id,
            cell=cell,
            status=str(payload.get("status")),
            reason=payload.get("reason"),
            started_at=started_at,
            wall_s=wall_s,
            profile=payload.get("profile"),
            environment=payload.get("environment") or {},
        )

    @classmethod
    def from_json(cls, data: Any) -> ProfileRecord:
        if not isinstance(data, Mapping):
            raise RecordError("profile record: expected an object")
        try:
            cell = Cell.from_dict(data["cell"])
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"profile record: cell: {error}") from error
        return cls(
            cell_id=str(data.get("cell_id") or cell.cell_id),
            cell=cell,
            status=str(data.get("status")),
            reason=data.get("reason"),
            started_at=data.get("started_at"),
            wall_s=data.get("wall_s"),
            profile=data.get("profile"),
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
            "profile": self.profile,
            "environment": dict(self.environment),
        }


def append_profile(folder: Path, record: ProfileRecord) -> None:
    line = json.dumps(record.to_json(), sort_keys=True, allow_nan=False)
    with open(Path(folder) / PROFILES_FILE, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_profiles(folder: Path) -> list[ProfileRecord]:
    """The run folder's profile records (none when it has no profiles file); a torn last line
    (a crash mid-write) is skipped, any other bad line is an error naming file and line."""
    path = Path(folder) / PROFILES_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found.append(ProfileRecord.from_json(json.loads(line)))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break
            raise RecordError(f"{path}:{number}: not a JSON record: {error}") from error
        except RecordError as error:
            raise RecordError(f"{path}:{number}: {error}") from error
    return found

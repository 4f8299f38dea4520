"""The published results: the files under ``results/`` that git tracks.

A run the README's main job just made (``results/imagenet/<time>-<host>/``) is not published
until someone commits it, so tests about published results read only tracked files: the README's
two commands then pass in either order. Outside a git checkout every file counts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"


def _tracked() -> set[Path] | None:
    """Every tracked file under results/, or None when git cannot say (no checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "results"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {ROOT / name for name in listed.decode().split("\0") if name}


def published(pattern: str) -> list[Path]:
    """The published files under results/ matching ``pattern`` (a glob), sorted."""
    tracked = _tracked()
    found = RESULTS.glob(pattern)
    return sorted(p for p in found if tracked is None or p in tracked)


def published_copy(destination: Path) -> Path:
    """A copy of the published results (logs and traces left out) at ``destination``."""
    tracked = _tracked()
    files = tracked if tracked is not None else {p for p in RESULTS.rglob("*") if p.is_file()}
    for path in files:
        relative = path.relative_to(RESULTS)
        if {"logs", "profiles"} & set(relative.parts[:-1]):
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return destination

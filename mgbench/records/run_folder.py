"""A run folder: every file a run writes there, named in one place.

::

    results/<suite>/<time>-<host>/
        suite.json       the resolved suite (its settings and cells): what --resume checks
        run.json         when, how (argv), where (the host's environment), the run order
        results.jsonl    one record per cell run, appended the moment it ends
        profiles.jsonl   one timeline record per cell run under TF's profiler
        profiles/<cell>/ TF profiler traces, for TensorBoard
        logs/            each process's output: <cell>-r<repeat>.log, <cell>-profile.log
        summary.md       the end-of-run table
        report.<fmt>     mgbench report's output, beside its plots (claim-forest.png, ...)
        notes.md         what the people publishing the run write about it
        run.lock         held while a run writes the folder

The timeline files keep the names they had when timelines were called profiles, so published
runs read as ever. Only this module spells a file name; everything else asks a
:class:`RunFolder`.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from pathlib import Path

RESULTS_ROOT = Path("results")  # where `mgbench run` puts a run folder unless told otherwise
RESULTS_FILE = "results.jsonl"
TIMELINES_FILE = "profiles.jsonl"
SUITE_FILE = "suite.json"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.md"
NOTES_FILE = "notes.md"
LOCK_FILE = "run.lock"
LOGS_DIR = "logs"
TRACES_DIR = "profiles"
CLAIM_FOREST = "claim-forest.png"  # the report's first plot, which the results index links
REPORT_STEM = "report"


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def results(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def timelines(self) -> Path:
        return self.path / TIMELINES_FILE

    @property
    def suite(self) -> Path:
        return self.path / SUITE_FILE

    @property
    def run_info(self) -> Path:
        return self.path / RUN_FILE

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def notes(self) -> Path:
        return self.path / NOTES_FILE

    @property
    def lock(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def logs(self) -> Path:
        return self.path / LOGS_DIR

    @property
    def claim_forest(self) -> Path:
        return self.path / CLAIM_FOREST

    def log(self, cell_id: str, repeat: int) -> Path:
        """The output of one measured process."""
        return self.logs / f"{cell_id}-r{repeat}.log"

    def timeline_log(self, cell_id: str) -> Path:
        """The output of one cell's process under TF's profiler."""
        return self.logs / f"{cell_id}-profile.log"

    def traces(self, cell_id: str) -> Path:
        """Where TF's profiler writes one cell's trace."""
        return self.path / TRACES_DIR / cell_id

    def report(self, fmt: str) -> Path:
        return self.path / f"{REPORT_STEM}.{fmt}"

    @classmethod
    def new(cls, suite_name: str, root: Path = RESULTS_ROOT) -> RunFolder:
        """``root/<suite>/<time>-<host>``: a new run's folder (not created)."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return cls(root / suite_name / f"{stamp}-{socket.gethostname()}")

    @classmethod
    def latest(cls, suite_name: str, root: Path = RESULTS_ROOT) -> RunFolder | None:
        """The newest run folder of ``suite_name`` made on this host, or None."""
        host = socket.gethostname()
        found = sorted(p for p in (root / suite_name).glob(f"*-{host}") if p.is_dir())
        return cls(found[-1]) if found else None

    @classmethod
    def of_suite(cls, suite_name: str, root: Path = RESULTS_ROOT) -> list[RunFolder]:
        """Every run folder of ``suite_name`` under ``root`` that holds results, newest first."""
        folders = sorted((p for p in (root / suite_name).glob("*") if p.is_dir()), reverse=True)
        return [cls(p) for p in folders if (p / RESULTS_FILE).exists()]


def is_report(path: Path) -> bool:
    """A Markdown file of a run folder that is a report to link (its notes and summary are not)."""
    return path.suffix == ".md" and path.name not in (NOTES_FILE, SUMMARY_FILE)

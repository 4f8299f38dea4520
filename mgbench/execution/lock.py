"""A run folder's lock: one run writes a folder at a time.

Two runs appending to one ``results.jsonl`` count cells twice (issue 10 saw 25 records for 16
runs), so ``mgbench run`` and ``--resume`` hold an exclusive ``flock`` on ``run.lock`` in the
folder while they write, and a second one is refused at once with the holder's pid. The kernel
drops the lock when its process dies, so a crash or ``kill -9`` leaves no stale lock behind; the
pid written into the file is only for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from mgbench.records.run_folder import RunFolder


class FolderInUse(ValueError):
    """Another process holds the run folder's lock; the message names its pid."""


@contextlib.contextmanager
def hold_run_folder(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block, or raise :class:`FolderInUse` at once."""
    path = RunFolder(folder).lock
    # O_TRUNC would wipe the holder's pid when a second process merely tries: open, then lock.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
            raise FolderInUse(
                f"{folder} is in use by another mgbench run (pid {holder or 'unknown'}); "
                "wait for it to finish, or run into another --output folder"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)  # a later reader must not blame a finished process
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)

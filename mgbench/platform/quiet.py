"""Keep TensorFlow's native start-up lines out of the terminal, without hiding real errors.

TensorFlow and absl write their start-up lines ("All log messages before absl::InitializeLog()
is called are written to STDERR", oneDNN, ``cudart_stub``, ``failed call to cuInit``) from C++
straight to file descriptor 2, before Python's logging exists and whatever
``TF_CPP_MIN_LOG_LEVEL`` says for some of them. Only redirecting the descriptor itself catches
them: :func:`native_stderr_to_log` points fd 2 at a log file while TensorFlow is imported and
initialised, restores it afterwards, and on an exception writes the log's tail to the real stderr
before the exception goes on, so a failure still shows what TensorFlow said. ``--verbose``
(:func:`set_verbose`, or ``verbose=True``) leaves the terminal untouched.

No TensorFlow here: this module must import in a process that never loads it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TAIL_LINES = 20
_verbose = False
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")
# The start-up lines every TensorFlow process prints, whatever goes wrong later: a failure's tail
# leaves them out so the lines that explain it are not pushed off by them.
STARTUP_NOISE_RE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cudart_stub|Could not find cuda drivers|"
    r"This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler|"
    r"Unable to register (cuDNN|cuFFT|cuBLAS) factory|computation_placer"
)


def set_verbose(verbose: bool) -> None:
    """The command line's ``--verbose``: every later :func:`native_stderr_to_log` lets TF speak."""
    global _verbose
    _verbose = verbose


def is_verbose() -> bool:
    return _verbose


def log_dir() -> Path:
    """Where the native logs go: ``$XDG_CACHE_HOME/mgbench`` (``~/.cache/mgbench``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "mgbench"


def log_path(name: str) -> Path:
    """The log file of one command, ``tf-<name>.log``; overwritten by the command's next run."""
    return log_dir() / f"tf-{_SAFE_NAME_RE.sub('-', name)}.log"


def tail(path: Path, lines: int = TAIL_LINES, *, skip_startup_noise: bool = True) -> str:
    """The last ``lines`` lines of a log, TF's usual start-up lines left out ('' when it cannot
    be read or holds nothing else)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return tail_text(text, lines, skip_startup_noise=skip_startup_noise)


def tail_text(text: str, lines: int = TAIL_LINES, *, skip_startup_noise: bool = True) -> str:
    """The last ``lines`` non-blank lines of ``text`` (a log's, a traceback's), TF's usual
    start-up lines left out."""
    kept = [
        line
        for line in text.rstrip().splitlines()
        if line.strip() and not (skip_startup_noise and STARTUP_NOISE_RE.search(line))
    ]
    return "\n".join(kept[-lines:])


@contextmanager
def native_stderr_to_log(name: str, *, verbose: bool | None = None) -> Iterator[Path | None]:
    """While inside, file descriptor 2 (C++ and Python stderr alike) goes to ``log_path(name)``.

    Yields the log's path, or None when nothing is redirected (verbose, or no log file could be
    opened: then the terminal keeps everything rather than losing it). On an exception the log's
    last lines are written to the restored stderr, then the exception propagates.
    """
    if verbose is None:
        verbose = _verbose
    if verbose:
        yield None
        return
    path = log_path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "wb")  # noqa: SIM115 - closed below, after fd 2 is restored
    except OSError:
        yield None
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(log.fileno(), 2)
        try:
            yield path
        except BaseException:
            _restore(saved)
            lines = tail(path)
            if lines:
                print(f"[the last lines TensorFlow wrote to {path}]\n{lines}", file=sys.stderr)
            raise
        finally:
            _restore(saved)
    finally:
        os.close(saved)
        log.close()


def _restore(saved: int) -> None:
    sys.stderr.flush()
    os.dup2(saved, 2)

"""Developer sessions: ``nox -s tests``, ``nox -s lint``."""

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def overhead(session: nox.Session) -> None:
    """Prints mgbench's timing overhead against a bare tf.function loop (target <= 1.03)."""
    session.install("-e", ".")
    session.run("python", "benchmarks/overhead.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Runs the gate benchmarks and saves them as the baseline (.benchmarks/)."""
    session.install("-e", ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/tf/benchmarks",
        "--benchmark-only",
        "--benchmark-save=baseline",
        *session.posargs,
    )


@nox.session
def gate(session: nox.Session) -> None:
    """Reruns the gate benchmarks and fails when a median is >10% slower than the baseline."""
    session.install("-e", ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/tf/benchmarks",
        "--benchmark-only",
        "--benchmark-compare",
        "--benchmark-compare-fail=median:10%",
        *session.posargs,
    )

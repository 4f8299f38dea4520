"""Developer sessions: ``nox -s tests``, ``lint``, ``layers``, ``properties`` (see each one)."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "layers", "tests"]
ROOT = Path(__file__).resolve().parent


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def layers(session: nox.Session) -> None:
    """Fails when a room imports a room above it (the contract in pyproject.toml)."""
    session.install("import-linter")
    # import-linter only reads the source: no need to install mgbench and TensorFlow
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": str(ROOT)})


@nox.session
def properties(session: nox.Session) -> None:
    """The property-based tests with the thorough Hypothesis profile (more than 10^4 cases)."""
    session.install("-e", ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/unit/test_properties.py",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "thorough"},
    )


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

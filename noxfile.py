"""Developer sessions. The CI steps, one session each, run in the environment nox runs from (no
new virtual environment, no second TensorFlow install), exactly as ``.ci/run`` runs them:

    .venv/bin/nox -s unit tf ratio_gate lint layers types

(``.venv`` from the README's test command, which installs nox). The others (``properties``,
``overhead``, ``bench``, ``bench_gate``) are for developers and install what they need.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.sessions = ["unit", "tf", "ratio_gate", "lint", "layers", "types"]
ROOT = Path(__file__).resolve().parent
PYTHON = sys.executable  # the environment nox runs from: the project's own
# Two test files at a time (pytest-xdist), each file's tests in one worker: a module's shared run
# is made once. As .ci/run runs them.
PARALLEL = ("-n", "2", "--dist", "loadfile")


# -- the CI steps, in .ci/run's order ------------------------------------------------------------


@nox.session(venv_backend="none")
def unit(session: nox.Session) -> None:
    """The unit tests alone (so their no-TensorFlow check is real)."""
    session.run(PYTHON, "-m", "pytest", "tests/unit", *PARALLEL, *session.posargs)


@nox.session(venv_backend="none")
def tf(session: nox.Session) -> None:
    """The TensorFlow tests, on simulated devices; the pytest-benchmark gates last and alone
    (under xdist pytest-benchmark times nothing, and their timing checks would not run)."""
    tests = ("-m", "pytest", "tests/tf", *PARALLEL, "--ignore=tests/tf/benchmarks")
    session.run(PYTHON, *tests, *session.posargs)
    # pytest's exit 5 (nothing collected): a -k in posargs may select no gate
    gates = ("-m", "pytest", "tests/tf/benchmarks")
    session.run(PYTHON, *gates, *session.posargs, success_codes=[0, 5] if session.posargs else [0])


@nox.session(venv_backend="none")
def ratio_gate(session: nox.Session) -> None:
    """A paired run of suites/ci.toml gated on inplace/concat >= 0.90: a ratio inside one run is
    immune to how fast the CI machine is; exit 3 (the data cannot decide) fails too."""
    output = ROOT / ".ci-gate-run"
    session.run("rm", "-rf", str(output), external=True)
    mgbench = (PYTHON, "-m", "mgbench.cli")
    session.run(*mgbench, "run", "suites/ci.toml", "--profile", "default", "--output", str(output))
    session.run(
        *mgbench,
        "gate",
        str(output),
        "--ratio",
        "inplace/concat",
        "--min",
        "0.90",
        "--alpha",
        "0.05",
    )


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "ruff", "check", ".")


@nox.session(venv_backend="none")
def layers(session: nox.Session) -> None:
    """Fails when a room imports a room above it (the contract in pyproject.toml)."""
    # import-linter reads the source: this checkout's mgbench, whatever is installed
    session.run(
        str(Path(PYTHON).parent / "lint-imports"), "--no-cache", env={"PYTHONPATH": str(ROOT)}
    )


@nox.session(venv_backend="none")
def types(session: nox.Session) -> None:
    """mypy over mgbench/ at the strictness pyproject.toml's [tool.mypy] states."""
    session.run(PYTHON, "-m", "mypy", *session.posargs)


# -- for developers ------------------------------------------------------------------------------


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
def bench_gate(session: nox.Session) -> None:
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

"""Unit tests: pure code, fakes for hardware, no TensorFlow."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# Until mgbench.analysis.sequential lands (another branch writes it), its API is a test fake.
if importlib.util.find_spec("mgbench.analysis.sequential") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fake_sequential

    import mgbench.analysis

    sys.modules["mgbench.analysis.sequential"] = fake_sequential
    mgbench.analysis.sequential = fake_sequential  # type: ignore[attr-defined]

TF_TESTS = Path(__file__).resolve().parent.parent / "tf"
ISOLATION_TEST = "test_the_unit_tests_never_import_tensorflow"
_TF_COLLECTED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The isolation check runs last, so it sees every import the other unit tests made.
    items.sort(key=lambda item: item.name == ISOLATION_TEST)
    config.stash[_TF_COLLECTED] = any(TF_TESTS in Path(str(i.path)).parents for i in items)


@pytest.fixture
def tf_tests_in_session(request: pytest.FixtureRequest) -> bool:
    return request.config.stash.get(_TF_COLLECTED, False)

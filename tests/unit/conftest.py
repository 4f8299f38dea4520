"""Unit tests: pure code, fakes for hardware, no TensorFlow."""

from __future__ import annotations

from pathlib import Path

import pytest

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

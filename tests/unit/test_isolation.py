"""The unit room's promise: nothing here imports TensorFlow or Keras."""

from __future__ import annotations

import sys

import pytest


def test_the_unit_tests_never_import_tensorflow(tf_tests_in_session):
    if tf_tests_in_session:
        pytest.skip("tests/tf ran in this session and imported TensorFlow; run tests/unit alone")
    heavy = [m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules]
    assert heavy == []

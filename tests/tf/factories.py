"""``module:function`` model factories for end-to-end tests of failing cells."""

from __future__ import annotations

import time


def explode(input_shape, classes):
    raise RuntimeError("this factory always fails")


def hang(input_shape, classes):
    time.sleep(600)  # the cell's timeout must end this process, not this sleep

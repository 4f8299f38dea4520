"""``module:function`` model factories for end-to-end tests of failing cells."""

from __future__ import annotations

import os
import signal
import time


def explode(input_shape, classes):
    raise RuntimeError("this factory always fails")


def hang(input_shape, classes):
    time.sleep(600)  # the cell's timeout must end this process, not this sleep


def killed(input_shape, classes):
    # As the OOM killer or a lost node would: no record written, no exception raised.
    os.kill(os.getpid(), signal.SIGKILL)

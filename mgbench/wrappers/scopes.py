"""Name scopes the wrappers put their ops under, which the placement audit reads back.

Both wrapper families (Keras 3 and graph mode) and :mod:`mgbench.placement` import these, so a
renamed scope cannot silently make the audit mislabel ops. No TensorFlow here.
"""

from __future__ import annotations

import re

SPLIT_SCOPE = "mgbench_split"
MERGE_SCOPE = "mgbench_merge"
REPLICA_SCOPE = "replica_{index}"
# TF uniquifies a reused scope name with a suffix: replica_0_1 is still replica 0.
REPLICA_SCOPE_RE = re.compile(r"^replica_(\d+)(?:_\d+)?$")


def replica_scope(index: int) -> str:
    """The name scope of replica ``index``'s forward pass."""
    return REPLICA_SCOPE.format(index=index)


def replica_index(op_name: str) -> int | None:
    """The replica an op belongs to, read from its ``replica_N`` scope; None outside replicas."""
    for part in op_name.split("/"):
        match = REPLICA_SCOPE_RE.match(part)
        if match:
            return int(match.group(1))
    return None

"""The jax backend on a machine without TensorFlow (this project's lent GPU has none): the whole
`mgbench run` and `mgbench report` path, launcher and workers, with TensorFlow made unimportable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HIDE_TENSORFLOW = '''
import sys


class _NoTensorFlow:
    """Any import of TensorFlow fails, as on a machine that has none."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
'''

SUITE = """
[suite]
name = "no-tf"
strategies = ["single", "dataparallel"]
backend = "jax"
replicas = [2]
workers = [1]
batch_per_replica = 4
warmup_steps = 1
timed_steps = 3
repeats = 1
timeout_s = 240
[[models]]
name = "TinyMLP"
image_size = 8
classes = 5
"""


def test_a_jax_run_and_its_report_need_no_tensorflow(tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_TENSORFLOW, encoding="utf-8")
    suite = tmp_path / "no-tf.toml"
    suite.write_text(SUITE, encoding="utf-8")
    env = {"PYTHONPATH": str(hide), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proof = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True
    )
    assert "hidden by the test" in proof.stderr  # the hiding works in every child process
    output = tmp_path / "run"
    for command in (
        ["run", str(suite), "--output", str(output)],
        ["report", str(output), "--no-plots"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mgbench.cli", *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    assert sorted(r["cell_id"] for r in records) == [
        "TinyMLP-8px-b4-dataparallel-x2-jax",
        "TinyMLP-8px-b4-single-x1-jax",
    ]
    for record in records:
        assert record["status"] == "ok", record.get("reason")
        assert record["environment"]["tensorflow"] is None
    assert "dataparallel" in (output / "report.md").read_text()

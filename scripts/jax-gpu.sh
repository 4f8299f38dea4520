#!/usr/bin/env bash
# Time Keras 3 on JAX on a GPU machine that has JAX with CUDA but no TensorFlow (this project's
# lent H200 is one): runs suites/jax-gpu.toml from a source checkout (PYTHONPATH=., no install)
# and writes its report. Needs, besides JAX: keras>=3.15 and its pure-Python needs (on the H200
# they travel as wheels: see /work/.library/device/README.md), numpy, scipy, psutil, tabulate,
# nvidia-ml-py. Plots are left out (matplotlib may be missing there).
#
#   scripts/jax-gpu.sh [OUTPUT_FOLDER]      # default: results/jax-gpu/<time>-<host>
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax
output=${1:-}
status=0  # a failed cell must not cost the report of the others
python3 -m mgbench.cli run suites/jax-gpu.toml ${output:+--output "$output"} || status=$?
run=${output:-$(ls -d results/jax-gpu/*/ | sort | tail -1)}
python3 -m mgbench.cli report "$run" --no-plots
exit "$status"

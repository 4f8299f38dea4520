#!/usr/bin/env bash
# The one script to run on a GPU machine, after `pip install -e '.[gpu]'` in this repository:
#
#   bash benchmarks/gpu_evidence.sh
#
# In at most ~10 minutes it leaves everything under ONE folder, results/gpu-evidence/<stamp>-<host>/:
#   1. doctor.txt        `mgbench doctor`: TF build, GPUs, NVML, virtual GPUs, observed placement
#                        (at most ~2 minutes; if it fails or is missing, the script says so and
#                        carries on: its findings tell how far to trust the run);
#   2. machine.txt       nvidia-smi, Python, the TF/Keras versions;
#   3. plan.txt          `mgbench run suites/gpu-quick.toml --plan`: the estimate;
#   4. run/              `mgbench run suites/gpu-quick.toml --deadline M` (M: what is left of the
#                        budget, at most 8): on 4 or more GPUs the real ones, else the first GPU
#                        split in 4 virtual GPUs; run.txt is its output;
#   5. run/report.md     `mgbench report` (report.txt: its output), and with virtual GPUs
#                        predict.txt: `mgbench predict --hardware h200-4virtual`;
#   6. summary.txt       what ran, what passed, what was left out; and a .tar.gz of the folder.
#
# Settings (environment): MGBENCH (the command, default mgbench), MGBENCH_BUDGET_MIN (10),
# MGBENCH_RUN_MAX_MIN (8), MGBENCH_VIRTUAL_GPU_MEMORY_MB (default: 85% of GPU 0's memory / 4),
# PYTHON (the one with mgbench; default: beside the mgbench command, else python3),
# MGBENCH_EVIDENCE_ROOT (the folder the run's folder goes in, default results/gpu-evidence).
set -euo pipefail

MGBENCH="${MGBENCH:-mgbench}"
# The Python that has mgbench (to count records): the one beside the mgbench command, if any.
PYTHON="${PYTHON:-$(dirname "$(command -v "$MGBENCH" || echo .)")/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
BUDGET_MIN="${MGBENCH_BUDGET_MIN:-10}"
RUN_MAX_MIN="${MGBENCH_RUN_MAX_MIN:-8}"
SUITE="suites/gpu-quick.toml"
DOCTOR_TIMEOUT_S=150
AFTER_RUN_RESERVE_S=60 # the report, predict, summary and the archive

started_s=$(date +%s)
cd "$(dirname "$0")/.."
for minutes in "$BUDGET_MIN" "$RUN_MAX_MIN"; do
  if ! [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "gpu_evidence: expected minutes like 10 or 7.5, got '$minutes'" >&2
    exit 2
  fi
done

stamp=$(date +%Y%m%d-%H%M%S)
host=$(hostname -s 2>/dev/null || hostname)
out="${MGBENCH_EVIDENCE_ROOT:-results/gpu-evidence}/${stamp}-${host}"
mkdir -p "$out"

say() { printf '%s\n' "$*" | tee -a "$out/summary.txt"; }
elapsed_s() { echo $(($(date +%s) - started_s)); }

if ! command -v "$MGBENCH" >/dev/null 2>&1; then
  echo "gpu_evidence: '$MGBENCH' not found; run pip install -e '.[gpu]' first (or set MGBENCH)" >&2
  exit 2
fi

echo "gpu_evidence: writing everything to $out"

# -- the machine ---------------------------------------------------------------------------------
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $host"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi || echo "nvidia-smi failed (exit $?)"
  else
    echo "nvidia-smi: not found"
  fi
  echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>}"
  "$MGBENCH" --version 2>&1 || echo "mgbench --version: not available"
  "$PYTHON" - <<'EOF' 2>&1 || true
import importlib.metadata as metadata
import sys

print("python", sys.version.split()[0])
for name in ("tensorflow", "tensorflow-cpu", "keras", "tf-keras", "nvidia-ml-py", "mgbench"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        pass
EOF
} >"$out/machine.txt" 2>&1

# GPUs this process may use: nvidia-smi's count, cut to CUDA_VISIBLE_DEVICES when that is set;
# without nvidia-smi, what `mgbench devices` says TF sees.
gpus=0
gpu0_mib=0
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | grep -c . || true)
  gpu0_mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits -i 0 2>/dev/null |
    head -n 1 | tr -dc '0-9' || true)
else
  gpus=$("$MGBENCH" devices 2>/dev/null | sed -n 's/.*: \([0-9][0-9]*\) GPU(s).*/\1/p' |
    head -n 1 || true)
fi
gpus=${gpus:-0}
gpu0_mib=${gpu0_mib:-0}
if [[ -n "${CUDA_VISIBLE_DEVICES-}" ]]; then
  if [[ "$CUDA_VISIBLE_DEVICES" == "-1" ]]; then
    gpus=0
  else
    IFS=',' read -r -a visible <<<"$CUDA_VISIBLE_DEVICES"
    if ((${#visible[@]} < gpus)); then gpus=${#visible[@]}; fi
  fi
fi

device_args=()
predict_text="not run (no GPU)"
if ((gpus >= 4)); then
  predict_text="not run (real GPUs: give their hardware spec to mgbench predict)"
  devices_text="$gpus GPUs: the run uses 4 of them (real GPUs, the claim's hardware)"
elif ((gpus >= 1)); then
  memory_mb="${MGBENCH_VIRTUAL_GPU_MEMORY_MB:-}"
  if [[ -z "$memory_mb" ]]; then
    memory_mb=4096
    if ((gpu0_mib > 0)); then memory_mb=$((gpu0_mib * 85 / 100 / 4 / 1000 * 1000)); fi
  fi
  device_args=(--virtual-gpus 4 --virtual-gpu-memory-mb "$memory_mb")
  devices_text="$gpus GPU(s): the first split in 4 virtual GPUs of $memory_mb MiB (one chip: \
not the claim's hardware)"
else
  devices_text="no GPU found: the suite's [cpu] profile runs (a harness check, not GPU evidence)"
fi

# -- 1. doctor -----------------------------------------------------------------------------------
doctor_cmd=("$MGBENCH" doctor)
if command -v timeout >/dev/null 2>&1; then doctor_cmd=(timeout "$DOCTOR_TIMEOUT_S" "${doctor_cmd[@]}"); fi
echo "gpu_evidence: mgbench doctor (up to ${DOCTOR_TIMEOUT_S} s) ..."
doctor_rc=0
"${doctor_cmd[@]}" >"$out/doctor.txt" 2>&1 || doctor_rc=$?
case "$doctor_rc" in
  0) doctor_text="passed" ;;
  124) doctor_text="did not finish in ${DOCTOR_TIMEOUT_S} s (timed out; see doctor.txt)" ;;
  *) doctor_text="FAILED or unavailable (exit $doctor_rc; see doctor.txt): read it before \
trusting the run" ;;
esac
echo "gpu_evidence: doctor $doctor_text; carrying on"

# -- 2. the plan and the run ---------------------------------------------------------------------
to_seconds() { awk -v m="$1" 'BEGIN { printf "%d", m * 60 }'; }
left_s=$(($(to_seconds "$BUDGET_MIN") - $(elapsed_s) - AFTER_RUN_RESERVE_S))
run_max_s=$(to_seconds "$RUN_MAX_MIN")
if ((left_s > run_max_s)); then left_s=$run_max_s; fi
if ((left_s < 60)); then left_s=60; fi # at least the first processes
deadline_min=$(awk -v s="$left_s" 'BEGIN { printf "%.1f", s / 60 }')

"$MGBENCH" run "$SUITE" ${device_args[@]+"${device_args[@]}"} --plan --deadline "$deadline_min" >"$out/plan.txt" 2>&1 ||
  echo "gpu_evidence: --plan failed (see plan.txt); running anyway"
grep -E '^(Estimated wall time|With --deadline)' "$out/plan.txt" || true

run_args=(run "$SUITE" ${device_args[@]+"${device_args[@]}"} --deadline "$deadline_min")
echo "gpu_evidence: mgbench ${run_args[*]} ..."
run_rc=0
"$MGBENCH" "${run_args[@]}" --output "$out/run" 2>&1 |
  tee "$out/run.txt" || run_rc=${PIPESTATUS[0]}

# -- 3. report and prediction --------------------------------------------------------------------
report_rc=0
if [[ -f "$out/run/results.jsonl" ]]; then
  echo "gpu_evidence: mgbench report ..."
  "$MGBENCH" report "$out/run" >"$out/report.txt" 2>&1 || report_rc=$?
  if ((${#device_args[@]} > 0)); then
    predict_rc=0
    "$MGBENCH" predict "$out/run" --hardware h200-4virtual >"$out/predict.txt" 2>&1 ||
      predict_rc=$?
    predict_text="exit $predict_rc (predict.txt: copy times on the h200-4virtual spec)"
  fi
else
  report_rc=1
  predict_text="not run: no results"
fi

# Counts of the run's processes by status (the store's reader: duplicates counted once).
counts=$(
  "$PYTHON" - "$out/run" <<'EOF' 2>/dev/null || echo "(could not count: see run.txt)"
import collections, sys
from mgbench.records import store
try:
    records = store.read_records(sys.argv[1] + "/results.jsonl")
except Exception as error:  # the summary must still be written
    print(f"(no records: {error})")
    raise SystemExit(0)
by_status = collections.Counter(r.status for r in records)
left_out = sum(1 for r in records if (r.reason or "").startswith("left out by --deadline"))
print(", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
      + (f" ({left_out} left out by the deadline)" if left_out else ""))
EOF
)

# -- 4. summary ----------------------------------------------------------------------------------
elapsed=$(elapsed_s)
{
  echo
  echo "== mgbench GPU evidence: $out ($((elapsed / 60))m$(printf '%02d' $((elapsed % 60)))s) =="
} | tee -a "$out/summary.txt"
say "devices: $devices_text"
say "doctor:  $doctor_text"
say "run:     exit $run_rc, --deadline $deadline_min min; processes: $counts"
say "report:  exit $report_rc ($out/run/report.md; report.txt)"
say "predict: $predict_text"
# The run's answer, as it printed it: the paired claim table.
awk '/^## The claim/ { on = 1; print; next }
  on && /^[|]/ { print; rows = 1; next }
  on && rows { exit }' \
  "$out/run.txt" | tee -a "$out/summary.txt" || true
if ((run_rc != 0)); then say "         a process failed: its record and $out/run/logs/ say why"; fi
tar -czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")"
say "send:    $out.tar.gz (everything above)"

if ((run_rc != 0 || report_rc != 0)); then exit 1; fi
exit 0

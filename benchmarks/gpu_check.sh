#!/usr/bin/env bash
# The whole course on the lent GPU machine in one command (issue 16); see benchmarks/gpu_check.py.
#
#   bash benchmarks/gpu_check.sh             # on the GPU machine: results in $OUT/gpu.json (needs wheelhouse/ carried)
#   bash benchmarks/gpu_check.sh --dry-run   # here, on the CPU: smoke profile, tiny sizes, about 4 minutes
#
# Any further arguments go to gpu_check.py (e.g. --steps throughput,tests --budget 300).
# A hard stop 60 s after the budget keeps the command inside the device tool's 10 minutes even if
# a child ignores its own limit; gpu.json is rewritten after every step, so what ran is kept.
set -u
cd "$(dirname "$0")/.." || exit 1
export OUT="${OUT:-/tmp/gpu_check/out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CNNCOURSE_DOWNLOAD_TIMEOUT="${CNNCOURSE_DOWNLOAD_TIMEOUT:-5}"
PY="${PYTHON:-python3}"
budget=470
for a in "$@"; do
  case "$a" in --dry-run) budget=240; export CNNCOURSE_DEVICE=cpu OMP_NUM_THREADS=1;; esac
done
prev=""
for a in "$@"; do [ "$prev" = "--budget" ] && budget="${a%.*}"; prev="$a"; done
echo "gpu_check.sh: $("$PY" -V 2>&1), budget ${budget} s, OUT=$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout -k 5 $((budget + 60)) "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
rc=$?
[ $rc -eq 124 ] && echo "gpu_check.sh: stopped at the hard limit; $OUT/gpu.json holds the steps that finished"
exit $rc

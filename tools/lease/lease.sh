#!/usr/bin/env bash
# The one command of a GPU lease, run through device.sh once the data parts are in:
#   tools/lease/device.sh tools/lease/lease.sh [PROFILE] [DEADLINE_S] [CHAPTER ...]
# Under a global deadline (default 480 s, leaving a 10-minute call room to pack): the throughput benchmark first
# (its figures and MFU), then each chapter in turn (training the runs it needs and is not trained yet, reusing the
# rest), skipping what the time left cannot fit, then claims.csv and a pack of at most 8 files of at most 16 MiB in
# $OUT: the executed chapters (with their figures), claims.csv, the logs and every run's metrics.csv and DONE.json.
# Replayed on a CPU before any lease: tools/lease/lease.sh paper-smoke 600 02_fig2_top9 (see README.md).
set -uo pipefail
cd "$(dirname "$0")/../.."
PROFILE=${1:-gpu}; DEADLINE=${2:-480}; shift $(( $# < 2 ? $# : 2 ))
CHAPTERS=("$@"); [ ${#CHAPTERS[@]} -gt 0 ] || CHAPTERS=(01_training 08_table2_imagenet 02_fig2_top9 04_fig5_invariance
  06_fig7_occlusion 13_fig7_occlusion_statistic 03_fig4_evolution 05_fig6_architecture 07_fig8_correspondence 14_sanity_checks)
OUT=${OUT:-/tmp/zfviz/lease-out}; W=${ZFVIZ_LEASE_WORK:-/tmp/zfviz/lease}; mkdir -p "$OUT" "$W/results" "$W/logs"
PY=${PYTHON:-python3}
start=$(date +%s); left() { echo $(( DEADLINE - ($(date +%s) - start) )); }
PACK_S=45   # kept for claims.csv and the pack
echo "lease: profile $PROFILE, deadline ${DEADLINE}s, chapters ${CHAPTERS[*]}" | tee "$W/logs/lease.log"
timeout 60 $PY benchmarks/train_throughput.py --profile "$PROFILE" --batches 20 --warmup 3 > "$W/logs/throughput.txt" 2>&1
echo "lease: throughput done at $(( $(date +%s) - start ))s: $(grep -E 'zfviz pipeline|MFU' "$W/logs/throughput.txt" | tr '\n' ' ')" | tee -a "$W/logs/lease.log"
for ch in "${CHAPTERS[@]}"; do
  t=$(( $(left) - PACK_S ))
  if [ "$t" -lt 20 ]; then echo "lease: no time left for $ch (and after it)" | tee -a "$W/logs/lease.log"; break; fi
  timeout "$t" $PY -m zfviz book --profile "$PROFILE" --only "$ch" --no-build --out "$W/results" --no-progress \
    > "$W/logs/$ch.log" 2>&1
  echo "lease: $ch rc=$? at $(( $(date +%s) - start ))s" | tee -a "$W/logs/lease.log"
done
$PY tools/lease/pack_out.py "$W/results" "$W/logs" "${ZFVIZ_RUNS:-/tmp/zfviz/runs}" "$OUT" | tee -a "$W/logs/lease.log"

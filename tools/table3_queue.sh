#!/usr/bin/env bash
# Table 3's remaining rows at the cpu profile, one run at a time with all the threads (benchmarks/RESULTS.md: two runs
# side by side gain only 3-5%), in the order issue 27 asks: C2d, then C2b, then the row in no part; then the two
# runs at twice the budget that chapter 01's convergence table (and the C1/C3 notes) quote, lost with an earlier
# runs/ and never recorded. Resumable: a run whose record in book/records/ holds its last epoch is skipped, a
# finished run in runs/ is not retrained, an unfinished one resumes from its checkpoint. Each finished run is
# recorded (commit book/records/ after it). Log: runs/queue.log.
#   nohup tools/table3_queue.sh >/dev/null 2>&1 &
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p runs
queue=()
for m in zf-wide zf-wide-fc8192 zf-fc2048 zf-fc8192 alexnet-fc2048 alexnet-fc8192 alexnet-no-fc7; do
  for s in 0 1 2; do queue+=("$m $s 20"); done
done
queue+=("zf 0 40" "alexnet 0 40")
for job in "${queue[@]}"; do
  read -r m s e <<< "$job"
  # done when one of its records holds epoch $e (a record of an unfinished run stops earlier: that run resumes
  # below); a 20-epoch run's record never holds epoch 40, so the two budgets cannot be mistaken for each other
  if cut -d, -f4 book/records/"$m"-cpu-s"$s"-*/metrics.csv 2>/dev/null | grep -qx "$e"; then continue; fi
  echo "$(date +%T) start $m s$s ($e epochs)" >> runs/queue.log
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} $PY -m zfviz train --model "$m" --profile cpu --seed "$s" --epochs "$e" \
    --no-progress > "runs/train-$m-$s-$e.log" 2>&1
  echo "$(date +%T) end $m s$s ($e epochs) rc=$?" >> runs/queue.log
  $PY -m zfviz record --profile cpu >> runs/queue.log 2>&1
done

#!/usr/bin/env bash
# Table 3's remaining rows at the cpu profile, one run at a time with all the threads (benchmarks/RESULTS.md: two runs
# side by side gain only 3-5%), in the order issue 27 asks: C2d, then C2b, then the row in no part. Resumable: a run
# whose record in book/records/ holds its last epoch is skipped, a finished run in runs/ is not retrained, an
# unfinished one resumes from its checkpoint. Each finished run is recorded (commit book/records/ after it). Log:
# runs/queue.log.
#   nohup tools/table3_queue.sh >/dev/null 2>&1 &
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p runs
for m in zf-wide zf-wide-fc8192 zf-fc2048 zf-fc8192 alexnet-fc2048 alexnet-fc8192 alexnet-no-fc7; do
  for s in 0 1 2; do
    # done when its record holds epoch 20 (a record of an unfinished run stops earlier: that run resumes below)
    if cut -d, -f4 book/records/"$m"-cpu-s"$s"-*/metrics.csv 2>/dev/null | grep -qx 20; then continue; fi
    echo "$(date +%T) start $m s$s" >> runs/queue.log
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} $PY -m zfviz train --model "$m" --profile cpu --seed "$s" --epochs 20 \
      --no-progress > "runs/train-$m-$s-20.log" 2>&1
    echo "$(date +%T) end $m s$s rc=$?" >> runs/queue.log
    $PY -m zfviz record --profile cpu >> runs/queue.log 2>&1
  done
done

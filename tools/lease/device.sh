#!/usr/bin/env bash
# On the device machine, from the repository root: take in the carried .lease/pNN, and once every part has come,
# unpack the data and install the wheels; then run the given command with zfviz importable and its data, cache
# and runs under /tmp/zfviz (which lives as long as the machine stays warm).
# Usage: tools/lease/device.sh [COMMAND ...]     e.g. tools/lease/device.sh python -m zfviz book --profile gpu --no-build
set -euo pipefail
S=/tmp/zfviz; mkdir -p $S/parts $S/data $S/cache $S/runs $S/site
have_wheels() { PYTHONPATH=$S/site python3 -c "import papermill, ipykernel, captum, mlxtend" 2>/dev/null; }
for d in .lease/p*; do
  [ -f "$d/MANIFEST" ] || continue
  cp "$d/MANIFEST" $S/MANIFEST; cp "$d/part" "$S/parts/$(basename "$d")"
  if [ -d "$d/wheels" ] && ! have_wheels; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $S/site "$d"/wheels/*.whl
  fi
done
if [ -f $S/MANIFEST ] && [ ! -f $S/data/.done ]; then
  want=$(awk '/^parts/ {print $2}' $S/MANIFEST); have=$(ls $S/parts | wc -l)
  if [ "$have" -eq "$want" ]; then
    sum=$(cat $S/parts/p* | sha256sum | cut -d' ' -f1)
    [ "$sum" = "$(awk '/^sha256/ {print $2}' $S/MANIFEST)" ] || { echo "device.sh: data stream checksum mismatch" >&2; rm -rf $S/parts; exit 3; }
    cat $S/parts/p* | tar -x -C $S/data
    rm -rf $S/parts; touch $S/data/.done
  else
    echo "device.sh: $have of $want data parts here; carry the next .lease/pNN"
  fi
fi
export PYTHONPATH=$S/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PATH=$S/site/bin:$PATH PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export ZFVIZ_DATA=$S/data ZFVIZ_CACHE=$S/cache ZFVIZ_RUNS=$S/runs
echo "device.sh: data $(ls $S/data | tr '\n' ' ')| wheels $(have_wheels && echo in || echo missing) | $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo 'no GPU')"
[ $# -eq 0 ] || exec "$@"

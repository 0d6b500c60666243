#!/usr/bin/env bash
# Here, before a GPU lease: pack what the device machine lacks into .lease/ (git-ignored), one folder per call:
#   .lease/p00 .. pNN   each: MANIFEST (parts, sha256 of the stream) + one part of a tar of the data;
#                       p00 also holds the wheels (tools/lease/wheel_list.py) the chapters need there.
# Each folder plus the tracked tree stays under the device tool's 64 MiB per call.
# Usage: tools/lease/pack.sh [DATASET ...]   (default: imagenette-224 imagewoof-224, from the data root)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$(.venv/bin/python -c "from zfviz.paths import data_root; print(data_root())")
[ $# -gt 0 ] || set -- imagenette-224 imagewoof-224
sets=("$@")
for s in "${sets[@]}"; do [ -d "$data/$s" ] || { echo "pack.sh: no $data/$s (valid: $(ls "$data" | tr '\n' ' '))" >&2; exit 2; }; done
tree=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
budget=$(( 62 * 1024 * 1024 - tree - 1024 * 1024 ))          # bytes per call left for a carried folder
[ "$budget" -gt $(( 8 * 1024 * 1024 )) ] || { echo "pack.sh: the tracked tree ($tree bytes) leaves no room" >&2; exit 2; }
rm -rf .lease.tmp && mkdir -p .lease.tmp/wheels
.venv/bin/python tools/lease/wheel_list.py tools/lease/device-packages.txt > .lease.tmp/wheels.txt
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .lease.tmp/wheels -r .lease.tmp/wheels.txt 2>&1 | { grep -v "is ignored" || true; }
wheels=$(du -cb .lease.tmp/wheels | tail -1 | cut -f1)
first=$(( budget - wheels ))                                   # p00 carries the wheels too
tar -C "$data" -cf .lease.tmp/data.tar "${sets[@]}"
total=$(stat -c %s .lease.tmp/data.tar); sha=$(sha256sum .lease.tmp/data.tar | cut -d' ' -f1)
parts=$(( 1 + (total - first + budget - 1) / budget )); [ "$total" -le "$first" ] && parts=1
i=0; off=0
while [ $i -lt $parts ]; do
  d=$(printf ".lease.tmp/p%02d" $i); mkdir -p "$d"; size=$([ $i -eq 0 ] && echo $first || echo $budget)
  dd if=.lease.tmp/data.tar of="$d/part" iflag=skip_bytes,count_bytes skip=$off count="$size" status=none
  off=$(( off + size )); i=$(( i + 1 ))
done
mv .lease.tmp/wheels .lease.tmp/p00/wheels; rm .lease.tmp/data.tar
for d in .lease.tmp/p*; do printf 'parts %d\nsha256 %s\nsets %s\n' "$parts" "$sha" "${sets[*]}" > "$d/MANIFEST"; done
rm -rf .lease && mv .lease.tmp .lease
du -sh .lease/p* | sed 's/^/pack.sh: /'
echo "pack.sh: $parts calls, carry one .lease/pNN each (tree $(( tree / 1024 / 1024 )) MiB); see tools/lease/README.md"

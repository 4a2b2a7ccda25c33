#!/bin/bash
# v3's training on a lent GPU machine (docs/v3.md, "On a lent GPU"): the pool and the start
# weights travel in parts (a device call carries at most 64 MiB), the run trains for a fixed
# time there and returns its models in $OUT.
#
#   scripts/device_train.sh pack [INIT]        # here: .device/init (fp16) and .device/part-K
#                                              # (38 MiB each: with the 15 MiB working tree and
#                                              # the 9 MiB weights, a call stays under 64 MiB)
#   scripts/device_train.sh merge              # there: add the carried parts to the pool
#   scripts/device_train.sh train SECONDS [--section.key=value ...]
#                                              # there: merge, build the cache, train for at
#                                              # most SECONDS, write $OUT/best, $OUT/last
#                                              # (fp16), $OUT/metrics.csv, $OUT/train.log
#
# INIT: the saved model to start from (default: the shipped tinct-base, src/tinct/weights).
# `pack` needs $TINCT_DATA; the parts hold the training split of
# configs/tinct-base-v3-device.yaml's folders as 160-px centre squares (the cache's own
# crop), so the validation photos stay here.
# DEVICE_WORK (default /tmp/tinct-device) is where the pool, cache and run live there;
# DEVICE_CONFIG (default configs/tinct-base-v3-device.yaml) is the recipe both ends use.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${DEVICE_CONFIG:-$HERE/configs/tinct-base-v3-device.yaml}
PACK=${DEVICE_PACK:-$HERE/.device}
WORK=${DEVICE_WORK:-/tmp/tinct-device}
export PYTHONPATH=$HERE/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

merge() {  # every carried part and the start weights into $WORK (parts already there stay)
  mkdir -p "$WORK/data"
  for part in "$PACK"/part-*; do
    if [ -d "$part" ]; then cp -r "$part"/. "$WORK/data/"; fi
  done
  if [ -d "$PACK/init" ]; then rm -rf "$WORK/init" && cp -r "$PACK/init" "$WORK/init"; fi
  echo "pool: $(find "$WORK/data" -type f | wc -l) photos; start weights:" \
    "$( [ -f "$WORK/init/config.json" ] && echo yes || echo no)"
}

case ${1:-} in
  pack)
    : "${TINCT_DATA:?set TINCT_DATA to the shared data folder}"
    INIT=${2:-$HERE/src/tinct/weights/tinct-base}
    rm -rf "$PACK" && mkdir -p "$PACK"
    python3 "$HERE/scripts/device_train_export.py" --model "$INIT" "$PACK/init"  # fp16: 9 MiB
    python3 "$HERE/scripts/pack_data.py" "$CONFIG" "$PACK" --square --part-mib "${PART_MIB:-38}"
    du -sh "$PACK"/* ;;
  merge)
    merge ;;
  train)
    SECONDS_LIMIT=${2:?train needs the seconds it may run}
    shift 2
    merge
    [ -f "$WORK/init/config.json" ] || { echo "no start weights: carry .device/init" >&2; exit 2; }
    paths=(--data.root="$WORK/data" --data.cache="$WORK/cache" --model.init_from="$WORK/init")
    python3 -m tinct train --config "$CONFIG" "${paths[@]}" "$@" --build-cache
    status=0
    timeout -k 60 -s TERM "$SECONDS_LIMIT" python3 -m tinct train --config "$CONFIG" \
      --run-dir "$WORK/run" "${paths[@]}" "$@" --no-progress || status=$?
    echo "training exited with $status (124: stopped at the time limit, models saved)"
    python3 "$HERE/scripts/device_train_export.py" "$WORK/run" "${OUT:?no \$OUT}" ;;
  *)
    sed -n "2,/^set -euo/p" "$0" | sed "$ d" >&2; exit 2 ;;
esac

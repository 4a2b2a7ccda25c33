#!/bin/bash
# Scores a v3 candidate by the shipping rule of docs/v3.md, in the rule's order:
#   1. the decode (temperature, boost) is chosen on the validation photos with `tinct tune`
#      (--max-dcf 8) and saved with the candidate; given the validation photos' damaged copy,
#      input levels are then turned on or off by scripts/study/choose_levels.py (session 35);
#   2. `tinct compare CANDIDATE tinct-base` on the four eval sets;
#   3. scripts/shipping_rule.py gives the verdict on the four clean sets;
#   4. a candidate that passes is also compared on the damaged copies (DAMAGED_ALWAYS=1: any).
#
#   scripts/study/score_candidate.sh MODEL_FOLDER OUT_DIR VALIDATION_DIR DAMAGED_EVAL_DIR \
#       [DAMAGED_VALIDATION_DIR]
#
# VALIDATION_DIR: scripts/study/validation_folder.py RUN_DIR VALIDATION_DIR
# DAMAGED_EVAL_DIR: scripts/degrade_eval.py $TINCT_DATA/eval/SET DAMAGED_EVAL_DIR/SET, per set
# DAMAGED_VALIDATION_DIR: scripts/degrade_eval.py VALIDATION_DIR DAMAGED_VALIDATION_DIR
# Needs $TINCT_DATA. Set PAUSE_CMD/RESUME_CMD to pause a training run beside it, and TUNE_GRID
# to the decode grid's tune options (default below; session 36's adds --sizes 128,160,192,256).
set -euo pipefail
MODEL=$1 OUT=$2 VAL=$3 DAMAGED=$4 VAL_DAMAGED=${5:-}
: "${TINCT_DATA:?set TINCT_DATA to the shared data folder}"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
SETS="everyday kodak24 bsds500-test urban100"
mkdir -p "$OUT"
${PAUSE_CMD:-true}
trap '${RESUME_CMD:-true}' EXIT
if [ ! -f "$OUT/cand/config.json" ]; then
  # shellcheck disable=SC2086  # TUNE_GRID is a list of options
  tinct tune -m "$MODEL" "$VAL" ${TUNE_GRID:--t 0.38,0.5,0.6,0.8 -b 0,0.2,0.4,0.6,0.8,1.0} \
    --max-dcf 8 --save "$OUT/cand" -o "$OUT/tune" --no-progress --no-features  # PSNR, dCF
fi
if [ -n "$VAL_DAMAGED" ] && ! grep -q '"levels": {' "$OUT/cand/config.json"; then
  python "$HERE/scripts/study/choose_levels.py" "$OUT/cand" "$VAL" "$VAL_DAMAGED" \
    | tee "$OUT/levels.txt"
fi
for s in $SETS; do
  [ -f "$OUT/$s/metrics.json" ] || tinct compare "$OUT/cand" tinct-base -d "$TINCT_DATA/eval/$s" \
    -o "$OUT/$s" --no-progress
done
rule_status=0  # shipping_rule.py: 0 passes, 1 fails, 2 cannot read the reports
python "$HERE/scripts/shipping_rule.py" cand tinct-base $(for s in $SETS; do echo "$OUT/$s"; done) \
  --json "$OUT/verdict.json" > "$OUT/verdict.md" || rule_status=$?
cat "$OUT/verdict.md"
if [ "$rule_status" != 0 ] && [ -z "${DAMAGED_ALWAYS:-}" ]; then
  echo "not scored on the damaged copies (they are reported for a candidate that passes;"
  echo "set DAMAGED_ALWAYS=1 to score them anyway)"
  exit 0
fi
for s in $SETS; do
  [ -f "$OUT/damaged/$s/metrics.json" ] || tinct compare "$OUT/cand" tinct-base \
    -d "$DAMAGED/$s" -o "$OUT/damaged/$s" --no-progress
done
python "$HERE/scripts/shipping_rule.py" cand tinct-base \
  $(for s in $SETS; do echo "$OUT/damaged/$s"; done) | tee "$OUT/damaged.md" || true

#!/bin/bash
# The PSNR-dCF frontier's data for one model (issue 15): its decode sweep on each of the four eval
# sets, T in {0.38, 0.6, 1.0} x b in {0, 0.5, 1.0} at its own working size, metrics only (the grid
# is frontier_grid.txt, which final_candidate.py's scene score reads too).
#
#   scripts/study/frontier_sweeps.sh MODEL OUT_DIR
#   python scripts/study/comparison_doc.py OUT_V2/*/metrics.json OUT_V3/*/metrics.json \
#       --frontier --no-samples --name v3-frontier
#
# Writes OUT_DIR/SET/metrics.json per set; a set already swept is kept (rerun to resume).
# Needs $TINCT_DATA. SETS overrides the sets (default: the four eval sets).
set -euo pipefail
MODEL=$1 OUT=$2
GRID=$(cat "$(dirname "$0")/frontier_grid.txt")
: "${TINCT_DATA:?set TINCT_DATA to the shared data folder}"
for s in ${SETS:-everyday kodak24 bsds500-test urban100}; do
  # shellcheck disable=SC2086  # GRID is a list of options
  [ -f "$OUT/$s/metrics.json" ] || tinct tune -m "$MODEL" "$TINCT_DATA/eval/$s" \
    $GRID -o "$OUT/$s" --no-report --no-progress --no-features
done

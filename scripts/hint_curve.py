"""PSNR and AuC against the number of true-colour hints, per model and eval set.

    python scripts/hint_curve.py -m tinct-base -m ~/tinct-runs/hints/best \\
        --data $TINCT_DATA/eval/everyday $TINCT_DATA/eval/kodak24 -o docs/hints [--limit 100]

Each photo is colorized with 0, 1, 2, 5, 10, 20 and 50 hints of its own colour at random
pixels (:mod:`tinct.evaluation.hint_curve`; the same places for every model). Writes
``OUT/hint_curves.json``, ``OUT/hint_psnr.svg`` and ``OUT/hint_auc.svg`` (atomically) and
prints a Markdown table. A model that takes no hints is measured at 0 hints only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tinct import Colorizer
from tinct.evaluation.hint_curve import DEFAULT_COUNTS, curve_chart, hint_curve
from tinct.fileio import atomic_write_text


def table(curves) -> str:
    """A Markdown table: one row per model and set, PSNR / AuC per count."""
    counts = sorted({c for curve in curves for c in curve.counts})
    lines = ["| model | set | photos | " + " | ".join(f"{c} hints" for c in counts) + " |",
             "|---|---|---:|" + "---:|" * len(counts)]
    for curve in curves:
        by_count = dict(zip(curve.counts, zip(curve.psnr, curve.auc, strict=True), strict=True))
        cells = [f"{by_count[c][0]:.2f} dB / {by_count[c][1]:.3f}" if c in by_count else "–"
                 for c in counts]
        lines.append(f"| {curve.model} | {curve.data} | {curve.photos} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", action="append", required=True,
                        help="a model name or folder (repeat for several)")
    parser.add_argument("--data", nargs="+", required=True, help="eval folders")
    parser.add_argument("-o", "--output", required=True, help="folder for JSON and charts")
    parser.add_argument("--counts", default=",".join(map(str, DEFAULT_COUNTS)),
                        help="hint counts (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="the first N photos of each set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    curves = []
    for name in args.model:
        colorizer = Colorizer.from_pretrained(name)
        if any(c.model == colorizer.name for c in curves):  # two models of one name
            colorizer.name = f"{colorizer.name} ({name})"
        for folder in args.data:
            curves.append(hint_curve(colorizer, folder, counts, seed=args.seed,
                                     limit=args.limit))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "hint_curves.json",
                      json.dumps([c.to_dict() for c in curves], indent=1) + "\n")
    for metric in ("psnr", "auc"):
        chart = curve_chart(curves, metric)
        if chart:
            atomic_write_text(out / f"hint_{metric}.svg", chart)
    print(table(curves))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

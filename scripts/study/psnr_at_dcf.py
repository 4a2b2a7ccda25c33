"""PSNR at a given colourfulness gap, read off a decode sweep's PSNR-dCF frontier.

    python scripts/study/psnr_at_dcf.py TUNE_DIR/metrics.json [...] [--dcf 8] [--flip on|off]

A `tinct tune` (or `frontier_sweeps.sh`) report measures a model at a grid of decode
settings; their (dCF, PSNR) points trace how much PSNR the model gives for how much colour.
dCF is the absolute gap to the photos' colourfulness (a tuned classifier's settings are all
fainter than the photos, so it rises as the colour fades). The frontier keeps, in order of
rising dCF, each point with a higher PSNR than every point of smaller dCF; the PSNR at
``--dcf`` is interpolated linearly between its two neighbours there (clamped at the ends).
This compares two models at equal colourfulness, which a tuned setting on a coarse boost grid
does not (docs/v3.md, session 47). ``--flip`` keeps only the settings with (``on``) or
without (``off``) flip averaging.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def frontier(report: dict, flip: bool | None = None) -> list[tuple[float, float]]:
    """(dCF, PSNR) of the frontier of a ``metrics.json``'s settings (gray left out), dCF
    rising; ``flip`` None keeps every setting."""
    points = sorted((m["summary"]["dcf"], m["summary"]["psnr"]) for m in report["models"]
                    if m["name"] != "gray"
                    and (flip is None or m["info"]["inference"]["flip"] == flip))
    kept: list[tuple[float, float]] = []
    for dcf, psnr in points:
        if not kept or psnr > kept[-1][1]:
            kept.append((dcf, psnr))
    return kept


def psnr_at(report: dict, dcf: float, flip: bool | None = None) -> float:
    """PSNR (dB) on the frontier at colourfulness gap ``dcf`` (linear, clamped)."""
    points = frontier(report, flip)
    if not points:
        raise ValueError("the report has no decode setting to read a frontier from")
    gaps = [gap for gap, _ in points]
    psnrs = [psnr for _, psnr in points]
    return float(np.interp(dcf, gaps, psnrs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="metrics.json of decode sweeps")
    parser.add_argument("--dcf", type=float, default=8.0, help="colourfulness gap (default 8)")
    parser.add_argument("--flip", choices=("on", "off"),
                        help="only the settings with / without flip averaging")
    args = parser.parse_intermixed_args(argv)
    flip = None if args.flip is None else args.flip == "on"
    status = 0
    for path in args.reports:
        try:
            value = psnr_at(json.loads(path.read_text()), args.dcf, flip)
        except (OSError, ValueError, KeyError) as exc:
            print(f"psnr_at_dcf: {path}: {exc!s}", file=sys.stderr)
            status = 1
            continue
        print(f"{path.parent.name}: {value:.2f} dB at dCF {args.dcf:g}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

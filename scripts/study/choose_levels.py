"""Turns input levels on in a candidate's config when the validation photos say so.

    python scripts/study/choose_levels.py MODEL_DIR VALIDATION_DIR DAMAGED_VALIDATION_DIR

Input levels (``inference.levels``, :mod:`tinct.inference.levels`) stretch each photo's
lightness to the full range before the network sees it. They exist for faded scans, so they are
measured on the validation photos and on their damaged copy (``scripts/degrade_eval.py``), with
and without, and turned on only when (the rule of docs/v3.md, session 35) the damaged copy's
PSNR rises and the clean photos' PSNR falls by at most ``--clean-margin`` dB (0.02). The
model's ``config.json`` is rewritten (atomically) with the verdict and the four figures under
``tuning.levels``; its weights are not touched. Prints one line per measurement and the verdict.
Exit status 0 either way; 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.errors import TinctError
from tinct.evaluation.evaluate import EvalEntry, evaluate_many
from tinct.inference.checkpoint import read_config, write_config
from tinct.inference.pipeline import Colorizer


def psnr_both_ways(model_dir: Path, photos: Path, limit: int | None = None) -> dict[str, float]:
    """Mean PSNR of the model on ``photos`` without and with input levels:
    ``{"off": dB, "on": dB}`` (the network runs twice per photo)."""
    loaded = Colorizer.from_pretrained(model_dir)
    off, on = loaded.with_levels(False), loaded.with_levels(True)  # one network, shared
    entries = [EvalEntry("off", off), EvalEntry("on", on)]
    results = evaluate_many(entries, photos, features=False, progress=False, limit=limit)
    return {r.name: float(r.summary["psnr"]) for r in results}


def verdict(clean: dict[str, float], damaged: dict[str, float], clean_margin: float) -> bool:
    """The rule: on when the damaged PSNR rises and the clean one falls by <= the margin."""
    return damaged["on"] > damaged["off"] and clean["on"] >= clean["off"] - clean_margin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="saved-model folder (its config is rewritten)")
    parser.add_argument("validation", type=Path, help="validation photos (colour)")
    parser.add_argument("damaged", type=Path, help="their damaged copy (degrade_eval.py)")
    parser.add_argument("--clean-margin", type=float, default=0.02, metavar="DB",
                        help="largest PSNR loss on the clean photos accepted (default 0.02)")
    parser.add_argument("--limit", type=int, help="only the first N photos of each folder")
    args = parser.parse_args(argv)
    try:
        config = read_config(args.model)
        clean = psnr_both_ways(args.model, args.validation, args.limit)
        damaged = psnr_both_ways(args.model, args.damaged, args.limit)
    except (TinctError, OSError) as exc:
        print(f"choose_levels: error: {exc}", file=sys.stderr)
        return 2
    on = verdict(clean, damaged, args.clean_margin)
    for name, psnr in (("clean", clean), ("damaged", damaged)):
        print(f"{name}: {psnr['off']:.3f} dB without levels, {psnr['on']:.3f} with")
    print(f"input levels: {'on' if on else 'off'}")
    record = {"on": on, "clean_psnr": clean, "damaged_psnr": damaged,
              "rule": f"on when the damaged PSNR rises and the clean PSNR falls by at most "
                      f"{args.clean_margin:g} dB"}
    write_config(args.model, config.replace(levels=on,
                                            tuning={**config.tuning, "levels": record}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

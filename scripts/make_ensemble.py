"""Saves colour classifiers as one model whose colour distributions are averaged at decode.

    python scripts/make_ensemble.py tinct-base OLD_MODEL OUT --weights 0.5,0.5 --scales 1,0.75

Writes ``OUT``, a saved-model folder of architecture ``classifier_ensemble``
(:mod:`tinct.models.ensemble`): each member sees the photo at its scale of the working size
(``--scales``; 0.75 at 256 px is 192 px), and the members' per-pixel colour distributions are
mixed with ``--weights`` before the annealed mean: their weighted arithmetic mean
(``--mix mean``, the default) or normalized weighted geometric mean (``--mix geometric``).
The first member gives the working size, the decode setting (its colour bins, prior and
T / boost) and the inference options; tune the ensemble's own setting with
``tinct tune OUT -d VALIDATION --save``, on the validation split, never on the eval sets. The
members must be colour classifiers with the same colour bins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinct.errors import TinctError
from tinct.inference.checkpoint import load_pretrained, resolve_model, save_like
from tinct.models import create_model
from tinct.models.ensemble import MIXES


def number_list(text: str) -> list[float]:
    """``0.5,0.5`` -> [0.5, 0.5] (argparse type)."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}"
                                         ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("members", nargs="+", help="saved-model folders or shipped names, "
                        "then the output folder")
    parser.add_argument("--weights", type=number_list, required=True,
                        help="mixing weight of each member (summing to 1)")
    parser.add_argument("--scales", type=number_list, required=True,
                        help="each member's input size relative to the working size")
    parser.add_argument("--mix", choices=MIXES, default="mean",
                        help="mix the distributions by their weighted arithmetic mean or "
                             "their weighted geometric mean (default: %(default)s)")
    args = parser.parse_args(argv)
    if len(args.members) < 2:
        parser.error("give at least one member and the output folder")
    *names, out = args.members
    try:
        loaded = [load_pretrained(resolve_model(name)) for name in names]
        specs = [{"architecture": m.tinct_spec["architecture"],
                  "args": {**m.tinct_spec["args"], "pretrained": False}}
                 for m, _ in loaded]
        first, config = loaded[0]
        decode = first.decode_settings()  # None for a network that predicts colour directly
        if decode is None:
            raise ValueError(f"{names[0]}: not a colour classifier; every member must be one")
        ensemble = create_model("classifier_ensemble", members=specs, weights=args.weights,
                                scales=args.scales, temperature=decode["temperature"],
                                mix=args.mix)
        for member, (model, _) in zip(ensemble.members, loaded, strict=True):
            member.load_state_dict(model.state_dict())
        ensemble.set_decode(**decode)
        recipe = ", ".join(f"{w:g} x {Path(n).name} at {s:g}"
                           for n, w, s in zip(names, args.weights, args.scales, strict=True))
        members = {"members": [Path(n).name for n in names], "weights": args.weights,
                   "scales": args.scales, "mix": args.mix}
        save_like(ensemble, out, config, name=Path(out).name,
                  description=f"colour distributions averaged ({args.mix}) at decode: {recipe}",
                  training={"ensemble": members}, metrics={}, tuning={})
        print(f"{recipe} -> {out}")
    except (TinctError, ValueError) as exc:
        print(f"make_ensemble: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

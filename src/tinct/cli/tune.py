"""``tinct tune``: choose a colour classifier's decode settings (temperature, boost) on
validation photos."""

from __future__ import annotations

import argparse

from tinct.cli import CLIError
from tinct.cli.eval import add_evaluation_options, measure, report
from tinct.cli.options import add_model_option, positive_float, working_size
from tinct.evaluation.metric_info import FEATURE_KEYS, METRICS

DESCRIPTION = """\
A colour classifier (architecture 'classifier') turns its per-pixel colour distribution into
chroma with an annealed mean at a temperature T: small T gives colour close to the most likely
one, large T the safe, desaturated average. The distribution can also be rebalanced at decode
time by a boost b: b = 0 keeps the network's probabilities, b = 1 weights each colour by the
class-rebalancing weight of Zhang et al. (rare, saturated colours count more), which makes a
model trained without rebalancing as colourful as one trained with it. Neither changes a
weight, so choose them after training on photos the model was not trained on. --sizes also
sweeps the working size (the longer side the network sees): a network trained on small crops
can be confident and wrong at a larger size, where things look bigger than in training.

This measures the model at every combination of --temperatures, --boosts and --sizes in one
pass (the network runs once per photo and working size; --prefer adds a second pass), writes a
side-by-side report like 'tinct compare', and picks the setting with the best PSNR among those
whose colourfulness gap dCF is at most --max-dcf (or, when none is that colourful, the smallest
dCF). --flip both also measures every setting with flip averaging (the network sees each photo
and its mirror image, and the two are averaged). PSNR does not see everything: with --prefer,
PSNR only shortlists the settings within --within dB of the best one (dCF limit as before), and
the preferred metrics choose among them, in order (e.g. --prefer
semantic_agreement,fd_effnet_lite2: the share of photos whose ImageNet class survives, then the
Fréchet distance). PSNR and dCF do not depend on those, so the grid is first measured without
them and only the shortlist is measured again with them (about 3x faster on a 50-setting grid;
the choice is the same); --all-features measures them for every setting.
With --save it writes a copy of the model that decodes with the chosen setting (and runs at the
chosen working size); the original is kept."""

EPILOG = """\
examples:
  tinct tune val/ -m runs/cls/best -o tune-report/ --save runs/cls/tuned
  tinct tune val/ -m runs/cls/best -o r/ --temperatures 0.4,0.8 --boosts 0,0.5,1 --max-dcf 6
  tinct tune val/ -m runs/cls/best -o r/ --boosts 0,0.4 --sizes 160,256 --no-report
  tinct tune val/ -m runs/cls/best -o r/ --boosts 0,0.4 --prefer semantic_agreement --within 0.2"""

DEFAULT_TEMPERATURES = (0.38, 0.6, 0.8, 1.0, 1.3, 1.6, 2.0)
DEFAULT_MAX_DCF = 4.0  # colourfulness gap; gray photos score about 35-40
DEFAULT_WITHIN_DB = 0.2  # --prefer's PSNR margin: the shipping rule's own (docs/v3.md)
PREFERABLE = tuple(key for key, info in METRICS.items()
                   if info.better and key not in ("psnr", "dcf", "seconds"))


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="choose a classifier's decode temperature and boost on validation photos",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_option(p, help="installed model name or saved-model folder of a colour "
                             "classifier (default: the shipped model)")
    p.add_argument("--temperatures", "-t", metavar="T1,T2,...",
                   default=",".join(f"{t:g}" for t in DEFAULT_TEMPERATURES),
                   help="annealed-mean temperatures to measure (default %(default)s)")
    p.add_argument("--boosts", "-b", metavar="B1,B2,...", default="0",
                   help="decode-time rebalancing boosts to measure with each temperature "
                        "(default %(default)s: the network's own probabilities)")
    p.add_argument("--sizes", metavar="S1,S2,...",
                   help="working sizes (longer side, px) to measure each setting at; the "
                        "chosen one is saved with --save (default: --size, or the model's own)")
    p.add_argument("--flip", choices=("off", "on", "both"), default="off",
                   help="flip averaging (the network also sees the mirror image; twice the "
                        "network time): measure without it (default), with it, or both ways")
    p.add_argument("--max-dcf", type=positive_float, default=DEFAULT_MAX_DCF, metavar="D",
                   help="largest colourfulness gap to ground truth accepted (default %(default)g)")
    p.add_argument("--prefer", metavar="METRIC[,METRIC]", type=preferred_metrics, default=(),
                   help="choose among the settings within --within dB of the best PSNR by these "
                        f"metrics, in order (any of: {', '.join(PREFERABLE)})")
    p.add_argument("--within", type=positive_float, default=DEFAULT_WITHIN_DB, metavar="DB",
                   help="PSNR margin of the --prefer shortlist (default %(default)g dB)")
    p.add_argument("--all-features", action="store_true",
                   help="with --prefer: measure FD and semantic agreement for every setting, "
                        "not only the shortlist (slower; a fuller report, the same choice)")
    p.add_argument("--save", metavar="MODEL_DIR",
                   help="write the model with the chosen settings to this new folder")
    add_evaluation_options(p)
    p.set_defaults(func=run)


def preferred_metrics(text: str) -> tuple[str, ...]:
    """argparse type: ``"semantic_agreement, fd_effnet_lite2"`` -> the keys, in order; each
    must be a metric with a better direction."""
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [key for key in keys if key not in PREFERABLE]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'nothing'}: not a metric to prefer (any of: "
            f"{', '.join(PREFERABLE)})")
    return keys


def parse_sizes(text: str) -> list[int]:
    """``"128,160, 256"`` -> ``[128, 160, 256]`` (sorted, no repeats); raises ``CLIError``
    unless each is a whole number of pixels a working size may be."""
    try:
        sizes = {working_size(part.strip()) for part in text.split(",") if part.strip()}
    except argparse.ArgumentTypeError as e:
        raise CLIError(f"--sizes: {e}") from None
    if not sizes:
        raise CLIError("--sizes: no working sizes given")
    return sorted(sizes)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tinct.evaluation.evaluate import GrayBaseline, load_entry
    from tinct.evaluation.tune import (
        Decode,
        choose_decode,
        decode_entries,
        parse_values,
        save_with_decode,
    )

    temperatures = parse_values(args.temperatures, "temperature")
    boosts = parse_values(args.boosts, "boost", allow_zero=True)
    flips = {"off": (False,), "on": (True,), "both": (False, True)}[args.flip]
    sizes = parse_sizes(args.sizes) if args.sizes else [args.size]
    settings = [Decode(t, b, f, s) for s in sizes for f in flips for b in boosts
                for t in temperatures]
    prefers_features = bool(set(FEATURE_KEYS) & set(args.prefer))
    if prefers_features and args.no_features:
        raise CLIError(f"--prefer {','.join(args.prefer)}: FD and semantic agreement need the "
                       "feature metrics; drop --no-features")
    if args.save and Path(args.save).exists():
        raise CLIError(f"{args.save}: already exists; choose a new folder for the tuned model")
    device = None if args.device == "auto" else args.device
    folder, entries = decode_entries(args.model, settings, device=device)
    gray = load_entry(GrayBaseline.name)
    if args.no_features:
        features_for = "none"
    elif args.all_features or not prefers_features:
        features_for = "all"
    else:
        features_for = "shortlist"
    if features_for == "shortlist":
        results = measure_features_on_shortlist(entries, gray, args)
    else:
        results = measure([*entries, gray], args)
    status = report(results, args, kind="compare")
    choice = choose_decode(settings, results[:-1], args.max_dcf, args.prefer, args.within)
    print(f"\nchosen: {choice.decode.label()}: {choice.reason}")
    if args.save:
        tuning = {"data": str(args.data), "n_images": results[0].n_images,
                  "max_dcf": args.max_dcf,
                  **({"prefer": list(args.prefer), "within": args.within,
                      "features_for": features_for} if args.prefer else {}),
                  "measured": [{"temperature": d.temperature, "boost": d.boost,
                                "flip": d.flip, "working_size": d.size or results[i].working_size,
                                "psnr": r.summary["psnr"], "dcf": r.summary["dcf"],
                                "ab_rmse": r.summary["ab_rmse"],
                                **{key: r.summary.get(key) for key in args.prefer}}
                               for i, (d, r) in enumerate(zip(settings, results[:-1],
                                                              strict=True))]}
        saved = save_with_decode(folder, args.save, choice, tuning)
        print(f"saved: {saved} (decodes at {choice.decode.label()})")
    return status


def measure_features_on_shortlist(entries, gray, args: argparse.Namespace) -> list:
    """``entries`` (one per decode setting) and the ``gray`` baseline -> one ``EvalResult``
    each, in that order, in two passes: every setting without the feature metrics, then the
    ``--prefer`` shortlist (:func:`~tinct.evaluation.tune.shortlist`, which needs only PSNR
    and dCF) and gray with them. The other settings keep ``None`` for FD and semantic
    agreement, and a note that says why."""
    from dataclasses import replace

    from tinct.evaluation.tune import shortlist

    screened = measure(entries, args, features=False)
    near = shortlist(screened, args.max_dcf, args.within)
    print(f"measuring FD and semantic agreement for the {len(near)} of {len(entries)} "
          f"setting(s) within {args.within:g} dB of the best PSNR with dCF <= "
          f"{args.max_dcf:g}, and gray (--all-features: for every setting)")
    *measured, gray_result = measure([*(entries[i] for i in near), gray], args)
    note = (f"FD and semantic agreement were measured only for the {len(near)} setting(s) on "
            "the --prefer shortlist (--all-features measures them for every setting)")
    results = [replace(r, features_note=note) for r in screened]
    for i, result in zip(near, measured, strict=True):
        results[i] = result
    return [*results, gray_result]

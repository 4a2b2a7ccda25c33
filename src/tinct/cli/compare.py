"""``tinct compare``: several models (and the gray baseline) side by side on one folder."""

from __future__ import annotations

import argparse

from tinct.cli.eval import add_evaluation_options, evaluate_and_report

DESCRIPTION = """\
Measure several colorization models on the same colour photos in one pass and put them side by
side: the metrics table, a bar chart per metric, sample photos through every model, the best
and worst photos of each, training time, parameter counts and, when a model's config.json
names its run folder (training.run_dir), the training loss curves overlaid. The gray baseline
is always included. Metrics are those of 'tinct eval' (see 'tinct eval --help')."""

EPILOG = """\
example:
  tinct compare runs/cnn/model runs/resnet/model runs/gan/model --data photos/ -o compare/"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="several models side by side on one folder; HTML report",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="installed model names or saved-model folders ('gray' is always added)")
    add_evaluation_options(p, positional_data=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinct.evaluation.evaluate import GrayBaseline, load_entry

    device = None if args.device == "auto" else args.device
    names = list(dict.fromkeys(m for m in args.models if m != GrayBaseline.name))
    entries = [load_entry(name, device=device, size=args.size) for name in names]
    entries.append(load_entry(GrayBaseline.name))
    _unique_labels(entries, names + [GrayBaseline.name])
    return evaluate_and_report(entries, args, kind="compare")


def _unique_labels(entries, refs: list[str]) -> None:
    """Models saved under the same name are labelled by the path given for them instead."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    taken: set[str] = set()
    for entry, ref in zip(entries, refs, strict=True):
        if counts[entry.label] > 1:
            entry.label = ref
        base, n = entry.label, 2
        while entry.label in taken:
            entry.label = f"{base} #{n}"
            n += 1
        taken.add(entry.label)

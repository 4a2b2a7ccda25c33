"""Copy a trained model into the package as a shipped model, stored compactly (fp16).

    python scripts/ship_model.py RUN_DIR/best --name tinct-base [--metrics eval.json]
    python scripts/ship_model.py SCORE_DIR/cand --scores SCORE_DIR --notes NOTES.md

Writes ``src/tinct/weights/NAME/`` (``config.json`` + fp16 ``model.safetensors``) and a
``MODEL_CARD.md`` beside them with the training summary and the measured metrics. The decode
setting, working size, input levels and the record of how they were tuned are kept; machine
paths are not. ``--scores`` records the metrics of a ``scripts/study/score_candidate.sh``
folder (each eval set, and its damaged copy when scored). Run it only
when the new model measurably beats the one it replaces: shipped weights stay in git forever.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import torch

from tinct.inference.checkpoint import WEIGHTS_DIR, load_pretrained, save_like

SCORED_METRICS = ("psnr", "ssim", "ab_rmse", "auc", "cf_pred", "cf_gt", "dcf",
                  "fd_effnet_lite2", "semantic_agreement")


def _folder_text(folder: dict) -> str:
    """``train/faces 9%`` (a share of the draws) or ``train/bsds500 x4`` (a per-photo weight)."""
    if folder.get("share") is not None:
        return f"{folder['path']} {folder['share']:.0%}"
    return f"{folder['path']} x{folder.get('weight', 1)}"


CHECKPOINT_NAMES = ("best", "last")  # a run folder's checkpoints (tinct train)


def strip_machine_paths(value):
    """``value`` with every absolute path (a string starting with ``/`` or ``~``) replaced by
    its last component, or by ``RUN/best`` / ``RUN/last`` for a run's checkpoint (so a card
    still says which run a model started from): a shipped config records no paths of the
    machine it was made on."""
    if isinstance(value, Mapping):  # a loaded config's sections are read-only mappings
        return {k: strip_machine_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strip_machine_paths(v) for v in value]
    if isinstance(value, str) and value[:1] in ("/", "~") and len(value) > 1:
        path = Path(value)
        if path.name in CHECKPOINT_NAMES and path.parent.name not in ("", "~"):
            return f"{path.parent.name}/{path.name}"
        return path.name
    return value


def comparisons(score_dir: Path) -> dict[str, dict[str, dict]]:
    """``{set: {model name: model entry}}`` of each ``metrics.json`` in a ``score_candidate.sh``
    folder (the tune's report included); a damaged copy's set is named ``SET (damaged)``."""
    found = {}
    for path in sorted(score_dir.glob("*/metrics.json")) + sorted(
            score_dir.glob("damaged/*/metrics.json")):
        name = path.parent.name + (" (damaged)" if path.parent.parent.name == "damaged" else "")
        found[name] = {m["name"]: m for m in json.loads(path.read_text())["models"]}
    return found


def scored_metrics(score_dir: Path, label: str = "cand") -> dict:
    """``{set: {metric: value, "n_images": n}}`` of the model ``label`` in each comparison of a
    ``score_candidate.sh`` folder; a damaged copy's set is named ``SET (damaged)``."""
    found = {}
    for name, models in comparisons(score_dir).items():
        if label not in models:
            continue  # the tune's report, or another model's comparison
        summary = models[label]["summary"]
        found[name] = {**{k: summary[k] for k in SCORED_METRICS if k in summary},
                       "n_images": models[label]["n_images"]}
    if not found:
        raise SystemExit(f"ship_model: {score_dir}: no comparison of a model named {label!r}")
    return found


README_SETS = ("kodak24", "bsds500-test", "urban100", "everyday")
README_COLUMNS = (("PSNR (dB) ↑", "psnr", "{:.2f}"), ("SSIM ↑", "ssim", "{:.4f}"),
                  ("ab RMSE ↓", "ab_rmse", "{:.2f}"), ("AuC ↑", "auc", "{:.4f}"),
                  ("dCF ↓", "dcf", "{:.2f}"), ("FD ↓", "fd_effnet_lite2", "{:.2f}"),
                  ("semantic agreement ↑", "semantic_agreement", "{:.3f}"))


def readme_table(score_dir: Path, rows: dict[str, str], damaged: bool = False) -> str:
    """The README's model table (Markdown) from a ``score_candidate.sh`` folder: per eval set,
    one row per model of ``rows`` (``{name in the reports: label in the table}``; the first
    label is set in bold). ``damaged`` tabulates the damaged copies instead. Sets that were not
    scored are left out."""
    found = comparisons(score_dir)
    header = "| eval set (photos) | model | " + " | ".join(c[0] for c in README_COLUMNS) + " |"
    lines = [header, "|---|---|" + "---|" * len(README_COLUMNS)]
    for set_name in README_SETS:
        models = found.get(set_name + (" (damaged)" if damaged else ""))
        if not models or not all(name in models for name in rows):
            continue
        for i, (name, label) in enumerate(rows.items()):
            first = f"{set_name} ({models[name]['n_images']})" if i == 0 else ""
            cells = [fmt.format(models[name]["summary"][key]) for _, key, fmt in README_COLUMNS]
            shown = f"**{label}**" if i == 0 else label
            lines.append(f"| {first} | {shown} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(model_config) -> str:
    """The MODEL_CARD.md text of a saved model's config (a ``ModelConfig``)."""
    config = model_config.to_dict()
    t = config.get("training", {})
    data = t.get("data", {})
    lines = [
        f"# {config['name']}", "",
        config.get("description", ""), "",
        "| | |", "|---|---|",
        f"| architecture | `{config['architecture']}` {json.dumps(config['model_args'])} |",
        f"| colour space | {config['space']} |",
        f"| working size | {config['working_size']} px (longer side) |",
        *([f"| decoding | annealed mean at T = {config['decode']['temperature']:g}, "
           f"decode-time rebalancing boost {config['decode'].get('boost', 0):g} |"]
          if config.get("decode") else []),
        *(["| inference | flip averaging (the network also sees the mirror image) |"]
          if model_config.flip else []),
        *(["| inference | input levels (the network sees the lightness stretched to the full "
           "range; for faded prints) |"] if model_config.levels else []),
        *([f"| started from | `{t['init_from']}` |"] if t.get("init_from") else []),
        f"| training steps | {t.get('steps')} (batch {t.get('batch_size')} x "
        f"{t.get('world_size')} process(es), {t.get('images_seen')} images seen) |",
        f"| crop size | {t.get('crop_size')} px |",
        f"| data | {data.get('train_images')} training photos from "
        f"{', '.join(_folder_text(f) for f in data.get('folders', []))} |",
        f"| hardware | {t.get('hardware', {}).get('device')} "
        f"({t.get('hardware', {}).get('cpu') or ''}) |",
        f"| wall time | {t.get('wall_time_s', 0) / 3600:.2f} h |",
        "", "## Validation (held-out split of the training photos)", "",
        "```json", json.dumps(t.get("validation", {}), indent=2), "```", "",
    ]
    if config.get("metrics", {}).get("eval"):
        lines += ["## Evaluation", "", "```json",
                  json.dumps(config["metrics"]["eval"], indent=2), "```", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="saved-model folder (e.g. RUN_DIR/best)")
    ap.add_argument("--name", default="tinct-base")
    ap.add_argument("--description", default="")
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--metrics", help="JSON file of evaluation metrics to record")
    source.add_argument("--scores", type=Path, metavar="SCORE_DIR",
                        help="record the metrics of a score_candidate.sh folder")
    ap.add_argument("--previous", default="v2",
                    help="what the README table calls the model it replaces (default: v2)")
    ap.add_argument("--notes", help="Markdown file appended to the model card (how choices were "
                                    "made, known weaknesses)")
    args = ap.parse_args()
    model, config = load_pretrained(args.model)
    metrics = dict(config.to_dict()["metrics"])
    if args.metrics:
        metrics["eval"] = json.loads(Path(args.metrics).read_text())
    if args.scores:
        metrics["eval"] = scored_metrics(args.scores, label=config.name)
    out = save_like(model, WEIGHTS_DIR / args.name, config, name=args.name,
                    description=args.description or config.description,
                    training=strip_machine_paths(config.to_dict()["training"]),
                    metrics=strip_machine_paths(metrics),
                    tuning=strip_machine_paths(config.tuning), dtype=torch.float16)
    _, shipped = load_pretrained(out)
    card = model_card(shipped)
    if args.notes:
        card += "\n" + Path(args.notes).read_text(encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    size = (out / "model.safetensors").stat().st_size / 2**20
    print(f"shipped {out} ({size:.1f} MiB)")
    if args.scores:  # the README's table, to paste: the new model, the one it replaces, gray
        rows = {config.name: args.name, "tinct-base": f"{args.previous} (previous)",
                "gray": "gray"}
        for damaged in (False, True):
            print(f"\n{'damaged copies' if damaged else 'eval sets'}:\n"
                  + readme_table(args.scores, rows, damaged=damaged))


if __name__ == "__main__":
    main()

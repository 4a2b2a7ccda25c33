"""Chooses and scores the candidate of a finished v3 run, as docs/v3.md plans it (sessions 33,
34, 36 and 37), unattended and resumable:

1. the run's ``best/`` and ``last/`` are tuned on the validation photos (``tinct tune`` on the
   decode grid, ``--max-dcf 8``, metrics only; with ``--prefer``, the feature metrics too, for
   the settings within 0.2 dB of the best PSNR, and they choose among those, docs/v3.md
   sessions 40 and 42); the
   one with the higher PSNR at its chosen setting is the candidate;
2. it is scored by the shipping rule (``score_candidate.sh``), but only if its validation PSNR
   is above ``--gate`` (the shipped model's own tuned figure);
3. if it does not pass: WiSE-FT with the model the run started from (``--start``) at each
   ``--alphas``, each tuned on the same grid; **the smallest alpha whose validation PSNR is
   within 0.2 dB of the best alpha's** (alpha 1 is the candidate itself) is scored the same way.

With ``--scenes`` (a folder of held-out scene photos, docs/v3.md session 43), every tuned model
also gets its **scene score**, reported and not used to choose: the best PSNR on those photos
among the 9 settings T in {0.38, 0.6, 1} x b in {0, 0.5, 1} (at its chosen working size) whose
colourfulness is no more than ``SCENE_MIN_GAP`` below the photos'; and its PSNR, FD and
semantic agreement on them at the decode chosen on validation, beside ``--start``'s at its own
(session 51: the scene-set losses of the fine-tunes showed there first).

    python scripts/study/final_candidate.py RUN_DIR OUT --validation VAL --damaged DAMAGED \\
        [--damaged-validation VAL_DAMAGED] [--start tinct-base] [--gate 22.43] \\
        [--prefer semantic_agreement,fd_effnet_lite2] [--scenes SCENES]

Writes ``OUT/summary.json`` (every tuned PSNR, each choice and verdict) and, per model,
``OUT/score-NAME/`` (``score_candidate.sh``'s folder: the tuned copy ``cand/``, and for a scored
model ``verdict.md`` and the comparisons). A step
whose output exists is not run again. Needs ``$TINCT_DATA``; ``PAUSE_CMD``/``RESUME_CMD`` pass
through to ``score_candidate.sh``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent
DEFAULT_GRID = "-t 0.38,0.6 -b 0,0.2,0.4,0.6,0.8 --sizes 128,160,192,256"
WITHIN_DB = 0.2  # the shipping rule's own PSNR margin
SCENE_GRID = (HERE / "frontier_grid.txt").read_text().strip()  # frontier_sweeps.sh's too
SCENE_MIN_GAP = -6.0  # v2's faintest setting on the scene photos is 5.4 below them
SCENE_FEATURES = ("psnr", "fd_effnet_lite2", "semantic_agreement")  # reported as decoded


def tuned_psnr(folder: Path) -> float:
    """Validation PSNR (dB) of the decode setting ``tinct tune --save`` chose for ``folder``."""
    tuning = json.loads((folder / "config.json").read_text())["tuning"]
    chosen = tuning["chosen"]
    for row in tuning["measured"]:
        if all(row.get(key) == value for key, value in chosen.items()):
            return float(row["psnr"])
    raise ValueError(f"{folder}: the chosen setting {chosen} is not among the measured ones")


def same_weights(a: Path, b: Path) -> bool:
    """Whether two saved-model folders hold byte-identical weights."""
    return filecmp.cmp(a / "model.safetensors", b / "model.safetensors", shallow=False)


def best_of(psnrs: dict[str, float]) -> str:
    """The name with the highest PSNR (the first one listed on a tie)."""
    return max(psnrs, key=lambda name: (psnrs[name], -list(psnrs).index(name)))


def smallest_alpha_within(psnrs: dict[float, float], within: float = WITHIN_DB) -> float:
    """The smallest alpha whose PSNR is within ``within`` dB of the best alpha's: the model
    closest to the start that keeps the run's gain on the validation photos."""
    top = max(psnrs.values())
    return min(alpha for alpha, psnr in psnrs.items() if psnr >= top - within)


def alpha_list(text: str) -> list[float]:
    """``0.25,0.5`` -> [0.25, 0.5]; each in [0, 1) (alpha 1 is the run itself)."""
    try:
        alphas = [float(a) for a in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not all(0 <= a < 1 for a in alphas):
        raise argparse.ArgumentTypeError(f"alphas must be in [0, 1): {text!r}")
    return alphas


def tune_command(model: Path | str, out: Path, validation: Path, grid: str,
                 prefer: str | None = None) -> list[str]:
    """``tinct tune``'s command line for one model: metrics only (PSNR, dCF), or with
    ``prefer`` (e.g. ``semantic_agreement,fd_effnet_lite2``) the feature metrics too, which
    then choose among the settings within 0.2 dB of the best PSNR."""
    choice = ["--prefer", prefer, "--within", str(WITHIN_DB)] if prefer else ["--no-features"]
    return ["tinct", "tune", "-m", str(model), str(validation), *grid.split(), "--max-dcf", "8",
            "--save", str(out), "-o", f"{out}-tune", "--no-progress", "--no-report", *choice]


def tune(model: Path | str, out: Path, validation: Path, grid: str,
         prefer: str | None = None) -> float:
    """Tunes ``model`` on the validation photos into the saved copy ``out`` (once)."""
    if not (out / "config.json").exists():
        subprocess.run(tune_command(model, out, validation, grid, prefer), check=True)
    return tuned_psnr(out)


def tuned(name: str, args: argparse.Namespace) -> Path:
    """Where model ``name``'s tuned copy lives: the ``cand`` folder of its score folder, which
    ``score_candidate.sh`` then scores without tuning it again (and labels ``cand``)."""
    return args.out / f"score-{name}" / "cand"


def score(name: str, args: argparse.Namespace) -> bool:
    """Scores the tuned copy of ``name`` by the shipping rule (score_candidate.sh); True if it
    passes."""
    out = args.out / f"score-{name}"
    command = ["bash", str(HERE / "score_candidate.sh"), str(out / "cand"), str(out),
               str(args.validation), str(args.damaged)]
    if args.damaged_validation:
        command.append(str(args.damaged_validation))
    subprocess.run(command, check=True)  # the copy is tuned already: no grid needed
    return bool(json.loads((out / "verdict.json").read_text())["passes"])


def scene_score(report: dict, min_gap: float = SCENE_MIN_GAP) -> dict:
    """The best PSNR of a decode sweep's ``metrics.json`` among its settings whose signed
    colourfulness gap (CF of predictions minus CF of the photos) is at least ``min_gap``:
    ``{"psnr", "gap", "setting"}``; gray is not a setting. When every setting is fainter,
    ``psnr`` is None and the others describe the most colourful setting."""
    points = [(m["summary"]["psnr"], m["summary"]["cf_pred"] - m["summary"]["cf_gt"], m["name"])
              for m in report["models"] if m["name"] != "gray"]
    eligible = [p for p in points if p[1] >= min_gap]
    if not eligible:
        _, gap, name = max(points, key=lambda p: p[1])
        return {"psnr": None, "gap": round(gap, 3), "setting": name}
    psnr, gap, name = max(eligible)
    return {"psnr": round(psnr, 4), "gap": round(gap, 3), "setting": name}


def as_decoded(report: dict) -> list[dict]:
    """A ``tinct compare`` report's PSNR, FD and semantic agreement of each model in the
    order given (gray left out): ``[{"psnr", "fd_effnet_lite2", "semantic_agreement"}, ...]``;
    the feature metrics are None where their weights are not installed."""
    return [{key: m["summary"][key] for key in SCENE_FEATURES}
            for m in report["models"] if m["name"] != "gray"]


def scenes(name: str, args: argparse.Namespace) -> dict | None:
    """The scene score of ``name``'s tuned copy on ``--scenes`` (swept once), and its PSNR,
    FD and semantic agreement there at the decode chosen on validation beside ``--start``'s
    at its own (``as_decoded``, under ``"as_decoded"``: ``{"cand": ..., "start": ...}``);
    None without ``--scenes``."""
    if args.scenes is None:
        return None
    out = args.out / f"scenes-{name}"
    if not (out / "metrics.json").exists():
        subprocess.run(["tinct", "tune", "-m", str(tuned(name, args)), str(args.scenes),
                        *SCENE_GRID.split(), "-o", str(out), "--no-progress", "--no-report",
                        "--no-features"], check=True)
    result = scene_score(json.loads((out / "metrics.json").read_text()))
    shown = "every setting fainter" if result["psnr"] is None else f"{result['psnr']:.2f} dB"
    print(f"scene score of {name}: {shown} (gap {result['gap']:.1f})")
    beside = args.out / f"scenes-{name}-as-decoded"
    if not (beside / "metrics.json").exists():
        subprocess.run(["tinct", "compare", str(tuned(name, args)), str(args.start), "-d",
                        str(args.scenes), "-o", str(beside), "--no-progress", "--no-report"],
                       check=True)
    measured = as_decoded(json.loads((beside / "metrics.json").read_text()))
    result["as_decoded"] = {"cand": measured[0], "start": measured[1]}
    shown = [{key: "-" if v is None else f"{v:.3f}" for key, v in m.items()} for m in measured]
    print(f"on the scene photos as decoded, {name} / start: " + ", ".join(
        f"{key} {shown[0][key]} / {shown[1][key]}" for key in SCENE_FEATURES))
    return result


def above_gate(psnr: float, gate: float) -> bool:
    """Whether a tuned model's validation PSNR earns it a scoring (says so when not)."""
    if psnr <= gate:
        print(f"not scored: {psnr:.2f} dB is not above the gate ({gate:.2f})")
    return psnr > gate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path, help="finished training run (with best/ and last/)")
    ap.add_argument("out", type=Path, help="folder for the tuned copies and the scores")
    ap.add_argument("--validation", type=Path, required=True, help="validation photos")
    ap.add_argument("--damaged", type=Path, required=True,
                    help="folder of the eval sets' damaged copies (one folder per set)")
    ap.add_argument("--damaged-validation", type=Path, help="the validation photos' damaged "
                                                            "copy (input levels are chosen on it)")
    ap.add_argument("--start", default="tinct-base", help="the model the run started from "
                                                          "(WiSE-FT's other end)")
    ap.add_argument("--alphas", default="0.25,0.5,0.75", type=alpha_list,
                    help="WiSE-FT weights of the run in [0, 1), comma-separated (default "
                         "0.25,0.5,0.75)")
    ap.add_argument("--gate", type=float, default=float("-inf"),
                    help="score only a model whose validation PSNR is above this (dB)")
    ap.add_argument("--grid", default=DEFAULT_GRID, help=f"tinct tune's decode grid options "
                                                         f"(default {DEFAULT_GRID!r})")
    ap.add_argument("--prefer", metavar="METRIC[,METRIC]",
                    help="tinct tune --prefer: these metrics choose among the settings within "
                         "0.2 dB of the best validation PSNR (default: the best PSNR)")
    ap.add_argument("--scenes", type=Path, help="held-out scene photos: each tuned model's "
                                                    "scene score is reported (not used to "
                                                    "choose)")
    args = ap.parse_args(argv)
    if "TINCT_DATA" not in os.environ:
        ap.error("set TINCT_DATA to the shared data folder")
    checkpoints = [name for name in ("best", "last") if (args.run_dir / name).is_dir()]
    if not checkpoints:
        ap.error(f"{args.run_dir}: has neither best/ nor last/")
    if len(checkpoints) == 2 and same_weights(*(args.run_dir / n for n in checkpoints)):
        checkpoints = ["best"]  # the lowest validation loss was at the end: one model
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"run_dir": str(args.run_dir), "grid": args.grid, "gate": args.gate,
                     "prefer": args.prefer}

    def save() -> None:
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    psnrs = {name: tune(args.run_dir / name, tuned(name, args), args.validation, args.grid,
                        args.prefer) for name in checkpoints}
    chosen = best_of(psnrs)
    summary.update(checkpoints=psnrs, candidate=chosen)
    if args.scenes is not None:
        summary["scene_min_gap"] = SCENE_MIN_GAP
        summary["scenes"] = {name: scenes(name, args) for name in checkpoints}
    save()
    print(f"candidate: {chosen} ({psnrs[chosen]:.2f} dB on validation; "
          + ", ".join(f"{n} {p:.2f}" for n, p in psnrs.items()) + ")")
    if not above_gate(psnrs[chosen], args.gate):
        return 0
    summary["passes"] = score(chosen, args)
    save()
    if summary["passes"]:
        print(f"{chosen} passes the shipping rule: {args.out / f'score-{chosen}'}")
        return 0

    alphas = args.alphas
    mixes = args.out / "wise"

    def mix_folder(alpha: float) -> Path:  # interpolate_models.py's naming
        return mixes if len(alphas) == 1 else Path(f"{mixes}-a{alpha:.2f}")

    if not all((mix_folder(a) / "config.json").exists() for a in alphas):
        subprocess.run([sys.executable, str(SCRIPTS / "interpolate_models.py"), args.start,
                        str(tuned(chosen, args)), str(mixes), *(f"--alpha={a}" for a in alphas)],
                       check=True)
    by_alpha = {1.0: psnrs[chosen]}
    for a in alphas:
        by_alpha[a] = tune(mix_folder(a), tuned(f"wise-{a:.2f}", args), args.validation,
                           args.grid, args.prefer)
    alpha = smallest_alpha_within(by_alpha)
    summary.update(wise={f"{a:.2f}": p for a, p in sorted(by_alpha.items())}, alpha=alpha)
    if args.scenes is not None:
        summary["scenes"].update({f"wise-{a:.2f}": scenes(f"wise-{a:.2f}", args) for a in alphas})
    save()
    print("WiSE-FT on validation: " + ", ".join(f"alpha {a:.2f} {p:.2f} dB"
                                                 for a, p in sorted(by_alpha.items()))
          + f"; chosen alpha {alpha:.2f}")
    if alpha == 1.0:
        print("alpha 1.00 is the candidate already scored; nothing more to score")
        return 0
    if not above_gate(by_alpha[alpha], args.gate):
        return 0
    name = f"wise-{alpha:.2f}"
    summary["wise_passes"] = score(name, args)
    save()
    print(f"{name} {'passes' if summary['wise_passes'] else 'does not pass'} the shipping rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())

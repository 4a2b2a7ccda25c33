"""Train every model family under the same budget, then compare them (issue 7's study).

    python scripts/study/compare_families.py configs/compare.yaml --runs ~/tinct-runs/compare \\
        [--images N] [--only cnn,unet-lite0] [--data DIR_FOR_COMPARE]

Each family trains in ``RUNS/NAME`` with ``tinct train`` (base config + the plan's common and
per-family overrides + the budget); a run folder that already has a checkpoint is resumed, so
the script can be stopped and restarted at any time. ``{runs}`` in an override stands for the
runs folder (an ablation that fine-tunes another run: ``model.init_from={runs}/NAME/best``).
Then ``tinct compare`` measures every ``RUNS/NAME/best`` on ``--data`` (default: a balanced
sample of the validation split, made with ``scripts/study/validation_folder.py``; the eval sets are
for reporting only) into ``RUNS/report``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import yaml


def train_commands(plan_path: Path, runs: Path, images: int | None,
                   only: set[str] | None) -> list[tuple[str, list[str]]]:
    """(family name, ``tinct train`` argument list) for each family of the plan."""
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    budget = plan["budget"]
    batch = int(budget["batch_size"])
    steps = max(1, (images or int(budget["images"])) // batch)
    base = (plan_path.parent / plan["base"]).resolve()
    common = [*plan.get("common", []), f"run.steps={steps}", f"run.batch_size={batch}",
              f"data.size={budget['crop']}"]
    commands = []
    for name, overrides in plan["families"].items():
        if only and name not in only:
            continue
        run_dir = runs / name
        if (run_dir / "state.pt").is_file():
            args = ["--resume", str(run_dir)]
        else:
            args = ["--config", str(base), "--run-dir", str(run_dir),
                    *(f"--{o}".replace("{runs}", str(runs))
                      for o in [*common, *overrides, f"run.name={name}"])]
        commands.append((name, args))
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("--runs", type=Path, required=True, help="folder for the run folders")
    parser.add_argument("--images", type=int, help="images seen per family (overrides the plan)")
    parser.add_argument("--only", help="comma-separated family names")
    parser.add_argument("--data", type=Path, help="photos for tinct compare")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--scan-cache", type=Path,
                        help="data_scan.json of an earlier run on the same photos (saves "
                             "decoding every photo again for each family)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    for name, train_args in train_commands(args.plan, args.runs, args.images, only):
        cache = args.runs / name / "data_scan.json"
        if args.scan_cache and not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.scan_cache, cache)
        print(f"== {name}: tinct train {' '.join(train_args)}", flush=True)
        done = subprocess.run([sys.executable, "-m", "tinct", "train", "--no-progress",
                               *train_args])
        if done.returncode != 0:
            print(f"== {name}: training failed (exit {done.returncode}); continuing", flush=True)
    if args.no_compare:
        return 0
    data = args.data
    if data is None:
        data = args.runs / "validation-photos"
        first = next(iter(sorted(args.runs.glob("*/config.yaml"))), None)
        if first is None:
            print("no finished runs to compare", file=sys.stderr)
            return 1
        subprocess.run([sys.executable, str(Path(__file__).parent / "validation_folder.py"),
                        str(first.parent), str(data)], check=True)
    models = [str(p) for p in sorted(args.runs.glob("*/best")) if p.is_dir()]
    return subprocess.run([sys.executable, "-m", "tinct", "compare", *models, "--data",
                           str(data), "-o", str(args.runs / "report")]).returncode


if __name__ == "__main__":
    raise SystemExit(main())

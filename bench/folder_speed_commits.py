"""A folder of 256-px photos: photos/s of this checkout against an older commit, same run.

Issue 18's folder target is a ratio to the code as it was before the speed work, which cannot
be imported beside today's in one process. So this benchmark checks the old commit out into a
temporary git worktree and times both in alternation, each round a fresh child process per
side (``PYTHONPATH`` points it at that side's ``src``), on the same photos with the same
model: read ``--images`` gray 256 x 192 JPEGs, colorize them in batches, write JPEGs (the
loop ``bench/infer_speed.py`` times, after one warm-up photo). Reports the median photos/s of
each side over ``--rounds`` and their ratio; writes ``bench/results/folder_speed_commits.json``.

    python bench/folder_speed_commits.py [--base f09a9a0] [--rounds 5] [--images 64]

``--base`` defaults to the commit before the first speed change of issue 18 (the merge and the
lightness as compiled kernels, b0bd001). Run it on a quiet machine: both sides share it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import time_folder, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "folder_speed_commits.json"
BASE = "f09a9a0"  # the parent of b0bd001, the first speed commit
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
          "immunohistochemistry")


def make_photos(folder: Path, count: int) -> None:
    """``count`` gray 256 x 192 JPEGs of scikit-image photos, each rotated differently."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True)
    for i in range(count):
        photo = Image.fromarray(getattr(data, PHOTOS[i % len(PHOTOS)])()).convert("L")
        photo.resize((256, 192)).rotate(7 * i).save(folder / f"p{i:03d}.jpg", quality=90)


def child(photos: Path, out: Path, model: str, batch_size: int) -> dict:
    """Runs in the child: times read, colorize, write of every photo; returns what it did."""
    from PIL import Image

    import tinct
    from tinct import Colorizer

    colorizer = Colorizer.from_pretrained(model, device="cpu")
    colorizer.colorize(Image.new("L", (256, 192), 128))  # warm-up (kernels compiled, cached)
    paths = sorted(photos.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    seconds = time_folder(colorizer, paths, out, batch_size)
    return {"tinct": str(Path(tinct.__file__).parent), "seconds": seconds,
            "photos_per_s": len(paths) / seconds}


def run_side(src: Path, photos: Path, out: Path, model: str, batch_size: int) -> dict:
    """One timing in a fresh process that imports tinct from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(photos), str(out), model, str(batch_size)],
        capture_output=True, text=True, env=env, check=True)
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    if Path(timing["tinct"]).resolve() != (src / "tinct").resolve():
        raise RuntimeError(f"the child imported {timing['tinct']}, not {src / 'tinct'}")
    return timing


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        photos, out, model, batch = sys.argv[2:6]
        print(json.dumps(child(Path(photos), Path(out), model, int(batch))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BASE, help="the older commit (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default="tinct-base")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    base = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), base], cwd=ROOT,
                       check=True)
        try:
            photos = Path(tmp) / "photos"
            make_photos(photos, args.images)
            sides = {"base": tree / "src", "head": ROOT / "src"}
            timings: dict[str, list[float]] = {"base": [], "head": []}
            for round_ in range(args.rounds):
                for side, src in sides.items():
                    t = run_side(src, photos, Path(tmp) / f"out-{side}", args.model,
                                 args.batch_size)
                    timings[side].append(t["photos_per_s"])
                    print(f"round {round_ + 1} {side} ({base if side == 'base' else head}): "
                          f"{t['photos_per_s']:.1f} photos/s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False)
    median = {side: statistics.median(values) for side, values in timings.items()}
    ratio = median["head"] / median["base"]
    print(f"median photos/s: {base} {median['base']:.1f}, {head} {median['head']:.1f} "
          f"({ratio:.2f}x); target 1.5x: {'met' if ratio >= 1.5 else 'NOT met'}")
    write_report(args.out, {"base": base, "head": head, "images": args.images,
                            "batch_size": args.batch_size, "model": args.model,
                            "rounds": args.rounds, "photos_per_s": timings,
                            "median_photos_per_s": median, "ratio": ratio,
                            "target_1_5x_met": ratio >= 1.5})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

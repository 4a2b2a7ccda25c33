"""Photos per second of ``tinct colorize`` with the local engine vs the Ray engine, on this
machine, in one script (same photos, same model, run one after the other).

Three runs of the same folder of N gray photos (default 400, 1024x768 JPEG, made from
scikit-image's photos):

1. ``--engine local`` (one process, all cores);
2. ``--engine ray`` with a local Ray started for the run (one worker per core);
3. ``--engine ray`` on a two-node cluster started beforehand with ``ray start`` on this
   machine (tinct.cluster.local; its start-up is not counted), one worker per node.

Each is timed as a whole command (start-up, model loading and Ray's included) and in steady
state (photos/s between the first and the last result, from the run manifest's times).
Target (issue 21): the Ray engine's overhead at most 20% on 400 photos. Prints a summary and
writes ``bench/results/ray_speed.json``.

    python bench/ray_speed.py [--photos 400] [--side 1024] [--model NAME_OR_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from benchlib import write_report

RESULTS = Path(__file__).parent / "results" / "ray_speed.json"


def make_photos(folder: Path, count: int, side: int) -> None:
    """``count`` gray JPEGs, ``side`` x 3/4 ``side``: crops and mirrors of skimage photos."""
    sources = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    rng = np.random.default_rng(0)
    for i in range(count):
        photo = Image.fromarray(sources[i % len(sources)]).convert("L")
        w, h = photo.size
        box = (int(rng.integers(0, w // 8)), int(rng.integers(0, h // 8)))
        photo = photo.crop((*box, box[0] + w * 7 // 8, box[1] + h * 7 // 8))
        if i % 2:
            photo = photo.transpose(Image.FLIP_LEFT_RIGHT)
        photo.resize((side, side * 3 // 4)).save(folder / f"photo_{i:04d}.jpg", quality=90)


def timed_run(args: list[str], manifest: Path, env: dict) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tinct", "colorize", *args, "--manifest",
                           str(manifest), "--no-progress"], capture_output=True, text=True,
                          env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tinct colorize failed:\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    times = sorted(r["time"] for r in records if r["status"] == "done")
    steady = (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else None
    return {"photos": len(times), "wall_s": round(wall, 2),
            "photos_per_s": round(len(times) / wall, 2),
            "steady_photos_per_s": round(steady, 2) if steady else None,
            "nodes": len({r["node"] for r in records})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--side", type=int, default=1024, help="width of each photo")
    parser.add_argument("--model", default=None, help="model name or folder (default: shipped)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from tinct.cluster.local import LOCAL_CLUSTER_ENV, start_local_cluster, stop_local_cluster

    env = {**os.environ, **LOCAL_CLUSTER_ENV}
    cores = os.cpu_count() or 1
    model = ["-m", args.model] if args.model else []
    with tempfile.TemporaryDirectory(prefix="tinct-ray-bench-") as tmp:
        root = Path(tmp)
        photos = root / "photos"
        photos.mkdir()
        make_photos(photos, args.photos, args.side)
        runs = {}
        runs["local"] = timed_run([str(photos), "-o", str(root / "local"), *model],
                                  root / "local.jsonl", env)
        print("local:", runs["local"])
        runs["ray_local"] = timed_run([str(photos), "-o", str(root / "ray"), *model,
                                       "--engine", "ray"], root / "ray.jsonl", env)
        print("ray (local Ray for the run):", runs["ray_local"])
        temp = Path(f"/tmp/tinct-rb-{os.getpid()}")
        try:
            address = start_local_cluster(nodes=2, cpus_per_node=max(1, cores // 2),
                                          temp_dir=temp)
            runs["ray_two_nodes"] = timed_run(
                [str(photos), "-o", str(root / "cluster"), *model, "--engine", "ray",
                 "--ray-address", address, "--ray-workers", "2"], root / "cluster.jsonl",
                env)
        finally:
            stop_local_cluster()
        print("ray (two nodes):", runs["ray_two_nodes"])
    local = runs["local"]
    report = {
        "machine": {"cpus": cores},
        "photos": args.photos, "size": f"{args.side}x{args.side * 3 // 4}",
        "runs": runs,
        "ratios": {name: {"wall_vs_local": round(run["wall_s"] / local["wall_s"], 3),
                          "steady_vs_local": (round(run["steady_photos_per_s"]
                                                    / local["steady_photos_per_s"], 3)
                                              if run["steady_photos_per_s"] else None)}
                   for name, run in runs.items() if name != "local"},
        "target": "Ray engine overhead at most 20% (wall_vs_local <= 1.2)",
    }
    for name, ratio in report["ratios"].items():
        print(f"{name}: {ratio['wall_vs_local']:.2f}x the local engine's time "
              f"(steady state {ratio['steady_vs_local']}x its photos/s)")
    write_report(args.output, report)


if __name__ == "__main__":
    main()

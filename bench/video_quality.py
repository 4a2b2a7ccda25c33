"""Video colorization quality: flicker and PSNR with and without temporal consistency.

Builds test clips from photos (scikit-image's bundled photos, plus photos of
``$TINCT_DATA/eval`` — default ``../shared/data/eval`` — when present) with synthetic camera
motion (hold, pan, zoom) and a cut between two photos, then runs ``evaluate_video`` with
``--temporal none`` and ``flow`` on each (same network predictions for both) and reports the
per-clip and mean flicker score (Lab units) and PSNR (dB). Target: flow cuts the flicker score
by at least half with PSNR no more than 0.2 dB lower. Prints a table and writes
``bench/results/video_quality.json``.

Without ``--model`` it uses a *stress model*: the ``cnn`` architecture with random weights
(He-normal convolutions, BatchNorm statistics calibrated on the four scikit-image photos, chroma
head scaled by 0.3). An untrained network with PyTorch's default initialization predicts an
almost constant colour (no flicker to remove); this one responds strongly to its input, as an
unsteady colorizer does, so it is a hard test of the temporal method. Re-run with
``--model tinct-base`` (or a saved-model folder) once a trained model exists.

    python bench/video_quality.py [--model NAME_OR_FOLDER] [--size 320x240] [--clips 8]
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


def photo_pairs(max_clips: int) -> list[tuple[str, list[np.ndarray]]]:
    """(name, [photo, photo]) per clip: scikit-image photos first, then eval photos."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model name or folder (default: the stress model)")
    parser.add_argument("--size", default="320x240", help="clip frame size WxH")
    parser.add_argument("--frames-per-shot", type=int, default=24)
    parser.add_argument("--clips", type=int, default=8, help="at most this many clips")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    settings = TemporalSettings()
    # the old film path (rgb frames, flow on every frame) against the new one (key frames,
    # rendered as the YUV pipeline renders them), on the same network predictions
    methods = {"none": None, "flow": settings, "flow-yuv": settings,
               "keyframes": TemporalSettings(method="keyframes"),
               "keyframes-yuv": TemporalSettings(method="keyframes"),
               "keyframes4-yuv": TemporalSettings(method="keyframes", key_interval=4)}
    pipelines = {"flow-yuv": "yuv", "keyframes-yuv": "yuv", "keyframes4-yuv": "yuv"}
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or stress_model(Path(tmp) / "stress-cnn")
        colorizer = Colorizer.from_pretrained(model, device=args.device, precision="fp32")
        rows = []
        for name, pair in photo_pairs(args.clips):
            spec = make_clip(Path(tmp) / f"{name}.mp4", pair, width, height,
                             frames_per_shot=args.frames_per_shot, fps=24, audio=False)
            start = time.perf_counter()
            scores = evaluate_video(colorizer, spec.path, methods, progress=False,
                                    pipelines=pipelines)
            rows.append({"clip": name, "frames": spec.frames, "cuts_true": spec.cuts,
                         "cuts_found": scores["flow"].cuts,
                         "seconds": time.perf_counter() - start,
                         **{m: s.summary() for m, s in scores.items()}})
            print(f"{name:16s} " + "  ".join(
                f"{m} {s.flicker:6.3f}/{s.psnr:5.2f}" for m, s in scores.items())
                + f"  (flicker/PSNR)  cuts {scores['flow'].cuts} (true {spec.cuts})")
    mean = {m: {k: float(np.mean([r[m][k] for r in rows]))
                for k in ("flicker", "pred_change", "gt_change", "psnr", "ssim", "dcf")}
            for m in methods}
    for m in ("flow-yuv", "keyframes", "keyframes-yuv", "keyframes4-yuv"):
        print(f"mean {m}: flicker {mean[m]['flicker']:.3f} (flow {mean['flow']['flicker']:.3f}),"
              f" PSNR {mean[m]['psnr']:.2f} dB (flow {mean['flow']['psnr']:.2f})")
    new_path_ok = bool(mean["keyframes-yuv"]["flicker"] <= mean["flow"]["flicker"]
                       and mean["keyframes-yuv"]["psnr"] >= mean["flow"]["psnr"])
    print("new film path no worse than flow (flicker and PSNR):", new_path_ok)
    baseline = mean["none"]["flicker"]
    reduction = 1 - mean["flow"]["flicker"] / baseline if baseline > 0 else None
    psnr_change = mean["flow"]["psnr"] - mean["none"]["psnr"]
    print(f"mean flicker {baseline:.3f} -> {mean['flow']['flicker']:.3f} "
          + (f"({100 * reduction:.0f}% lower)" if reduction is not None else
             "(frame by frame is already as steady as the ground truth)")
          + f"; PSNR {mean['none']['psnr']:.2f} -> {mean['flow']['psnr']:.2f} dB "
          f"({psnr_change:+.2f})")
    target = None if reduction is None else bool(reduction >= 0.5 and psnr_change >= -0.2)
    print("target (flicker at least halved, PSNR at most 0.2 dB lower):",
          {True: "met", False: "NOT met", None: "not applicable (no excess flicker)"}[target])
    report = {"model": args.model or "stress-cnn (untrained, see bench/video_quality.py)",
              "size": [width, height], "frames_per_shot": args.frames_per_shot,
              "temporal": {m: (v.__dict__ if v else None) for m, v in methods.items()},
              "pipelines": pipelines, "new_path_no_worse_than_flow": new_path_ok,
              "torch": torch.__version__,
              "clips": rows, "mean": mean, "flicker_reduction": reduction,
              "psnr_change_db": psnr_change, "target_met": target}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Video colorization speed: frames/s of ``tinct video`` at 480p and 1080p on this machine,
with and without temporal consistency.

For each resolution a test clip (scikit-image photos, pan/zoom, a cut, AAC audio) is generated
in a temporary folder and colorized to H.264 (crf 18, preset medium) by ``colorize_video``: the
whole run is timed (decode, lightness, network, temporal step, merge, encode, audio remux);
the fastest of ``--repeat`` runs counts, since the machine may be shared. A per-stage breakdown
(ms/frame) is measured separately on one batch. Prints a table and writes
``bench/results/video_speed.json``.

Without ``--model`` a random-init network of the shipped architecture is used (EfficientNet-
Lite0 U-Net classifier over gamut bins, annealed-mean decoding, working size 256): the same
compute as the real model.

    python bench/video_speed.py [--model NAME_OR_FOLDER] [--frames 24] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from benchlib import write_report
from tinct import Colorizer, create_model
from tinct.inference.checkpoint import save_pretrained
from tinct.inference.pipeline import lightness_of
from tinct.runtime import cpu_description
from tinct.video.colorize import FrameColorizer, colorize_video, stabilize
from tinct.video.sinks import VideoFileSink
from tinct.video.sources import SourceFrame, open_source
from tinct.video.temporal import TemporalSettings
from tinct.video.testclips import make_clip, skimage_photos

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "video_speed.json"
RESOLUTIONS = {"480p": (854, 480), "1080p": (1920, 1080)}
SHIPPED_ARCHITECTURE = ("classifier", {"encoder": "efficientnet_lite0", "bins": "gamut",
                                       "pretrained": False})


def stand_in_model(folder: Path) -> Path:
    torch.manual_seed(0)
    name, kwargs = SHIPPED_ARCHITECTURE
    return save_pretrained(create_model(name, **kwargs), folder, working_size=256,
                           name="random-init-shipped-architecture")


def stages(colorizer: Colorizer, clip: Path, batch_size: int, repeat: int,
           tmp: Path) -> dict[str, float]:
    """ms/frame of each step on one batch (fastest of ``repeat`` runs; the machine may be
    shared): decode, lightness, network, temporal, merge, encode."""
    times: dict[str, float] = {}

    def timed(name, fn):
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - start)
        times[name] = 1e3 * best / batch_size
        return out

    def decode():
        with open_source(clip) as src:
            return np.stack([f.rgb for f in itertools.islice(src.frames(), batch_size)])

    frames = timed("decode", decode)
    step = FrameColorizer(colorizer, temporal=TemporalSettings())
    step(frames[:2])  # warm-up
    timed("lightness", lambda: [lightness_of(f) for f in frames])
    p = step.predict(frames)
    timed("network", lambda: step.colorizer.predict_chroma(torch.from_numpy(p.L_small)[:, None],
                                                           step.size))
    chroma = timed("temporal", lambda: stabilize(step.stabilizer, p))
    colour = timed("merge", lambda: step.render(p.L, chroma))

    def encode():
        with open_source(clip) as src:
            info = src.info
        with VideoFileSink(tmp / "encode.mp4", info, []) as sink:
            for i, rgb in enumerate(colour):
                sink.write(SourceFrame(rgb, i, Fraction(1, 24)))
            sink.finish()

    timed("encode", encode)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model name or folder (default: random-init stand-in)")
    parser.add_argument("--frames", type=int, default=24, help="frames per clip (default 24)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", default="480p,1080p")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per measurement; the fastest counts (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    load_start = os.getloadavg()[0]  # other jobs on the machine slow every figure down
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or stand_in_model(tmp / "model")
        colorizer = Colorizer.from_pretrained(model, device=args.device)
        for res in args.resolutions.split(","):
            width, height = RESOLUTIONS[res]
            per_shot = max(3, args.frames // 2)
            clip = make_clip(tmp / f"{res}.mp4", skimage_photos()[:2], width, height,
                             frames_per_shot=per_shot, fps=24, crf=18).path
            best = {}
            for _ in range(args.repeat):  # interleaved, so a busy spell hits both methods
                for method in ("none", "flow"):
                    result = colorize_video(clip, tmp / f"{res}-{method}.mp4", colorizer,
                                            batch_size=args.batch_size,
                                            temporal=TemporalSettings(method=method),
                                            progress=False)
                    if method not in best or result.seconds < best[method].seconds:
                        best[method] = result
            for method, result in best.items():
                rows.append({"resolution": res, "width": width, "height": height,
                             "temporal": method, "frames": result.frames,
                             "seconds": result.seconds, "fps": result.fps})
                print(f"{res:6s} temporal={method:5s} {result.fps:6.2f} frames/s "
                      f"({result.frames} frames in {result.seconds:.1f} s)")
            breakdown = stages(colorizer, clip, args.batch_size, args.repeat, tmp)
            rows[-1]["stages_ms_per_frame"] = breakdown
            print("        ms/frame: " + ", ".join(f"{k} {v:.0f}" for k, v in breakdown.items()))
    report = {"cpu": cpu_description(), "threads": torch.get_num_threads(), "device": args.device,
              "load_average_1min_start_end": [load_start, os.getloadavg()[0]],
              "torch": torch.__version__, "model": args.model or
              "random-init classifier (efficientnet_lite0, gamut bins), working size 256",
              "batch_size": args.batch_size, "encoder": "libx264 crf 18 preset medium",
              "results": rows}
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

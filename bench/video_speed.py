"""Film speed: frames/s of ``colorize_video`` at 720p, 1080p and 4K, the old film path against
the new one, alternated in one process (ratios are what count: the machine may be shared).

- old: ``pipeline="rgb"``, ``--temporal flow`` (network on every frame), libx264 preset medium;
- new: ``pipeline="yuv"`` (luma planes in, 4:2:0 colour planes out, three threads),
  ``--temporal keyframes`` with flip averaging (``tinct video``'s defaults), libx264 at the
  new default preset.

For each resolution a test clip (scikit-image photos, pan/zoom, a cut, AAC audio) is generated
and colorized end to end (decode, lightness, network, temporal step, colour, encode, audio
remux); the fastest of ``--repeat`` runs counts. A per-stage breakdown (ms/frame, one batch,
stages run one after another) is measured for both paths. ``--presets`` also times the x264
presets on the new path's 1080p frames (ms/frame, file size, PSNR of the decoded frames).
Prints tables and writes ``bench/results/video_speed.json``.

Without ``--model`` a random-init network of the shipped architecture is used (EfficientNet-
Lite0 U-Net classifier over gamut bins, annealed-mean decoding, working size 256): the same
compute as the real model.

    python bench/video_speed.py [--model NAME_OR_FOLDER] [--frames 24] [--repeat 2] [--presets]
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
from tinct.video.planes import colour_planes, rgb_of_planes
from tinct.video.sinks import EncodeSettings, VideoFileSink
from tinct.video.sources import SourceFrame, import_av, open_source
from tinct.video.temporal import TemporalSettings
from tinct.video.testclips import make_clip, skimage_photos
from tinct.video.yuvpath import LumaColorizer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "video_speed.json"
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
               "4K": (3840, 2160)}
PRESETS = ("medium", "veryfast", "superfast", "ultrafast")
SHIPPED_ARCHITECTURE = ("classifier", {"encoder": "efficientnet_lite0", "bins": "gamut",
                                       "pretrained": False})


def stand_in_model(folder: Path) -> Path:
    torch.manual_seed(0)
    name, kwargs = SHIPPED_ARCHITECTURE
    return save_pretrained(create_model(name, **kwargs), folder, working_size=256,
                           name="random-init-shipped-architecture")


OLD = {"pipeline": "rgb", "temporal": TemporalSettings(method="flow"),
       "encode": EncodeSettings(preset="medium")}
NEW = {"pipeline": "yuv", "temporal": TemporalSettings(method="keyframes"),
       "encode": EncodeSettings()}
# the new pipeline with the network on every frame (the old temporal method), for --paths
YUV_FLOW = {**NEW, "temporal": TemporalSettings(method="flow")}
PATHS = {"old": OLD, "new": NEW, "yuv-flow": YUV_FLOW}
# flip averaging per path: tinct video's default for film (the network also sees each key
# frame's mirror image); the old path ran the network once per frame
FLIP = {"old": False, "new": True, "yuv-flow": False}


def timer(times: dict[str, float], repeat: int, per: int):
    """``timed(name, fn)``: runs ``fn`` ``repeat`` times, stores the fastest in ms per ``per``
    frames under ``name`` and returns ``fn``'s last result."""
    def timed(name, fn):
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - start)
        times[name] = 1e3 * best / per
        return out
    return timed


def new_stages(colorizer: Colorizer, clip: Path, batch_size: int, repeat: int,
               tmp: Path) -> dict[str, float]:
    """ms/frame of each step of the new path on one batch (fastest of ``repeat``): decode
    (luma planes), lightness (working size), temporal (flow, cut and key decisions, carrying),
    network (its key frames' share), colour (4:2:0 planes), encode (yuv420p, new preset)."""
    times: dict[str, float] = {}
    timed = timer(times, repeat, batch_size)

    def decode():
        with open_source(clip) as src:
            return [f for f in itertools.islice(src.luma_frames(), batch_size)]

    frames = timed("decode", decode)
    lumas = [f.luma for f in frames]
    temporal = NEW["temporal"]
    LumaColorizer(colorizer, temporal=temporal)(lumas[:2])  # warm-up
    step = LumaColorizer(colorizer, temporal=temporal)
    L = timed("lightness", lambda: [step.small_lightness(y) for y in lumas])

    def track():
        step.stabilizer.reset()
        return [step.stabilizer.track(x) for x in L]

    tracks = timed("temporal", track)
    keys = [i for i, t in enumerate(tracks) if t.key]
    batch = torch.from_numpy(np.stack([L[i] for i in keys]))[:, None]
    chroma = timed("network", lambda: colorizer.predict_chroma(batch, step.size).numpy())
    carried = dict(zip(keys, chroma, strict=True))
    start = time.perf_counter()
    chromas = [step.stabilizer.apply(t, carried.get(i)) for i, t in enumerate(tracks)]
    times["temporal"] += 1e3 * (time.perf_counter() - start) / batch_size
    planes = timed("colour", lambda: [colour_planes(y, c, colorizer.space)
                                       for y, c in zip(lumas, chromas, strict=True)])
    with open_source(clip) as src:
        info = src.info

    def encode():
        with VideoFileSink(tmp / "encode-new.mp4", info, [], NEW["encode"]) as sink:
            for f, p in zip(frames, planes, strict=True):
                sink.write_planes(p, f)
            sink.finish()

    timed("encode", encode)
    times["key_frames_share"] = len(keys) / batch_size
    return times


def presets(colorizer: Colorizer, clip: Path, frames: int, tmp: Path) -> list[dict]:
    """Each x264 preset (crf 18) on the new path's colour planes of ``clip``: ms/frame, bytes,
    PSNR (dB) of the decoded frames against the planes' own RGB."""
    av = import_av()
    step = LumaColorizer(colorizer, temporal=NEW["temporal"])
    with open_source(clip) as src:
        info = src.info
        decoded = list(itertools.islice(src.luma_frames(), frames))
    planes = step([f.luma for f in decoded])
    reference = np.stack([rgb_of_planes(av, *p) for p in planes]).astype(np.float64)
    rows = []
    for preset in PRESETS:
        path = tmp / f"preset-{preset}.mp4"
        start = time.perf_counter()
        with VideoFileSink(path, info, [], EncodeSettings(preset=preset)) as sink:
            for f, p in zip(decoded, planes, strict=True):
                sink.write_planes(p, f)
            sink.finish()
        seconds = time.perf_counter() - start
        with av.open(str(path)) as c:
            out = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
        mse = np.mean((out[:len(reference)].astype(np.float64) - reference) ** 2)
        rows.append({"preset": preset, "ms_per_frame": 1e3 * seconds / len(planes),
                     "bytes": path.stat().st_size, "psnr_db": float(10 * np.log10(255 ** 2 / mse))})
        print(f"  preset {preset:9s} {rows[-1]['ms_per_frame']:6.1f} ms/frame "
              f"{rows[-1]['bytes'] / 1e6:6.2f} MB  PSNR {rows[-1]['psnr_db']:.2f} dB")
    return rows


def stages(colorizer: Colorizer, clip: Path, batch_size: int, repeat: int,
           tmp: Path) -> dict[str, float]:
    """ms/frame of each step of the old path on one batch (fastest of ``repeat`` runs; the
    machine may be shared): decode, lightness, network, temporal, merge, encode."""
    times: dict[str, float] = {}
    timed = timer(times, repeat, batch_size)

    def decode():
        with open_source(clip) as src:
            return np.stack([f.rgb for f in itertools.islice(src.frames(), batch_size)])

    frames = timed("decode", decode)
    step = FrameColorizer(colorizer, temporal=OLD["temporal"])
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
        with VideoFileSink(tmp / "encode.mp4", info, [], OLD["encode"]) as sink:
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
    parser.add_argument("--resolutions", default="720p,1080p,4K")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs per measurement; the fastest counts (default 2)")
    parser.add_argument("--presets", action="store_true", help="also time the x264 presets")
    parser.add_argument("--paths", default="old,new",
                        help="film paths to time, alternated: old, new, yuv-flow (the new "
                             "pipeline with the network on every frame) (default: old,new)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    paths = {name: PATHS[name] for name in args.paths.split(",")}
    if not {"old", "new"} <= set(paths):
        parser.error("--paths must include old and new")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    load_start = os.getloadavg()[0]  # other jobs on the machine slow every figure down
    report = {"cpu": cpu_description(), "threads": torch.get_num_threads(),
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "device": args.device,
              "torch": torch.__version__, "model": args.model or
              "random-init classifier (efficientnet_lite0, gamut bins), working size 256",
              "batch_size": args.batch_size,
              "old": {"pipeline": "rgb", "temporal": "flow", "encoder": "libx264 crf 18 medium"},
              "new": {"pipeline": "yuv", "temporal": "keyframes", "flip": FLIP["new"],
                      "key_interval": NEW["temporal"].key_interval,
                      "encoder": f"libx264 crf 18 {NEW['encode'].preset}"},
              "paths": list(paths), "yuv-flow": {"pipeline": "yuv", "temporal": "flow"},
              "results": rows}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or stand_in_model(tmp / "model")
        colorizer = Colorizer.from_pretrained(model, device=args.device)
        warm_up = make_clip(tmp / "warm-up.mp4", skimage_photos()[:2], 160, 96,
                            frames_per_shot=4, fps=24).path
        for name, path in paths.items():  # compiled kernels, first network runs
            colorizer.flip = FLIP[name]
            colorize_video(warm_up, tmp / f"warm-up-{name}.mp4", colorizer,
                           batch_size=args.batch_size, progress=False, **path)
        for res in args.resolutions.split(","):
            width, height = RESOLUTIONS[res]
            per_shot = max(3, args.frames // 2)
            clip = make_clip(tmp / f"{res}.mp4", skimage_photos()[:2], width, height,
                             frames_per_shot=per_shot, fps=24, crf=18).path
            best = {}
            for _ in range(args.repeat):  # alternated, so a busy spell hits both paths
                for name, path in paths.items():
                    colorizer.flip = FLIP[name]
                    result = colorize_video(clip, tmp / f"{res}-{name}.mp4", colorizer,
                                            batch_size=args.batch_size, progress=False, **path)
                    if name not in best or result.seconds < best[name].seconds:
                        best[name] = result
            row = {"resolution": res, "width": width, "height": height,
                   "frames": best["new"].frames,
                   **{f"{n}_fps": r.fps for n, r in best.items()},
                   "speedup": best["old"].seconds / best["new"].seconds,
                   "cuts_old": best["old"].cuts, "cuts_new": best["new"].cuts}
            print(f"{res:6s} " + "  ".join(f"{n} {row[f'{n}_fps']:6.2f} frames/s"
                                           for n in paths)
                  + f"  (new {row['speedup']:.1f}x old)  cuts old {row['cuts_old']} new "
                  f"{row['cuts_new']}")
            colorizer.flip = FLIP["old"]
            row["stages_ms_per_frame_old"] = stages(colorizer, clip, args.batch_size,
                                                    args.repeat, tmp)
            colorizer.flip = FLIP["new"]
            row["stages_ms_per_frame_new"] = new_stages(colorizer, clip, args.batch_size,
                                                        args.repeat, tmp)
            for n in ("old", "new"):
                print(f"        {n} ms/frame: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in row[f"stages_ms_per_frame_{n}"].items()))
            if args.presets and res == "1080p":
                report["presets_1080p"] = presets(colorizer, clip, args.frames, tmp)
            rows.append(row)
    report["load_average_1min_start_end"] = [load_start, os.getloadavg()[0]]
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The two measurements behind ``tinct video``'s scene-cut decision, frame by frame, on clips
with known cuts, and how candidate decision rules score on them.

A frame is a cut when its 16x16 lightness thumbnail changed by more than the cut threshold
*and* the optical flow leaves more than a share of its pixels unexplained
(:mod:`tinct.video.temporal`; 12 L* and half the pixels before session 48, 8 L* and 30% since,
chosen by this script). Two shots alike in lightness change the thumbnail little, so
the first test can miss a cut the second sees plainly. This script tracks each clip's
lightness at the working size exactly as the film path does (:class:`ChromaStabilizer.track`,
no network), records both measurements per frame, and counts the cuts found and the false
cuts of each rule in ``RULES``.

How a rule is chosen (written in session 48 before any run): on clips of the validation
photos, among the rules with no false cut there, the one that finds the most true cuts; ties
go to the rule listed first (the closest to the rule of the time, 12 L* and 50%). Clips of
the eval photos and the real clips only report; a rule that adds a false cut on the real clips
is not adopted.
The first list (that rule, "or flow" 0.6-0.9, thumbnail 6 and 3) showed on the validation
clips that 13 of that rule's 14 misses fail the flow test, not the thumbnail's (plausibly
shots with large flat areas, which any flow warps well); the list was then
widened to the grid below, before any eval-photo or real clip was measured, and the same rule
chooses in it. A rule chosen so must also add no false cut on the eval-photo clips.

Clips: pairs of photos from ``--photos`` folders, filmed by the virtual camera of
:mod:`tinct.video.testclips` (hold, pan, zoom, one hard cut), and any ``--clip FILE:CUTS``
(real footage with its true cuts, e.g. ``bikes.mp4:30,76,137,187,242``).

    python scripts/study/cut_scores.py --photos ~/tinct-val/v3 --pairs 100 --out cuts.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinct.errors import InputError
from tinct.video.sources import VideoFileSource
from tinct.video.temporal import ChromaStabilizer, TemporalSettings
from tinct.video.testclips import folder_photos, make_clip
from tinct.video.yuvpath import small_lightness


def rule_name(thumb: float, share: float, alone: float | None) -> str:
    """A rule's name in the table, e.g. ``thumbnail 12 and flow 0.5 or flow 0.6``."""
    name = f"thumbnail {thumb:g} and flow {share:g}"
    return name if alone is None else f"{name} or flow {alone:g}"


# rule name -> (thumbnail change above, unexplained share above) for the first test, and the
# unexplained share above which a frame is a cut whatever its thumbnail (None: no such test).
# Listed from the rule before session 48 (thumbnail 12, flow 0.5) outward: fewer tests first,
# then higher thresholds first.
RULES = {rule_name(thumb, share, alone): (thumb, share, alone)
         for alone in (None, 0.6) for thumb in (12.0, 8.0, 6.0)
         for share in (0.5, 0.4, 0.3, 0.2)}
# the rule tinct.video.temporal applies now (chosen in session 48: thumbnail 8, flow 0.3)
CURRENT = rule_name(TemporalSettings().cut_threshold, TemporalSettings().cut_share, None)


def frame_scores(path: Path, size: int) -> list[dict]:
    """Per frame of the video file: ``change`` (thumbnail change, L* units; None for the
    first frame) and ``unexplained`` (share of pixels the flow does not explain; None where
    no flow was computed), tracked at working size ``size``."""
    stabilizer = ChromaStabilizer(TemporalSettings(method="keyframes"))
    with VideoFileSource(path) as source:
        tracks = [stabilizer.track(small_lightness(frame.luma, size))
                  for frame in source.luma_frames()]
    return [{"change": t.change, "unexplained": t.unexplained} for t in tracks]


def is_cut(frame: dict, rule: tuple[float, float, float | None]) -> bool:
    """Whether ``rule`` (see ``RULES``) calls the frame a cut."""
    change, unexplained = frame["change"], frame["unexplained"]
    if change is None or unexplained is None:
        return False
    thumb, share, alone = rule
    return (change > thumb and unexplained > share) or (alone is not None
                                                         and unexplained > alone)


def score_rules(clips: list[dict]) -> dict[str, dict[str, int]]:
    """Per rule: true cuts found, true cuts missed and false cuts over ``clips`` (each
    ``{"cuts": [...], "frames": [...]}``)."""
    table = {}
    for name, rule in RULES.items():
        found = missed = false = 0
        for clip in clips:
            calls = {i for i, f in enumerate(clip["frames"]) if is_cut(f, rule)}
            truth = set(clip["cuts"])
            found += len(calls & truth)
            missed += len(truth - calls)
            false += len(calls - truth)
        table[name] = {"found": found, "missed": missed, "false": false}
    return table


def clip_argument(text: str) -> tuple[Path, list[int]]:
    """``FILE:CUTS`` -> (file, cut frame indices); CUTS may be empty (``FILE:``)."""
    path, _, cuts = text.rpartition(":")
    if not path:
        raise argparse.ArgumentTypeError(f"expected FILE:CUTS, got {text!r}")
    try:
        return Path(path), [int(c) for c in cuts.split(",") if c]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cuts must be frame numbers, got {cuts!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, action="append", default=[],
                        help="folder of photos; consecutive pairs become clips (repeatable)")
    parser.add_argument("--pairs", type=int, default=50, help="at most this many pairs a folder")
    parser.add_argument("--clip", type=clip_argument, action="append", default=[],
                        help="FILE:CUTS, a video with its true cuts (repeatable)")
    parser.add_argument("--size", type=int, default=256, help="working size (default 256)")
    parser.add_argument("--frame-size", default="320x240", help="generated clips' WxH")
    parser.add_argument("--out", type=Path, help="write the frames and the table as JSON")
    parser.add_argument("--rescore", type=Path, action="append", default=[],
                        help="also count the clips of an earlier --out file (repeatable)")
    args = parser.parse_args(argv)
    try:
        clips = collect_clips(args)
        for path in args.rescore:
            clips += json.loads(path.read_text())["clips"]
        if not clips:
            raise InputError("no clips to score: give --photos, --clip or --rescore "
                             "(a folder with fewer than two photos makes no clip)")
    except (InputError, OSError, ValueError, KeyError) as exc:
        print(f"cut_scores: {exc}", file=sys.stderr)
        return 1
    report(clips, args.out)
    return 0


def collect_clips(args: argparse.Namespace) -> list[dict]:
    """Every clip's ``{"name", "cuts", "frames"}`` (see :func:`frame_scores`)."""
    width, height = (int(v) for v in args.frame_size.split("x"))
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in args.photos:
            if not folder.is_dir():
                raise InputError(f"{folder}: not a folder")
            photos = folder_photos(folder, limit=2 * args.pairs)
            for i in range(0, len(photos) - 1, 2):
                spec = make_clip(Path(tmp) / f"clip{i}.mp4", photos[i:i + 2], width, height,
                                 frames_per_shot=24, fps=24, audio=False)
                clips.append({"name": f"{folder.name}-{i // 2}", "cuts": spec.cuts,
                              "frames": frame_scores(spec.path, args.size)})
    for path, cuts in args.clip:
        if not path.is_file():
            raise InputError(f"{path}: not a file")
        clips.append({"name": path.stem, "cuts": cuts, "frames": frame_scores(path, args.size)})
    return clips


def report(clips: list[dict], out: Path | None) -> None:
    """Prints the measurements' ranges and the rules' table; writes both to ``out``."""
    table = score_rules(clips)
    truth = [c["frames"][i] for c in clips for i in c["cuts"]]
    rest = [f for c in clips for i, f in enumerate(c["frames"])
            if i not in c["cuts"] and f["unexplained"] is not None]
    print(f"{len(clips)} clips, {len(truth)} true cuts, {len(rest)} other frames")
    if truth:
        print("true cuts: change min {:.1f}, unexplained min {:.2f}".format(
            min(f["change"] for f in truth), min(f["unexplained"] for f in truth)))
    if rest:
        print("other frames: change max {:.1f}, unexplained max {:.2f}, 99th pct {:.2f}".format(
            max(f["change"] for f in rest), max(f["unexplained"] for f in rest),
            float(np.percentile([f["unexplained"] for f in rest], 99))))
    for name, row in table.items():
        print(f"{name:42s} found {row['found']:4d}  missed {row['missed']:3d}  "
              f"false {row['false']:3d}")
    if out:
        out.write_text(json.dumps({"clips": clips, "rules": table}, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())

"""What a missed scene cut costs the film: the clips of ``cut_scores.py`` on which the old cut
rule (a thumbnail change above 12 L* and half the pixels unexplained) missed the cut, filmed by
``tinct video``'s default path (key frames, YUV, flip averaging) under the old and the current
rule, scored against the colour clip (PSNR over every frame, and over the new shot's first
``--after`` frames, with the colourfulness of output and truth there).

    python scripts/study/cut_film_effect.py cuts.json PHOTOS --model tinct-base

``cuts.json`` is a ``cut_scores.py --out`` file made from ``--photos PHOTOS`` (the clips are
rebuilt from the same consecutive pairs of photos).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cut_scores import is_cut  # noqa: E402

from tinct.fileio import atomic_write_text  # noqa: E402
from tinct.inference.pipeline import Colorizer  # noqa: E402
from tinct.video.evaluate import evaluate_video  # noqa: E402
from tinct.video.temporal import (  # noqa: E402
    CUT_THRESHOLD,
    CUT_UNEXPLAINED_SHARE,
    TemporalSettings,
)
from tinct.video.testclips import folder_photos, make_clip  # noqa: E402

OLD_RULE = (12.0, 0.5)  # (cut threshold, unexplained share) before session 48


def missed_by_old_rule(clips: list[dict]) -> list[dict]:
    """The clips whose true cut the old rule does not call a cut."""
    rule = (*OLD_RULE, None)  # cut_scores.RULES' form: no flow-only test
    return [c for c in clips for i in c["cuts"] if not is_cut(c["frames"][i], rule)]


def clip_index(clip: dict) -> int:
    """``k`` of a clip named ``NAME-k``: it was made from the photos ``2k`` and ``2k + 1``."""
    return int(clip["name"].rsplit("-", 1)[1])


def film_scores(colorizer: Colorizer, path: Path, rule: tuple[float, float]):
    """``tinct video``'s default path on the clip under ``rule``: its :class:`VideoScores`."""
    thumb, share = rule
    settings = TemporalSettings(method="keyframes", cut_threshold=thumb, cut_share=share)
    return evaluate_video(colorizer, path, {"film": settings}, progress=False,
                          pipelines={"film": "yuv"})["film"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cuts", type=Path, help="cut_scores.py --out file")
    parser.add_argument("photos", type=Path, help="the folder its clips were made from")
    parser.add_argument("--model", default="tinct-base")
    parser.add_argument("--after", type=int, default=8,
                        help="frames of the new shot scored on their own (default 8)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        clips = missed_by_old_rule(json.loads(args.cuts.read_text())["clips"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cut_film_effect: {args.cuts}: not a cut_scores.py --out file "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    if not clips:
        print(f"cut_film_effect: the old rule missed no cut in {args.cuts}; nothing to film")
        return 0
    photos = folder_photos(args.photos, limit=2 * (1 + max(map(clip_index, clips))))
    colorizer = Colorizer.from_pretrained(args.model, precision="fp32")
    colorizer.flip = True  # tinct video's default
    current = (CUT_THRESHOLD, CUT_UNEXPLAINED_SHARE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            k = clip_index(clip)
            spec = make_clip(Path(tmp) / f"{k}.mp4", photos[2 * k:2 * k + 2], 320, 240,
                             frames_per_shot=24, fps=24, audio=False)
            old, new = (film_scores(colorizer, spec.path, rule) for rule in (OLD_RULE, current))
            cut = spec.cuts[0]
            row = {"clip": clip["name"], "cuts_old": old.cuts, "cuts_new": new.cuts,
                   "psnr_old": old.psnr, "psnr_new": new.psnr}
            for name, scores in (("old", old), ("new", new)):
                shot = scores.per_frame[cut:cut + args.after]
                row[f"psnr_after_cut_{name}"] = float(np.mean([f["psnr"] for f in shot]))
                row[f"cf_after_cut_{name}"] = float(np.mean([f["cf_pred"] for f in shot]))
            row["cf_after_cut_truth"] = float(np.mean([f["cf_gt"] for f in shot]))  # same frames
            rows.append(row)
            print(f"{clip['name']:10s} cuts {old.cuts} -> {new.cuts}  "
                  f"PSNR {old.psnr:.2f} -> {new.psnr:.2f} dB; after the cut "
                  f"{row['psnr_after_cut_old']:.2f} -> {row['psnr_after_cut_new']:.2f} dB, "
                  f"colourfulness {row['cf_after_cut_old']:.1f} -> "
                  f"{row['cf_after_cut_new']:.1f} (truth {row['cf_after_cut_truth']:.1f})")
    for key, unit in (("psnr", " dB"), ("psnr_after_cut", " dB"), ("cf_after_cut", "")):
        print(f"{len(rows)} clips, mean {key}: {np.mean([r[key + '_old'] for r in rows]):.2f} "
              f"-> {np.mean([r[key + '_new'] for r in rows]):.2f}{unit}")
    if args.out:
        atomic_write_text(args.out, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

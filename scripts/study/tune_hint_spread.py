"""Chooses how far a colour hint spreads over its region (``REGION_REACH`` and
``REGION_LIGHTNESS`` of :mod:`tinct.inference.hints`) on validation photos.

For every colour photo of FOLDER, each hint count gets true-colour hints at seeded random
pixels (as ``scripts/hint_curve.py`` places them); the network runs once per count and each
spread setting only re-does the correction and the rendering. A model without hint inputs
is measured with the correction alone. Prints and writes (``--out``)
the mean PSNR and AuC per setting and count.

    python scripts/study/tune_hint_spread.py ~/tinct-val/v3 -m path/to/hint-model \\
        --out spread.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinct.evaluation.evaluate import DEFAULT_METRIC_SIZE, PSNR_CAP_DB, metric_copy
from tinct.evaluation.hint_curve import photo_seed, true_color_hints
from tinct.evaluation.metrics import compute_image_metrics
from tinct.imageio import ImageReadError, list_images, read_image
from tinct.inference.hints import honour_hints
from tinct.inference.pipeline import Colorizer, _resize, lightness_of, working_shape


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="validation photos (colour)")
    parser.add_argument("-m", "--model", required=True, help="a model that takes hints")
    parser.add_argument("--counts", default="0,2,10", help="hint counts (default 0,2,10)")
    parser.add_argument("--reach", default="0,0.05,0.15,0.4",
                        help="shares of the longer side (0: no region spread)")
    parser.add_argument("--lightness", default="4,8", help="L* widths of the spread")
    parser.add_argument("--limit", type=int, help="use the first N photos")
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args(argv)

    colorizer = Colorizer.from_pretrained(args.model)
    counts = [int(c) for c in args.counts.split(",")]
    settings = [(0.0, 0.0)] + [(float(r), float(s)) for r, s in itertools.product(
        args.reach.split(","), args.lightness.split(",")) if float(r) > 0]
    sums = {(setting, n): np.zeros(2) for setting in settings for n in counts}
    root = Path(args.folder)
    used = 0
    for path in tqdm(sorted(list_images(root))[:args.limit], unit="photo"):
        try:
            image = read_image(path)
        except ImageReadError:
            continue
        if not image.was_color:
            continue
        used += 1
        truth = metric_copy(image.to_float(), DEFAULT_METRIC_SIZE)
        L = lightness_of(image.pixels)
        shape = tuple(L.shape[-2:])
        work = working_shape(*shape, colorizer.working_size)
        guide = _resize(L, work)[0]
        name = path.relative_to(root).as_posix()
        every = true_color_hints(image.pixels, max(counts), photo_seed(name, 0))
        for n in counts:
            hints = every[:n]
            # a model without hint inputs: the correction alone
            given = [hints or None] if colorizer.accepts_hints else None
            out = colorizer.network_output(L[None], hints=given)
            chroma = colorizer.decode_output(out, work)[0]
            for setting in settings if n else settings[:1]:
                reach, width = setting
                fixed = honour_hints(chroma, hints, shape, colorizer.space, guide=guide,
                                     reach_share=reach, region_lightness=width or 1.0)
                rgb = colorizer.render(L, fixed, np.float32)
                pred = metric_copy(rgb, DEFAULT_METRIC_SIZE)
                values = compute_image_metrics(pred[None], truth[None])
                psnr = float(values["psnr"].clamp(max=PSNR_CAP_DB)[0])
                for target in settings if not n else [setting]:
                    sums[(target, n)] += (psnr, float(values["auc"][0]))
    rows = [{"reach": r, "lightness": s, "count": n, "psnr": round(v[0] / used, 3),
             "auc": round(v[1] / used, 5)} for ((r, s), n), v in sums.items()]
    for row in rows:
        print(f"reach {row['reach']:<5} lightness {row['lightness']:<4} hints {row['count']:>3}:"
              f" PSNR {row['psnr']:.3f}  AuC {row['auc']:.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"photos": used, "model": args.model,
                                              "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

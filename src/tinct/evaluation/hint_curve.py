"""Quality against the number of colour hints (Zhang et al. 2017's evaluation of user-guided
colorization): each photo is colorized with 0, 1, 2, 5, 10, ... hints of its own true colour
at random pixels, and PSNR and the AuC of ab errors are averaged per count.

The hint places of a photo depend only on its file name and the seed, and the hints of a
smaller count are the first ones of a larger count, so every model sees the same hints and a
curve is monotone in what it is given. Metrics are computed as :func:`tinct.evaluation
.evaluate.evaluate_many` computes them (both pictures at ``metric_size``, PSNR capped).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct.evaluation.evaluate import DEFAULT_METRIC_SIZE, PSNR_CAP_DB, metric_copy
from tinct.evaluation.metrics import compute_image_metrics
from tinct.imageio import ImageReadError, list_images, read_image
from tinct.inference.hints import Hint, to_hex

DEFAULT_COUNTS = (0, 1, 2, 5, 10, 20, 50)


def true_color_hints(pixels: np.ndarray, count: int, seed: int) -> list[Hint]:
    """``count`` hints at random pixels of a colour photo ``pixels`` ``(H, W, 3)`` (uint8 or
    uint16 sRGB), each the photo's own colour there. The places come from ``seed`` alone, and
    the first ``n`` hints of a larger ``count`` are the hints of ``count = n``."""
    height, width = pixels.shape[:2]
    rng = np.random.default_rng(seed)
    places = rng.integers(0, [height, width], size=(count, 2))
    scale = 255.0 if pixels.dtype == np.uint8 else 65535.0
    return [Hint(float(col), float(row), to_hex(pixels[row, col] / scale))
            for row, col in places.tolist()]


def photo_seed(name: str, seed: int) -> int:
    """The hint seed of the photo called ``name`` (its path below the data folder)."""
    return zlib.crc32(name.encode("utf-8")) ^ seed


@dataclass
class HintCurve:
    """Mean PSNR (dB) and AuC (in [0, 1]) of one model on one folder, per hint count."""

    model: str
    data: str
    photos: int
    counts: list[int]
    psnr: list[float]
    auc: list[float]
    seed: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def hint_curve(colorizer, data_dir: str | os.PathLike, counts: Sequence[int] = DEFAULT_COUNTS,
               *, seed: int = 0, limit: int | None = None,
               metric_size: int | None = DEFAULT_METRIC_SIZE, progress: bool = True
               ) -> HintCurve:
    """Colorizes every colour photo of ``data_dir`` (the first ``limit``, sorted) once per hint
    count with :func:`true_color_hints` and averages PSNR and AuC per count. ``colorizer``:
    any :class:`~tinct.inference.pipeline.Colorizer` (every model honours hints). Photos that
    look gray or cannot be read are skipped and listed by their place under the set's
    folder (``everyday/x.jpg``), not by this machine's path."""
    root = Path(data_dir)
    paths = sorted(list_images(root))[:limit]
    counts = sorted(set(int(c) for c in counts))
    sums = np.zeros((len(counts), 2))
    used, skipped = 0, []
    for path in tqdm(paths, desc=f"hints {root.name}", unit="photo", disable=not progress):
        name = path.relative_to(root).as_posix()
        label = f"{root.name}/{name}"  # no machine paths in a shared result
        try:
            image = read_image(path)
        except ImageReadError as exc:
            skipped.append(str(exc).replace(str(path), label))
            continue
        if not image.was_color:
            skipped.append(f"{label}: looks gray")
            continue
        truth = metric_copy(image.to_float(), metric_size)
        every = true_color_hints(image.pixels, max(counts), photo_seed(name, seed))
        outputs = _colorize_per_count(colorizer, image, [every[:n] for n in counts])
        preds = torch.stack([metric_copy(out, metric_size) for out in outputs])
        values = compute_image_metrics(preds, truth.expand_as(preds))
        psnr = values["psnr"].clamp(max=PSNR_CAP_DB).numpy()
        sums += np.stack([psnr, values["auc"].numpy()], 1)
        used += 1
    means = sums / max(used, 1)
    return HintCurve(getattr(colorizer, "name", "model"), root.name, used, counts,
                     [round(float(v), 4) for v in means[:, 0]],
                     [round(float(v), 5) for v in means[:, 1]], seed, skipped)


def _colorize_per_count(colorizer, image, hint_sets: list[list[Hint]]) -> list[np.ndarray]:
    """``image`` colorized once per hint set, float32 ``(H, W, 3)`` each. A network without
    hint inputs gives the same output whatever the hints, so it runs once and only the
    correction after decoding is repeated (what ``colorize_batch`` would make of each)."""
    if colorizer.accepts_hints:
        return colorizer.colorize_batch([image] * len(hint_sets), dtype=np.float32,
                                        hints=hint_sets)
    L = colorizer.lightness(image)
    output = colorizer.network_output(L[None])
    return [colorizer.render_output(L, output, hints=hints or None, dtype=np.float32)
            for hints in hint_sets]


def curve_chart(curves: Sequence[HintCurve], metric: str = "psnr") -> str | None:
    """An SVG chart of ``metric`` ("psnr" or "auc") against the hint count, one line per
    curve (labelled by model and data); None without matplotlib."""
    from tinct.evaluation.report import charts

    series = {f"{c.model} · {c.data}": (c.counts, getattr(c, metric)) for c in curves}
    ylabel = "PSNR (dB)" if metric == "psnr" else "AuC of ab error"
    return charts.count_curves(series, charts.palette(list(series)),
                               f"{ylabel} against true-colour hints", "hints per photo", ylabel)

"""The machine-readable outputs of a report (``metrics.json``, ``per_image.csv``), written
atomically: a temporary file in the destination folder renamed into place."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from tinct.evaluation.evaluate import METRICS, PER_IMAGE_KEYS, PSNR_CAP_DB, EvalResult, run_info
from tinct.fileio import atomic_write_text

__all__ = ["atomic_write_text", "metrics_document", "per_image_csv"]


def _clean(value: Any) -> Any:
    """NaN and infinities -> None, recursively (strict JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def metrics_document(results: Sequence[EvalResult], kind: str,
                     extra: dict[str, Any] | None = None) -> str:
    """``metrics.json``: the run's settings and counts, then one summary per model."""
    first = results[0]
    wall = first.wall_seconds
    doc = {
        "kind": kind,
        **run_info(),
        "data_dir": first.data_dir,
        "n_images": first.n_images,
        "n_gray_skipped": len(first.gray_skipped),
        "n_failed": len(first.failed),
        "failed": [{"image": name, "error": error} for name, error in first.failed],
        "metric_size": first.metric_size,
        "psnr_cap_db": PSNR_CAP_DB,
        "rank_by": first.rank_by,
        "features_note": first.features_note,
        "eval_wall_seconds": wall,
        "eval_images_per_second": first.n_images / wall if wall > 0 else None,
        **(extra or {}),
        "models": [r.to_dict() for r in results],
        "metric_definitions": {k: m.description for k, m in METRICS.items()},
    }
    return json.dumps(_clean(doc), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("model", "image", "width", "height", *PER_IMAGE_KEYS, "same_class", "seconds")
"""``same_class``: 1 where the photo's ImageNet class survived the colorization, 0 where it
did not, empty without the feature network (the mean of the column is semantic agreement)."""


def per_image_csv(results: Sequence[EvalResult]) -> str:
    """``per_image.csv``: one row per (model, photo), columns :data:`CSV_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        for record in result.records:
            row = {"model": result.name, **record}
            writer.writerow([_csv_value(row.get(col)) for col in CSV_COLUMNS])
    return buf.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(round(value, 6))
    return "" if value is None else value

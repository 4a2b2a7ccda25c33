"""Reports of evaluations: one self-contained HTML page plus ``metrics.json`` and
``per_image.csv`` in a report folder.

``write_report(results, folder)`` serves ``tinct eval``; with ``kind="compare"`` and the loss
curves of the models' training runs it serves ``tinct compare``. The page has no external
references: CSS and script inline, photos as ``data:`` URIs, charts as inline SVG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from tinct.errors import InputError
from tinct.evaluation.evaluate import EvalResult
from tinct.evaluation.report.files import atomic_write_text, metrics_document, per_image_csv
from tinct.evaluation.report.pages import render_page
from tinct.evaluation.report.training import LossCurve, read_loss_curve

__all__ = ["HTML_FILE", "JSON_FILE", "CSV_FILE", "LossCurve", "read_loss_curve",
           "training_curves", "write_report"]

HTML_FILE = "report.html"
JSON_FILE = "metrics.json"
CSV_FILE = "per_image.csv"


def training_curves(results: Sequence[EvalResult]) -> dict[str, LossCurve]:
    """Model name -> loss curve, for the results whose ``info["run_dir"]`` has a metrics.csv."""
    curves = {}
    for result in results:
        curve = read_loss_curve(result.info.get("run_dir"))
        if curve is not None:
            curves[result.name] = curve
    return curves


def write_report(results: Sequence[EvalResult], folder: str | os.PathLike, *,
                 kind: str = "eval", curves: Mapping[str, LossCurve] | None = None,
                 command: str | None = None, html: bool = True) -> dict[str, Path]:
    """Writes ``report.html``, ``metrics.json`` and ``per_image.csv`` into ``folder``.

    ``kind``: ``"eval"`` or ``"compare"``; for ``"compare"`` the loss curves default to
    :func:`training_curves` of the results. Each file is written atomically. Returns
    ``{"html": path, "json": path, "csv": path}``. ``html=False`` writes the two data files
    only (no page and no charts: the cheaper choice for decode sweeps); ``"html"`` is then absent.
    """
    if kind not in ("eval", "compare"):
        raise InputError(f"kind must be 'eval' or 'compare', got {kind!r}")
    if not results:
        raise InputError("no results to report")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: exists and is not a folder")
    if curves is None:
        curves = training_curves(results) if kind == "compare" else {}
    extra = {"training": {name: {"points": len(c)} for name, c in curves.items()}}
    paths = {
        "json": atomic_write_text(folder / JSON_FILE, metrics_document(results, kind, extra)),
        "csv": atomic_write_text(folder / CSV_FILE, per_image_csv(results)),
    }
    if html:
        paths["html"] = atomic_write_text(folder / HTML_FILE,
                                          render_page(results, kind, curves, command))
    return paths

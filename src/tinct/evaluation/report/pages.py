"""The report page of ``tinct eval`` and ``tinct compare``, assembled from evaluation results.

Both pages share every section; ``compare`` adds the models table, a bar chart per metric and
the training loss curves, and shows galleries for every model instead of the first one.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence

from tinct.evaluation.evaluate import (
    METRICS,
    PSNR_CAP_DB,
    SUMMARY_KEYS,
    EvalResult,
    GalleryItem,
    run_info,
)
from tinct.evaluation.report import charts
from tinct.evaluation.report.html import Cell, esc, figure, page, section, table
from tinct.evaluation.report.training import LossCurve

__all__ = ["render_page", "primary"]

GRAY = "gray"
HISTOGRAM_KEYS = ("psnr", "ssim", "ab_rmse", "auc", "acc_10")
BAR_KEYS = ("psnr", "ssim", "ab_rmse", "auc", "acc_10", "dcf", "fd_effnet_lite2",
            "semantic_agreement", "seconds")
CARD_KEYS = ("psnr", "ssim", "auc", "dcf", "fd_effnet_lite2", "semantic_agreement")
MAX_TABLE_ROWS = 5000


def primary(results: Sequence[EvalResult]) -> EvalResult:
    """The model a page is about: the first that is not the gray baseline."""
    return next((r for r in results if r.name != GRAY), results[0])


# --------------------------------------------------------------------------- formatting


def _params(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{int(minutes // 60)} h {int(minutes % 60):02d} min"


def _value(result: EvalResult, key: str) -> float | None:
    v = result.summary.get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _best(results: Sequence[EvalResult], key: str) -> float | None:
    better = METRICS[key].better
    values = [v for r in results if (v := _value(r, key)) is not None]
    if not better or not values:
        return None
    return max(values) if better == "higher" else min(values)


def _swatch(label: str, colors: Mapping[str, str]) -> str:
    color = colors.get(label, charts.GRAY_COLOR)
    return f'<span class="swatch" style="background:{color}"></span>{esc(label)}'


def _arrow(key: str) -> str:
    return {"higher": " ↑", "lower": " ↓"}.get(METRICS[key].better or "", "")


# --------------------------------------------------------------------------- sections


def _header(results: Sequence[EvalResult], kind: str, command: str | None) -> str:
    first = results[0]
    main = primary(results)
    if kind == "compare":
        title = f"Comparison of {len(results)} colorizers"
    else:
        title = f"Evaluation of {main.name}"
    wall = first.wall_seconds
    speed = f"{first.n_images / wall:.2f} photos/s" if wall > 0 else "–"
    facts = [
        f"data <b>{esc(first.data_dir)}</b>",
        f"<b>{first.n_images}</b> colour photos",
        f"<b>{len(first.gray_skipped)}</b> gray-looking skipped",
        f"<b>{len(first.failed)}</b> unreadable",
        f"metrics at {'≤ ' + str(first.metric_size) + ' px' if first.metric_size else 'full'}"
        " resolution",
        f"evaluation took {_duration(wall)} ({speed})",
    ]
    created = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = f'<p class="meta">command: <code>{esc(command)}</code></p>' if command else ""
    return (f"<h1>{esc(title)}</h1><p class=\"meta\">{' · '.join(facts)}</p>"
            f'<p class="meta">created {esc(created)} with tinct {esc(run_info()["tinct_version"])}'
            f"</p>{cmd}")


def _cards(results: Sequence[EvalResult]) -> str:
    main = primary(results)
    gray = next((r for r in results if r.name == GRAY and r is not main), None)
    cards = []
    for key in CARD_KEYS:
        m = METRICS[key]
        v = _value(main, key)
        if v is None:
            continue
        base = f"gray: {m.format(_value(gray, key))}" if gray is not None else m.description
        unit = f" {m.unit}" if m.unit and m.unit not in ("Lab", "Lab²") else ""
        cards.append(f'<div class="card"><div class="k">{esc(m.label)}{_arrow(key)}</div>'
                     f'<div class="v">{m.format(v)}{esc(unit)}</div>'
                     f'<div class="b">{esc(base)}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _summary_table(results: Sequence[EvalResult], colors: Mapping[str, str]) -> str:
    headers: list[Cell | str] = ["metric", *[Cell(_swatch(r.name, colors)) for r in results],
                                 "what it measures"]
    rows = [["working size", *[f"{r.working_size} px" if r.working_size else "–"
                               for r in results], "longer side the network runs at"],
            ["parameters", *[_params(r.info.get("parameters")) for r in results],
             "trainable and fixed weights of the network"]]
    for key in SUMMARY_KEYS:
        if all(_value(r, key) is None for r in results):
            continue
        m = METRICS[key]
        best = _best(results, key) if len(results) > 1 else None
        cells: list[Cell | str] = [Cell(f"{esc(m.label)}{_arrow(key)}")]
        for r in results:
            v = _value(r, key)
            std = r.stats.get(key, {}).get("std")
            title = f' title="std {m.format(std)}"' if std is not None else ""
            cls = "best" if best is not None and v == best else ""
            cells.append(Cell(f"<span{title}>{m.format(v)}</span>", v, cls))
        cells.append(Cell(esc(m.description), cls="desc"))
        rows.append(cells)
    return table(headers, rows, numeric=range(1, len(results) + 1))


def _models_table(results: Sequence[EvalResult], colors: Mapping[str, str],
                  curves: Mapping[str, LossCurve]) -> str:
    headers = ["model", "architecture", "parameters", "working size", "training time",
               "loss curve", "s / image"]
    rows = []
    for r in results:
        wall = r.info.get("training_wall_time_s")
        rows.append([
            Cell(_swatch(r.name, colors)),
            r.info.get("architecture", "–"),
            Cell(_params(r.info.get("parameters")), r.info.get("parameters", -1), "num"),
            Cell(f"{r.working_size} px" if r.working_size else "–", cls="num"),
            Cell(_duration(wall), wall if wall is not None else -1, "num"),
            "yes" if r.name in curves else ("–" if r.name == GRAY else "run folder unknown"),
            Cell(METRICS["seconds"].format(_value(r, "seconds")), cls="num"),
        ])
    return table(headers, rows)


def _bar_charts(results: Sequence[EvalResult], colors: Mapping[str, str]) -> str:
    svgs = []
    for key in BAR_KEYS:
        if all(_value(r, key) is None for r in results):
            continue
        m = METRICS[key]
        svg = charts.bar_chart({r.name: _value(r, key) for r in results}, colors, m.label,
                               m.fmt, m.better)
        if svg:
            svgs.append(f"<div>{svg}</div>")
    return f'<div class="charts">{"".join(svgs)}</div>' if svgs else _no_charts()


def _histograms(results: Sequence[EvalResult], colors: Mapping[str, str]) -> str:
    svgs = []
    for key in HISTOGRAM_KEYS:
        m = METRICS[key]
        values = {r.name: [rec[key] for rec in r.records] for r in results}
        unit = f" ({m.unit})" if m.unit else ""
        svgs.append(charts.histogram(values, colors, m.label, m.label + unit))
    truth = [rec["cf_gt"] for rec in results[0].records]
    cf = {r.name: [rec["cf_pred"] for rec in r.records] for r in results}
    svgs.append(charts.histogram(cf, colors, "Colorfulness", "CF (Hasler & Süsstrunk)",
                                 reference=("ground truth", truth)))
    if not any(svgs):
        return _no_charts()
    return '<div class="charts">' + "".join(f"<div>{s}</div>" for s in svgs if s) + "</div>"


def _no_charts() -> str:
    return ('<p class="note warn">Charts need matplotlib, which is not installed '
            "(pip install matplotlib, or tinct[eval]).</p>")


def _triptych(item: GalleryItem, rank_by: str, model: str) -> str:
    m = METRICS[rank_by]
    caption = f"{esc(item.image)} — {esc(m.label)} <b>{m.format(item.value)}</b>"
    images = [("ground truth", item.truth), ("gray", item.gray)]
    if model != GRAY:  # the gray baseline's prediction is the gray image itself
        images.append((model, item.pred))
    return figure(images, caption)


def _galleries(result: EvalResult) -> str:
    m = METRICS[result.rank_by]
    parts = []
    for title, items in (("Best", result.best), ("Worst", result.worst)):
        if not items:
            continue
        figs = "".join(_triptych(it, result.rank_by, result.name) for it in items)
        parts.append(f"<h3>{title} {len(items)} by {esc(m.label)}</h3>"
                     f'<div class="gallery tri">{figs}</div>')
    return "".join(parts)


def _samples(results: Sequence[EvalResult]) -> str:
    """The same evenly spaced photos through every model: truth | gray | model 1 | ..."""
    models = [r for r in results if r.name != GRAY] or list(results)
    base = models[0]
    by_image = [{it.image: it for it in r.samples} for r in models]
    figs = []
    for item in base.samples:
        images = [("ground truth", item.truth), ("gray", item.gray)]
        images += [(r.name, lookup[item.image].pred)
                   for r, lookup in zip(models, by_image, strict=True)
                   if item.image in lookup and r.name != GRAY]
        figs.append(figure(images, esc(item.image)))
    return f'<div class="gallery">{"".join(figs)}</div>'


def _per_image_table(result: EvalResult) -> str:
    keys = ("psnr", "ssim", "ab_rmse", "auc", "acc_10", "cf_pred", "cf_gt", "seconds")
    headers = ["image", "size", *[f"{METRICS[k].label}{_arrow(k)}" for k in keys]]
    rows = []
    for rec in result.records[:MAX_TABLE_ROWS]:
        rows.append([Cell(esc(rec["image"]), rec["image"]),
                     Cell(f"{rec['width']}×{rec['height']}", rec["width"] * rec["height"])]
                    + [Cell(METRICS[k].format(rec[k]), rec[k]) for k in keys])
    return table(headers, rows, sortable=True, tall=True,
                 numeric=range(1, len(headers))) + _truncated(result)


def _per_image_compare(results: Sequence[EvalResult], colors: Mapping[str, str]) -> str:
    key = results[0].rank_by
    m = METRICS[key]
    headers: list[Cell | str] = ["image", *[Cell(_swatch(r.name, colors)) for r in results]]
    lookups = [{rec["image"]: rec[key] for rec in r.records} for r in results]
    better = max if m.better == "higher" else min
    rows = []
    for rec in results[0].records[:MAX_TABLE_ROWS]:
        values = [lookup.get(rec["image"]) for lookup in lookups]
        top = better(v for v in values if v is not None)
        rows.append([Cell(esc(rec["image"]), rec["image"])]
                    + [Cell(m.format(v), v, "best" if v == top else "") for v in values])
    intro = f"<p>{esc(m.label)} of every photo; the best model per photo in bold.</p>"
    return intro + table(headers, rows, sortable=True, tall=True,
                         numeric=range(1, len(headers))) + _truncated(results[0])


def _truncated(result: EvalResult) -> str:
    if len(result.records) <= MAX_TABLE_ROWS:
        return '<p class="muted">Click a column to sort. All values are in per_image.csv.</p>'
    return (f'<p class="muted">First {MAX_TABLE_ROWS} of {len(result.records)} photos shown; '
            "all are in per_image.csv.</p>")


def _files_lists(result: EvalResult) -> str:
    parts = []
    if result.failed:
        rows = [[name, error] for name, error in result.failed]
        parts.append(f"<details open><summary>{len(result.failed)} unreadable file(s)</summary>"
                     + table(["file", "problem"], rows) + "</details>")
    if result.gray_skipped:
        names = ", ".join(esc(n) for n in result.gray_skipped[:200])
        more = " …" if len(result.gray_skipped) > 200 else ""
        parts.append(f"<details><summary>{len(result.gray_skipped)} gray-looking photo(s) "
                     f'skipped</summary><p class="muted">{names}{more}</p></details>')
    return "".join(parts)


def _notes(result: EvalResult) -> str:
    size = (f"on copies whose longer side is at most {result.metric_size} px (prediction and "
            "ground truth resized alike, bilinear with antialiasing)"
            if result.metric_size else "at full resolution")
    notes = [
        "Each colour photo is reduced to its CIE lightness, colorized at full resolution (the "
        f"original lightness is kept; only chroma is predicted) and compared with the original "
        f"{size}.",
        f"PSNR is capped at {PSNR_CAP_DB:g} dB so that a perfect photo (infinite PSNR) keeps the "
        "mean finite.",
        "FD (EffNet-Lite2) is a Fréchet distance between pooled EfficientNet-Lite2 ImageNet "
        "features of the predictions and of the ground truths. It is <b>not</b> the Inception "
        "FID reported in papers, and it is only meaningful over many photos (thousands): with "
        "few photos its value is dominated by estimation noise.",
        "Semantic agreement: the share of photos whose prediction gets the same top-1 ImageNet "
        "class from EfficientNet-Lite2 (260 px centre crop) as the ground truth.",
        "s / image is the model's colorization wall time per photo (reading and metrics "
        "excluded).",
    ]
    out = "".join(f'<p class="note">{n}</p>' for n in notes)
    if result.features_note:
        out = f'<p class="note warn">{esc(result.features_note)}.</p>' + out
    defs = "".join(f"<dt>{esc(m.label)}</dt><dd>{esc(m.description)}</dd>"
                   for m in METRICS.values())
    return out + f'<h3>Definitions</h3><dl class="defs">{defs}</dl>'


# --------------------------------------------------------------------------- the page


def render_page(results: Sequence[EvalResult], kind: str = "eval",
                curves: Mapping[str, LossCurve] | None = None,
                command: str | None = None) -> str:
    """The complete HTML document for ``results`` (``kind`` is ``"eval"`` or ``"compare"``)."""
    if not results:
        raise ValueError("no results to report")
    curves = dict(curves or {})
    colors = charts.palette([r.name for r in results], GRAY)
    main = primary(results)
    rank = METRICS[main.rank_by].label
    sections = []
    summary = _cards(results) if kind == "eval" else ""
    sections.append(section("Summary", summary + _summary_table(results, colors), "summary"))
    if kind == "compare":
        sections.append(section("Models", _models_table(results, colors, curves), "models"))
        sections.append(section("Metrics side by side", _bar_charts(results, colors), "bars"))
        if curves:
            svg = charts.loss_curves(curves, colors) or _no_charts()
            body = (f'<div class="charts wide">{svg}</div><p class="muted">Solid: training '
                    "loss; dashed with dots: validation loss (from each run folder's "
                    "metrics.csv). Losses of different model families are not on one scale.</p>")
        else:
            body = ('<p class="muted">No run folder is known for these models (a saved '
                    "model's config.json names it in training.run_dir), so there are no loss "
                    "curves.</p>")
        sections.append(section("Training", body, "training"))
    sections.append(section("Distributions over photos", _histograms(results, colors),
                            "histograms"))
    if main.samples:
        sections.append(section("Sample photos", _samples(results), "samples"))
    if kind == "compare":
        shown = [r for r in results if r.name != GRAY] or list(results)
        body = "".join(
            f"<details{' open' if i == 0 else ''}><summary>{esc(r.name)}</summary>"
            f"{_galleries(r)}</details>" for i, r in enumerate(shown))
        sections.append(section(f"Best and worst photos by {rank}", body, "galleries"))
        sections.append(section("Per photo", _per_image_compare(results, colors), "per-image"))
    else:
        sections.append(section(f"Best and worst photos by {rank}", _galleries(main),
                                "galleries"))
        sections.append(section(f"Per photo: {main.name}", _per_image_table(main), "per-image"))
    files = _files_lists(main)
    if files:
        sections.append(section("Skipped files", files, "skipped"))
    sections.append(section("How to read this report", _notes(main), "notes"))
    title = f"tinct {kind}: {main.name}" if kind == "eval" else "tinct compare"
    footer = "Generated by tinct. Machine-readable results: metrics.json and per_image.csv."
    return page(title, _header(results, kind, command), sections, footer)

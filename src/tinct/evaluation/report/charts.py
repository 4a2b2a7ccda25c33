"""Charts for reports, as inline SVG strings drawn by matplotlib (no pyplot, no global backend).

Every function returns the markup of one ``<svg>`` element (no XML prolog, no metadata, text
kept as text so the page's font applies) or ``None`` when matplotlib is not installed
(:func:`available`). Colours come from :func:`palette` so a model has the same colour in
every chart of a page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from tinct.evaluation.report.training import LossCurve

__all__ = ["available", "bar_chart", "histogram", "loss_curves", "palette"]

GRAY_COLOR = "#9aa1a9"
MAX_OVERLAID = 6  # histograms overlaid in one chart; more become one box plot per label
_COLORS = ("#3366cc", "#e0592a", "#16a085", "#8e44ad", "#d4a017", "#c0392b", "#2c3e50",
           "#1abc9c")
_TEXT = "#333a44"
_GRID = "#e3e6ea"
_STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": "#b7bdc5",
    "axes.labelcolor": _TEXT,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlecolor": _TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": _GRID,
    "grid.linewidth": 0.8,
    "xtick.color": _TEXT,
    "ytick.color": _TEXT,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


def available() -> bool:
    """True when matplotlib (the ``eval`` extra) can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def palette(labels: Sequence[str], gray_label: str = "gray") -> dict[str, str]:
    """Label -> hex colour; the gray baseline is gray, the others cycle through a palette."""
    colors: dict[str, str] = {}
    others = iter(_COLORS * (1 + len(labels) // len(_COLORS)))
    for label in labels:
        colors[label] = GRAY_COLOR if label == gray_label else next(others)
    return colors


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # responsive: a new opening tag without the fixed size, keeping the viewBox
    opening = text[:text.index(">") + 1]
    view_box = re.search(r'viewBox="([^"]*)"', opening).group(1)
    return (f'<svg class="chart" viewBox="{view_box}" xmlns="http://www.w3.org/2000/svg" '
            f'xmlns:xlink="http://www.w3.org/1999/xlink">' + text[len(opening):])


def _styled(draw):
    """Runs ``draw`` under the report style (rcParams are read when artists are created)."""
    if not available():
        return None
    import matplotlib as mpl

    with mpl.rc_context(_STYLE):
        return _svg(draw())


def histogram(values: Mapping[str, Sequence[float]], colors: Mapping[str, str], title: str,
              xlabel: str, reference: tuple[str, Sequence[float]] | None = None,
              bins: int = 24) -> str | None:
    """Overlaid histograms of per-image values, one per label, on shared bins; with more than
    ``MAX_OVERLAID`` labels (a decode sweep), one horizontal box plot per label instead, since
    that many overlaid histograms cannot be told apart.

    ``reference``: an optional ``(label, values)`` drawn as a dark outline (e.g. the ground
    truth's colorfulness), or as the first, dark box.
    """
    if len(values) > MAX_OVERLAID:
        return _box_rows(values, colors, title, xlabel, reference)

    def draw():
        fig = _figure(4.0, 2.5)
        ax = fig.add_subplot()
        series = {k: np.asarray(v, dtype=float) for k, v in values.items()}
        if reference is not None:
            series_all = [*series.values(), np.asarray(reference[1], dtype=float)]
        else:
            series_all = list(series.values())
        pooled = np.concatenate([s[np.isfinite(s)] for s in series_all]) if series_all else []
        lo, hi = (float(np.min(pooled)), float(np.max(pooled))) if len(pooled) else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for label, v in series.items():
            v = v[np.isfinite(v)]
            ax.hist(v, bins=edges, color=colors.get(label, GRAY_COLOR), alpha=0.55,
                    label=label, edgecolor="white", linewidth=0.4)
        if reference is not None:
            ref = np.asarray(reference[1], dtype=float)
            ax.hist(ref[np.isfinite(ref)], bins=edges, histtype="step", color=_TEXT,
                    linewidth=1.2, label=reference[0])
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("photos")
        ax.grid(axis="x", visible=False)
        ax.set_axisbelow(True)
        if len(series) + (reference is not None) > 1:
            ax.legend(loc="best")
        return fig

    return _styled(draw)


def _box_rows(values: Mapping[str, Sequence[float]], colors: Mapping[str, str], title: str,
              xlabel: str, reference: tuple[str, Sequence[float]] | None) -> str | None:
    """One horizontal box plot (quartiles, 5-95% whiskers) per label, the reference first."""

    def draw():
        rows = ([(reference[0], reference[1], _TEXT)] if reference is not None else [])
        rows += [(label, v, colors.get(label, GRAY_COLOR)) for label, v in values.items()]
        data = [np.asarray(v, dtype=float) for _, v, _ in rows]
        data = [d[np.isfinite(d)] for d in data]
        fig = _figure(4.6, 0.6 + 0.24 * len(rows))
        ax = fig.add_subplot()
        y = np.arange(len(rows))[::-1]
        boxes = ax.boxplot(data, positions=y, orientation="horizontal", widths=0.6,
                           whis=(5, 95), showfliers=False, patch_artist=True,
                           medianprops={"color": _TEXT, "linewidth": 1.0})
        for patch, (_, _, color) in zip(boxes["boxes"], rows, strict=True):
            patch.set(facecolor=color, alpha=0.6, edgecolor="white")
        ax.set_yticks(y, [label for label, _, _ in rows])
        ax.tick_params(axis="y", length=0, labelsize=7)
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.set_axisbelow(True)
        return fig

    return _styled(draw)


def bar_chart(values: Mapping[str, float | None], colors: Mapping[str, str], title: str,
              fmt: str, better: str | None = None) -> str | None:
    """One horizontal bar per label with its value written at the end; the best is marked."""

    def draw():
        labels = list(values)
        nums = [v if v is not None and math.isfinite(v) else np.nan for v in values.values()]
        fig = _figure(3.6, 0.5 + 0.32 * len(labels))
        ax = fig.add_subplot()
        y = np.arange(len(labels))[::-1]
        ax.barh(y, np.nan_to_num(nums), color=[colors.get(k, GRAY_COLOR) for k in labels],
                height=0.62)
        finite = [v for v in nums if not np.isnan(v)]
        best = None
        if better and finite:
            best = max(finite) if better == "higher" else min(finite)
        span = max((abs(v) for v in finite), default=1.0) or 1.0
        for yi, v in zip(y, nums, strict=True):
            text = "–" if np.isnan(v) else format(v, fmt)
            weight = "bold" if best is not None and v == best else "normal"
            ax.text(max(0.0, 0.0 if np.isnan(v) else v) + span * 0.02, yi, text,
                    va="center", ha="left", fontsize=8, color=_TEXT, fontweight=weight)
        ax.set_yticks(y, labels)
        ax.set_xlim(min(0.0, min(finite, default=0.0)), span * 1.25)
        arrow = {"higher": "  ↑ better", "lower": "  ↓ better"}.get(better or "", "")
        ax.set_title(title + arrow, loc="left")
        ax.grid(axis="y", visible=False)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        return fig

    return _styled(draw)


def loss_curves(curves: Mapping[str, LossCurve], colors: Mapping[str, str]) -> str | None:
    """Train (solid) and validation (dashed, dots) loss against step, one colour per model."""
    if not curves:
        return None

    def draw():
        fig = _figure(10.5, 4.0)
        ax = fig.add_subplot()
        for label, curve in curves.items():
            color = colors.get(label, GRAY_COLOR)
            if "train" in curve.steps:
                ax.plot(curve.steps["train"], curve.losses["train"], color=color, linewidth=1.4,
                        label=f"{label} · train")
            if "val" in curve.steps:
                ax.plot(curve.steps["val"], curve.losses["val"], color=color, linewidth=1.4,
                        linestyle="--", marker="o", markersize=3, label=f"{label} · val")
        positive = all(min(c.losses[s]) > 0 for c in curves.values() for s in c.losses)
        spread = [max(c.losses[s]) / max(min(c.losses[s]), 1e-12)
                  for c in curves.values() for s in c.losses]
        if positive and spread and max(spread) > 20:
            ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.set_title("Training loss", loc="left")
        ax.legend(loc="upper right", ncols=2 if len(curves) > 2 else 1)
        return fig

    return _styled(draw)


def count_curves(series: Mapping[str, tuple[Sequence[int], Sequence[float]]],
                 colors: Mapping[str, str], title: str, xlabel: str, ylabel: str
                 ) -> str | None:
    """Lines of a value against a count (0, 1, 2, 5, ...), one per label, on a log count
    axis where 0 is drawn at 0.5 and every count is a tick."""

    def draw():
        fig = _figure(6.4, 3.6)
        ax = fig.add_subplot()
        for label, (counts, values) in series.items():
            ax.plot([max(c, 0.5) for c in counts], values, marker="o", markersize=4,
                    linewidth=1.4, color=colors.get(label, GRAY_COLOR), label=label)
        ax.set_xscale("log")
        ticks = sorted({c for counts, _ in series.values() for c in counts})
        ax.set_xticks([max(t, 0.5) for t in ticks], [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.legend(loc="lower right")
        return fig

    return _styled(draw)

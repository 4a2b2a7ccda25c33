"""HTML building blocks for self-contained reports: page shell with inline CSS, tables, images.

Nothing here refers to anything outside the page: styles and the small table-sorting script
are inline, images are ``data:`` URIs, charts are inline SVG.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from PIL import Image

__all__ = ["Cell", "data_uri", "esc", "figure", "page", "section", "table"]

esc = escape

_CSS = """
:root { --ink:#1f2630; --muted:#66707c; --line:#e4e7eb; --soft:#f6f7f9; --accent:#3366cc; }
* { box-sizing: border-box; }
body { margin:0; background:#fff; color:var(--ink);
  font:15px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 36px 28px 80px; }
header.top { border-bottom: 1px solid var(--line); padding-bottom: 18px; margin-bottom: 8px; }
h1 { font-size: 28px; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 44px 0 12px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
p { margin: 6px 0 10px; }
.meta { color: var(--muted); font-size: 14px; }
.meta b { color: var(--ink); font-weight: 600; }
.muted { color: var(--muted); }
.note { background: var(--soft); border-left: 3px solid var(--accent); padding: 10px 14px;
  margin: 12px 0; font-size: 14px; color: #38414d; border-radius: 0 6px 6px 0; }
.note.warn { border-left-color: #d4a017; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 12px; margin: 18px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.card .v { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .b { font-size: 12.5px; color: var(--muted); }
.tablewrap { overflow-x: auto; margin: 10px 0; }
.tablewrap.tall { max-height: 560px; overflow-y: auto; border: 1px solid var(--line);
  border-radius: 8px; }
.tablewrap.tall table { width: 100%; }
table { border-collapse: collapse; font-size: 13.5px; width: auto; min-width: 50%; }
th, td { padding: 6px 12px; text-align: left; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { font-weight: 600; color: #38414d; background: #fff; position: sticky; top: 0; z-index: 1; }
thead th { border-bottom: 2px solid #cfd4da; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fafbfc; }
tbody tr:hover td { background: #eef3fc; }
td.best { font-weight: 700; color: #12358a; }
td.desc { color: var(--muted); white-space: normal; min-width: 240px; font-size: 12.5px; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:after { content: " ↕"; color: #b8bec6; font-size: 11px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 7px; vertical-align: baseline; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 14px 22px; }
.charts.wide { grid-template-columns: 1fr; }
svg.chart { width: 100%; height: auto; display: block; }
.gallery { display: grid; gap: 18px; }
.gallery.tri { grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: 22px 28px; }
figure { margin: 0; }
.row { display: grid; gap: 6px; }
.row img { width: 100%; height: auto; display: block; border-radius: 4px; background: var(--soft); }
.row .cap { font-size: 12px; color: var(--muted); text-align: center; padding-top: 2px; }
figcaption { font-size: 13px; margin-top: 4px; }
figcaption b { font-variant-numeric: tabular-nums; }
details { margin: 10px 0; }
summary { cursor: pointer; font-weight: 600; }
code { background: var(--soft); padding: 1px 5px; border-radius: 4px; font-size: 13px; }
dl.defs { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px;
  font-size: 13.5px; }
dl.defs dt { font-weight: 600; }
dl.defs dd { margin: 0; color: #38414d; }
footer { margin-top: 56px; color: var(--muted); font-size: 12.5px; }
"""

_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    var asc = false;
    th.addEventListener("click", function () {
      asc = !asc;
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        var nx = parseFloat(x), ny = parseFloat(y);
        var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


@dataclass
class Cell:
    """A table cell: already-escaped ``html``, an optional sort key and CSS class."""

    html: str
    sort: str | float | None = None
    cls: str = ""


def _cell(tag: str, cell: Cell | str, header_cls: str = "") -> str:
    if not isinstance(cell, Cell):
        cell = Cell(esc(str(cell)))
    attrs = ""
    cls = " ".join(c for c in (cell.cls, header_cls) if c)
    if cls:
        attrs += f' class="{cls}"'
    if cell.sort is not None:
        attrs += f' data-v="{esc(str(cell.sort))}"'
    return f"<{tag}{attrs}>{cell.html}</{tag}>"


def table(headers: Sequence[Cell | str], rows: Iterable[Sequence[Cell | str]], *,
          sortable: bool = False, tall: bool = False, numeric: Iterable[int] = ()) -> str:
    """An HTML table; columns whose index is in ``numeric`` are right-aligned numbers."""
    numeric = set(numeric)

    def num(i: int) -> str:
        return "num" if i in numeric else ""

    head = "".join(_cell("th", h, num(i)) for i, h in enumerate(headers))
    body = "\n".join(
        "<tr>" + "".join(_cell("td", c, num(i)) for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    cls = ' class="sortable"' if sortable else ""
    wrap = "tablewrap tall" if tall else "tablewrap"
    return (f'<div class="{wrap}"><table{cls}><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


def data_uri(rgb: np.ndarray, quality: int = 88) -> str:
    """``(H, W, 3)`` uint8 -> a ``data:image/jpeg;base64,...`` URI."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure(images: Sequence[tuple[str, np.ndarray]], caption: str = "") -> str:
    """A row of captioned images (``(label, (H, W, 3) uint8)``) with an optional caption."""
    cols = f"grid-template-columns: repeat({len(images)}, 1fr)"
    cells = "".join(
        f'<div><img alt="{esc(label)}" src="{data_uri(rgb)}"><div class="cap">{esc(label)}'
        "</div></div>"
        for label, rgb in images
    )
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><div class="row" style="{cols}">{cells}</div>{cap}</figure>'


def section(title: str, body: str, anchor: str = "") -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>\n{body}\n</section>"


def page(title: str, header: str, sections: Sequence[str], footer: str = "") -> str:
    """The whole document: inline CSS, the sections, the inline sorting script."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header class="top">{header}</header>\n' + "\n".join(sections)
        + f"\n<footer>{footer}</footer>\n</main>\n<script>{_SORT_JS}</script>\n</body>\n</html>\n"
    )

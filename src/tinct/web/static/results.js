// The results page: per model, the rate of "real" answers on its colorizations, with CI.
import { getJSON, showBanner } from "./common.js";

const percent = (x) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);

function ciBar(tally) {
  const box = document.createElement("div");
  box.className = "ci";
  box.innerHTML = '<div class="axis"></div><div class="half" title="50%"></div>';
  if (tally.votes) {
    const [low, high] = tally.ci95;
    const range = document.createElement("div");
    range.className = "range";
    range.style.left = `${100 * low}%`;
    range.style.width = `${100 * (high - low)}%`;
    const dot = document.createElement("div");
    dot.className = "dot";
    dot.style.left = `${100 * tally.rate}%`;
    box.append(range, dot);
  }
  return box;
}

function row(label, tally, control) {
  const tr = document.createElement("tr");
  if (control) tr.className = "control";
  const cells = [
    label,
    String(tally.votes),
    tally.votes ? `${percent(tally.rate)} (${tally.judged_real})` : "—",
    tally.votes ? `${percent(tally.ci95[0])} – ${percent(tally.ci95[1])}` : "—",
  ];
  for (const [i, text] of cells.entries()) {
    const td = document.createElement("td");
    td.textContent = text;
    if (i > 0) td.className = "num";
    tr.append(td);
  }
  const bar = document.createElement("td");
  bar.append(ciBar(tally));
  tr.append(bar);
  return tr;
}

async function load() {
  try {
    const results = await getJSON("/api/turing/results");
    const rows = results.models.map((m) => row(`Colorized by ${m.model}`, m, false));
    rows.push(row("Real photos (control)", results.real, true));
    document.getElementById("rows").replaceChildren(...rows);
    document.getElementById("summary").textContent =
      `${results.votes} vote${results.votes === 1 ? "" : "s"} on ${results.scenes} scenes.`;
    showBanner("");
  } catch (error) {
    showBanner(error.message);
  }
}

document.getElementById("refresh").addEventListener("click", load);
load();

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

/** The result in a sentence anyone can read. */
function inWords(results) {
  const rated = results.models.filter((m) => m.votes);
  if (!rated.length) return "No one has judged a colorized photo yet.";
  const parts = rated.map((m) =>
    `people took ${m.model}’s colour for a real photo in ${percent(m.rate)} of ` +
    `${m.votes} trial${m.votes === 1 ? "" : "s"}`);
  let text = `${parts.join("; ")}. 50% would mean no one could tell colorized from real`;
  if (results.real.votes) {
    text += `; the real photos themselves were taken for real in ${percent(results.real.rate)}`;
  }
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

const cell = (text, numeric) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
};

const rateText = (t) => (t.votes ? `${percent(t.rate)} of ${t.votes}` : "—");

function photoTable(results) {
  const titles = ["Photo", "Real photo taken for real",
    ...results.models.map((m) => `${m.model} taken for real`)];
  document.getElementById("photo-head").replaceChildren(...titles.map((title) => {
    const th = document.createElement("th");
    th.textContent = title;
    return th;
  }));
  const rows = results.photos.map((photo) => {
    const tr = document.createElement("tr");
    const name = cell(photo.photo);
    name.title = `scene ${photo.scene}`;
    tr.append(name, cell(rateText(photo.real), true));
    for (const model of results.models) tr.append(cell(rateText(photo.models[model.model]), true));
    return tr;
  });
  document.getElementById("photo-rows").replaceChildren(...rows);
}

async function load() {
  try {
    const results = await getJSON("/api/turing/results");
    const rows = results.models.map((m) => row(`Colorized by ${m.model}`, m, false));
    rows.push(row("Real photos (control)", results.real, true));
    document.getElementById("rows").replaceChildren(...rows);
    document.getElementById("in-words").textContent = inWords(results);
    photoTable(results);
    document.getElementById("summary").textContent =
      `${results.votes} vote${results.votes === 1 ? "" : "s"} on ${results.scenes} photos.`;
    showBanner("");
  } catch (error) {
    showBanner(error.message);
  }
}

document.getElementById("refresh").addEventListener("click", load);
load();

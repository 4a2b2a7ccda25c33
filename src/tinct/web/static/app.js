// The colorizing page: pick or drop photos, upload them (two at a time), show each result with
// a before/after slider, download one or all (a zip built here, in the browser).
import { formatBytes, getJSON, showBanner, showTuringLink } from "./common.js";
import { openViewer } from "./viewer.js";
import { makeZip } from "./zip.js";

const PARALLEL_UPLOADS = 2;
const BUSY_RETRIES = 6; // a 503 (queue full) is retried after Retry-After seconds

const STATUS_WORDS = {
  0: "Could not reach the server",
  400: "This image could not be decoded",
  413: "Too large",
  415: "Not an image",
  422: "Request refused",
  500: "The server failed",
  503: "The server is busy",
};

const el = (id) => document.getElementById(id);
const jobs = [];
let limits = null;
const decodes = new Map(); // model name -> whether it has decode settings (a colour classifier)
const takesHints = new Set(); // names of the models that take colour hints
let modelNames = [];
let running = 0;

// ---------------------------------------------------------------- start-up

async function init() {
  showTuringLink();
  if (window.matchMedia("(max-width: 560px)").matches) el("options").open = false;
  try {
    const info = await getJSON("/api/models");
    limits = info.limits;
    const select = el("model");
    select.replaceChildren(...info.models.map((m) => {
      const option = new Option(m.name, m.name);
      option.title = m.description || m.name; // the description on hover, the name in the menu
      option.selected = m.name === info.default;
      return option;
    }));
    const sizes = new Map(info.models.map((m) => [m.name, m.working_size]));
    const showDefaultSize = () => {
      el("size").options[0].textContent = `Default (${sizes.get(select.value)} px)`;
    };
    select.addEventListener("change", showDefaultSize);
    showDefaultSize();
    select.disabled = info.models.length < 2;
    for (const m of info.models) decodes.set(m.name, Boolean(m.decode));
    for (const m of info.models) if (m.hints) takesHints.add(m.name);
    modelNames = info.models.map((m) => m.name);
    select.addEventListener("change", updateColourChoice);
    updateColourChoice();
    el("limits").textContent = `, up to ${formatBytes(limits.max_upload_bytes)} and ` +
      `${Math.round(limits.max_pixels / 1e6)} megapixels each`;
  } catch (error) {
    showBanner(error.message);
  }
}

/** The colour choice (a decode boost) applies only to colour classifiers. */
function updateColourChoice() {
  const boost = el("boost");
  boost.disabled = !decodes.get(el("model").value);
  if (boost.disabled) boost.value = "";
}

// ---------------------------------------------------------------- adding files

function settings() {
  return { model: el("model").value, size: el("size").value, format: el("format").value,
    boost: el("boost").disabled ? "" : el("boost").value, levels: el("levels").value };
}

function addFiles(files) {
  for (const file of files) addJob(file, settings());
  el("progress").hidden = jobs.length === 0;
  pump();
  updateProgress();
  if (files.length) el("results").scrollIntoView({ behavior: "smooth", block: "start" });
}

/** A job for ``file``; ``partner``: the job whose result this one is compared with. */
function addJob(file, jobSettings, partner = null) {
  const job = { file, settings: jobSettings, state: "waiting", partner,
    card: makeCard(file, partner ? partner.card : null) };
  jobs.push(job);
  if (partner) {
    job.card.querySelector(".name").textContent = `${file.name} — ${jobSettings.model}`;
    job.card.classList.add("paired");
  }
  if (limits && file.size > limits.max_upload_bytes) {
    fail(job, 413, `${formatBytes(file.size)} is above this server's limit of ` +
      `${formatBytes(limits.max_upload_bytes)}.`);
  }
  return job;
}

/** The same photo through another model, on a card beside this one's. */
function compareWith(job, model) {
  const other = addJob(job.file, { ...job.settings, model,
    boost: decodes.get(model) ? job.settings.boost : "" }, job);
  el("progress").hidden = false;
  pump();
  updateProgress();
  other.card.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

/** Opens the large view: the result against the original or, for a comparison, against the
 * partner's result. */
function enlarge(job) {
  const card = job.card;
  const partner = job.partner && job.partner.result ? job.partner : null;
  if (partner) {
    openViewer({ title: `${job.file.name}: ${job.result.model} | ${partner.result.model}`,
      left: job.result.url, right: partner.result.url, leftLabel: madeBy(job.result),
      rightLabel: madeBy(partner.result) });
    return;
  }
  const before = card.querySelector(".before");
  openViewer({ title: `${job.file.name} · ${madeBy(job.result)}`, left: job.result.url,
    right: before.src, leftLabel: "Colorized", rightLabel: "Original",
    gray: before.classList.contains("gray") });
}

function pump() {
  while (running < PARALLEL_UPLOADS) {
    const job = jobs.find((j) => j.state === "waiting");
    if (!job) break;
    run(job);
  }
}

// ---------------------------------------------------------------- one job

async function run(job) {
  running += 1;
  job.state = "working";
  setWorking(job, "Uploading…", 0);
  try {
    for (let attempt = 0; ; attempt++) {
      const reply = await send(job);
      if (reply.status === 200) {
        finish(job, reply);
        break;
      }
      if (reply.status === 503 && attempt < BUSY_RETRIES) {
        setWorking(job, "Server busy, retrying…", null);
        await new Promise((r) => setTimeout(r, 1000 * (reply.retryAfter || 2)));
        continue;
      }
      fail(job, reply.status, reply.error);
      break;
    }
  } finally {
    running -= 1;
    updateProgress();
    pump();
  }
}

/** POSTs the job's file; resolves {status, blob, name, model, seconds} or {status, error}. */
function send(job) {
  const form = new FormData();
  form.append("file", job.file, job.file.name);
  const { model, size, format, boost, levels } = job.settings;
  if (model) form.append("model", model);
  if (size) form.append("size", size);
  if (boost) form.append("boost", boost);
  if (levels) form.append("levels", levels);
  form.append("format", format);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/colorize");
    xhr.responseType = "blob";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) setWorking(job, "Uploading…", e.loaded / e.total);
    };
    xhr.upload.onload = () => setWorking(job, "Colorizing…", null);
    xhr.onerror = () => resolve({ status: 0, error: "the connection failed." });
    xhr.onload = async () => {
      if (xhr.status === 200) {
        const disposition = xhr.getResponseHeader("Content-Disposition") || "";
        const match = disposition.match(/filename="([^"]+)"/);
        resolve({
          status: 200, blob: xhr.response, name: match ? match[1] : "colorized.png",
          model: xhr.getResponseHeader("X-Tinct-Model"),
          seconds: parseFloat(xhr.getResponseHeader("X-Tinct-Seconds") || "0"),
          decode: parseDecode(xhr.getResponseHeader("X-Tinct-Decode")),
          resultId: xhr.getResponseHeader("X-Tinct-Result-Id"),
          tinted: xhr.getResponseHeader("X-Tinct-Input") === "colour replaced",
        });
        return;
      }
      let message = `the server answered ${xhr.status}.`;
      try {
        message = JSON.parse(await xhr.response.text()).error || message;
      } catch {
        /* not JSON */
      }
      resolve({ status: xhr.status, error: message,
        retryAfter: parseFloat(xhr.getResponseHeader("Retry-After") || "2") });
    };
    xhr.send(form);
  });
}

// ---------------------------------------------------------------- cards

function makeCard(file, after = null) {
  const card = el("card-template").content.firstElementChild.cloneNode(true);
  card.classList.add("waiting");
  card.querySelector(".name").textContent = file.name;
  card.querySelector(".name").title = file.name;
  card.querySelector(".meta").textContent = formatBytes(file.size);
  const before = card.querySelector(".before");
  before.src = URL.createObjectURL(file);
  before.onerror = () => before.removeAttribute("src"); // e.g. TIFF: shown from the result
  before.onload = () => setAspect(card, before);
  const slider = card.querySelector(".slider");
  slider.addEventListener("input", () => setSplit(card, slider.value));
  slider.addEventListener("keydown", (e) => { // 5% per arrow press (dragging stays fine)
    const step = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5 }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    slider.value = Math.min(100, Math.max(0, parseFloat(slider.value) + step));
    setSplit(card, slider.value);
  });
  card.querySelector(".working-text").textContent = "Waiting…";
  if (after) after.after(card);
  else el("results").append(card);
  return card;
}

function setAspect(card, img) {
  if (img.naturalWidth && img.naturalHeight) {
    card.querySelector(".compare").style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
  }
}

/** value in 0..100: the colorized image shows left of it, the original right of it. */
function setSplit(card, value) {
  card.querySelector(".after").style.clipPath = `inset(0 ${100 - value}% 0 0)`;
  card.querySelector(".handle").style.left = `${value}%`;
}

function setWorking(job, text, fraction) {
  const card = job.card;
  card.classList.remove("waiting");
  card.querySelector(".working-text").textContent = text;
  const fill = card.querySelector(".working .bar-fill");
  fill.classList.toggle("indeterminate", fraction === null);
  if (fraction !== null) fill.style.width = `${Math.round(fraction * 100)}%`;
}

/** "temperature=0.6; boost=0.4" -> {temperature: 0.6, boost: 0.4}; null without one. */
function parseDecode(header) {
  if (!header) return null;
  return Object.fromEntries(header.split(";").map((part) => {
    const [key, value] = part.trim().split("=");
    return [key, parseFloat(value)];
  }));
}

/** What made a result, in words, e.g. "tinct-base · colour 0.4 · T 0.6". */
function madeBy(reply) {
  const d = reply.decode;
  return [reply.model, ...(d ? [`colour ${d.boost}`, `T ${d.temperature}`] : [])].join(" · ");
}

/** The download's name: the photo's name, the model and, for classifiers, the colour. */
function downloadName(reply) {
  const [stem, suffix] = nameParts(reply);
  const colour = reply.decode ? `-colour${reply.decode.boost}` : "";
  return `${stem}-${reply.model}${colour}${suffix}`.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function finish(job, reply) {
  job.state = "done";
  showResult(job, reply);
  const enlargeButton = job.card.querySelector(".enlarge");
  enlargeButton.hidden = false;
  enlargeButton.onclick = () => enlarge(job);
  const others = modelNames.filter((name) => name !== reply.model);
  const compare = job.card.querySelector(".compare-model");
  job.card.querySelector(".compare-with").hidden = others.length === 0 || Boolean(job.partner);
  compare.replaceChildren(new Option("Compare with…", ""),
    ...others.map((name) => new Option(name, name)));
  compare.onchange = () => {
    if (compare.value) compareWith(job, compare.value);
    compare.value = "";
  };
  const intensity = job.card.querySelector(".intensity");
  const canRecolour = Boolean(reply.decode && reply.resultId);
  job.card.querySelector(".intensity-row").hidden = !canRecolour;
  if (canRecolour) {
    intensity.value = reply.decode.boost;
    job.card.querySelector(".intensity-value").textContent = reply.decode.boost;
    // while the slider moves: quick JPEG previews; where it stops: the chosen format
    intensity.oninput = () => {
      job.card.querySelector(".intensity-value").textContent = intensity.value;
      clearTimeout(job.recolourTimer);
      job.recolourTimer = setTimeout(
        () => recolour(job, { boost: parseFloat(intensity.value) }, true), 150);
    };
    intensity.onchange = () => {
      clearTimeout(job.recolourTimer);
      recolour(job, { boost: parseFloat(intensity.value) }, false);
    };
  }
  setUpHints(job, takesHints.has(reply.model) && Boolean(reply.resultId));
}

/** Re-colours the kept result with ``changes`` ({boost} or {hints}); no upload. With a new
 * boost the network does not run again; with new hints it does (the server keeps them for
 * later re-colours). A ``preview`` comes as JPEG (encoded in about 1 ms instead of 20-30 for
 * PNG) and cannot be downloaded; the final one comes in the chosen format. */
async function recolour(job, changes, preview) {
  const card = job.card;
  const asked = (job.recolourAsked = (job.recolourAsked || 0) + 1);
  card.classList.add("recolouring");
  try {
    const response = await fetch("/api/recolor", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: job.result.resultId, ...changes,
        format: preview ? "jpeg" : job.settings.format }),
    });
    if (asked !== job.recolourAsked) return; // a newer position of the slider won
    if (!response.ok) {
      let message = `the server answered ${response.status}.`;
      try {
        message = (await response.json()).error || message;
      } catch {
        /* not JSON */
      }
      const error = card.querySelector(".error");
      error.replaceChildren(capitalize(message));
      error.hidden = false;
      return;
    }
    card.querySelector(".error").hidden = true;
    const previous = job.result.url;
    showResult(job, { ...job.result, blob: await response.blob(),
      decode: parseDecode(response.headers.get("X-Tinct-Decode")),
      seconds: parseFloat(response.headers.get("X-Tinct-Seconds") || "0") });
    card.querySelector(".download").hidden = preview; // the final picture is on its way
    if (previous && card.querySelector(".before").src !== previous) {
      setTimeout(() => URL.revokeObjectURL(previous), 1000);
    }
  } finally {
    if (asked === job.recolourAsked) card.classList.remove("recolouring");
  }
}

/** Shows a result (the first, or a re-colouring) on the job's card. */
function showResult(job, reply) {
  job.result = reply;
  const card = job.card;
  const url = URL.createObjectURL(reply.blob);
  reply.url = url;
  card.querySelector(".made-by").textContent = madeBy(reply);
  card.querySelector(".tint-note").hidden = !reply.tinted;
  const after = card.querySelector(".after");
  const before = card.querySelector(".before");
  after.onload = () => {
    setAspect(card, after);
    card.querySelector(".meta").textContent =
      `${after.naturalWidth}×${after.naturalHeight} · ${reply.seconds.toFixed(1)} s`;
    if (!before.getAttribute("src")) { // the browser cannot show the original: gray result
      before.src = url;
      before.classList.add("gray");
    }
  };
  after.src = url;
  const link = card.querySelector(".download");
  link.href = url;
  link.download = downloadName(reply);
  link.textContent = `Download ${reply.name.split(".").pop().toUpperCase()}`;
  link.hidden = false;
  card.classList.add("done");
  setSplit(card, card.querySelector(".slider").value);
}

// ---------------------------------------------------------------- colour hints

const HINT_APPLY_DELAY_MS = 120; // changes that come together re-colour once
const MAX_HINTS = 256; // the server's limit

/** The hint controls of a result card. In hint mode a click on the photo adds a place whose
 * colour the person picks (the model's likely colours there are offered); a place can be
 * dragged, re-coloured and removed, every change can be undone (button or Ctrl+Z), and the
 * photo re-colours itself after each change. The hints can be downloaded as the JSON file
 * ``tinct colorize --hints`` reads, and loaded again. */
function setUpHints(job, enabled) {
  const card = job.card;
  const box = card.querySelector(".hints");
  box.hidden = !enabled;
  if (!enabled) return;
  job.hints = job.hints || [];
  job.hintHistory = job.hintHistory || [];
  const toggle = card.querySelector(".hint-toggle");
  toggle.onclick = () => {
    const on = !card.classList.contains("hinting");
    card.classList.toggle("hinting", on);
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = on ? "Done adding" : "Add colour hints";
    card.querySelector(".hint-help").hidden = !on;
  };
  card.querySelector(".compare").onclick = (event) => {
    if (card.classList.contains("hinting") && !event.target.closest(".hint-mark")) {
      addHint(job, event);
    }
  };
  card.querySelector(".hint-undo").onclick = () => undoHint(job);
  card.querySelector(".hint-clear").onclick = () => {
    rememberHints(job);
    job.hints = [];
    changedHints(job);
  };
  const loader = card.querySelector(".hint-load-file");
  card.querySelector(".hint-load").onclick = () => loader.click();
  loader.onchange = async () => {
    const file = loader.files[0];
    loader.value = "";
    if (file) await loadHints(job, file);
  };
  renderHints(job);
}

let lastHintedJob = null; // Ctrl+Z undoes the hints of the card changed last

document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z"
      && lastHintedJob && !event.target.matches("input[type=text], textarea")) {
    event.preventDefault();
    undoHint(lastHintedJob);
  }
});

/** The hints as the API and the CLI take them: ``[{x, y, color}, ...]``. */
function plainHints(job) {
  return job.hints.map(({ x, y, color }) => ({ x, y, color }));
}

/** Keeps the hints as they are now, for Undo. */
function rememberHints(job) {
  lastHintedJob = job;
  job.hintHistory.push(JSON.stringify(job.hints));
  if (job.hintHistory.length > 200) job.hintHistory.shift();
}

function undoHint(job) {
  if (!job.hintHistory.length) return;
  job.hints = JSON.parse(job.hintHistory.pop());
  changedHints(job);
}

/** After any change: list and marks again, and a re-colour shortly after (changes that come
 * together, like a drag, re-colour once). */
function changedHints(job) {
  renderHints(job);
  clearTimeout(job.hintTimer);
  job.hintTimer = setTimeout(() => recolour(job, { hints: plainHints(job) }, false),
    HINT_APPLY_DELAY_MS);
}

/** The pixel of the photo under a pointer event, clamped to the photo. */
function photoPixel(job, event) {
  const after = job.card.querySelector(".after");
  const rect = after.getBoundingClientRect();
  const width = after.naturalWidth;
  const height = after.naturalHeight;
  if (!width || !height) return null;
  // the image is shown with object-fit: contain: find the drawn rectangle inside the box
  const scale = Math.min(rect.width / width, rect.height / height);
  const left = rect.left + (rect.width - width * scale) / 2;
  const top = rect.top + (rect.height - height * scale) / 2;
  return {
    x: Math.min(width - 1, Math.max(0, Math.floor((event.clientX - left) / scale))),
    y: Math.min(height - 1, Math.max(0, Math.floor((event.clientY - top) / scale))),
  };
}

/** A hint at the clicked pixel, coloured by the model's likeliest colour there. */
async function addHint(job, event) {
  const place = photoPixel(job, event);
  if (!place) return;
  if (job.hints.length >= MAX_HINTS) {
    showCardError(job, `At most ${MAX_HINTS} hints per photo.`);
    return;
  }
  rememberHints(job);
  const hint = { ...place, color: shownColour(job, place), suggestions: [] };
  job.hints.push(hint);
  renderHints(job);
  await suggestFor(job, hint, true);
  changedHints(job);
}

/** The colour the picture shows at a pixel, as #rrggbb (where a hint starts when the model
 * offers no likely colours, as regression models do not). */
function shownColour(job, place) {
  const after = job.card.querySelector(".after");
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d");
  context.drawImage(after, place.x, place.y, 1, 1, 0, 0, 1, 1);
  const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** Fetches the likely colours at a hint's place; ``adopt``: take the likeliest as its colour. */
async function suggestFor(job, hint, adopt) {
  try {
    const answer = await fetch("/api/suggest", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: job.result.resultId, x: hint.x, y: hint.y }),
    });
    if (answer.ok) {
      hint.suggestions = (await answer.json()).suggestions;
      if (adopt && hint.suggestions.length) hint.color = hint.suggestions[0].color;
    }
  } catch {
    /* suggestions are a help, not a need */
  }
}

/** Reads a hint file (the JSON list ``tinct colorize --hints`` takes) and applies it; the
 * server checks each entry and says what is wrong. */
async function loadHints(job, file) {
  let entries;
  try {
    if (file.size > 1 << 20) throw new Error("it is over 1 MiB");
    entries = JSON.parse(await file.text());
    if (!Array.isArray(entries)) throw new Error("it is not a JSON list of hints");
  } catch (error) {
    showCardError(job, `Could not load ${file.name}: ${error.message}.`);
    return;
  }
  rememberHints(job);
  job.hints = entries.map((entry) => ({ ...entry, suggestions: [] }));
  changedHints(job);
}

function showCardError(job, message) {
  const error = job.card.querySelector(".error");
  error.replaceChildren(message);
  error.hidden = false;
}

/** Lets a hint's mark be dragged to another place (in hint mode). */
function makeDraggable(job, mark, hint) {
  mark.onpointerdown = (event) => {
    if (!job.card.classList.contains("hinting")) return;
    event.preventDefault();
    event.stopPropagation();
    mark.setPointerCapture(event.pointerId);
    const before = JSON.stringify(job.hints);
    let moved = false;
    mark.onpointermove = (move) => {
      const place = photoPixel(job, move);
      if (!place || (place.x === hint.x && place.y === hint.y)) return;
      Object.assign(hint, place);
      moved = true;
      placeMark(job, mark, hint);
    };
    mark.onpointerup = async () => {
      mark.onpointermove = mark.onpointerup = null;
      if (!moved) return;
      lastHintedJob = job;
      job.hintHistory.push(before);
      await suggestFor(job, hint, false);
      changedHints(job);
    };
  };
  mark.onclick = (event) => event.stopPropagation();
}

function placeMark(job, mark, hint) {
  const after = job.card.querySelector(".after");
  mark.style.left = `${((hint.x + 0.5) / (after.naturalWidth || 1)) * 100}%`;
  mark.style.top = `${((hint.y + 0.5) / (after.naturalHeight || 1)) * 100}%`;
  mark.style.background = hint.color;
}

/** Lists the hints under the photo and marks them on it. */
function renderHints(job) {
  const card = job.card;
  const list = card.querySelector(".hint-list");
  const marks = card.querySelector(".hint-marks");
  list.replaceChildren();
  marks.replaceChildren();
  job.hints.forEach((hint, index) => {
    const item = el("hint-template").content.firstElementChild.cloneNode(true);
    const mark = document.createElement("span");
    const picker = item.querySelector(".hint-color");
    picker.value = hint.color;
    let colourBefore = null;
    picker.oninput = () => {
      colourBefore = colourBefore || JSON.stringify(job.hints);
      hint.color = picker.value;
      mark.style.background = hint.color;
    };
    picker.onchange = () => {
      lastHintedJob = job;
      job.hintHistory.push(colourBefore || JSON.stringify(job.hints));
      colourBefore = null;
      hint.color = picker.value;
      changedHints(job);
    };
    item.querySelector(".hint-where").textContent = `at ${hint.x}, ${hint.y}`;
    item.querySelector(".hint-suggestions").replaceChildren(...(hint.suggestions || []).map((s) => {
      const swatch = document.createElement("button");
      swatch.type = "button";
      swatch.className = "swatch";
      swatch.style.background = s.color;
      swatch.title = `${s.color} (${Math.round(s.probability * 100)}% likely)`;
      swatch.setAttribute("aria-label", swatch.title);
      swatch.onclick = () => {
        rememberHints(job);
        hint.color = s.color;
        changedHints(job);
      };
      return swatch;
    }));
    item.querySelector(".hint-remove").onclick = () => {
      rememberHints(job);
      job.hints.splice(index, 1);
      changedHints(job);
    };
    list.append(item);
    mark.className = "hint-mark";
    mark.title = `${hint.color} at ${hint.x}, ${hint.y} (drag to move)`;
    placeMark(job, mark, hint);
    makeDraggable(job, mark, hint);
    marks.append(mark);
  });
  const some = job.hints.length > 0;
  card.querySelector(".hint-clear").hidden = !some;
  card.querySelector(".hint-undo").disabled = job.hintHistory.length === 0;
  const save = card.querySelector(".hint-save");
  save.hidden = !some;
  if (save.href) URL.revokeObjectURL(save.href);
  if (some) {
    save.href = URL.createObjectURL(new Blob([JSON.stringify(plainHints(job), null, 1)],
      { type: "application/json" }));
    save.download = hintFileName(job.result);
  }
}

/** The uploaded photo's stem and the result's suffix: ``photo-colorized.png`` ->
 * ``["photo", ".png"]``. */
function nameParts(reply) {
  const match = reply.name.match(/^(.*?)(-colorized)?(\.[a-z]+)$/i);
  return match ? [match[1], match[3]] : [reply.name, ""];
}

/** ``photo.jpg`` -> ``photo.json``: the name ``tinct colorize --hints FOLDER`` looks for. */
function hintFileName(reply) {
  return `${nameParts(reply)[0]}.json`.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function fail(job, status, message) {
  job.state = "failed";
  const card = job.card;
  card.classList.add("failed");
  const error = card.querySelector(".error");
  const title = document.createElement("strong");
  title.textContent = STATUS_WORDS[status] || `Error ${status}`;
  error.replaceChildren(title, document.createElement("br"), capitalize(message));
  error.hidden = false;
  const retry = card.querySelector(".retry");
  const remove = card.querySelector(".remove");
  const shrink = card.querySelector(".shrink");
  retry.hidden = ![0, 500, 503].includes(status);
  shrink.hidden = !(status === 413 && limits && !job.shrunk);
  remove.hidden = false;
  const again = () => {
    card.classList.remove("failed");
    error.hidden = true;
    retry.hidden = true;
    shrink.hidden = true;
    remove.hidden = true;
    job.state = "waiting";
    pump();
    updateProgress();
  };
  retry.onclick = again;
  shrink.onclick = async () => {
    try {
      await shrinkToLimits(job);
    } catch {
      error.replaceChildren("This browser cannot open this image to shrink it.");
      shrink.hidden = true;
      return;
    }
    again();
  };
  remove.onclick = () => removeJob(job);
}

/** Replaces the job's file by a copy that fits the server's limits (pixels and bytes), made
 * here in the browser, so the server never holds more than it allows. */
async function shrinkToLimits(job) {
  const bitmap = await createImageBitmap(job.file);
  const { width, height } = bitmap;
  let scale = Math.min(1, Math.sqrt((0.98 * limits.max_pixels) / (width * height)));
  const type = job.file.type === "image/png" ? "image/png" : "image/jpeg";
  for (let attempt = 0; attempt < 6; attempt++, scale *= 0.8) {
    const w = Math.max(1, Math.floor(width * scale));
    const h = Math.max(1, Math.floor(height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, 0.92));
    if (blob && blob.size <= limits.max_upload_bytes) {
      const name = job.file.name.replace(/\.[^.]+$/, "") + (type === "image/png" ? ".png" : ".jpg");
      job.file = new File([blob], name, { type });
      job.shrunk = true;
      const note = job.card.querySelector(".shrunk-note");
      note.textContent = `Shrunk from ${width}×${height} to ${w}×${h} to fit this server's limits.`;
      note.hidden = false;
      job.card.querySelector(".before").src = URL.createObjectURL(job.file);
      return;
    }
  }
  throw new Error("could not shrink enough");
}

/** Takes one finished or failed photo off the page. */
function removeJob(job) {
  for (const img of job.card.querySelectorAll("img")) {
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  }
  job.card.remove();
  jobs.splice(jobs.indexOf(job), 1);
  el("progress").hidden = jobs.length === 0;
  updateProgress();
}

function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

// ---------------------------------------------------------------- overall progress, zip

function updateProgress() {
  const done = jobs.filter((j) => j.state === "done").length;
  const failed = jobs.filter((j) => j.state === "failed").length;
  const total = jobs.length;
  const finished = done + failed;
  el("progress-bar").style.width = total ? `${(100 * finished) / total}%` : "0";
  // a run that ended with failures shows them: a red bar, not a full "success" one
  el("progress").classList.toggle("failed", finished === total && failed > 0);
  el("progress").classList.toggle("partly", finished === total && failed > 0 && done > 0);
  const failedText = failed ? `, ${failed} failed` : "";
  el("progress-label").textContent = finished < total
    ? `Colorizing… ${finished} of ${total} finished${failedText}`
    : done === 0 ? `Failed: none of ${total} could be colorized`
      : `Done: ${done} colorized${failedText}`;
  el("download-all").disabled = done === 0;
}

async function downloadAll() {
  const button = el("download-all");
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "Zipping…";
  try {
    const entries = jobs.filter((j) => j.state === "done")
      .map((j) => ({ name: downloadName(j.result), blob: j.result.blob }));
    const zip = await makeZip(entries);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(zip);
    link.download = "tinct-colorized.zip";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } finally {
    button.textContent = label;
    updateProgress();
  }
}

function clearFinished() {
  for (const job of jobs.filter((j) => j.state === "done" || j.state === "failed")) {
    removeJob(job);
  }
}

// ---------------------------------------------------------------- wiring

const drop = el("drop");
el("files").addEventListener("change", (e) => {
  addFiles([...e.target.files]);
  e.target.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  addFiles([...e.dataTransfer.files]);
});
// a photo dropped beside the zone must not make the browser navigate away
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());
window.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData?.files || [])];
  if (files.length) addFiles(files);
});
el("download-all").addEventListener("click", downloadAll);
el("clear").addEventListener("click", clearFinished);

init();

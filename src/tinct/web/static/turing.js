// The Turing test: one image at a time, "real or colorized?", never the same scene twice.
import { getJSON, showBanner } from "./common.js";

const el = (id) => document.getElementById(id);
const SESSION_KEY = "tinct-turing-session";
const SEEN_KEY = "tinct-turing-seen";

function sessionId() {
  let id = localStorage.getItem(SESSION_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

const seen = new Set(JSON.parse(localStorage.getItem(SEEN_KEY) || "[]"));
let current = null;
let shownAt = 0;
let answered = 0;

async function next() {
  el("verdict").textContent = "";
  el("verdict").className = "verdict";
  try {
    const item = await getJSON(`/api/turing/next?exclude=${[...seen].join(",")}`);
    if (item.done) {
      el("game").hidden = true;
      el("done").hidden = false;
      return;
    }
    current = item;
    const photo = el("photo");
    photo.onload = () => {
      photo.parentElement.style.setProperty("--ar", photo.naturalWidth / photo.naturalHeight);
      shownAt = performance.now();
      setButtons(true);
    };
    photo.src = item.image;
    el("counter").textContent = `Photo ${seen.size + 1} of ${item.scenes}`;
    el("game").hidden = false;
  } catch (error) {
    showBanner(error.message);
  }
}

function setButtons(enabled) {
  el("vote-real").disabled = !enabled;
  el("vote-colorized").disabled = !enabled;
}

async function vote(answer) {
  if (!current || el("vote-real").disabled) return;
  setButtons(false);
  try {
    const reply = await getJSON("/api/turing/vote", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        item: current.item, answer, session: sessionId(),
        response_ms: Math.round(performance.now() - shownAt),
      }),
    });
    answered += 1;
    seen.add(current.scene);
    localStorage.setItem(SEEN_KEY, JSON.stringify([...seen]));
    const verdict = el("verdict");
    verdict.className = `verdict ${reply.correct ? "right" : "wrong"}`;
    verdict.textContent = reply.truth === "real"
      ? `${reply.correct ? "Right" : "Not quite"}: this was a real colour photo.`
      : `${reply.correct ? "Right" : "Fooled you"}: this was colorized by ${reply.model}.`;
    setTimeout(next, 1400);
  } catch (error) {
    showBanner(error.message);
    setButtons(true);
  }
}

el("vote-real").addEventListener("click", () => vote("real"));
el("vote-colorized").addEventListener("click", () => vote("colorized"));
window.addEventListener("keydown", (e) => {
  if (e.key === "r" || e.key === "R") vote("real");
  if (e.key === "c" || e.key === "C") vote("colorized");
});
setButtons(false);
next();

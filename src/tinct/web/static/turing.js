// The Turing test: one image at a time, "real or colorized?", never the same scene twice.
import { getJSON, showBanner } from "./common.js";

const el = (id) => document.getElementById(id);
const SESSION_KEY = "tinct-turing-session";
const SEEN_KEY = "tinct-turing-seen";

// the participant id is issued by the server (one vote per participant and photo)
async function sessionId(renew = false) {
  let id = renew ? null : localStorage.getItem(SESSION_KEY);
  if (!id) {
    const joined = await getJSON("/api/turing/session", { method: "POST" });
    id = joined.session;
    localStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

async function showScore() {
  try {
    const score = await getJSON(`/api/turing/score?session=${await sessionId()}`);
    el("score").textContent = `You answered ${score.correct} of ${score.votes} right.`;
  } catch (error) {
    el("score").textContent = "";
  }
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
      showScore();
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
    const send = async (session) => getJSON("/api/turing/vote", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        item: current.item, answer, session,
        response_ms: Math.round(performance.now() - shownAt),
      }),
    });
    let reply;
    try {
      reply = await send(await sessionId());
    } catch (error) {
      if (error.status !== 403) throw error;
      reply = await send(await sessionId(true)); // a new study or server: join again
    }
    answered += 1;
    seen.add(current.scene);
    localStorage.setItem(SEEN_KEY, JSON.stringify([...seen]));
    const verdict = el("verdict");
    if (reply.truth === undefined) { // a real study: no feedback until the end
      verdict.className = "verdict";
      verdict.textContent = "Answer recorded.";
    } else {
      verdict.className = `verdict ${reply.correct ? "right" : "wrong"}`;
      verdict.textContent = reply.truth === "real"
        ? `${reply.correct ? "Right" : "Not quite"}: this was a real colour photo.`
        : `${reply.correct ? "Right" : "Fooled you"}: this was colorized by ${reply.model}.`;
    }
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

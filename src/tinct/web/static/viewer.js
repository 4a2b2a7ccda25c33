// The large view: one picture (or two, split by a line) filling the window, zoomed with the
// wheel, the +/- buttons or keys, panned by dragging, closed with Esc or the Close button.
const dialog = document.getElementById("viewer");
const stage = dialog.querySelector(".viewer-stage");
const canvas = dialog.querySelector(".viewer-canvas");
const before = canvas.querySelector(".before");
const after = canvas.querySelector(".after");
const slider = dialog.querySelector(".viewer-slider");
const level = dialog.querySelector(".zoom-level");
const handle = dialog.querySelector(".viewer-handle");
const view = { scale: 1, x: 0, y: 0 };
const MIN_SCALE = 1;
const MAX_SCALE = 16;

function apply() {
  canvas.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
  level.textContent = `${Math.round(view.scale * 100)}%`;
  split(slider.value);
}

/** Keeps the picture over the stage: no panning past its edges. */
function clampPan() {
  const w = stage.clientWidth;
  const h = stage.clientHeight;
  const maxX = (w * (view.scale - 1)) / 2;
  const maxY = (h * (view.scale - 1)) / 2;
  view.x = Math.min(maxX, Math.max(-maxX, view.x));
  view.y = Math.min(maxY, Math.max(-maxY, view.y));
}

/** Zooms to ``scale`` keeping the stage point (px, py) (relative to its centre) still. */
function zoomTo(scale, px = 0, py = 0) {
  const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
  const k = next / view.scale;
  view.x = px - (px - view.x) * k;
  view.y = py - (py - view.y) * k;
  view.scale = next;
  clampPan();
  apply();
}

/** The line between the pictures at ``value`` % of the stage's width, whatever the zoom. */
function split(value) {
  const rect = stage.getBoundingClientRect();
  const canvasRect = canvas.getBoundingClientRect();
  const lineX = rect.left + (rect.width * value) / 100;
  const inside = ((lineX - canvasRect.left) / canvasRect.width) * 100;
  after.style.clipPath = `inset(0 ${Math.min(100, Math.max(0, 100 - inside))}% 0 0)`;
  handle.style.left = `${value}%`;
}

/** Opens the view: ``left`` shows left of the line, ``right`` right of it. */
export function openViewer({ title, left, right, leftLabel, rightLabel, gray = false }) {
  dialog.querySelector(".viewer-title").textContent = title;
  dialog.querySelector(".viewer-left").textContent = leftLabel;
  dialog.querySelector(".viewer-right").textContent = rightLabel;
  after.src = left;
  before.src = right;
  before.classList.toggle("gray", gray);
  view.scale = 1;
  view.x = 0;
  view.y = 0;
  slider.value = 50;
  dialog.showModal();
  apply();
}

slider.addEventListener("input", () => split(slider.value));
for (const button of dialog.querySelectorAll("[data-zoom]")) {
  button.addEventListener("click", () => {
    const how = button.dataset.zoom;
    if (how === "fit") zoomTo(1);
    else zoomTo(view.scale * (how === "in" ? 2 : 0.5));
  });
}
dialog.querySelector(".viewer-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("keydown", (e) => {
  if (e.target === slider && e.key.startsWith("Arrow")) return;
  if (e.key === "+" || e.key === "=") zoomTo(view.scale * 2);
  else if (e.key === "-") zoomTo(view.scale / 2);
  else if (e.key === "0") zoomTo(1);
  else return;
  e.preventDefault();
});
stage.addEventListener("wheel", (e) => {
  e.preventDefault();
  const rect = stage.getBoundingClientRect();
  zoomTo(view.scale * Math.exp(-e.deltaY / 300), e.clientX - rect.left - rect.width / 2,
    e.clientY - rect.top - rect.height / 2);
}, { passive: false });
let drag = null;
stage.addEventListener("pointerdown", (e) => {
  drag = { x: e.clientX - view.x, y: e.clientY - view.y };
  stage.setPointerCapture(e.pointerId);
  stage.classList.add("dragging");
});
stage.addEventListener("pointermove", (e) => {
  if (!drag) return;
  view.x = e.clientX - drag.x;
  view.y = e.clientY - drag.y;
  clampPan();
  apply();
});
for (const type of ["pointerup", "pointercancel"]) {
  stage.addEventListener(type, () => {
    drag = null;
    stage.classList.remove("dragging");
  });
}
window.addEventListener("resize", () => {
  if (dialog.open) {
    clampPan();
    apply();
  }
});

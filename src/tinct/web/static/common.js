// Helpers shared by the pages: JSON fetching with readable errors, the Turing nav link.

/** fetch(url) -> parsed JSON; throws Error with the server's {"error"} message or a clear one
 * (and the HTTP status in error.status). */
export async function getJSON(url, options = {}) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new Error("Could not reach the tinct server. Is it still running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error
                                                : `The server answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** Shows the "Turing test" link in the top bar when the server runs a study. */
export async function showTuringLink() {
  try {
    const health = await getJSON("/healthz");
    for (const id of ["nav-turing", "nav-results"]) {
      const link = document.getElementById(id);
      if (link && health.turing) link.hidden = false;
    }
  } catch {
    /* the page itself reports connection problems */
  }
}

export function showBanner(message) {
  const banner = document.getElementById("banner");
  if (!banner) return;
  banner.textContent = message;
  banner.hidden = !message;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

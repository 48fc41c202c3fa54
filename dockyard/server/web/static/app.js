// Dockyard dashboard: confirmations for forms that change things, and a run's steps followed live
// over the server's event stream. No inline script (the pages' CSP forbids it), no dependency.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

function setStatus(element, status) {
  if (!element) return;
  element.textContent = status;
  element.className = "status " + status;
}

function follow(steps) {
  // the stream starts past the output the page was rendered with: each line shows once
  const shown = Array.from(steps.querySelectorAll("li[data-idx]"))
    .map((item) => item.dataset.idx + ":" + item.dataset.shown).join(",");
  const source = new EventSource("/runs/" + steps.dataset.run + "/events?after=" + encodeURIComponent(shown));
  const step = (idx) => steps.querySelector('li[data-idx="' + idx + '"]');
  source.addEventListener("output", (event) => {
    const data = JSON.parse(event.data);
    const item = step(data.idx);
    if (item) item.querySelector('[data-role="output"]').textContent += data.line + "\n";
  });
  source.addEventListener("step", (event) => {
    const data = JSON.parse(event.data);
    const item = step(data.idx);
    if (item) setStatus(item.querySelector('[data-role="status"]'), data.status);
    else window.location.reload();  // a step the page did not have yet
  });
  source.addEventListener("run", (event) => {
    setStatus(document.getElementById("run-status"), JSON.parse(event.data).status);
  });
  source.addEventListener("end", () => {
    source.close();
    window.location.reload();  // the run ended or waits at a gate: show what it offers now
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const steps = document.getElementById("steps");
  if (steps && steps.dataset.follow === "yes") follow(steps);
});

// The log page: lines that arrive after the search, appended as the server streams them.
document.addEventListener("DOMContentLoaded", () => {
  const lines = document.getElementById("log-lines");
  if (!lines || !lines.dataset.tail) return;
  const state = document.getElementById("tail-state");
  lines.scrollTop = lines.scrollHeight;  // it opens at the newest line, and follows while it stays there
  const source = new EventSource(lines.dataset.tail);
  source.onopen = () => { if (state) state.textContent = "(following)"; };
  source.addEventListener("line", (event) => {
    const data = JSON.parse(event.data);
    const atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
    lines.textContent += data.time + " " + data.container + " " + data.message + "\n";
    if (atBottom) lines.scrollTop = lines.scrollHeight;
  });
});

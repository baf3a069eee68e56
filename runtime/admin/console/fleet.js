// Baldur console, fleet panel: who leads, the scheduled tasks, the watchdog
// over the runtime's own loops; run a task now, step down. Uses app.js's
// helpers ($, el, get, act, fmtTime, confirmValue).
"use strict";

function fmtDuration(ns) {
  if (ns == null) return "";
  if (ns < 1e6) return `${Math.round(ns / 1e3)} µs`;
  if (ns < 1e9) return `${Math.round(ns / 1e6)} ms`;
  return `${(ns / 1e9).toFixed(1)} s`;
}

function renderLeader(s) {
  const who = s.leader ? "this process" : (s.holder || "unknown");
  $("fleet-leader").replaceChildren(
    el("span", { class: "pill " + (s.leader ? "state-closed" : "state-half-open") }, s.leader ? "LEADER" : "FOLLOWER"),
    ` leader: ${who}`,
    el("span", { class: "small muted" }, ` · token ${s.leader ? s.token : (s.holder_token || "–")} · lease ${s.lease} · ${s.mode}` +
      (s.expires ? ` · term until ${fmtTime(s.expires)}` : "") + (s.last_error ? ` · store: ${s.last_error}` : "")));
}

function renderSchedule(tasks) {
  const tb = $("fleet-schedule").querySelector("tbody");
  tb.replaceChildren();
  $("fleet-schedule-empty").hidden = tasks.length > 0;
  for (const t of tasks) {
    const outcome = t.running ? "running" : (t.last_outcome || "not run yet");
    tb.append(el("tr", { "data-task": t.name },
      el("td", {}, t.name), el("td", { class: "small" }, t.spec), el("td", {}, t.scope),
      el("td", { class: "small" }, fmtTime(t.last_run)),
      el("td", {}, el("span", { class: "pill " + stateClass(outcome === "ok" ? "closed" : outcome === "failed" || outcome === "panicked" ? "open" : "half-open") }, outcome),
        t.last_error ? el("div", { class: "small muted" }, t.last_error) : ""),
      el("td", { class: "small" }, t.last_run ? fmtDuration(t.last_duration_ns) : ""),
      el("td", { class: "small" }, fmtTime(t.next_run)),
      el("td", { class: "small" }, `${t.runs} / ${t.failures} / ${t.skips}`),
      el("td", {}, el("button", { type: "button", className: "run-task", title: "run it now in this process (admin role, unlocked server)", onclick: () => runTask(t.name) }, "Run now"))));
  }
}

function renderWatchdog(w) {
  const tb = $("fleet-watchdog").querySelector("tbody");
  tb.replaceChildren();
  for (const l of w.loops) {
    tb.append(el("tr", { "data-loop": l.name },
      el("td", {}, l.name),
      el("td", {}, el("span", { class: "pill " + stateClass(l.state === "ok" ? "closed" : "open") }, l.state)),
      el("td", { class: "small" }, fmtDuration(l.period_ns)),
      el("td", { class: "small" }, fmtDuration(l.silent_ns)),
      el("td", {}, l.restarts)));
  }
}

async function runTask(name) {
  const res = await act("schedule/run/", { task: name, reason: $("fleet-reason").value },
    `Task ${name} ran now.`);
  if (res.ok && res.body.outcome !== "ok") {
    say("error", `Task ${name} ran now and ended ${res.body.outcome}: ${res.body.error || ""}`);
  }
  await refreshFleet();
}

async function stepDown() {
  await act("leader/step-down/", { reason: $("fleet-reason").value, confirm: confirmValue() },
    "Stepped down: another process takes the lease at its next attempt.");
  await refreshFleet();
}

async function refreshFleet() {
  try {
    const [ld, sc, wd] = await Promise.all([get("leader/"), get("schedule/"), get("watchdog/")]);
    $("fleet-card").hidden = !(ld.ok || sc.ok || wd.ok);
    if (ld.ok) renderLeader(ld.body);
    if (sc.ok) renderSchedule(sc.body.tasks || []);
    if (wd.ok) renderWatchdog(wd.body);
    document.body.dataset.fleetLoaded = "true";
  } catch (e) {
    // app.js reports a server that does not answer.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("fleet-step-down").addEventListener("click", stepDown);
  refreshFleet();
  setInterval(refreshFleet, 3000);
});

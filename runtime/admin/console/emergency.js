// Baldur console: the emergency level and the governance gate. Loaded after
// app.js, whose helpers ($, el, get, act, fmtTime, confirmValue) it uses.
"use strict";

function renderEmergency(e) {
  $("em-level").textContent = e.level;
  $("em-level").className = "state em-" + String(e.level).toLowerCase();
  const bits = [];
  if (e.reason) bits.push(`${e.source === "auto" ? "raised by the signals" : "declared by " + (e.changed_by || "?")}: ${e.reason}`);
  if (e.changed_at) bits.push("since " + fmtTime(e.changed_at));
  if (e.floor && e.floor !== "NORMAL") bits.push("declared floor " + e.floor);
  if (e.pending_fleet) bits.push("not yet in the fleet state (store unreachable)");
  $("em-detail").textContent = bits.join(" · ");
  const rec = e.recovery;
  $("em-recovery").textContent = rec
    ? `Recovery toward ${rec.target} (${rec.auto ? "automatic" : "by " + rec.by}): ` +
      (e.recovery_held ? "held — " + e.recovery_held : "next step " + (e.next_step_at ? fmtTime(e.next_step_at) : "at the next evaluation"))
    : "No recovery under way.";
  const s = e.signals || {};
  const pct = (v) => (100 * (v || 0)).toFixed(1) + "%";
  const rows = [
    ["Breakers open", s.calls_error ? "unreadable: " + s.calls_error : `${pct(s.breakers_open)} of ${s.breakers || 0}`],
    ["Error rate", s.calls_error || s.rate_error ? "unreadable: " + (s.calls_error || s.rate_error) : `${pct(s.error_rate)} over ${s.calls || 0} calls`],
    ["CPU / load", s.host_error ? "unreadable: " + s.host_error : `${pct(s.cpu)} busy, load ${(s.load || 0).toFixed(2)} per CPU`],
    ["Demanded", `${e.demanded || "NORMAL"}${(e.why || []).length ? " — " + e.why.join("; ") : ""}`],
  ];
  $("em-signals").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  $("em-reviews").replaceChildren(...(e.reviews || []).map((r) =>
    el("li", {}, `${fmtTime(r.at)} ${r.who} forced ${r.from} → ${r.to}: ${r.reason || ""}`)));
  $("em-reviews-none").hidden = (e.reviews || []).length > 0;
}

function renderGovernance(g) {
  $("gov-verdict").textContent = g.blocked_by ? `Automation blocked by ${g.blocked_by}: ${g.reason}` : "Automation allowed.";
  $("gov-verdict").className = g.blocked_by ? "state state-open" : "state state-closed";
  $("gov-checks").replaceChildren(...(g.checks || []).map((c) =>
    el("tr", { "data-check": c.check }, el("td", {}, c.check), el("td", { class: "outcome-" + c.outcome }, c.outcome), el("td", {}, c.detail))));
  const w = (label, x) => x ? `${label} until ${fmtTime(x.until)} by ${x.who}: ${x.reason}` : `${label}: off`;
  $("gov-strict").textContent = w("STRICT", g.strict);
  $("gov-glass").textContent = w("Break Glass", g.break_glass);
  $("gov-reviews").replaceChildren(...(g.reviews || []).map((r) =>
    el("li", {}, `${fmtTime(r.at)} ${r.who} opened Break Glass until ${fmtTime(r.until)}: ${r.reason || ""}`)));
  $("gov-reviews-none").hidden = (g.reviews || []).length > 0;
}

async function refreshEmergency() {
  const [em, gov] = await Promise.all([get("emergency/"), get("governance/")]);
  if (em.ok) renderEmergency(em.body.emergency);
  if (gov.ok) renderGovernance(gov.body.governance);
  document.body.dataset.emergencyLoaded = "true";
}

async function emAct(path, payload, done) {
  await act(path, payload, done);
  await refreshEmergency();
}

function wireEmergency() {
  const reason = () => $("em-reason").value;
  const level = () => $("em-target").value;
  $("em-declare").addEventListener("click", () => emAct("emergency/declare/",
    { level: level(), reason: reason(), confirm: confirmValue() }, `Emergency level ${level()} declared.`));
  $("em-release").addEventListener("click", () => emAct("emergency/release/",
    { level: level(), reason: reason() }, `Recovery toward ${level()} started: one level per window, through the gate.`));
  $("em-force").addEventListener("click", () => emAct("emergency/force-release/",
    { level: level(), reason: reason(), confirm: confirmValue() }, `Level forced down to ${level()}; flagged for review.`));
  const greason = () => $("gov-reason").value;
  const timeout = () => $("gov-timeout").value.trim() || undefined;
  $("gov-strict-on").addEventListener("click", () => emAct("governance/strict/",
    { reason: greason(), timeout: timeout() }, "STRICT mode declared: automation is blocked until it ends."));
  $("gov-strict-off").addEventListener("click", () => emAct("governance/strict/end/",
    { reason: greason(), confirm: confirmValue() }, "STRICT mode ended."));
  $("gov-glass-open").addEventListener("click", () => emAct("governance/break-glass/",
    { reason: greason(), timeout: timeout(), confirm: confirmValue() }, "Break Glass open: flagged for review."));
  $("gov-glass-close").addEventListener("click", () => emAct("governance/break-glass/close/",
    { reason: greason() }, "Break Glass closed."));
}

document.addEventListener("DOMContentLoaded", () => {
  wireEmergency();
  refreshEmergency();
  setInterval(refreshEmergency, 3000);
});

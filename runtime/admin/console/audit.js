// Baldur console, audit trail panel: who did what, the chain's state, and
// the reviews waiting for an admin. Uses app.js's helpers (get, post, el, $, say, refusal, fmtTime).
"use strict";

const AUDIT_PAGE = 25;

function auditQuery() {
  const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
  const actor = $("audit-actor").value.trim();
  const action = $("audit-action").value.trim();
  if (actor) q.set("actor", actor);
  if (action) q.set("action", action);
  if ($("audit-review").checked) q.set("review", "pending");
  return "audit/?" + q.toString();
}

function renderAudit(page) {
  const tb = $("audit").querySelector("tbody");
  tb.replaceChildren();
  $("audit-empty").hidden = page.records.length > 0;
  $("audit-more").hidden = !page.next;
  const state = [`chain ${page.chain || "(empty)"}`, `backlog ${page.backlog}`];
  if (page.chain_broken) state.push("CHAIN BROKEN: run verify");
  if (page.drain_error) state.push("PostgreSQL: " + page.drain_error);
  $("audit-state").textContent = state.join(" · ");
  $("audit-state").className = page.chain_broken || page.drain_error ? "small state-open" : "small muted";
  for (const r of page.records) {
    const who = [r.operator, r.key].filter(Boolean).join(" · ") || "—";
    const ack = el("td", {});
    if (r.review_required) {
      const b = el("button", { type: "button", title: "acknowledge this review (admin role), with the note typed beside the filters" }, "Acknowledge");
      b.addEventListener("click", () => auditAcknowledge(r.seq));
      ack.append(el("span", { class: "badge" }, "review"), " ", b);
    }
    tb.append(el("tr", { "data-seq": String(r.seq) },
      el("td", { class: "small" }, String(r.seq)), el("td", { class: "small" }, fmtTime(r.time)), el("td", {}, who),
      el("td", {}, r.action), el("td", {}, r.target || ""),
      el("td", { class: "state-" + (r.outcome === "ok" ? "closed" : "open") }, r.outcome),
      el("td", { class: "small" }, r.reason || "", r.detail ? el("div", { class: "muted" }, r.detail) : ""), ack));
  }
}

async function auditRefresh() {
  const res = await get(auditQuery());
  if (res.ok) {
    $("audit-panel").hidden = false;
    $("audit-off").hidden = true;
    renderAudit(res.body);
  } else {
    $("audit-panel").hidden = true;
    $("audit-off").hidden = false;
    $("audit-off").textContent = (res.body && res.body.error) || `audit trail unavailable (${res.status})`;
  }
}

async function auditVerify() {
  const res = await get("audit/verify/");
  if (!res.ok) return refusal(res);
  const v = res.body;
  if (v.ok) say("ok", `Audit chain verified: ${v.checked} records, ${v.first} to ${v.last}, unbroken.`);
  else say("error", `Audit chain broken at record ${v.broken.seq}: ${v.broken.reason}`, "Records from there on cannot be trusted; compare with a backup of the database.");
}

async function auditAcknowledge(seq) {
  const note = $("audit-note").value.trim();
  if (!note) return say("error", "An acknowledgement needs a note", "Type what you checked in the note field, then press Acknowledge again.");
  const res = await post(`audit/${seq}/acknowledge/`, { reason: note });
  if (!res.ok) return refusal(res);
  say("ok", `Record ${seq} acknowledged.`);
  $("audit-note").value = "";
  await auditRefresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("audit-filters").addEventListener("submit", (e) => { e.preventDefault(); auditRefresh(); });
  $("audit-review").addEventListener("change", auditRefresh);
  $("audit-verify").addEventListener("click", auditVerify);
  auditRefresh();
  setInterval(auditRefresh, 5000);
});

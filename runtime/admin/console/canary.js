// Baldur console: canary rollouts of policy overrides — stages, cohort
// figures, the verdict, the gate that blocks; start, abort and the panic
// button.
// Loaded after app.js, whose helpers ($, el, get, act, fmtTime,
// confirmValue) it uses.
"use strict";

function canaryScope(s) {
  if (!s) return "?";
  if (s.kind === "all") return "all";
  if (s.kind === "service") return s.service;
  return `${s.service}.${s.method}`;
}

function canaryFigures(f) {
  if (!f) return "–";
  let t = `${f.calls} calls, ${(f.error_rate_pct || 0).toFixed(2)}% errors`;
  if (f.latency_samples > 0) t += `, p99 ${Number(f.p99_ms).toPrecision(3)} ms`;
  return t;
}

function canaryStages(r) {
  return (r.stages || []).map((p, i) => (i < r.stage ? `${p}% ✓` : i === r.stage && r.state === "running" ? `[${p}%]` : `${p}%`)).join(" → ");
}

function renderCanary(body) {
  const t = body.thresholds || {};
  $("canary-thresholds").textContent =
    `Judged after ${t.min_calls} calls: canary error rate ≤ baseline + ${t.max_error_rise_points} points; ` +
    `p99 ≤ baseline × ${t.max_p99_ratio} (with ${t.min_samples} samples). Hold ${t.hold_seconds}s per stage, ` +
    `rolled back ${t.stage_deadline_seconds}s after a stage began if not promoted. Refused from emergency ${t.max_emergency}.`;
  const rows = (body.rollouts || []).map((r) => {
    const verdict = r.verdict && r.verdict.outcome ? `${r.verdict.outcome}: ${r.verdict.reason}` : "–";
    const extra = [];
    if (r.blocked) extra.push("blocked by " + r.blocked);
    if (r.end_reason) extra.push(r.end_reason);
    if (r.review) extra.push("REVIEW: gates bypassed — " + r.bypass);
    const abort = el("button", { type: "button", class: "danger" }, "Abort");
    abort.hidden = r.state !== "running";
    abort.addEventListener("click", async () => {
      await act(`canary/${r.id}/abort/`, { reason: $("canary-reason").value }, `Rollout ${r.id} aborted.`);
      await refreshCanary();
    });
    return el("tr", { "data-rollout": r.id, "data-state": r.state },
      el("td", {}, r.id), el("td", { class: "state-" + r.state }, r.state), el("td", {}, canaryScope(r.scope)),
      el("td", {}, r.directive), el("td", {}, canaryStages(r)), el("td", {}, canaryFigures(r.canary)),
      el("td", {}, canaryFigures(r.baseline)), el("td", {}, verdict), el("td", { class: "small" }, extra.join(" · ")),
      el("td", {}, abort));
  });
  $("canary-rows").replaceChildren(...rows);
  $("canary-none").hidden = rows.length > 0;
}

async function refreshCanary() {
  const r = await get("canary/");
  if (r.ok) renderCanary(r.body);
  else $("canary-thresholds").textContent = (r.body && r.body.error) || "Canary rollouts are not available.";
  document.body.dataset.canaryLoaded = "true";
}

// canaryStartBody reads the start form: "service.Method", "service" or
// "*" as the route's scope fields; stages "1,10,50,100" (a % sign allowed).
function canaryStartBody() {
  const scope = $("canary-scope").value.trim();
  const body = { directive: $("canary-directive").value.trim(), reason: $("canary-reason").value };
  const dot = scope.lastIndexOf(".");
  if (scope === "*" || scope === "all") body.scope = "all";
  else if (dot > 0 && /^[A-Z]/.test(scope.slice(dot + 1))) {
    Object.assign(body, { scope: "method", service: scope.slice(0, dot), method: scope.slice(dot + 1) });
  } else Object.assign(body, { scope: "service", service: scope });
  const stages = $("canary-stages").value.trim();
  if (stages) body.stages = stages.split(",").map((p) => Number(p.trim().replace(/%$/, "")));
  return body;
}

document.addEventListener("DOMContentLoaded", () => {
  $("canary-start").addEventListener("click", async () => {
    await act("canary/start/", canaryStartBody(), "Rollout started: its first stage is staged fleet-wide.");
    await refreshCanary();
  });
  $("canary-panic").addEventListener("click", async () => {
    await act("canary/panic-rollback/", { reason: $("canary-reason").value, confirm: confirmValue() },
      "Every running rollout rolled back, fleet-wide.");
    await refreshCanary();
  });
  refreshCanary();
  setInterval(refreshCanary, 3000);
});

// Baldur console: policy overrides (retry, backoff, timeout, bulkhead_wait,
// and a service's breaker_threshold, breaker_recovery and bulkhead, at run
// time). Loaded after app.js, whose helpers ($, el, get, act,
// fmtTime, confirmValue) it uses.
"use strict";

function renderPolicy(p) {
  $("pol-keys").textContent = "Keys an override takes: " + (p.keys || []).join(", ") + ".";
  const overrides = p.overrides || [];
  $("pol-overrides").replaceChildren(...overrides.map((o) =>
    el("tr", { "data-scope": o.scope }, el("td", {}, o.scope), el("td", {}, o.values), el("td", {}, o.by),
      el("td", {}, fmtTime(o.at)), el("td", {}, o.reason || ""))));
  $("pol-overrides-none").hidden = overrides.length > 0;
  $("pol-canaries").replaceChildren(...(p.canaries || []).map((c) =>
    el("li", { "data-rollout": c.rollout }, `canary of rollout ${c.rollout} on ${c.scope} (${(c.types || []).join(", ")}): ` +
      `${c.values} for ${c.permille}‰ (by ${c.by}, ${fmtTime(c.at)})`)));
  const rows = [];
  for (const z of p.zones || []) {
    for (const s of z.settings || []) {
      const changed = s.source.startsWith("override ");
      rows.push(el("tr", { "data-zone": `${z.service}.${z.method}`, "data-key": s.key, class: changed ? "overridden" : "" },
        el("td", {}, `${z.service}.${z.method}`), el("td", {}, s.key), el("td", {}, s.value), el("td", {}, s.source),
        el("td", {}, s.directive)));
    }
  }
  $("pol-zones").replaceChildren(...rows);
}

async function refreshPolicy() {
  const r = await get("policy/");
  if (r.ok) renderPolicy(r.body);
  document.body.dataset.policyLoaded = "true";
}

async function polAct(path, payload, done) {
  await act(path, payload, done);
  await refreshPolicy();
}

function wirePolicy() {
  const scope = () => $("pol-scope").value.trim();
  const reason = () => $("pol-reason").value;
  $("pol-set").addEventListener("click", () => polAct("policy/set/",
    { scope: scope(), values: $("pol-values").value.trim(), reason: reason(), confirm: confirmValue() },
    `Override of ${scope()} stored: in force across the fleet within a second.`));
  $("pol-unset").addEventListener("click", () => polAct("policy/unset/",
    { scope: scope(), reason: reason(), confirm: confirmValue() }, `Override of ${scope()} removed.`));
}

document.addEventListener("DOMContentLoaded", () => {
  wirePolicy();
  refreshPolicy();
  setInterval(refreshPolicy, 3000);
});

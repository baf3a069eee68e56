// Baldur console: fault-injection experiments (README, Fault injection).
// Loaded after app.js, whose helpers ($, el, get, act, fmtTime, confirmValue) it uses.
"use strict";

function chaosFaults(e) {
  const parts = [];
  if (e.error_percent > 0) parts.push(`errors ${e.error_percent}%`);
  if (e.latency) parts.push(`latency ${e.latency} on ${e.latency_percent}%`);
  return parts.join(", ");
}

function renderChaos(a) {
  const tb = $("chaos").querySelector("tbody");
  const list = a.experiments || [];
  tb.replaceChildren(...list.map((e) => {
    const stop = el("button", { type: "button", "data-chaos-stop": e.service }, "Stop");
    stop.addEventListener("click", () => chaosAct("chaos/stop/", { service: e.service, reason: $("chaos-reason").value },
      `Experiment on ${e.service} stopped.`));
    return el("tr", { "data-chaos-row": e.service },
      el("td", {}, e.service),
      el("td", {}, chaosFaults(e)),
      el("td", {}, fmtTime(e.until)),
      el("td", {}, e.by),
      el("td", {}, `${e.injected_errors} errors, ${e.injected_delays} delays`),
      el("td", {}, e.reason || ""),
      el("td", { class: "actions" }, stop));
  }));
  $("chaos-empty").hidden = list.length > 0;
  const bits = [`Each experiment ends by itself (at most ${a.max_for}).`];
  if (a.paused) bits.push("PAUSED: the emergency level is HIGH or above; nothing is injected.");
  if (a.disabled) bits.push("Disabled in this process (BALDUR_CHAOS_ENABLED=false).");
  $("chaos-state").textContent = bits.join(" ");
}

async function refreshChaos() {
  const r = await get("chaos/");
  if (r.ok) renderChaos(r.body);
  document.body.dataset.chaosLoaded = "true";
}

async function chaosAct(path, payload, done) {
  await act(path, payload, done);
  await refreshChaos();
}

function wireChaos() {
  $("chaos-inject").addEventListener("click", () => {
    const service = $("chaos-service").value.trim();
    const errors = $("chaos-errors").value.trim();
    const payload = {
      service,
      error_percent: errors === "" ? undefined : Number(errors),
      latency: $("chaos-latency").value.trim() || undefined,
      for: $("chaos-for").value.trim() || undefined,
      reason: $("chaos-reason").value,
      confirm: confirmValue(),
    };
    chaosAct("chaos/", payload, `Fault injection started on ${service}.`);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireChaos();
  refreshChaos();
  setInterval(refreshChaos, 3000);
});

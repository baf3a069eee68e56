// Baldur console, load-shaping panel: each shaped method's rate limit
// (tokens / burst), adaptive throttle (probability of shedding), adaptive
// concurrency limit (in flight / limit) and retry budget (retries / allowed
// over 10 s), and what the emergency level halves. Read-only; uses app.js's
// helpers.
"use strict";

function pct(p) { return `${(p * 100).toFixed(1)} %`; }

function halvedTag(on, word) {
  return on ? el("span", { class: "pill state-half-open small" }, word || "halved") : "";
}

function renderShaping(s) {
  $("shaping-level").textContent = `emergency level ${s.level}` +
    (s.level === "ELEVATED" ? ": retry budgets halved" :
      (s.level === "HIGH" || s.level === "CRITICAL") ? ": retry budgets, rate limits and adaptive concurrency limits halved" : "");
  const tb = $("shaping").querySelector("tbody");
  tb.replaceChildren();
  $("shaping-empty").hidden = s.methods.length > 0;
  for (const m of s.methods) {
    const dash = () => el("td", { class: "muted" }, "–");
    const r = m.rate, t = m.throttle, c = m.concurrency, b = m.retry_budget, k = m.cache, h = m.hedge;
    tb.append(el("tr", { "data-method": `${m.service}.${m.method}` },
      el("td", {}, `${m.service}.${m.method}`),
      k ? el("td", { "data-cell": "cache" }, `${k.hits} hits / ${k.misses} misses`,
        el("div", { class: "small muted" }, `${k.stale} stale · ${k.entries} / ${k.max_entries} entries`)) : dash(),
      r ? el("td", { "data-cell": "rate" }, `${r.tokens} / ${r.burst} tokens`,
        el("div", { class: "small muted" }, `${r.limit}${r.fleet ? " fleet" : ""} · ${r.limited} limited` +
          (r.lease_errors ? ` · ${r.lease_errors} lease errors` : "")), halvedTag(r.halved)) : dash(),
      t ? el("td", { "data-cell": "throttle" }, pct(t.probability),
        el("div", { class: "small muted" }, `${t.shed} shed`)) : dash(),
      c ? el("td", { "data-cell": "concurrency" }, `${c.in_flight} / ${c.limit}`,
        el("div", { class: "small muted" }, `${c.limited} refused`), halvedTag(c.halved)) : dash(),
      b ? el("td", { "data-cell": "budget" }, `${b.retries} / ${Math.round(b.allowed)} retries`,
        el("div", { class: "small muted" }, `${b.budget}${b.fleet ? ` · fleet of ${b.processes}` : ""} · ${b.exhausted} refused` +
          (b.sync_errors ? ` · ${b.sync_errors} sync errors` : "")), halvedTag(b.shrunk)) : dash(),
      h ? el("td", { "data-cell": "hedge" }, `${h.started} started / ${h.won} won`,
        el("div", { class: "small muted" }, `after ${h.delay_ms.toFixed(1)} ms · ${h.refused} refused by the budget`)) : dash()));
  }
}

async function refreshShaping() {
  try {
    const r = await get("shaping/");
    $("shaping-card").hidden = !r.ok;
    if (r.ok) renderShaping(r.body);
    document.body.dataset.shapingLoaded = "true";
  } catch (e) {
    // app.js reports a server that does not answer.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refreshShaping();
  setInterval(refreshShaping, 3000);
});

// Baldur console: plain JavaScript, no framework, no request leaves this server.
"use strict";

const API = "/api/baldur/";
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function headers(json) {
  const h = {};
  const key = sessionStorage.getItem("baldur.key") || "";
  const who = sessionStorage.getItem("baldur.who") || "";
  if (key) h["X-Baldur-Key"] = key;
  if (who) h["X-Baldur-Operator"] = who;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function get(path) {
  const r = await fetch(API + path, { headers: headers(false), cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, body };
}

async function post(path, payload) {
  const r = await fetch(API + path, { method: "POST", headers: headers(true), body: JSON.stringify(payload || {}) });
  const body = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, body };
}

function say(kind, text, hint) {
  const m = $("message");
  m.hidden = false;
  m.className = "message " + kind;
  m.replaceChildren(el("strong", {}, text));
  if (hint) m.append(el("div", { class: "hint" }, hint));
}

function refusal(res) {
  const b = res.body || {};
  say("error", `Refused (${res.status}, gate: ${b.gate || "?"}): ${b.error || "unknown error"}`, b.hint ? "How to pass: " + b.hint : "");
}

function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}

function stateClass(s) {
  return "state-" + String(s || "").toLowerCase().replace(/_/g, "-");
}

// --- rendering -----------------------------------------------------------

function renderControl(c) {
  if (!c) {
    $("status-killswitch").textContent = "n/a";
    $("status-mode").textContent = "n/a";
    $("status-detail").textContent = "This server has no control store.";
    return;
  }
  const ks = $("status-killswitch");
  ks.textContent = c.kill_switch;
  ks.className = "state " + stateClass(c.kill_switch);
  const mode = $("status-mode");
  mode.textContent = c.mode;
  mode.className = "state " + stateClass(c.mode);
  let detail = "";
  if (c.changed_by) detail = `Last change by ${c.changed_by} at ${fmtTime(c.changed_at)}` + (c.reason ? ` — “${c.reason}”` : "");
  if (c.state_error) detail += ` · state unreadable: ${c.state_error}`;
  $("status-detail").textContent = detail;
  $("backend").textContent = `Persisted in ${c.backend} · revision ${c.revision}`;
}

function renderSummary(s) {
  const v = $("verdict");
  v.textContent = s.verdict;
  v.className = "badge " + stateClass(s.verdict);
  $("verdict-reason").textContent = s.verdict_reason || "";
  const tiles = $("summary");
  tiles.replaceChildren();
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, s.breakers.total), "breakers"));
  for (const state of ["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "FORCED_CLOSED"]) {
    const n = s.breakers.by_state[state] || 0;
    tiles.append(el("div", { class: "tile " + stateClass(state) }, el("div", { class: "num" }, n), state));
  }
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, s.zones), "protected methods"));
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, s.would_have.total), "would-have entries"));
  const o = s.overview || {};
  const span = s.since_start ? "since start" : `last ${Math.round(s.window_seconds || 0)}s`;
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, o.calls ?? 0), `calls (${span})`));
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, o.failures ?? 0), "failed attempts"));
  const rate = s.resolution && s.resolution.rate != null ? Math.round(100 * s.resolution.rate) + "%" : "–";
  tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, rate), "resolved by fallback"));
  if ((s.partial || []).length) tiles.append(el("div", { class: "tile" }, el("div", { class: "num" }, "–"), "not read: " + s.partial.join(", ")));
  renderControl(s.control);
}

const ACTIONS = [["reset", "Reset"], ["force-open", "Force open"], ["force-close", "Force close"], ["auto", "Auto"]];

function renderBreakers(list) {
  const tb = $("breakers").querySelector("tbody");
  tb.replaceChildren();
  $("breakers-empty").hidden = list.length > 0;
  for (const b of list) {
    const actions = el("td", { class: "actions" });
    for (const [action, label] of ACTIONS) {
      const btn = el("button", { type: "button", "data-breaker": b.name, "data-action": action }, label);
      if (action === "force-open") btn.classList.add("danger");
      btn.addEventListener("click", () => breakerAction(b.name, action));
      actions.append(btn);
    }
    const last = b.last_transition ? `${b.last_transition.from} → ${b.last_transition.to} ${fmtTime(b.last_transition.at)}` : "";
    tb.append(el("tr", { "data-breaker-row": b.name },
      el("td", {}, b.name),
      el("td", {}, el("span", { class: "pill " + stateClass(b.state) }, b.state)),
      el("td", {}, `${b.failures} / ${b.limits.failure_threshold}`),
      el("td", {}, (b.methods || []).join(", ")),
      el("td", { class: "small" }, last, b.last_transition && b.last_transition.reason ? el("div", { class: "muted" }, b.last_transition.reason) : ""),
      actions));
  }
}

function renderWouldHave(w) {
  const tb = $("would-have").querySelector("tbody");
  tb.replaceChildren();
  $("would-have-empty").hidden = w.entries.length > 0;
  for (const d of w.entries) {
    tb.append(el("tr", {}, el("td", { class: "small" }, fmtTime(d.at)), el("td", {}, d.service), el("td", {}, d.method),
      el("td", {}, d.policy), el("td", {}, d.decision), el("td", { class: "small" }, d.reason)));
  }
}

function renderHistory(h) {
  const ol = $("history");
  ol.replaceChildren();
  if (h.length === 0) ol.append(el("li", { class: "muted" }, "No change recorded."));
  for (const c of h.slice(0, 20)) {
    ol.append(el("li", {}, el("span", { class: "small muted" }, fmtTime(c.at) + " "), el("strong", {}, c.action), ` by ${c.who}`,
      c.reason ? ` — “${c.reason}”` : "", el("span", { class: "small muted" }, ` → ${c.kill_switch} ${c.mode}`)));
  }
}

// --- actions -------------------------------------------------------------

function confirmValue() { return $("confirm").value.trim(); }

async function act(path, payload, done) {
  const res = await post(path, payload);
  if (res.ok) say("ok", done);
  else refusal(res);
  await refresh();
  return res;
}

function breakerAction(name, action) {
  return act(`breakers/${encodeURIComponent(name)}/${action}/`,
    { confirm: confirmValue(), override: $("override").checked }, `${action} ${name}: done`);
}

function wire() {
  $("key").value = sessionStorage.getItem("baldur.key") || "";
  $("who").value = sessionStorage.getItem("baldur.who") || "";
  $("key").addEventListener("change", () => { sessionStorage.setItem("baldur.key", $("key").value.trim()); refresh(); });
  $("who").addEventListener("change", () => sessionStorage.setItem("baldur.who", $("who").value.trim()));
  $("auth").addEventListener("submit", (e) => e.preventDefault());
  $("disable").addEventListener("click", () => act("control/disable/", { reason: $("disable-reason").value, confirm: confirmValue() }, "Kill switch disabled: policies are off."));
  $("enable").addEventListener("click", () => act("control/enable/", { confirm: confirmValue() }, "Kill switch enabled: policies run again."));
  $("dryrun-on").addEventListener("click", () => act("control/dry-run/on/", {}, "Dry-run started: policies only record."));
  $("go-live").addEventListener("click", () => act("control/go-live/", { confirm: confirmValue() }, "Live: policies intervene again."));
}

let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const [who, sum, br, wh, hist, dlq] = await Promise.all([
      get("whoami/"), get("dashboard/summary/"), get("breakers/"), get("control/would-have/?limit=50"), get("control/history/"), get("dlq/"),
    ]);
    if (who.ok) {
      $("role").textContent = who.body.keys_configured ? `role: ${who.body.role}` : "no admin key configured (read-only)";
      $("lock-banner").hidden = who.body.unlocked;
    } else {
      $("role").textContent = "key refused";
      refusal(who);
    }
    if (sum.ok) renderSummary(sum.body);
    if (br.ok) renderBreakers(br.body.breakers);
    if (wh.ok) renderWouldHave(wh.body);
    if (hist.ok) renderHistory(hist.body.history);
    else if (hist.status === 503) renderHistory([]);
    $("dlq").textContent = dlq.body.error ? `${dlq.body.error}.` : "";
    document.body.dataset.loaded = "true";
  } catch (e) {
    say("error", "The server did not answer: " + e.message, "Is the process still running?");
  } finally {
    refreshing = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  refresh();
  setInterval(refresh, 3000);
});

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
  if (c.pending_fleet) detail += " · PENDING: in force on this server, not yet published to the fleet (store unreachable)";
  $("status-detail").textContent = detail;
  $("backend").textContent = `Persisted in ${c.backend} · revision ${c.revision}`;
}

function renderSummary(s) {
  const v = $("verdict");
  v.textContent = s.verdict;
  v.className = "badge " + stateClass(s.verdict);
  $("verdict-reason").textContent = s.verdict_reason || "";
  $("verdict-reason").dataset.service = s.verdict_service || "";
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
      el("td", {}, el("span", { class: "pill " + stateClass(b.state) }, b.state),
        b.chaos ? el("span", { class: "pill chaos", "data-chaos": b.name, title: "a fault-injection experiment is applied: its failures are a rehearsal's" }, "CHAOS") : ""),
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

// --- dead-letter queue ----------------------------------------------------

const DLQ_PAGE = 50;
let dlqSelected = "";

function dlqQuery() {
  const q = new URLSearchParams({ limit: String(DLQ_PAGE) });
  const domain = $("dlq-domain").value.trim();
  const state = $("dlq-state").value;
  if (domain) q.set("domain", domain);
  if (state) q.set("state", state);
  return "dlq/?" + q.toString();
}

// renderDLQOff says why the panel has nothing to show: no queue on this
// server (501), or the key may not read it.
function renderDLQOff(res) {
  const b = res.body || {};
  $("dlq-panel").hidden = res.status === 501;
  $("dlq-stats").textContent = "";
  const p = $("dlq-unavailable");
  p.hidden = false;
  p.textContent = res.status === 501 ? `${b.error || "not available"}.` : `Refused (${res.status}, gate: ${b.gate || "?"}): ${b.error || ""}`;
}

function renderDLQStats(s) {
  const parts = [`${s.total} unresolved`];
  for (const d of s.domains || []) {
    const n = [];
    if (d.pending) n.push(`${d.pending} pending`);
    if (d.replaying) n.push(`${d.replaying} replaying`);
    if (d.needs_review) n.push(`${d.needs_review} need review`);
    if (d.compressed) n.push(`${d.compressed} compressed`);
    if (n.length) parts.push(`${d.domain}: ${n.join(", ")}`);
  }
  if (s.evicted) parts.push(`${s.evicted} evicted at the cap`);
  $("dlq-stats").textContent = parts.join(" · ");
  const dl = $("dlq-domains");
  dl.replaceChildren(...(s.domains || []).map((d) => el("option", { value: d.domain })));
}

function renderDLQ(list) {
  $("dlq-panel").hidden = false;
  $("dlq-unavailable").hidden = true;
  const tb = $("dlq").querySelector("tbody");
  tb.replaceChildren();
  $("dlq-empty").hidden = list.entries.length > 0;
  $("dlq-more").hidden = !list.next;
  for (const e of list.entries) {
    const actions = el("td", { class: "actions" });
    const button = (action, label, enabled, danger) => {
      const b = el("button", { type: "button", "data-dlq": e.id, "data-action": action }, label);
      b.disabled = !enabled;
      if (danger) b.classList.add("danger");
      b.addEventListener("click", () => dlqAction(e.id, action));
      actions.append(b);
    };
    button("details", "Details", true);
    button("replay", "Replay", e.state === "pending");
    button("redrive", "Redrive", e.state === "needs_review");
    button("purge", "Purge", true, true);
    tb.append(el("tr", { "data-dlq-id": e.id },
      el("td", { class: "small" }, el("code", {}, e.id)),
      el("td", {}, e.domain),
      el("td", {}, e.operation),
      el("td", {}, el("span", { class: "pill " + stateClass(e.state), title: e.reason }, e.state)),
      el("td", { class: "small error", title: e.error }, `${e.failure_type}: ${e.error}`),
      el("td", {}, e.replay_count),
      el("td", { class: "small" }, fmtTime(e.last_failure)),
      actions));
  }
}

async function showEntry(id) {
  dlqSelected = id;
  const res = await get(`dlq/${encodeURIComponent(id)}/`);
  $("dlq-detail").hidden = false;
  $("dlq-detail-id").textContent = id;
  $("dlq-detail-body").textContent = res.ok ? JSON.stringify(res.body.entry, null, 2) : `${res.body.error || "unavailable"} (${res.status})`;
}

function outcomes(o) {
  return Object.entries(o || {}).map(([k, v]) => `${v} ${k}`).join(", ") || "nothing to replay";
}

async function dlqAction(id, action) {
  if (action === "details") return showEntry(id);
  const payload = action === "purge" ? { confirm: confirmValue() } : action === "replay" ? { override: $("override").checked } : {};
  const res = await post(`dlq/${encodeURIComponent(id)}/${action}/`, payload);
  if (!res.ok) refusal(res);
  else if (action === "purge") say("ok", `Purged ${id}.`);
  else {
    const e = res.body.entry || {};
    say("ok", `${action} ${id}: now ${e.state} (${e.reason})` + (e.last_error ? `; last error: ${e.last_error}` : ""));
  }
  if (dlqSelected === id) await showEntry(id);
  await refresh();
}

async function dlqReplayBatch() {
  const domain = $("dlq-domain").value.trim();
  if (!domain) {
    say("error", "Type a domain in the filter first: the batch replays one domain's pending entries.");
    return;
  }
  const res = await post("dlq/replay/", { domain, override: $("override").checked });
  if (res.ok) {
    const r = res.body.report || {};
    say("ok", `Replayed ${r.replayed} entries of ${domain}: ${outcomes(r.outcomes)}` + (r.stopped ? `; stopped: ${r.stopped}` : ""), res.body.note || "");
  } else refusal(res);
  await refresh();
}

async function dlqPurgeBatch() {
  const payload = { confirm: confirmValue() };
  const domain = $("dlq-domain").value.trim();
  if (domain) payload.domain = domain;
  if ($("dlq-state").value) payload.state = $("dlq-state").value;
  const res = await post("dlq/purge/", payload);
  if (res.ok) say("ok", `Purged ${res.body.purged} entries.` + (res.body.more ? " More match: purge again." : ""));
  else refusal(res);
  await refresh();
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
  $("dryrun-on").addEventListener("click", () => act("control/dry-run/on/", { confirm: confirmValue() }, "Dry-run started: policies only record."));
  $("go-live").addEventListener("click", () => act("control/go-live/", { confirm: confirmValue() }, "Live: policies intervene again."));
  $("dlq-filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  $("dlq-domain").addEventListener("change", () => refresh());
  $("dlq-state").addEventListener("change", () => refresh());
  $("dlq-replay-batch").addEventListener("click", dlqReplayBatch);
  $("dlq-purge-batch").addEventListener("click", dlqPurgeBatch);
  $("dlq-detail-close").addEventListener("click", () => { dlqSelected = ""; $("dlq-detail").hidden = true; });
}

// A refresh asked for while one runs (a filter changed) runs right after it.
let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    const [who, sum, br, wh, hist, dlq, dlqStats] = await Promise.all([
      get("whoami/"), get("dashboard/summary/"), get("breakers/"), get("control/would-have/?limit=50"), get("control/history/"),
      get(dlqQuery()), get("dlq/stats/"),
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
    if (dlq.ok) renderDLQ(dlq.body);
    else renderDLQOff(dlq);
    if (dlqStats.ok) renderDLQStats(dlqStats.body.stats);
    document.body.dataset.loaded = "true";
  } catch (e) {
    say("error", "The server did not answer: " + e.message, "Is the process still running?");
  } finally {
    refreshing = false;
  }
  if (again) {
    again = false;
    await refresh();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  refresh();
  setInterval(refresh, 3000);
});

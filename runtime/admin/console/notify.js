// Baldur console: the notifier's channels (endpoints as scheme and host
// only), guards, counters and lasting alerts, and a test alert. Loaded
// after app.js, whose helpers ($, el, get, post, say, refusal, fmtTime) it uses.
"use strict";

function renderNotify(n) {
  $("notify-state").textContent = `Alerts ${n.enabled ? "enabled" : "DISABLED: every alert is suppressed"} · source ${n.source} · ${n.queued} queued`;
  const tb = $("notify-channels").querySelector("tbody");
  tb.replaceChildren(...(n.channels || []).map((c) => el("tr", { "data-channel": c.name },
    el("td", {}, c.name), el("td", { class: "small" }, c.endpoint), el("td", { class: "small" }, (c.priorities || []).join(", ")),
    el("td", {}, c.delivered), el("td", {}, c.failed), el("td", {}, c.retried), el("td", {}, c.queued))));
  $("notify-none").hidden = (n.channels || []).length > 0;
  const sel = $("notify-channel");
  const want = ["", ...(n.channels || []).map((c) => c.name)];
  if ([...sel.options].map((o) => o.value).join() !== want.join()) {
    const keep = sel.value;
    sel.replaceChildren(...want.map((v) => el("option", { value: v }, v || "every channel")));
    if (want.includes(keep)) sel.value = keep;
  }
  const g = n.guards || {};
  $("notify-guards").textContent = `Guards: cooldown ${g.cooldown} · ${g.per_minute}/min, ${g.per_hour}/h overall · ` +
    `${g.channel_per_minute}/min, ${g.channel_per_hour}/h each channel · burst over ${g.burst_threshold} in ${g.burst_window} · reminders every ${g.remind_after}`;
  const counted = (n.counts || []).filter((c) => c.n > 0).map((c) => `${c.outcome}/${c.reason} ${c.n}`);
  $("notify-counts").textContent = "Counted: " + (counted.length ? counted.join(", ") : "nothing yet");
  const lasting = n.lasting || [];
  $("notify-lasting").querySelector("tbody").replaceChildren(...lasting.map((l) => el("tr", { "data-key": l.key },
    el("td", {}, l.key), el("td", {}, l.priority), el("td", { class: "small" }, fmtTime(l.since)),
    el("td", {}, l.reminders), el("td", {}, l.title))));
  $("notify-lasting-none").hidden = lasting.length > 0;
}

async function refreshNotify() {
  try {
    const res = await get("notify/");
    $("notify-card").hidden = !res.ok;
    if (res.ok) renderNotify(res.body);
    document.body.dataset.notifyLoaded = "true";
  } catch (e) {
    // app.js reports a server that does not answer.
  }
}

async function testNotify() {
  const res = await post("notify/test/", { channel: $("notify-channel").value || undefined, reason: $("notify-reason").value });
  const out = $("notify-results");
  if (!res.ok) {
    refusal(res);
    out.replaceChildren();
  } else {
    const results = res.body.results || [];
    out.replaceChildren(...results.map((r) => el("li", { "data-channel": r.channel, class: r.ok ? "outcome-ok" : "outcome-failed" },
      r.ok ? `${r.channel} (${r.endpoint}): delivered, ${r.status} in ${r.took_ms} ms` : `${r.channel} (${r.endpoint}): FAILED: ${r.error || ""}`)));
    if (res.body.ok) say("ok", "Test alert delivered to every channel tried.");
    else say("error", "The test alert did not reach every channel: see the alerts panel.");
  }
  await refreshNotify();
}

document.addEventListener("DOMContentLoaded", () => {
  $("notify-test").addEventListener("click", testNotify);
  refreshNotify();
  setInterval(refreshNotify, 5000);
});

// Baldur console, plots: the series/ answers drawn as plain SVG (no library,
// no inline style, no request beyond this server). Loaded after app.js, whose
// el, get, $ and stateClass it uses.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

let plotService = "";
let plotRange = "minutes";
let lastList = { services: [] };

// A sparkline: values oldest first, scaled to the largest.
function sparkSVG(values) {
  const w = 120, h = 24, n = values.length;
  const top = Math.max(1, ...values);
  const s = svg("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, width: w, height: h, "data-points": n, role: "img" });
  if (n) {
    const pts = values.map((v, i) => `${n < 2 ? w : ((i * w) / (n - 1)).toFixed(1)},${(h - 1 - (v / top) * (h - 2)).toFixed(1)}`);
    s.append(svg("polyline", { points: pts.join(" "), class: "spark-line" }));
  }
  return s;
}

function renderSparks(list) {
  const box = $("sparks");
  box.replaceChildren();
  for (const s of list.services) {
    const row = el("button", { type: "button", class: "spark-row", "data-spark": s.service },
      el("span", { class: "spark-name" }, s.service), el("span", { class: "pill " + stateClass(s.state) }, s.state), sparkSVG(s.calls));
    row.addEventListener("click", () => { choose(s.service); $("plots-card").scrollIntoView(); });
    box.append(row);
  }
}

function choose(name) {
  plotService = name;
  $("plots-service").value = name;
  refreshPlots();
}

// busiest picks what to plot first: a service whose breaker is not CLOSED,
// else the one with the most failures, then calls, in the last hour.
function busiest(services) {
  const sum = (vs) => (vs || []).reduce((a, b) => a + b, 0);
  const score = (s) => [s.state !== "CLOSED" ? 1 : 0, sum(s.failures) + sum(s.rejections), sum(s.calls)];
  let best = null;
  for (const s of services) {
    if (!best) { best = s; continue; }
    const a = score(s), b = score(best);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) { if (a[i] > b[i]) best = s; break; }
    }
  }
  return best ? best.service : "";
}

function renderServiceChoice(list) {
  const sel = $("plots-service");
  const names = list.services.map((s) => s.service);
  if (!names.includes(plotService)) plotService = busiest(list.services);
  sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  sel.value = plotService;
}

const W = 760, PADL = 48, PADR = 10;

// axis maps a time to x over [t0, t1].
function axis(t0, t1) {
  return (t) => PADL + ((new Date(t).getTime() - t0) / (t1 - t0)) * (W - PADL - PADR);
}

function frame(kind, title, h, pointCount) {
  const s = svg("svg", { class: "chart", "data-chart": kind, "data-points": pointCount, viewBox: `0 0 ${W} ${h}`, width: W, height: h, role: "img" });
  s.append(svg("title", {}, title));
  s.append(svg("text", { x: 4, y: 12, class: "chart-title" }, title));
  s.append(svg("line", { x1: PADL, y1: h - 14, x2: W - PADR, y2: h - 14, class: "axis" }));
  return s;
}

// marks draws the transitions and annotations as vertical lines.
function marks(s, x, h, view) {
  for (const tr of view.transitions || []) {
    const xx = x(tr.at);
    if (xx < PADL) continue;
    s.append(svg("line", { x1: xx, y1: 16, x2: xx, y2: h - 14, class: "transition", "data-to": tr.to },
      svg("title", {}, `${tr.from} → ${tr.to} ${fmtTime(tr.at)} ${tr.reason || ""}`)));
  }
  for (const a of view.annotations || []) {
    const xx = x(a.at);
    if (xx < PADL) continue;
    const by = a.who ? ` by ${a.who}` : "", on = a.service ? ` on ${a.service}` : "";
    s.append(svg("line", { x1: xx, y1: 16, x2: xx, y2: h - 14, class: "annotation kind-" + String(a.kind).replace(/[^a-z0-9-]/gi, "_"), "data-kind": a.kind },
      svg("title", {}, `${a.kind}${on}${by} ${fmtTime(a.at)} ${a.reason || ""}`)));
  }
}

function barsChart(view, points, x, step) {
  const h = 130, base = h - 14, top = Math.max(1, ...points.map((p) => p.calls));
  const s = frame("calls", `calls, failures, rejections per ${step === 60 ? "minute" : "hour"} (max ${top})`, h, points.length);
  const bw = Math.max(1, x(new Date(0 + step * 1000)) - x(new Date(0)) - 1);
  const y = (v) => base - (v / top) * (base - 18);
  for (const p of points) {
    const xx = x(p.start);
    if (xx < PADL) continue;
    const g = svg("g", { class: "point", "data-start": p.start });
    g.append(svg("rect", { x: xx, y: y(p.calls), width: bw, height: base - y(p.calls), class: "bar-calls" }));
    g.append(svg("rect", { x: xx, y: y(p.failures), width: bw, height: base - y(p.failures), class: "bar-failures" }));
    g.append(svg("rect", { x: xx, y: y(p.failures + p.rejections), width: bw, height: y(p.failures) - y(p.failures + p.rejections), class: "bar-rejections" }));
    g.append(svg("title", {}, `${fmtTime(p.start)}: ${p.calls} calls, ${p.failures} failed, ${p.rejections} rejected`));
    s.append(g);
  }
  marks(s, x, h, view);
  return s;
}

function lineChart(kind, title, points, x, lines) {
  const h = 110, base = h - 14;
  const vals = points.flatMap((p) => lines.map((l) => p[l.key])).filter((v) => v >= 0);
  const top = Math.max(1, ...vals);
  const s = frame(kind, `${title} (max ${Math.round(top * 10) / 10})`, h, points.length);
  const y = (v) => base - (v / top) * (base - 18);
  for (const l of lines) {
    const pts = points.filter((p) => p[l.key] >= 0 && x(p.start) >= PADL).map((p) => `${x(p.start).toFixed(1)},${y(p[l.key]).toFixed(1)}`);
    if (pts.length) s.append(svg("polyline", { points: pts.join(" "), class: "line " + l.cls }, svg("title", {}, l.label)));
  }
  return s;
}

// bandChart: the breaker's worst state per interval, OPEN in red.
function bandChart(view, points, x, step) {
  const h = 48;
  const s = frame("state", "breaker state (worst per interval; lines: transitions and kill-switch / dry-run changes)", h, points.length);
  const bw = Math.max(1, x(new Date(step * 1000)) - x(new Date(0)));
  for (const p of points) {
    const xx = x(p.start);
    if (xx < PADL) continue;
    s.append(svg("rect", { x: xx, y: 18, width: bw, height: h - 34, class: "band " + stateClass(p.worst), "data-state": p.worst },
      svg("title", {}, `${fmtTime(p.start)}: ${p.worst}${p.transitions ? `, ${p.transitions} transitions` : ""}`)));
  }
  marks(s, x, h, view);
  return s;
}

// emergencyChart: the fleet's emergency level per interval (the highest
// in force during it) as a band, with the level changes as lines.
function emergencyChart(view, track, x, step) {
  const h = 48;
  const s = frame("emergency", "emergency level (highest per interval; lines: level changes)", h, track.length);
  const bw = Math.max(1, x(new Date(step * 1000)) - x(new Date(0)));
  for (const p of track) {
    const xx = x(p.start);
    if (xx < PADL) continue;
    s.append(svg("rect", { x: xx, y: 18, width: bw, height: h - 34, class: "emg level-" + String(p.worst).toLowerCase(), "data-level": p.worst },
      svg("title", {}, `${fmtTime(p.start)}: ${p.worst}${p.worst !== p.level ? ` (${p.level} at the end)` : ""}`)));
  }
  marks(s, x, h, { annotations: (view.annotations || []).filter((a) => a.kind === "emergency") });
  return s;
}

// replayChart: dead-letter replays run per interval, resolved ones darker.
function replayChart(view, track, x, step) {
  const h = 90, base = h - 14, top = Math.max(1, ...track.map((p) => p.replays));
  const s = frame("replays", `dead-letter replays per ${step === 60 ? "minute" : "hour"} (max ${top}; dark: resolved)`, h, track.length);
  const bw = Math.max(1, x(new Date(step * 1000)) - x(new Date(0)) - 1);
  const y = (v) => base - (v / top) * (base - 18);
  for (const p of track) {
    const xx = x(p.start);
    if (xx < PADL) continue;
    const g = svg("g", { class: "point", "data-start": p.start, "data-replays": p.replays });
    g.append(svg("rect", { x: xx, y: y(p.replays), width: bw, height: base - y(p.replays), class: "bar-replays" }));
    g.append(svg("rect", { x: xx, y: y(p.resolved), width: bw, height: base - y(p.resolved), class: "bar-resolved" }));
    g.append(svg("title", {}, `${fmtTime(p.start)}: ${p.replays} replays, ${p.resolved} resolved`));
    s.append(g);
  }
  return s;
}

function renderPlot(view) {
  const box = $("plots");
  const points = view[plotRange] || [];
  const step = plotRange === "minutes" ? 60 : 3600;
  const t1 = new Date(view.generated_at).getTime();
  const t0 = t1 - (plotRange === "minutes" ? 3600e3 : 86400e3);
  const x = axis(t0, t1);
  const track = (view.track || {})[plotRange] || [];
  box.replaceChildren(
    bandChart(view, points, x, step),
    emergencyChart(view, track, x, step),
    barsChart(view, points, x, step),
    lineChart("latency", "sampled latency, ms (p50, p99)", points, x, [
      { key: "p50_ms", cls: "line-p50", label: "p50" }, { key: "p99_ms", cls: "line-p99", label: "p99" }]),
    lineChart("dlq", "dead letters not resolved", points, x, [{ key: "dlq_depth", cls: "line-dlq", label: "DLQ depth" }]),
    replayChart(view, track, x, step),
  );
  box.dataset.service = view.service;
  box.dataset.points = points.length;
  $("plots-empty").hidden = points.length > 0;
}

let plotting = false;
async function refreshPlots() {
  if (plotting) return;
  plotting = true;
  try {
    const list = await get("series/");
    if (!list.ok) return;
    lastList = list.body;
    renderSparks(list.body);
    renderServiceChoice(list.body);
    const fl = list.body.fleet;
    $("plots-scope").textContent = list.body.scope === "fleet" && fl
      ? `scope: the fleet, ${fl.processes} process${fl.processes === 1 ? "" : "es"} merged (p50 / p99: the highest process's)`
      : `scope: this process only${fl && fl.error ? ` (${fl.error})` : ""}`;
    if (!plotService) return;
    const one = await get(`series/${encodeURIComponent(plotService)}/`);
    if (one.ok) renderPlot(one.body);
    else {
      $("plots").replaceChildren();
      $("plots-empty").hidden = false;
    }
  } catch (e) {
    // app.js reports an unreachable server.
  } finally {
    plotting = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("plots-service").addEventListener("change", () => choose($("plots-service").value));
  $("plots-range").addEventListener("change", () => { plotRange = $("plots-range").value; refreshPlots(); });
  $("key").addEventListener("change", () => refreshPlots());
  // The verdict's reason opens the plot of the service it names; a reason
  // that names none (the kill switch, the store) opens the service in the
  // most trouble over the last hour.
  const reason = $("verdict-reason");
  reason.classList.add("plot-link");
  reason.title = "plot the service this reason is about";
  reason.addEventListener("click", () => {
    const named = reason.dataset.service || "";
    const name = lastList.services.some((s) => s.service === named) ? named : busiest(lastList.services);
    if (name) { choose(name); $("plots-card").scrollIntoView(); }
  });
  refreshPlots();
  setInterval(refreshPlots, 3000);
});

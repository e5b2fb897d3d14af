// mtdlab live view: draws the dashboard's view (server-sent events from /events).
// Written for mtdlab, no library. Text from the logs only ever goes in as text, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const THEORY_COLOURS = ["#3b6fd8", "#8e44ad", "#16a085", "#c0392b", "#d35400"];
const state = { view: null, receivedAt: 0, windowS: 120, ports: {} };
// What the tests (and a curious user) can read: every port change the page showed, with when.
window.mtdlab = { views: 0, portChanges: [], lastView: null };

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}
function fmt(x, digits = 2, unit = "") {
  return x === null || x === undefined ? "–" : `${Number(x).toFixed(digits)}${unit}`;
}
function clock(wall) {
  return wall ? new Date(wall * 1000).toLocaleTimeString([], { hour12: false }) : "";
}

// The run's "now", moved on between pushes at the run's rate (a replay's speed).
function nowRun() {
  const v = state.view;
  return v.now + ((performance.now() - state.receivedAt) / 1000) * (v.rate || 1);
}

function drawHeader(v) {
  const r = v.run || {};
  const parts = [];
  if (r.scenario) parts.push(`scenario ${r.scenario}`);
  if (r.lab) parts.push(`lab ${r.lab}`);
  if (r.started_wall) parts.push(`since ${clock(r.started_wall)}`);
  parts.push(v.controller_running ? "controller running" : "controller not running");
  if (v.rate && v.rate !== 1) parts.push(`replay at ${v.rate}×`);
  document.getElementById("run").textContent = parts.join(" · ");
  const w = v.warnings || {};
  const notes = [...(w.problems || [])];
  const skipped = Object.entries(w.skipped_lines || {}).filter(([, n]) => n);
  const refused = Object.entries(w.malformed_records || {}).filter(([, n]) => n);
  if (skipped.length) notes.push("lines skipped (not a record): " + skipped.map(([k, n]) => `${k} ${n}`).join(", "));
  if (refused.length) notes.push("records that did not fit: " + refused.map(([k, n]) => `${k} ${n}`).join(", ")
                                 + (w.last_problem ? ` (last: ${w.last_problem})` : ""));
  const box = document.getElementById("warnings");
  box.hidden = !notes.length;
  box.textContent = notes.length ? "⚠ " + notes.join(" · ") : "";
}

function drawMap(v) {
  const body = document.querySelector("#map tbody");
  const rows = [];
  for (const s of v.services) {
    const tr = el("tr", { "data-service": s.name });
    const name = el("td", {}, s.name);
    name.append(el("div", { class: "banner", title: "banner mode (seed 000)" }, s.banner));
    tr.append(name);
    const port = el("td", { class: "port", "data-service": s.name, "data-port": s.port ?? "" }, s.port ?? "–");
    const before = state.ports[s.name];
    if (before !== undefined && before !== s.port && s.port !== null) {
      port.classList.add("changed");
      window.mtdlab.portChanges.push({ service: s.name, port: s.port, hop: s.hop, shown: Date.now() / 1000 });
    }
    state.ports[s.name] = s.port;
    tr.append(port, el("td", { class: "instance" }, s.instance ?? "–"), el("td", {}, s.hops));
    const next = s.keyed ? "keyed" : s.next_hop_in_s === null ? "–" : `in ${fmt(s.next_hop_in_s, 1, " s")}`;
    tr.append(el("td", { title: s.law }, next));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function drawTimelines() {
  const v = state.view;
  if (!v) return;
  const box = document.getElementById("timelines");
  const width = Math.max(200, box.clientWidth - 130);
  const now = nowRun();
  const t0 = now - state.windowS;
  const x = (t) => Math.max(0, Math.min(width, ((t - t0) / state.windowS) * width));
  const rows = [];
  const all = [...v.services];
  if (v.unmatched_marks.length) all.push({ name: "(no service)", segments: [], marks: v.unmatched_marks });
  for (const s of all) {
    const row = el("div", { class: "timeline-row", "data-service": s.name });
    row.append(el("div", { class: "name", title: s.law || "" }, s.name));
    const g = svg("svg", { viewBox: `0 0 ${width} 34`, preserveAspectRatio: "none", width: width, height: 34 });
    for (const [started, ready, closing, closed, port, hop] of s.segments) {
      const end = closed ?? now;
      if (end < t0) continue;
      g.append(svg("rect", { class: "seg-pale", x: x(started), y: 2, width: Math.max(1, x(end) - x(started)), height: 18 }));
      if (ready !== null) {
        const solidEnd = closing ?? now;
        const w = Math.max(1, x(solidEnd) - x(ready));
        // Neighbouring placements in two shades, so each hop shows.
        const rect = svg("rect", { class: hop % 2 ? "seg" : "seg alt", x: x(ready), y: 2, width: w, height: 18, "data-port": port });
        rect.append(svg("title", {}, `port ${port}, hop ${hop}`));
        g.append(rect);
        if (w > 42) g.append(svg("text", { class: "seg-label", x: x(ready) + 4, y: 15 }, port));
      }
    }
    for (const [t, port, trueWhen, trueNow] of s.marks) {
      if (t < t0) continue;
      const kind = !trueWhen ? "wrong" : trueNow ? "fresh" : "stale";
      const dot = svg("circle", { class: `mark ${kind}`, cx: x(t), cy: 27, r: 5, "data-port": port });
      dot.append(svg("title", {}, `attacker saw ${port} at ${fmt(now - t, 0, " s")} ago: ${kind}`));
      g.append(dot);
    }
    g.append(svg("line", { class: "now", x1: width - 1, x2: width - 1, y1: 0, y2: 34 }));
    row.append(g);
    rows.push(row);
  }
  box.replaceChildren(...rows);
}

function drawDecay(v) {
  const d = v.decay;
  const chart = document.getElementById("decay");
  const W = 420, H = 240, L = 36, B = 24, T = 8, R = 8;
  const xmax = Math.max(1, d.horizon_s);
  const X = (t) => L + (t / xmax) * (W - L - R);
  const Y = (s) => T + (1 - s) * (H - T - B);
  const parts = [svg("line", { class: "axis", x1: L, y1: Y(0), x2: W - R, y2: Y(0) }),
                 svg("line", { class: "axis", x1: L, y1: Y(0), x2: L, y2: Y(1) })];
  for (const s of [0, 0.5, 1]) parts.push(svg("text", { class: "axis-label", x: 4, y: Y(s) + 3 }, s.toFixed(1)));
  parts.push(svg("text", { class: "axis-label", x: L, y: H - 6 }, `seconds after the sweep's end, 0 to ${xmax.toFixed(0)}`));
  let row = 1;
  const legend = (text, colour) => parts.push(svg("text", { class: "axis-label", x: W - R - 200, y: T + 12 * row++, fill: colour }, text));
  legend("—— measured (Kaplan-Meier)", "#1d2330");
  d.theory.forEach((curve, i) => {
    const colour = THEORY_COLOURS[i % THEORY_COLOURS.length];
    for (const [key, cls, label] of [["points", "theory", "theory"], ["lab_points", "theory lab", "lab theory"]]) {
      const pts = curve[key].map(([t, s]) => `${X(t).toFixed(1)},${Y(s).toFixed(1)}`).join(" ");
      const line = svg("polyline", { class: cls, points: pts, stroke: colour });
      line.append(svg("title", {}, `${label}: ${curve.law} (${curve.services.join(", ")})`));
      parts.push(line);
    }
    legend(`- - theory: ${curve.law}`, colour);
    legend(`··· with the lab's extra ${fmt(curve.extra_life_s, 2, " s")}`, colour);
  });
  if (d.km.length > 1) {
    let path = `M${X(0)},${Y(1)}`;
    for (const [t, s] of d.km) path += ` H${X(t).toFixed(1)} V${Y(s).toFixed(1)}`;
    path += ` H${X(xmax).toFixed(1)}`;
    parts.push(svg("path", { class: "km", d: path }));
  }
  chart.replaceChildren(...parts);
  document.getElementById("decay-text").textContent =
    `Kaplan-Meier of ${d.observations} observation(s) (${d.censored} still true, censored now); ` +
    `half-life ${d.half_life_s === null ? "not reached yet" : fmt(d.half_life_s, 2, " s")}.`;
}

function figures(id, pairs) {
  const dl = document.getElementById(id);
  const items = [];
  for (const [k, val] of pairs) items.push(el("dt", {}, k), el("dd", { "data-figure": k }, val));
  dl.replaceChildren(...items);
}

function drawFigures(v) {
  const a = v.attacker || {};
  figures("attacker", [
    ["state", a.running === undefined ? "not started" : a.running ? `scanning (nmap ${a.timing})` : "stopped"],
    ["port sweeps", v.sweeps.ports], ["version scans", v.sweeps.version],
    ["sweep precision", fmt(v.sweeps.precision, 3)], ["sweep recall", fmt(v.sweeps.recall, 3)],
  ]);
  const u = v.users;
  figures("users", [
    ["requests", u.requests], ["failures", u.failures],
    ["success rate", u.success_rate === null ? "–" : `${(100 * u.success_rate).toFixed(2)} %`],
    ["latency p50 / p95", `${fmt(u.p50_ms, 1)} / ${fmt(u.p95_ms, 1)} ms`],
    ["since the start", `${u.total_requests} requests, ${u.total_failures} failed`],
  ]);
  const rows = Object.entries(v.hop_latency).map(([name, p]) => {
    const tr = el("tr", { title: p.what });
    tr.append(el("td", {}, name.replaceAll("_", " ")), el("td", {}, p.n), el("td", {}, fmt(p.p50_s, 3, " s")),
              el("td", {}, fmt(p.p95_s, 3, " s")));
    return tr;
  });
  document.querySelector("#phases tbody").replaceChildren(...rows);
  const items = v.events.map((e) => {
    const li = el("li");
    li.append(el("time", {}, clock(e.wall)), document.createTextNode(e.text));
    return li;
  });
  document.getElementById("events").replaceChildren(...items);
}

function show(v) {
  state.view = v;
  state.receivedAt = performance.now();
  window.mtdlab.views += 1;
  window.mtdlab.lastView = v;
  drawHeader(v);
  drawMap(v);
  drawTimelines();
  drawDecay(v);
  drawFigures(v);
}

function connect() {
  const link = document.getElementById("link");
  const source = new EventSource("/events");
  source.onopen = () => { link.textContent = "live"; link.className = "link up"; };
  source.onerror = () => { link.textContent = "reconnecting…"; link.className = "link down"; };
  source.onmessage = (msg) => show(JSON.parse(msg.data));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-window]")) {
    b.addEventListener("click", () => {
      state.windowS = Number(b.dataset.window);
      for (const o of document.querySelectorAll("[data-window]")) o.classList.toggle("on", o === b);
      drawTimelines();
    });
  }
  connect();
  setInterval(drawTimelines, 250);   // the "now" line moves between pushes
});

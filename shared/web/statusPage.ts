/**
 * The status page served at `GET /api/` (local server) and `GET /api/status` (Functions, behind App Service
 * authentication with the Reader role): one self-contained HTML document — inline CSS and JS, no framework, no
 * external resource, no build step — that reads the JSON API with relative URLs. It never carries a key in a URL
 * (a `?code=` would end up in browser history); the platform's sign-in cookie authenticates its calls.
 *
 * Every value from the API reaches the DOM through `textContent` or a checked attribute, never through HTML parsing;
 * the Content-Security-Policy allows only this page's own script and style (by hash), so an injected inline handler
 * would not run even if one slipped through. Links from the API are followed only when they are http(s), without a
 * referrer.
 *
 * The script is written without template literals: it lives inside one here.
 */
import { createHash } from "node:crypto";

const STYLE = String.raw`
:root {
  --bg: #f4f5f7; --panel: #fff; --fg: #1b2129; --muted: #667080; --line: #e2e5ea; --head: #f8f9fb;
  --accent: #1f5fd1; --ok: #17803a; --ok-bg: #dcf3e3; --warn: #8a5a00; --warn-bg: #ffefc2; --warn-line: #e0a100;
  --bad: #b42318; --bad-bg: #fde3e1; --info: #3b4a63; --info-bg: #e6ebf3; --hover: #f3f5f8;
  --mono: ui-monospace, "SFMono-Regular", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --hdr: 44px;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --panel: #161b22; --fg: #d6dce3; --muted: #8b949e; --line: #29303a; --head: #1b2129;
    --accent: #6ea8fe; --ok: #4ac26b; --ok-bg: #10311c; --warn: #e3b341; --warn-bg: #3a2c06; --warn-line: #bb8009;
    --bad: #ff7b72; --bad-bg: #3f1512; --info: #b7c3d6; --info-bg: #1f2733; --hover: #1c232c;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--fg); }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.mono, code, .digest { font-family: var(--mono); font-size: 12px; }
.muted { color: var(--muted); }
.small { font-size: 11px; }
.nowrap { white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }

header.top {
  position: sticky; top: 0; z-index: 5; height: var(--hdr);
  display: flex; align-items: center; gap: 14px; padding: 0 16px;
  background: var(--panel); border-bottom: 1px solid var(--line);
}
header.top h1 { font-size: 15px; margin: 0; font-weight: 650; white-space: nowrap; }
header.top h1 span { color: var(--muted); font-weight: 400; }
header.top .spacer { flex: 1; }
header.top .meta { color: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 2px 9px; border-radius: 999px; font-weight: 600; font-size: 12px; white-space: nowrap; }
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.pill.ok { color: var(--ok); background: var(--ok-bg); }
.pill.bad { color: var(--bad); background: var(--bad-bg); }
.pill.warn { color: var(--warn); background: var(--warn-bg); }
.pill.unknown { color: var(--muted); background: var(--info-bg); }

button, input {
  font: inherit; color: inherit;
}
button.btn {
  border: 1px solid var(--line); background: var(--panel); border-radius: 6px; padding: 3px 10px; cursor: pointer; white-space: nowrap;
}
button.btn:hover { border-color: var(--muted); }
button.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.btn.on { background: var(--warn-bg); border-color: var(--warn-line); }
input[type=text], input[type=search] {
  border: 1px solid var(--line); background: var(--bg); border-radius: 6px; padding: 3px 8px; min-width: 0;
}
input:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: -1px; }

main { padding: 12px 16px 32px; display: grid; gap: 12px; }
section.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
section.panel > .bar {
  display: flex; align-items: center; gap: 10px; flex-wrap: wrap;
  padding: 7px 12px; border-bottom: 1px solid var(--line); background: var(--head);
}
section.panel > .bar h2 { font-size: 13px; margin: 0; font-weight: 650; }
section.panel > .bar .grow { flex: 1; }
.body { padding: 0; }
.pad { padding: 8px 12px; }

.strip { display: grid; grid-template-columns: repeat(auto-fit, minmax(108px, 1fr)); gap: 8px; }
.tile {
  text-align: left; background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 6px 12px 7px; cursor: pointer; min-width: 0;
}
.tile:hover { border-color: var(--muted); }
.tile .n { display: block; font-size: 22px; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
.tile .l { display: block; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
.tile.zero .n { color: var(--muted); font-weight: 400; }
.tile.warn:not(.zero) { background: var(--warn-bg); border-color: var(--warn-line); }
.tile.warn:not(.zero) .n { color: var(--warn); }
.tile.bad:not(.zero) { background: var(--bad-bg); border-color: var(--bad); }
.tile.bad:not(.zero) .n { color: var(--bad); }
.tile.good:not(.zero) .n { color: var(--ok); }
.tile.active { outline: 2px solid var(--accent); outline-offset: -2px; }

.scroll { overflow-x: auto; }
table.grid { width: 100%; border-collapse: collapse; }
table.grid th {
  text-align: left; font-weight: 600; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em;
  padding: 5px 8px; border-bottom: 1px solid var(--line); background: var(--head); white-space: nowrap; user-select: none;
}
table.grid th.sortable { cursor: pointer; }
table.grid th.sortable:hover { color: var(--fg); }
table.grid th .arrow { display: inline-block; width: 1em; color: var(--accent); }
table.grid td { padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.grid tbody tr:last-child td { border-bottom: 0; }
table.grid tbody tr:hover td { background: var(--hover); }
table.grid tr.warnrow td:first-child { box-shadow: inset 3px 0 var(--warn-line); }
table.grid tr.badrow td:first-child { box-shadow: inset 3px 0 var(--bad); }
table.grid tr.click { cursor: pointer; }
table.grid tr.selected td { background: var(--info-bg); }
table.grid tr.empty td { color: var(--muted); text-align: center; padding: 18px; }
td .sub { display: block; color: var(--muted); font-size: 11px; }
td.err { color: var(--bad); max-width: 420px; overflow-wrap: anywhere; }
td.wrap { overflow-wrap: anywhere; }
td.key { font-family: var(--mono); font-size: 12px; overflow-wrap: anywhere; min-width: 260px; }
td.key .reg { color: var(--muted); }
td.key .sub { font-family: var(--mono); }
.note details summary { cursor: pointer; }

.badge {
  display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px; font-weight: 600; line-height: 18px;
  white-space: nowrap; background: var(--info-bg); color: var(--info);
}
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.quiet { background: transparent; color: var(--muted); border: 1px solid var(--line); }

button.digest {
  border: 0; background: none; padding: 0; cursor: copy; color: inherit; text-align: left;
}
button.digest:hover { color: var(--accent); text-decoration: underline dotted; }
button.digest.differs { color: var(--warn); font-weight: 600; }
button.digest.copied::after { content: " copied"; color: var(--ok); font-family: system-ui, sans-serif; font-size: 11px; }
.arrowsep { color: var(--muted); padding: 0 4px; }

.note { margin: 0; padding: 7px 12px; border-bottom: 1px solid var(--line); }
.note.bad { background: var(--bad-bg); color: var(--bad); }
.note.warn { background: var(--warn-bg); color: var(--warn); }
.note.info { background: var(--info-bg); color: var(--info); }
.note ul { margin: 2px 0 0; padding-left: 18px; }
[hidden] { display: none !important; }

form.q { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; padding: 8px 12px; border-bottom: 1px solid var(--line); }
form.q label { display: inline-flex; gap: 4px; align-items: center; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em; }
form.q input { width: 120px; text-transform: none; letter-spacing: 0; font-size: 13px; }
form.q input.commit { width: 200px; font-family: var(--mono); font-size: 12px; }
form.q .vs { color: var(--muted); font-weight: 600; padding: 0 4px; }
.tabs { display: inline-flex; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.tabs button { border: 0; background: var(--panel); padding: 3px 12px; cursor: pointer; }
.tabs button + button { border-left: 1px solid var(--line); }
.tabs button.on { background: var(--accent); color: #fff; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 7px 12px; border-bottom: 1px solid var(--line); }
.facts b { font-weight: 600; }
.detail-title { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
details.unchanged { padding: 7px 12px; }
details.unchanged summary { cursor: pointer; color: var(--muted); }
details.unchanged ul { columns: 3 260px; margin: 6px 0 0; padding-left: 18px; font-family: var(--mono); font-size: 12px; }
footer { color: var(--muted); font-size: 11px; padding: 0 16px 16px; }

.strip.inner { padding: 8px 12px; border-bottom: 1px solid var(--line); grid-template-columns: repeat(auto-fill, minmax(130px, 170px)); }
.tile.static { cursor: default; }
.tile.static:hover { border-color: var(--line); }
.basemove + .basemove { margin-top: 3px; }
.basemove .mono { overflow-wrap: anywhere; }
.errtext { color: var(--bad); }
.subhead {
  padding: 6px 12px 0; border-top: 1px solid var(--line); color: var(--muted); font-size: 11px; font-weight: 600;
  text-transform: uppercase; letter-spacing: .03em;
}
ul.extlist { list-style: none; margin: 0; padding: 4px 12px 8px; columns: 2 560px; column-gap: 28px; }
ul.extlist li { display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 8px; padding: 2px 0; break-inside: avoid; }
ul.extlist li .mono { overflow-wrap: anywhere; }
`;

const SCRIPT = String.raw`
(function () {
  "use strict";

  // ---- where the API is -------------------------------------------------------------------------------------------
  // Relative to this page: /api/ (local) and /api/status (Functions) both resolve "images" to /api/images.
  var PREFIX = /\/status\/$/.test(location.pathname) ? "../" : "";
  var REFRESH_SECONDS = 30;
  var STATES = ["missing", "drifted", "newer-available", "unverified", "error", "source-missing", "in-sync"];
  var OUTDATED = { "missing": 1, "drifted": 1, "newer-available": 1, "unverified": 1 };

  function apiUrl(path, query) {
    var q = new URLSearchParams();
    if (query) {
      Object.keys(query).forEach(function (k) {
        var v = query[k];
        if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
      });
    }
    var s = q.toString();
    return PREFIX + path + (s ? "?" + s : "");
  }

  async function getJson(path, query) {
    var res;
    try {
      res = await fetch(apiUrl(path, query), { headers: { accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
    } catch (err) {
      return { status: 0, ok: false, body: null, network: String((err && err.message) || err) };
    }
    var text = await res.text().catch(function () { return ""; });
    var body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    return { status: res.status, ok: res.ok, body: body };
  }

  function errorText(r) {
    if (r.status === 0) return "cannot reach the API (" + (r.network || "network error") + ")";
    var b = r.body;
    if (b && typeof b.error === "string") return b.error + " (HTTP " + r.status + ")";
    if (b && b.error && typeof b.error.message === "string") {
      return b.error.message + (b.error.parameter ? " [" + b.error.parameter + "]" : "") + " (HTTP " + r.status + ")";
    }
    return "HTTP " + r.status;
  }

  // ---- DOM without HTML parsing -----------------------------------------------------------------------------------
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "class") el.className = v;
        else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  function $(id) { return document.getElementById(id); }
  function put(id) {
    var el = $(id);
    var kids = [];
    for (var i = 1; i < arguments.length; i++) kids.push(arguments[i]);
    el.replaceChildren();
    add(el, kids);
    return el;
  }
  function show(id, on) { $(id).hidden = !on; }
  function safeUrl(u) { return typeof u === "string" && /^https?:\/\/[^\s]+$/i.test(u) ? u : null; }
  function link(url, text, title) {
    var u = safeUrl(url);
    if (!u) return text;
    return h("a", { href: u, target: "_blank", rel: "noopener noreferrer", title: title || u }, text);
  }
  function token(s) { return String(s == null ? "" : s).toLowerCase().replace(/[^a-z0-9-]/g, ""); }
  function str(v) { return v === undefined || v === null ? "" : String(v); }
  function clip(s, n) { s = str(s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }

  // ---- formatting ---------------------------------------------------------------------------------------------------
  function ago(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return "\u2014";
    var s = Math.round((Date.now() - t) / 1000);
    var future = s < 0;
    s = Math.abs(s);
    if (s < 10) return "just now";
    var out = s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" : s < 48 * 3600 ? Math.round(s / 360) / 10 + " h" : Math.round(s / 86400) + " d";
    out = out.replace(/\.0 h$/, " h");
    return future ? "in " + out : out + " ago";
  }
  function when(iso) {
    if (!iso) return h("span", { class: "muted" }, "\u2014");
    var d = new Date(iso);
    var full = isNaN(d.getTime()) ? str(iso) : d.toLocaleString() + "  \u00b7  " + d.toISOString();
    return h("time", { datetime: str(iso), title: full, "data-ago": str(iso), class: "nowrap" }, ago(iso));
  }
  function duration(ms) {
    if (typeof ms !== "number" || !isFinite(ms) || ms < 0) return "\u2014";
    if (ms < 1000) return Math.round(ms) + " ms";
    var s = ms / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.round(s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function bytes(n) {
    if (typeof n !== "number" || !isFinite(n)) return "\u2014";
    if (n === 0) return "0";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
  }
  function num(n) { return typeof n === "number" && isFinite(n) ? n.toLocaleString() : "\u2014"; }

  function copy(ev) {
    var el = ev.currentTarget;
    var value = el.getAttribute("data-copy") || "";
    var done = function () {
      el.classList.add("copied");
      setTimeout(function () { el.classList.remove("copied"); }, 1200);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(value).then(done, function () {});
  }
  function digest(d, other) {
    if (!d) return h("span", { class: "muted" }, "\u2014");
    d = str(d);
    var hex = d.indexOf(":") >= 0 ? d.slice(d.indexOf(":") + 1) : d;
    var differs = other !== undefined && other !== null && other !== "" && str(other) !== d;
    return h("button", { type: "button", class: "digest" + (differs ? " differs" : ""), title: d + "\n(click to copy)", "data-copy": d, onclick: copy }, hex.slice(0, 12));
  }
  function sha(s, url) {
    if (!s) return h("span", { class: "muted" }, "\u2014");
    s = str(s);
    var short = /^[0-9a-f]{12,}$/.test(s) ? s.slice(0, 10) : s;
    var u = safeUrl(url);
    if (u) return h("a", { href: u, target: "_blank", rel: "noopener noreferrer", class: "mono", title: s + "\n" + u }, short);
    return h("button", { type: "button", class: "digest", title: s + "\n(click to copy)", "data-copy": s, onclick: copy }, short);
  }

  var STATE_CLASS = { "in-sync": "ok", "missing": "warn", "drifted": "warn", "newer-available": "warn", "source-missing": "quiet", "error": "bad", "removed": "quiet", "unverified": "bad" };
  function stateBadge(s) { return h("span", { class: "badge " + (STATE_CLASS[s] || ""), "data-state": token(s) }, str(s) || "?"); }
  var RUN_CLASS = { succeeded: "ok", partial: "warn", failed: "bad", running: "" };
  var ACTION_CLASS = { copied: "ok", failed: "bad", queued: "", reported: "warn", unchanged: "quiet", skipped: "quiet" };
  var CHANGE_CLASS = { changed: "warn", added: "ok", removed: "bad" };
  function badge(text, cls, title) { return h("span", { class: "badge " + (cls || ""), title: title }, str(text)); }
  function outdatedOf(counts) {
    if (!counts || typeof counts !== "object") return 0;
    return (counts.missing || 0) + (counts.drifted || 0) + (counts["newer-available"] || 0) + (counts.unverified || 0);
  }
  function rank(state) { return state === "removed" ? 4 : OUTDATED[state] ? 0 : state === "error" ? 1 : state === "source-missing" ? 2 : 3; }

  // ---- sortable tables --------------------------------------------------------------------------------------------
  var sorts = {
    images: { key: "state", dir: 1 },
    runs: { key: "started", dir: -1 },
    results: { key: "action", dir: 1 },
    bases: { key: "state", dir: 1 },
    trace: null,
    diff: null
  };
  function compare(a, b) {
    var an = a === undefined || a === null || a === "", bn = b === undefined || b === null || b === "";
    if (an || bn) return an && bn ? 0 : an ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }
  function grid(container, name, columns, rows, empty, rowProps) {
    var st = sorts[name];
    var data = rows.slice();
    var col = st && columns.filter(function (c) { return c.key === st.key; })[0];
    if (col && col.sort) {
      data.sort(function (a, b) {
        var x = col.sort(a), y = col.sort(b);
        var c = compare(x, y);
        // Empty values last in both directions.
        var blank = x === undefined || x === null || x === "" || y === undefined || y === null || y === "";
        return blank ? c : c * st.dir;
      });
    }
    var head = h("tr", null, columns.map(function (c) {
      var active = st && st.key === c.key;
      return h("th", {
        class: (c.cls || "") + (c.sort ? " sortable" : ""),
        title: c.title || (c.sort ? "sort by " + c.label : null),
        "aria-sort": active ? (st.dir > 0 ? "ascending" : "descending") : null,
        "data-key": c.key,
        onclick: c.sort ? function () {
          var cur = sorts[name];
          sorts[name] = { key: c.key, dir: cur && cur.key === c.key ? -cur.dir : (c.desc ? -1 : 1) };
          grid(container, name, columns, rows, empty, rowProps);
        } : null
      }, c.label, c.sort ? h("span", { class: "arrow" }, active ? (st.dir > 0 ? "\u25b2" : "\u25bc") : "") : null);
    }));
    var body = h("tbody");
    if (!data.length) body.appendChild(h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty)));
    data.forEach(function (row) {
      body.appendChild(h("tr", rowProps ? rowProps(row) : null, columns.map(function (c) {
        return h("td", { class: c.cls || null }, c.render(row));
      })));
    });
    container.replaceChildren(h("div", { class: "scroll" }, h("table", { class: "grid", "data-table": name }, h("thead", null, head), body)));
  }

  // ---- header: health and refresh ---------------------------------------------------------------------------------
  var paused = false;
  try { paused = localStorage.getItem("acr-image-sync.paused") === "1"; } catch (e) { paused = false; }
  var left = REFRESH_SECONDS;
  var busy = false;
  var lastUpdated = null;

  function renderHealth(r) {
    var b = r.body;
    if (!b || typeof b.ok !== "boolean") {
      put("health", h("span", { class: "pill bad", title: errorText(r) }, "API unreachable"));
      return;
    }
    var checks = b.checks || {};
    var lines = Object.keys(checks).map(function (k) {
      var c = checks[k] || {};
      return k + ": " + (c.ok ? "ok" + (c.detail ? " (" + c.detail + ")" : "") : "FAILED \u2014 " + str(c.class) + ": " + str(c.hint));
    });
    var failing = Object.keys(checks).filter(function (k) { return checks[k] && !checks[k].ok; });
    var degraded = b.status === "degraded";
    put("health", h("span", { class: "pill " + (b.ok ? "ok" : degraded ? "warn" : "bad"), title: lines.join("\n") }, b.ok ? "healthy" : (degraded ? "degraded: " : "unhealthy: ") + failing.join(", ")));
    var cfg = checks.config && checks.config.ok ? checks.config.detail : null;
    put("config", cfg ? "config: " + cfg : "");
    var problems = failing.map(function (k) { return h("li", null, k + ": " + str(checks[k].class) + " \u2014 " + str(checks[k].hint)); });
    put("health-note", problems.length ? ["Health check failing", h("ul", null, problems)] : "");
    show("health-note", problems.length > 0);
  }

  function renderLastRun(runs) {
    var r = runs && runs[0];
    if (!r) { put("lastrun", h("span", { class: "muted" }, "no runs yet")); return; }
    put("lastrun", "last run ", badge(r.status, RUN_CLASS[r.status]), " ", when(r.startedAt));
  }

  function tick() {
    var els = document.querySelectorAll("[data-ago]");
    for (var i = 0; i < els.length; i++) els[i].textContent = ago(els[i].getAttribute("data-ago"));
    var state = paused ? "paused" : busy ? "refreshing\u2026" : "next in " + left + " s";
    put("updated", lastUpdated ? h("span", { title: lastUpdated.toLocaleString() }, "updated " + ago(lastUpdated.toISOString()) + " \u00b7 " + state) : state);
    var p = $("pause");
    p.textContent = paused ? "Resume" : "Pause";
    p.classList.toggle("on", paused);
    p.title = paused ? "auto-refresh is paused" : "auto-refresh every " + REFRESH_SECONDS + " s";
  }

  // ---- counts strip -------------------------------------------------------------------------------------------------
  var filterState = "";
  var TILES = [
    { id: "outdated", label: "outdated", cls: "warn" },
    { id: "missing", label: "missing", cls: "warn" },
    { id: "drifted", label: "drifted", cls: "warn" },
    { id: "newer-available", label: "newer available", cls: "warn" },
    { id: "unverified", label: "unverified", cls: "bad" },
    { id: "error", label: "error", cls: "bad" },
    { id: "source-missing", label: "source missing", cls: "" },
    { id: "in-sync", label: "in sync", cls: "good" },
    { id: "", label: "total", cls: "" }
  ];
  function renderSummary(r) {
    if (!r.ok || !r.body || !r.body.counts) {
      put("counts", h("div", { class: "note bad" }, "Counts unavailable: " + errorText(r)));
      return;
    }
    var b = r.body;
    put("counts", TILES.map(function (t) {
      var n = t.id === "" ? b.total : t.id === "outdated" ? b.outdated : b.counts[t.id] || 0;
      return h("button", {
        type: "button",
        class: "tile " + t.cls + (n ? "" : " zero") + (t.id && filterState === t.id ? " active" : ""),
        "data-count": t.id || "total",
        title: t.id ? "show only " + t.label : "show all",
        onclick: function () { filterState = filterState === t.id ? "" : t.id; renderSummary(r); renderImagesTable(); }
      }, h("span", { class: "n" }, num(n)), h("span", { class: "l" }, t.label));
    }));
    document.title = (b.outdated ? "(" + b.outdated + " outdated) " : "") + "acr-image-sync status";
  }

  // ---- images -------------------------------------------------------------------------------------------------------
  var images = [];
  var imagesTotal = 0;
  // When every tag lives in one target registry, say it once in the bar and leave it out of the rows.
  var oneRegistry = null;
  function tagCell(key, source) {
    var k = str(key);
    var short = oneRegistry && k.indexOf(oneRegistry + "/") === 0 ? k.slice(oneRegistry.length + 1) : k;
    return [h("span", { title: k }, short), h("span", { class: "sub" }, "\u2190 " + str(source))];
  }
  var IMAGE_COLUMNS = [
    { key: "state", label: "State", sort: function (s) { return rank(s.state) + ":" + s.state + ":" + s.key; }, render: function (s) { return stateBadge(s.state); } },
    { key: "key", label: "Mirrored tag \u2190 upstream", cls: "key", sort: function (s) { return s.key; }, render: function (s) { return tagCell(s.key, s.source); } },
    { key: "upstream", label: "Upstream", sort: function (s) { return s.sourceDigest; }, render: function (s) { return digest(s.sourceDigest); } },
    { key: "mirrored", label: "Mirrored", sort: function (s) { return s.targetDigest; }, render: function (s) {
      return digest(s.targetDigest, s.sourceDigest);
    } },
    { key: "commit", label: "Source commit", title: "the vcs-ref (or revision) label of the mirrored digest", sort: function (s) { return s.sourceSha; }, render: function (s) {
      return s.sourceSha ? h("span", { class: "mono", title: str(s.sourceSha) }, str(s.sourceSha).slice(0, 12)) : "";
    } },
    { key: "provenance", label: "Provenance", title: "signature verified by the policy's key; referrers (signatures, SBOMs, attestations) that came along", sort: function (s) { return (s.signedBy ? "a" : "b") + (Array.isArray(s.referrers) ? 999 - s.referrers.length : 999); }, render: function (s) {
      var refs = Array.isArray(s.referrers) ? s.referrers : [];
      var sigs = refs.filter(function (r) { return /^(application\/vnd\.dev\.cosign\.artifact\.sig\.v1\+json|application\/vnd\.cncf\.notary\.signature)@/.test(str(r)); });
      return [
        s.signedBy ? badge("verified", "ok", "signed by " + str(s.signedBy)) : sigs.length ? badge("signed", "", "a signature came along; no verify policy checked it") : null,
        refs.length ? h("span", { class: "sub", title: refs.map(str).join("\n") }, refs.length + " referrer" + (refs.length === 1 ? "" : "s")) : null
      ];
    } },
    { key: "copied", label: "Copied", desc: true, title: "when this tool last copied the tag", sort: function (s) { return s.lastCopiedAt ? Date.parse(s.lastCopiedAt) : null; }, render: function (s) { return when(s.lastCopiedAt); } },
    { key: "checked", label: "Checked", desc: true, sort: function (s) { return Date.parse(s.lastCheckedAt) || null; }, render: function (s) { return when(s.lastCheckedAt); } },
    { key: "origin", label: "Config", sort: function (s) { return s.origin; }, render: function (s) { return h("span", { class: "muted small mono nowrap" }, str(s.origin)); } },
    { key: "error", label: "Last error", cls: "err", sort: function (s) { return s.lastError; }, render: function (s) {
      return s.lastError ? h("span", { title: str(s.lastError) }, clip(s.lastError, 220)) : "";
    } }
  ];
  function renderImages(r) {
    if (!r.ok || !r.body || !Array.isArray(r.body.images)) {
      put("images-note", "Images unavailable: " + errorText(r));
      show("images-note", true);
      return;
    }
    show("images-note", false);
    images = r.body.images;
    imagesTotal = typeof r.body.total === "number" ? r.body.total : images.length;
    var registries = {};
    images.forEach(function (s) { registries[str(s.targetRegistry)] = 1; });
    var names = Object.keys(registries);
    oneRegistry = names.length === 1 && names[0] ? names[0] : null;
    put("images-target", oneRegistry ? ["target ", h("span", { class: "mono" }, oneRegistry), " \u00b7 "] : "");
    renderImagesTable();
  }
  function renderImagesTable() {
    var text = $("image-filter").value.trim().toLowerCase();
    var rows = images.filter(function (s) {
      if (filterState === "outdated" && !OUTDATED[s.state]) return false;
      if (filterState && filterState !== "outdated" && s.state !== filterState) return false;
      if (!text) return true;
      return [s.key, s.source, s.state, s.origin, s.lastError, s.sourceDigest, s.targetDigest].some(function (v) {
        return str(v).toLowerCase().indexOf(text) >= 0;
      });
    });
    var empty = images.length ? "No image matches the filter." : "No images recorded yet: they appear after the first sync run.";
    grid($("images"), "images", IMAGE_COLUMNS, rows, empty, function (s) {
      return { class: OUTDATED[s.state] ? "warnrow" : s.state === "error" ? "badrow" : null, "data-state": token(s.state) };
    });
    var shown = rows.length + " of " + imagesTotal + " tags" + (imagesTotal > images.length ? " (first " + images.length + " loaded)" : "");
    put("images-count", (filterState ? [badge(filterState || "", "", "state filter"), " "] : null), shown);
  }

  // ---- runs ---------------------------------------------------------------------------------------------------------
  var runs = [];
  var selectedRun = null;
  var RUN_COLUMNS = [
    { key: "started", label: "Started", desc: true, sort: function (r) { return Date.parse(r.startedAt) || null; }, render: function (r) { return when(r.startedAt); } },
    { key: "status", label: "Status", sort: function (r) { return r.status; }, render: function (r) {
      return [badge(r.status, RUN_CLASS[r.status]), r.reportOnly ? [" ", badge("report-only", "quiet", "planned and recorded; copied nothing")] : null,
        r.verified ? [" ", badge("verified", "quiet", "every target tag was HEADed")] : null];
    } },
    { key: "trigger", label: "Trigger", sort: function (r) { return r.trigger; }, render: function (r) { return str(r.trigger); } },
    { key: "outdated", label: "Outdated", title: "outdated tags before \u2192 after the run", sort: function (r) { return outdatedOf(r.countsBefore); }, render: function (r) {
      var before = outdatedOf(r.countsBefore), after = outdatedOf(r.countsAfter);
      var full = function (c) { return Object.keys(c || {}).filter(function (k) { return c[k]; }).map(function (k) { return k + " " + c[k]; }).join(", ") || "none"; };
      return h("span", { class: "nowrap", title: "before: " + full(r.countsBefore) + "\nafter: " + full(r.countsAfter) },
        h("b", { class: before ? "" : "muted" }, String(before)), h("span", { class: "arrowsep" }, "\u2192"), h("b", { class: after ? "" : "muted" }, String(after)));
    } },
    { key: "copied", label: "Copied", cls: "num", sort: function (r) { return r.copied; }, render: function (r) { return num(r.copied); } },
    { key: "failed", label: "Failed", cls: "num", sort: function (r) { return r.failed; }, render: function (r) {
      return r.failed ? h("b", { class: "badge bad" }, num(r.failed)) : h("span", { class: "muted" }, "0");
    } },
    { key: "duration", label: "Duration", cls: "num", sort: function (r) { return r.durationMs; }, render: function (r) { return r.status === "running" ? "running" : duration(r.durationMs); } },
    { key: "bytes", label: "Data", cls: "num", sort: function (r) { return r.bytes; }, render: function (r) { return bytes(r.bytes); } },
    { key: "requests", label: "Requests", cls: "num", sort: function (r) { return r.requests; }, render: function (r) { return num(r.requests); } },
    { key: "id", label: "Run", sort: function (r) { return r.runId; }, render: function (r) { return h("span", { class: "mono small muted", title: str(r.runId) }, clip(r.runId, 24)); } },
    { key: "error", label: "Error", cls: "err", sort: function (r) { return r.errorSummary; }, render: function (r) {
      return r.errorSummary ? h("span", { title: str(r.errorSummary) }, clip(r.errorSummary, 160)) : "";
    } }
  ];
  function renderRuns(r) {
    if (!r.ok || !r.body || !Array.isArray(r.body.runs)) {
      put("runs-note", "Runs unavailable: " + errorText(r));
      show("runs-note", true);
      return;
    }
    show("runs-note", false);
    runs = r.body.runs;
    renderLastRun(runs);
    renderRunsTable();
  }
  function renderRunsTable() {
    grid($("runs"), "runs", RUN_COLUMNS, runs, "No runs yet: the timer, POST /api/sync or the CLI start one.", function (r) {
      return {
        class: "click" + (r.runId === selectedRun ? " selected" : "") + (r.status === "failed" ? " badrow" : r.status === "partial" ? " warnrow" : ""),
        title: "show this run's results",
        "data-run": str(r.runId),
        onclick: function () { loadRun(r.runId); }
      };
    });
    put("runs-count", runs.length ? "last " + runs.length : "");
  }

  var RESULT_ORDER = { failed: 0, copied: 1, queued: 2, reported: 3, skipped: 4, unchanged: 5 };
  var RESULT_COLUMNS = [
    { key: "action", label: "Action", sort: function (x) { return (RESULT_ORDER[x.action] === undefined ? 9 : RESULT_ORDER[x.action]) + ":" + x.key; }, render: function (x) { return badge(x.action, ACTION_CLASS[x.action]); } },
    { key: "key", label: "Tag \u2190 upstream", cls: "key", sort: function (x) { return x.key; }, render: function (x) { return tagCell(x.key, x.source); } },
    { key: "state", label: "State", sort: function (x) { return rank(x.state) + ":" + x.state; }, render: function (x) {
      return x.stateAfter && x.stateAfter !== x.state ? [stateBadge(x.state), h("span", { class: "arrowsep" }, "\u2192"), stateBadge(x.stateAfter)] : stateBadge(x.state);
    } },
    { key: "upstream", label: "Upstream", sort: function (x) { return x.sourceDigest; }, render: function (x) { return digest(x.sourceDigest); } },
    { key: "mirrored", label: "Target before", sort: function (x) { return x.targetDigest; }, render: function (x) { return digest(x.targetDigest, x.sourceDigest); } },
    { key: "bytes", label: "Data", cls: "num", sort: function (x) { return x.bytes; }, render: function (x) { return bytes(x.bytes); } },
    { key: "duration", label: "Time", cls: "num", sort: function (x) { return x.durationMs; }, render: function (x) { return duration(x.durationMs); } },
    { key: "why", label: "Error / reason", cls: "err", sort: function (x) { return x.error || x.reason; }, render: function (x) {
      if (x.error) return h("span", { title: str(x.error) }, clip(x.error, 240));
      return x.reason ? h("span", { class: "muted", title: str(x.reason) }, clip(x.reason, 160)) : "";
    } }
  ];
  async function loadRun(id) {
    selectedRun = id;
    renderRunsTable();
    show("run-detail", true);
    put("run-title", h("h2", null, "Run ", h("span", { class: "mono" }, str(id))), h("span", { class: "muted" }, "loading\u2026"));
    put("run-results", "");
    var r = await getJson("runs/" + encodeURIComponent(id));
    if (selectedRun !== id) return;
    if (!r.ok || !r.body || !r.body.run) {
      put("run-title", h("h2", null, "Run ", h("span", { class: "mono" }, str(id))), h("span", { class: "badge bad" }, errorText(r)), closeButton());
      return;
    }
    var run = r.body.run;
    var results = Array.isArray(r.body.results) ? r.body.results : [];
    put("run-title",
      h("h2", null, "Run ", h("span", { class: "mono" }, str(run.runId))),
      badge(run.status, RUN_CLASS[run.status]), run.reportOnly ? badge("report-only", "quiet") : null,
      h("span", { class: "muted" }, str(run.trigger), " \u00b7 started ", when(run.startedAt), " \u00b7 ", duration(run.durationMs),
        " \u00b7 copied ", num(run.copied), ", failed ", num(run.failed), " \u00b7 ", bytes(run.bytes)),
      h("span", { class: "grow" }), closeButton());
    put("run-results",
      run.errorSummary ? h("p", { class: "note bad" }, str(run.errorSummary)) : null,
      h("div"));
    grid($("run-results").lastChild, "results", RESULT_COLUMNS, results, "This run recorded no per-image results.", function (x) {
      return { class: x.action === "failed" ? "badrow" : OUTDATED[x.stateAfter] ? "warnrow" : null };
    });
  }
  function closeButton() {
    return h("button", { type: "button", class: "btn", onclick: function () { selectedRun = null; show("run-detail", false); renderRunsTable(); } }, "Close");
  }

  // ---- base images --------------------------------------------------------------------------------------------------
  // The bases report reads the registries (a HEAD per managed image and per unwatched base), so it is asked for on
  // load, on the Refresh button and otherwise at most every BASES_EVERY_SECONDS, not on every 30 s tick.
  var BASES_EVERY_SECONDS = 300;
  var bases = null;
  var basesAt = 0;
  var basesBusy = false;
  var basesFilter = "";
  var BASE_CLASS = { eligible: "warn", stale: "", fresh: "ok", unknown: "quiet" };
  var BASE_RANK = { eligible: 0, stale: 1, unknown: 2, fresh: 3 };
  var BASE_TITLE = {
    eligible: "a base moved on and the rebuild delay has passed: rebuild",
    stale: "a base moved on; a rebuild becomes due once the delay has passed",
    fresh: "built from the current digest of every base",
    unknown: "a base's current digest, or the digest the image was built from, is not known"
  };
  function baseStatus(m) { return m.eligible ? "eligible" : m.stale ? "stale" : m.state === "current" ? "fresh" : "unknown"; }
  function baseList(m) { return Array.isArray(m.bases) ? m.bases.filter(function (b) { return b && typeof b === "object"; }) : []; }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  var BASE_COLUMNS = [
    { key: "state", label: "State", sort: function (m) { return BASE_RANK[baseStatus(m)] + ":" + str(m.staleSince) + ":" + str(m.name); }, render: function (m) {
      var s = baseStatus(m);
      return h("span", { class: "badge " + BASE_CLASS[s], title: BASE_TITLE[s], "data-state": s }, s);
    } },
    { key: "name", label: "Managed image", cls: "wrap", sort: function (m) { return m.name; }, render: function (m) {
      return [h("b", { title: m.dockerfile ? "Dockerfile: " + str(m.dockerfile) : null }, str(m.name)),
        h("span", { class: "sub mono", title: str(m.image) + (m.digest ? "\n" + str(m.digest) : "") }, str(m.image))];
    } },
    { key: "moved", label: "Base moved: built from \u2192 current", title: "the bases whose digest moved on since the image was built", sort: function (m) {
      var moved = baseList(m).filter(function (b) { return b.state === "stale"; });
      return moved.length ? str(moved[0].base) : null;
    }, render: function (m) {
      var list = baseList(m);
      var moved = list.filter(function (b) { return b.state === "stale"; });
      var shown = moved.length ? moved : list.filter(function (b) { return b.state === "unknown"; });
      if (!shown.length) {
        return h("span", { class: "muted", title: list.map(function (b) { return str(b.base); }).join("\n") || null },
          list.length ? plural(list.length, "base", "bases") + ", all current" : "no bases");
      }
      return shown.map(function (b) {
        return h("div", { class: "basemove", title: str(b.reason) || null, "data-base": str(b.base) },
          h("span", { class: "mono" }, str(b.base)),
          b.state === "unknown" ? [" ", badge("unknown", "quiet", str(b.reason))] : null,
          b.rebuildHelps === false ? [" ", badge("pinned", "quiet", "the Dockerfile pins an older digest: update the pin, a rebuild alone does not help")] : null,
          h("span", { class: "sub nowrap" }, digest(b.builtFrom), h("span", { class: "arrowsep" }, "\u2192"), digest(b.current, b.builtFrom),
            b.evidence ? h("span", { class: "muted", title: "how the built-from digest is known" }, " \u00b7 " + str(b.evidence)) : null));
      });
    } },
    { key: "since", label: "Stale since", desc: true, title: "when a base first moved on after the digest the image was built from", sort: function (m) {
      return m.staleSince ? Date.parse(m.staleSince) : null;
    }, render: function (m) { return m.staleSince ? when(m.staleSince) : ""; } },
    { key: "eligible", label: "Eligible", title: "when a rebuild becomes due: stale since + rebuild delay (at once for a critical base)", sort: function (m) {
      return m.eligibleAt ? Date.parse(m.eligibleAt) : null;
    }, render: function (m) {
      var delay = h("span", { class: "sub" }, "delay " + str(m.rebuildDelay || "\u2014"));
      if (m.inCycle) return [badge("cycle", "bad", "in a dependency cycle: never eligible"), delay];
      if (m.eligibleAt) return [when(m.eligibleAt), delay];
      if (m.stale) return [h("span", { class: "muted", title: "no moved base that a rebuild would pick up" }, "not by a rebuild"), delay];
      return m.state === "current" ? "" : delay;
    } },
    { key: "critical", label: "Critical", title: "a critical base moved on: eligible at once, no delay", sort: function (m) {
      return baseList(m).some(function (b) { return b.critical && b.state === "stale"; }) ? 0 : null;
    }, render: function (m) {
      var list = baseList(m);
      if (list.some(function (b) { return b.critical && b.state === "stale"; })) return badge("critical", "bad", "a critical base moved on: eligible at once");
      var crit = list.filter(function (b) { return b.critical; });
      return crit.length ? h("span", { class: "muted small nowrap", title: crit.map(function (b) { return str(b.base); }).join("\n") }, "critical base, current") : "";
    } },
    { key: "build", label: "Build", render: function (m) {
      if (!m.build) return "";
      return safeUrl(m.build) ? link(m.build, "build") : h("span", { class: "muted", title: str(m.build) }, clip(m.build, 40));
    } },
    { key: "trigger", label: "Trigger", sort: function (m) { return m.trigger ? (m.trigger.last ? str(m.trigger.last.status) : "~") + str(m.trigger.kind) : null; }, render: function (m) {
      var t = m.trigger;
      if (!t || typeof t !== "object") return h("span", { class: "muted" }, "none");
      var last = t.last && typeof t.last === "object" ? t.last : null;
      return [
        badge(str(t.kind) + (t.enabled ? "" : " \u00b7 off"), t.enabled ? "" : "quiet", (t.enabled ? "triggers " : "disabled (enabled: false): ") + str(t.url)),
        last
          ? h("span", { class: "sub nowrap" }, badge(last.status, last.status === "failed" ? "bad" : "ok", last.detail ? str(last.detail) : null), " ", when(last.at))
          : h("span", { class: "sub" }, "never sent")
      ];
    } },
    { key: "notes", label: "Notes", cls: "err", sort: function (m) { return (Array.isArray(m.problems) && m.problems[0]) || (Array.isArray(m.waitingFor) && m.waitingFor[0]) || null; }, render: function (m) {
      var problems = Array.isArray(m.problems) ? m.problems : [];
      var waiting = Array.isArray(m.waitingFor) ? m.waitingFor : [];
      return [
        problems.map(function (p) { return h("div", { title: str(p) }, clip(p, 200)); }),
        waiting.length ? h("div", { class: "muted" }, "rebuild first: " + waiting.map(str).join(", ")) : null
      ];
    } }
  ];

  var BASE_TILES = [
    { id: "", label: "managed", cls: "", count: "managedImages" },
    { id: "eligible", label: "rebuild eligible", cls: "warn", count: "rebuildEligible" },
    { id: "stale", label: "stale", cls: "warn", count: "staleImages" },
    { id: "external", label: "external", cls: "", count: "externalImages", fixed: true }
  ];
  function renderBaseTiles() {
    var c = (bases && bases.counts) || {};
    put("bases-counts", BASE_TILES.map(function (t) {
      var n = c[t.count] || 0;
      var props = {
        class: "tile " + t.cls + (n ? "" : " zero") + (t.fixed ? " static" : "") + (t.id && basesFilter === t.id ? " active" : ""),
        "data-bases-count": t.id || "managed"
      };
      if (!t.fixed) {
        props.type = "button";
        props.title = t.id ? "show only " + t.label + " images" : "show all managed images";
        props.onclick = function () { basesFilter = basesFilter === t.id ? "" : t.id; renderBaseTiles(); renderBasesTable(); };
      }
      return h(t.fixed ? "div" : "button", props, h("span", { class: "n" }, num(n)), h("span", { class: "l" }, t.label));
    }));
  }
  function renderBasesTable() {
    var managed = bases && Array.isArray(bases.managed) ? bases.managed.filter(function (m) { return m && typeof m === "object"; }) : [];
    var rows = managed.filter(function (m) {
      return basesFilter === "eligible" ? m.eligible : basesFilter === "stale" ? m.stale : true;
    });
    grid($("bases-table"), "bases", BASE_COLUMNS, rows, managed.length ? "No managed image matches the filter." : "No managed images enrolled.", function (m) {
      var s = baseStatus(m);
      return { class: s === "eligible" ? "warnrow" : Array.isArray(m.problems) && m.problems.length ? "badrow" : null, "data-bases-state": s, "data-image": str(m.name) };
    });
    put("bases-count", basesFilter ? [badge(basesFilter, "", "filter"), " "] : null, rows.length + " of " + plural(managed.length, "managed image", "managed images"));
  }
  function externalItem(e) {
    var used = Array.isArray(e.usedBy) ? e.usedBy : [];
    return h("li", { "data-external": str(e.image) },
      h("span", { class: "mono", title: e.mirroredFrom ? "mirrored from " + str(e.mirroredFrom) : null }, str(e.image)),
      e.critical ? badge("critical", "bad", "a new digest makes the images built on it eligible at once") : null,
      e.enrolledAs ? badge("enrolled", "quiet", "listed in the enrollment as " + str(e.enrolledAs)) : null,
      e.current ? h("span", { class: "nowrap" }, digest(e.current), e.currentSince ? h("span", { class: "muted" }, " since ", when(e.currentSince)) : null) : null,
      e.error ? h("span", { class: "errtext", title: str(e.error) }, clip(e.error, 140)) : null,
      used.length ? h("span", { class: "muted small" }, "used by " + used.map(str).join(", ")) : null);
  }
  function basesOff(r) {
    return r.status === 404 && !!r.body && !!r.body.error && r.body.error.code === "BasesNotEnabled";
  }
  function renderBases(r) {
    var panel = $("bases-panel");
    if (basesOff(r)) {
      bases = null;
      panel.hidden = true;
      panel.setAttribute("data-bases", "off");
      return;
    }
    panel.hidden = false;
    if (!r.ok || !r.body || !Array.isArray(r.body.managed)) {
      panel.setAttribute("data-bases", "error");
      put("bases-note", "Base images unavailable: " + errorText(r));
      show("bases-note", true);
      return;
    }
    show("bases-note", false);
    bases = r.body;
    var external = Array.isArray(bases.external) ? bases.external.filter(function (e) { return e && typeof e === "object"; }) : [];
    external.sort(function (a, b) { return compare(a.critical ? 0 : 1, b.critical ? 0 : 1) || compare(str(a.image), str(b.image)); });
    var order = Array.isArray(bases.order) ? bases.order : [];
    var cycles = Array.isArray(bases.cycles) ? bases.cycles.map(function (c) { return Array.isArray(c) ? c.map(str).join(" \u2192 ") : str(c); }) : [];
    var transitions = Array.isArray(bases.transitions) ? bases.transitions.map(function (t) {
      return str(t && t.name) + ": " + str(t && t.from) + " \u2192 " + str(t && t.to) + (t && t.at ? " (" + new Date(t.at).toLocaleString() + ")" : "");
    }) : [];
    put("bases-facts",
      h("span", null, "enrollment ", h("b", { class: "mono" }, str(bases.enrollment) || "\u2014")),
      order.length > 1 ? h("span", { title: "managed images, bases first" }, "rebuild order ", h("b", null, order.map(str).join(" \u2192 "))) : null,
      h("span", { class: "muted" }, "report ", when(bases.generatedAt)));
    put("bases-notes", notes(cycles, "bad", "Dependency cycles (never eligible)"), notes(transitions, "info", "Enrollment changes"));
    renderBaseTiles();
    renderBasesTable();
    put("bases-external",
      h("div", { class: "subhead" }, "External images \u00b7 " + external.length),
      external.length ? h("ul", { class: "extlist" }, external.map(externalItem)) : h("div", { class: "pad muted" }, "No external images."));
    panel.setAttribute("data-bases", "shown");
  }
  async function loadBases(force) {
    if (basesBusy) return;
    if (!force && basesAt && Date.now() - basesAt < BASES_EVERY_SECONDS * 1000) return;
    basesBusy = true;
    basesAt = Date.now();
    try {
      renderBases(await getJson("bases"));
    } finally {
      basesBusy = false;
    }
  }

  // ---- refresh loop -------------------------------------------------------------------------------------------------
  async function refresh(force) {
    if (busy) return;
    busy = true;
    tick();
    loadBases(force === true);
    try {
      var r = await Promise.all([
        getJson("images", { action: "summarize" }),
        getJson("images", { limit: 1000, source_commits: "true" }),
        getJson("runs", { limit: 20 }),
        getJson("health")
      ]);
      renderSummary(r[0]);
      renderImages(r[1]);
      renderRuns(r[2]);
      renderHealth(r[3]);
      lastUpdated = new Date();
      document.body.setAttribute("data-loaded", String(Number(document.body.getAttribute("data-loaded") || "0") + 1));
    } finally {
      busy = false;
      left = REFRESH_SECONDS;
      tick();
    }
  }

  // ---- trace and diff -----------------------------------------------------------------------------------------------
  var mode = "trace";
  function setMode(m) {
    mode = m;
    show("trace-form", m === "trace");
    show("diff-form", m === "diff");
    $("tab-trace").classList.toggle("on", m === "trace");
    $("tab-diff").classList.toggle("on", m === "diff");
  }
  function formValues(form) {
    var out = {};
    new FormData(form).forEach(function (v, k) { v = String(v).trim(); if (v) out[k] = v; });
    return out;
  }
  function traceUnavailable(r) {
    // The route itself is missing (no JSON "kind" from the trace API): not deployed on this server yet.
    return r.status === 404 && !(r.body && typeof r.body.kind === "string");
  }
  function notes(list, cls, title) {
    if (!Array.isArray(list) || !list.length) return null;
    var item = function (x) { return h("li", null, str(x)); };
    var head = list.slice(0, 3), rest = list.slice(3);
    return h("div", { class: "note " + cls }, title + " (" + list.length + ")", h("ul", null, head.map(item)),
      rest.length ? h("details", null, h("summary", null, rest.length + " more"), h("ul", null, rest.map(item))) : null);
  }
  function side(s) {
    if (!s) return "?";
    return [h("span", { class: "mono", title: str(s.commit_sha) }, clip(s.commit_sha, 12)), " ", h("b", null, str(s.cloud) + "/" + str(s.environment)), s.region ? " " + s.region : ""];
  }
  function setHash(kind, q) {
    try { history.replaceState(null, "", "#" + kind + "?" + new URLSearchParams(q).toString()); } catch (e) { /* file:// or sandboxed */ }
  }

  var TRACE_COLUMNS = [
    { key: "name", label: "Component", sort: function (c) { return c.name; }, render: function (c) { return [h("b", null, str(c.name)), h("span", { class: "sub mono" }, str(c.path))]; } },
    { key: "image", label: "Image", cls: "wrap", sort: function (c) { return str(c.registry) + "/" + str(c.repository); }, render: function (c) {
      if (!c.repository) return h("span", { class: "muted" }, "\u2014");
      return [h("span", { class: "mono" }, (c.registry ? c.registry + "/" : "") + c.repository + (c.tag ? ":" + c.tag : "")),
        c.read_from ? h("span", { class: "sub" }, "read from " + str(c.read_from)) : null];
    } },
    { key: "digest", label: "Digest", sort: function (c) { return c.digest; }, render: function (c) { return digest(c.digest); } },
    { key: "source", label: "Source commit", sort: function (c) { return c.source_sha; }, render: function (c) {
      return [sha(c.source_sha, c.source_url), c.source_sha_from ? h("span", { class: "sub" }, str(c.source_sha_from)) : null];
    } },
    { key: "repo", label: "Source repository", cls: "nowrap", sort: function (c) { return c.source_repo_url; }, render: function (c) {
      return c.source_repo_url ? link(c.source_repo_url, str(c.source_repo_url).replace(/^https?:\/\//, "").replace(/\.git$/, "")) : h("span", { class: "muted" }, "\u2014");
    } },
    { key: "created", label: "Built", desc: true, sort: function (c) { return c.created ? Date.parse(c.created) : null; }, render: function (c) { return when(c.created); } },
    { key: "status", label: "Status", cls: "err", sort: function (c) { return (c.error ? "0" : c.note ? "1" : "2") + str(c.error_kind); }, render: function (c) {
      if (c.error) return [badge(c.error_kind || "error", "bad"), " ", h("span", { title: str(c.error) }, clip(c.error, 200))];
      if (c.note) return h("span", { class: "muted", title: str(c.note) }, clip(c.note, 120));
      return c.source_sha ? badge("traced", "ok") : badge(str(c.status || "pinned"), "quiet");
    } }
  ];
  function renderTrace(t) {
    var s = t.summary || {};
    var facts = h("div", { class: "facts" },
      h("span", null, "commit ", h("b", { class: "mono", title: str(t.commit_sha) }, clip(t.commit_sha, 14)), t.ref ? " (" + t.ref + ")" : ""),
      h("span", null, "environment ", h("b", null, (t.cloud ? t.cloud + "/" : "") + str(t.environment)), t.region ? " \u00b7 region " + t.region : ""),
      t.service ? h("span", null, "service ", h("b", null, str(t.service))) : null,
      h("span", null, num(s.components), " components \u00b7 ", num(s.pinned), " pinned \u00b7 ", num(s.traced), " traced \u00b7 ",
        s.failed ? h("b", { class: "badge bad" }, num(s.failed) + " failed") : "0 failed"),
      h("span", { class: "muted" }, t.cached ? "cached, " : "", "traced ", when(t.traced_at)));
    var specific = t.environment_specific === false
      ? h("div", { class: "note info" }, "This environment pins exactly the images every other environment of its cloud pins at this commit: the config cannot tell them apart.")
      : null;
    var table = h("div");
    put("trace-result", facts, specific, notes(t.errors, "bad", "Errors"), notes(t.warnings, "warn", "Warnings"), table);
    grid(table, "trace", TRACE_COLUMNS, Array.isArray(t.components) ? t.components : [], "This commit pins no images for this environment.", function (c) {
      return { class: c.error ? "badrow" : null, "data-component": str(c.path || c.name) };
    });
  }

  var DIFF_COLUMNS = [
    { key: "change", label: "Change", sort: function (c) { return c.change; }, render: function (c) {
      return [badge(c.change, CHANGE_CLASS[c.change]), c.source_changed === false ? [" ", badge("rebuild", "quiet", "new image built from the same source commit")] : null];
    } },
    { key: "name", label: "Component", sort: function (c) { return c.name; }, render: function (c) { return [h("b", null, str(c.name)), h("span", { class: "sub mono" }, str(c.path))]; } },
    { key: "digest", label: "Digest", sort: function (c) { return c.new_digest || c.old_digest; }, render: function (c) {
      return h("span", { class: "nowrap" }, digest(c.old_digest), h("span", { class: "arrowsep" }, "\u2192"), digest(c.new_digest, c.old_digest));
    } },
    { key: "source", label: "Source commit", sort: function (c) { return c.new_source_sha || c.old_source_sha; }, render: function (c) {
      return h("span", { class: "nowrap" }, sha(c.old_source_sha), h("span", { class: "arrowsep" }, "\u2192"), sha(c.new_source_sha));
    } },
    { key: "image", label: "Repository", cls: "wrap", sort: function (c) { return c.new_repository || c.old_repository; }, render: function (c) {
      var a = c.old_repository ? str(c.old_registry) + "/" + c.old_repository : null;
      var b = c.new_repository ? str(c.new_registry) + "/" + c.new_repository : null;
      if (a && b && a !== b) return h("span", { class: "mono" }, a, h("span", { class: "arrowsep" }, "\u2192"), b);
      return h("span", { class: "mono" }, b || a || "\u2014");
    } },
    { key: "compare", label: "Compare", render: function (c) {
      return c.compare_url ? link(c.compare_url, "compare") : c.source_repo_url ? link(c.source_repo_url, "repository") : "";
    } }
  ];
  function renderDiff(d) {
    var changed = Array.isArray(d.changed) ? d.changed : [];
    var unchanged = Array.isArray(d.unchanged) ? d.unchanged : [];
    var count = function (k) { return changed.filter(function (c) { return c.change === k; }).length; };
    var facts = h("div", { class: "facts" },
      h("span", null, side(d.from), h("span", { class: "arrowsep" }, "\u2192"), side(d.to)),
      h("span", null, h("b", null, num(count("changed"))), " changed \u00b7 ", h("b", null, num(count("added"))), " added \u00b7 ",
        h("b", null, num(count("removed"))), " removed \u00b7 ", num(unchanged.length), " unchanged"));
    var table = h("div");
    put("trace-result", facts, notes(d.errors, "bad", "Errors"), notes(d.warnings, "warn", "Warnings"), table,
      unchanged.length ? h("details", { class: "unchanged" }, h("summary", null, unchanged.length + " components unchanged"),
        h("ul", null, unchanged.map(function (p) { return h("li", null, str(p)); }))) : null);
    grid(table, "diff", DIFF_COLUMNS, changed, "No differences: both sides run the same images.", function (c) {
      return { "data-component": str(c.path || c.name) };
    });
  }

  async function runTrace(kind, q) {
    put("trace-result", h("div", { class: "pad muted" }, kind === "diff" ? "Comparing\u2026 (reads labels from the registries; may take a while)" : "Tracing\u2026 (reads labels from the registries; may take a while)"));
    setHash(kind, q);
    var r = await getJson(kind === "diff" ? "traces/diff" : "traces", q);
    if (traceUnavailable(r)) {
      put("trace-result", h("div", { class: "note info", "data-trace": "unavailable" },
        "Trace is not available on this server: GET /api/" + (kind === "diff" ? "traces/diff" : "traces") + " answered 404 (the trace routes are not deployed here yet)."));
      return;
    }
    if (!r.ok || !r.body) {
      put("trace-result", h("div", { class: "note bad", "data-trace": "error" }, (kind === "diff" ? "Diff" : "Trace") + " failed: " + errorText(r)));
      return;
    }
    if (kind === "diff") renderDiff(r.body); else renderTrace(r.body);
  }

  // ---- wiring -------------------------------------------------------------------------------------------------------
  $("pause").addEventListener("click", function () {
    paused = !paused;
    try { localStorage.setItem("acr-image-sync.paused", paused ? "1" : "0"); } catch (e) { /* private mode */ }
    left = REFRESH_SECONDS;
    tick();
  });
  $("refresh").addEventListener("click", function () { refresh(true); });
  $("image-filter").addEventListener("input", renderImagesTable);
  $("tab-trace").addEventListener("click", function () { setMode("trace"); });
  $("tab-diff").addEventListener("click", function () { setMode("diff"); });
  $("trace-form").addEventListener("submit", function (ev) { ev.preventDefault(); runTrace("trace", formValues(ev.target)); });
  $("diff-form").addEventListener("submit", function (ev) { ev.preventDefault(); runTrace("diff", formValues(ev.target)); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden && !paused && left <= 0) refresh(); });

  setInterval(function () {
    if (!paused && !busy && !document.hidden) {
      left--;
      if (left <= 0) { refresh(); return; }
    }
    tick();
  }, 1000);

  // A shared link (#trace?commit=…&environment=…) fills the form and runs it.
  (function fromHash() {
    var m = /^#(trace|diff)\?(.*)$/.exec(location.hash);
    if (!m) return;
    var q = new URLSearchParams(m[2]);
    var form = $(m[1] + "-form");
    setMode(m[1]);
    var values = {};
    q.forEach(function (v, k) {
      var input = form.elements.namedItem(k);
      if (input && "value" in input) { input.value = v; values[k] = v; }
    });
    if (values.commit && values.environment) runTrace(m[1], values);
  })();

  refresh();
})();
`;

const BODY = String.raw`
<header class="top">
  <h1>acr-image-sync <span>status</span></h1>
  <span id="health"><span class="pill unknown">checking</span></span>
  <span id="lastrun" class="meta"></span>
  <span id="config" class="meta small"></span>
  <span class="spacer"></span>
  <span id="updated" class="meta small"></span>
  <button type="button" class="btn" id="pause">Pause</button>
  <button type="button" class="btn" id="refresh">Refresh</button>
</header>
<main>
  <div id="health-note" class="note bad" hidden></div>
  <div class="strip" id="counts"></div>

  <section class="panel" id="images-panel">
    <div class="bar">
      <h2>Images</h2>
      <span class="muted small"><span id="images-target"></span>outdated first &middot; click a count to filter, a header to sort, a digest to copy</span>
      <span class="grow"></span>
      <span id="images-count" class="muted small"></span>
      <input type="search" id="image-filter" placeholder="filter tags, sources, errors" aria-label="filter images">
    </div>
    <p id="images-note" class="note bad" hidden></p>
    <div id="images" class="body"></div>
  </section>

  <section class="panel" id="bases-panel" data-bases="loading" hidden>
    <div class="bar">
      <h2>Base images</h2>
      <span class="muted small">rebuild eligible first, then stale &middot; click a count to filter, a header to sort, a digest to copy</span>
      <span class="grow"></span>
      <span id="bases-count" class="muted small"></span>
    </div>
    <p id="bases-note" class="note bad" hidden></p>
    <div id="bases-facts" class="facts"></div>
    <div id="bases-notes"></div>
    <div class="strip inner" id="bases-counts"></div>
    <div id="bases-table" class="body"></div>
    <div id="bases-external"></div>
  </section>

  <section class="panel" id="runs-panel">
    <div class="bar">
      <h2>Recent runs</h2>
      <span class="muted small">click a run for its per-image results</span>
      <span class="grow"></span>
      <span id="runs-count" class="muted small"></span>
    </div>
    <p id="runs-note" class="note bad" hidden></p>
    <div id="runs" class="body"></div>
  </section>

  <section class="panel" id="run-detail" hidden>
    <div class="bar detail-title" id="run-title"></div>
    <div id="run-results" class="body"></div>
  </section>

  <section class="panel" id="trace-panel">
    <div class="bar">
      <h2>Trace</h2>
      <span class="tabs"><button type="button" id="tab-trace" class="on">Commit &amp; environment</button><button type="button" id="tab-diff">Diff two sides</button></span>
      <span class="muted small">which source commit runs where</span>
    </div>
    <form class="q" id="trace-form" autocomplete="on">
      <label>commit <input class="commit" name="commit" required placeholder="sha or branch" spellcheck="false"></label>
      <label>environment <input name="environment" required placeholder="prod" spellcheck="false"></label>
      <label>cloud <input name="cloud" placeholder="optional" spellcheck="false"></label>
      <label>region <input name="region" placeholder="optional" spellcheck="false"></label>
      <button class="btn primary" type="submit">Trace</button>
    </form>
    <form class="q" id="diff-form" hidden autocomplete="on">
      <label>commit <input class="commit" name="commit" required placeholder="sha or branch" spellcheck="false"></label>
      <label>environment <input name="environment" required placeholder="int" spellcheck="false"></label>
      <label>cloud <input name="cloud" placeholder="optional" spellcheck="false"></label>
      <span class="vs">vs</span>
      <label>commit <input class="commit" name="commit_b" placeholder="same commit" spellcheck="false"></label>
      <label>environment <input name="environment_b" placeholder="prod" spellcheck="false"></label>
      <label>cloud <input name="cloud_b" placeholder="optional" spellcheck="false"></label>
      <button class="btn primary" type="submit">Diff</button>
    </form>
    <div id="trace-result"><div class="pad muted">Give a config commit and an environment to list every pinned image with the source commit it was built from; or diff two environments (or two commits).</div></div>
  </section>
</main>
<footer>Reads the JSON API: <code>images</code>, <code>runs</code>, <code>health</code>, <code>bases</code>, <code>traces</code>. Auto-refresh every 30 s (base images every 5 min; trace results are not refreshed).</footer>
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/** Only this page's own script and style run; API calls go to the same origin; no frames, no forms posted anywhere. */
const POLICY = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
];

/** The policy as a response header (`frame-ancestors` only works there, not in a meta element). */
export const STATUS_PAGE_CSP = [...POLICY, "frame-ancestors 'none'"].join("; ");

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${POLICY.join("; ")}">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>acr-image-sync status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/** The inline script alone, for a syntax check without a browser. */
export const STATUS_PAGE_SCRIPT = SCRIPT;

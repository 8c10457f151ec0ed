/**
 * The status page's script, inlined into the page. It fetches `api/status` and
 * `api/history` (relative URLs, so the page works behind a reverse proxy's
 * sub-path), draws the summary table and one card per profile/tier with three
 * small SVG charts beside a list of its last runs (a tier that never ran gets one
 * line instead), a banner while deliveries are failing, and does it again every 10 s.
 *
 * Why no chart library: the page may load no external resource (it is served by
 * a backup daemon, often offline or behind auth, with a strict CSP), and three
 * line charts with dots need about a hundred lines; a library would be a bigger
 * download than the whole page.
 *
 * Test hooks: rows and cards carry `data-profile`, `data-tier`, `data-state`,
 * `data-age-ms`, `data-last-success`, `data-next-run`; every chart point is a
 * `<circle class="point">` with `data-series`, `data-run-id`, `data-value` and
 * `data-time`; each run of a tier's list is a `<tr class="run">` with `data-run-id`;
 * `<body data-updated-at>` is set after each refresh.
 */

/** The script of the status page (plain ES2020, no template literals). */
export const PAGE_SCRIPT = String.raw`
"use strict";
(function () {
  var REFRESH_MS = 10000;
  var HISTORY_LIMIT = 60;
  var LIST_LIMIT = 10;
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    (children || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function svg(tag, attrs, children) {
    var e = document.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    (children || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function setAttrs(e, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined) return;
      if (k === "text") e.textContent = String(v); else e.setAttribute(k, String(v));
    });
  }

  function fmtAge(ms) {
    if (ms === null || ms === undefined) return "never";
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m";
    var h = Math.floor(m / 60);
    if (h < 48) return h + "h " + (m % 60) + "m";
    var d = Math.floor(h / 24);
    return d + "d " + (h % 24) + "h";
  }
  // A run's duration: "350 ms" below a second (a small backup takes less), "2.4 s", "45 s", "12m 5s", then as ages.
  function fmtDuration(sec) {
    if (sec === null || sec === undefined) return "";
    if (sec === 0) return "0";
    if (sec < 1) return Math.max(1, Math.round(sec * 1000)) + " ms";
    if (sec < 10) return (Math.round(sec * 10) / 10) + " s";
    if (sec < 60) return Math.round(sec) + " s";
    if (sec < 3600) {
      var m = Math.floor(sec / 60), s = Math.round(sec % 60);
      return m + "m" + (s ? " " + s + "s" : "");
    }
    return fmtAge(sec * 1000);
  }
  // The smallest of 1, 2, 2.5, 5 times a power of ten that is at least v: an axis top whose half is round too.
  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log(v) / Math.LN10));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v * (1 - 1e-9)) return steps[i] * p;
    return 10 * p;
  }
  // A duration axis top (seconds): round in the unit the durations are read in (ms and s, minutes, hours).
  function niceDuration(sec) {
    if (sec < 60) return niceCeil(sec);
    if (sec < 3600) return niceCeil(sec / 60) * 60;
    return niceCeil(sec / 3600) * 3600;
  }
  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    var i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }
  function fmtCount(n) {
    if (n === null || n === undefined) return "";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return Math.round(n / 1e3) + "k";
    return String(Math.round(n));
  }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function fmtTime(ms, withDate) {
    if (ms === null || ms === undefined) return "\u2014";
    var d = new Date(ms);
    var t = pad(d.getHours()) + ":" + pad(d.getMinutes());
    var today = new Date();
    if (!withDate && d.toDateString() === today.toDateString()) return t;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
  }
  // A run in a tier's list: the time with seconds today (runs can be seconds apart), else the date and minutes.
  function fmtRunTime(ms) {
    var d = new Date(ms);
    if (d.toDateString() === new Date().toDateString()) return fmtTime(ms, false) + ":" + pad(d.getSeconds());
    return fmtTime(ms, true);
  }
  function fmtUntil(ms, now) {
    if (ms === null || ms === undefined) return "\u2014";
    return fmtTime(ms, false) + " (in " + fmtAge(ms - now) + ")";
  }

  // A line chart: x is the run's start time, y from 0 to the largest value.
  function chart(name, runs, series, fmt, isDurationAxis) {
    var W = 320, H = 130, L = 46, R = 8, T = 8, B = 20;
    var root = svg("svg", { "class": "chart", "data-chart": name, viewBox: "0 0 " + W + " " + H, role: "img" });
    var pts = [];
    series.forEach(function (s, si) {
      runs.forEach(function (r) {
        var v = s.get(r);
        if (v !== null && v !== undefined && isFinite(v)) pts.push({ s: s, si: si, r: r, v: v });
      });
    });
    root.setAttribute("aria-label", name + ": " + pts.length + " points");
    if (pts.length === 0) {
      // A tier that never ran has no charts at all; these runs left no figure (failed before restic's summary).
      // One line high: an empty chart should not take the room of a full one (on a phone they stack).
      root.setAttribute("viewBox", "0 0 " + W + " 30");
      root.append(svg("text", { "class": "empty", x: W / 2, y: 18, "text-anchor": "middle", text: "no figures from these runs" }));
      return root;
    }
    var t0 = Infinity, t1 = -Infinity, vmax = 0;
    pts.forEach(function (p) { t0 = Math.min(t0, p.r.startedAt); t1 = Math.max(t1, p.r.startedAt); vmax = Math.max(vmax, p.v); });
    if (vmax <= 0) vmax = 1;
    if (isDurationAxis) vmax = niceDuration(vmax);
    var x = function (t) { return t1 === t0 ? L + (W - L - R) / 2 : L + (t - t0) / (t1 - t0) * (W - L - R); };
    var y = function (v) { return T + (1 - v / vmax) * (H - T - B); };
    [0, 0.5, 1].forEach(function (f) {
      var yy = y(vmax * f);
      root.append(svg("line", { "class": "grid", x1: L, x2: W - R, y1: yy, y2: yy }));
      root.append(svg("text", { "class": "axis", x: L - 4, y: yy + 3, "text-anchor": "end", text: fmt(vmax * f) }));
    });
    root.append(svg("text", { "class": "axis", x: L, y: H - 4, text: fmtTime(t0, true) }));
    if (t1 !== t0) root.append(svg("text", { "class": "axis", x: W - R, y: H - 4, "text-anchor": "end", text: fmtTime(t1, true) }));
    series.forEach(function (s, si) {
      var mine = pts.filter(function (p) { return p.si === si; });
      if (mine.length > 1) {
        var d = mine.map(function (p) { return x(p.r.startedAt).toFixed(1) + "," + y(p.v).toFixed(1); }).join(" ");
        root.append(svg("polyline", { "class": "line s" + (si + 1), points: d, "data-series": s.key }));
      }
    });
    pts.forEach(function (p) {
      var bad = p.r.outcome === "failed" || p.r.outcome === "interrupted";
      var c = svg("circle", {
        "class": "point s" + (p.si + 1) + (bad ? " bad" : ""),
        cx: x(p.r.startedAt).toFixed(1), cy: y(p.v).toFixed(1), r: 3,
        "data-series": p.s.key, "data-run-id": p.r.id, "data-value": p.v,
        "data-time": p.r.startedAt, "data-outcome": p.r.outcome
      }, [svg("title", { text: fmtTime(p.r.startedAt, true) + " " + p.r.outcome + ": " + p.s.label + " " + fmt(p.v) })]);
      root.append(c);
    });
    return root;
  }

  function figure(title, name, runs, series, fmt, isDurationAxis) {
    var cap = el("figcaption", {}, [title].concat(series.length > 1 ? series.map(function (s, i) {
      return el("span", { "class": "key s" + (i + 1), text: s.label });
    }) : []));
    return el("figure", { "data-figure": name }, [cap, chart(name, runs, series, fmt, isDurationAxis)]);
  }

  function badge(state) { return el("span", { "class": "badge state-" + state, text: state }); }

  function tierAttrs(t) {
    return {
      "data-profile": t.profile, "data-tier": t.tier, "data-state": t.state,
      "data-age-ms": t.ageMs === null ? "" : t.ageMs,
      "data-last-success": t.lastSuccess === null ? "" : t.lastSuccess,
      "data-next-run": t.nextRun === null ? "" : t.nextRun
    };
  }

  function isFailingRun(r) { return r.outcome === "failed" || r.outcome === "interrupted"; }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // One line per destination whose deliveries are failing: what waits, since when, the last error.
  function renderDeliveries(status, now) {
    var failing = (status.deliveries && status.deliveries.failing) || [];
    return failing.map(function (f) {
      return el("p", { "class": "failing", "data-destination": f.destination }, [
        el("strong", { text: "Deliveries failing: " }),
        plural(f.pending, "entry waits", "entries wait") + " for " + f.destination +
          " since " + fmtTime(f.since, false) + " (" + fmtAge(now - f.since) + " ago); last attempt " +
          fmtTime(f.lastAttemptAt, false) + ": " + f.lastError
      ]);
    });
  }

  // A note is a word a phone leaves out (CSS hides it) to keep the table on the screen.
  function note(text) { return el("span", { "class": "note", text: text }); }
  function outboxCell(t, isFailing) {
    var cell = el("td", { "class": "outbox num" + (isFailing && t.pendingDeliveries ? " waiting" : "") }, [String(t.pendingDeliveries)]);
    if (isFailing && t.pendingDeliveries) cell.append(note(" waiting"));
    if (t.deadLetters) cell.append(" (" + t.deadLetters + " dead)");
    return cell;
  }

  function renderSummary(status) {
    var isFailing = Boolean(status.deliveries && status.deliveries.failing.length);
    var body = el("tbody");
    status.tiers.forEach(function (t) {
      var a = tierAttrs(t);
      a["class"] = "tier-row";
      var stateCell = el("td", {}, [badge(t.state)]);
      if (t.isRunning) stateCell.append(el("span", { "class": "running", text: "running" }));
      else if (t.isQueued) stateCell.append(el("span", { "class": "running", text: "queued" }));
      body.append(el("tr", a, [
        el("td", { text: t.profile }),
        el("td", { text: t.tier }),
        stateCell,
        el("td", { "class": "last-success wide", text: fmtTime(t.lastSuccess, false) }),
        el("td", { "class": "age num" }, t.lastSuccess === null ? ["\u2014"] : [fmtAge(t.ageMs), note(" ago")]),
        el("td", { "class": "max-age num wide", text: fmtAge(t.maxAgeMs) }),
        el("td", { "class": "next-run wide", text: fmtUntil(t.nextRun, status.generatedAt) }),
        el("td", { "class": "size num wide", text: t.lastSize === null ? "\u2014" : fmtBytes(t.lastSize) }),
        outboxCell(t, isFailing)
      ]));
    });
    // On a phone the "wide" columns are hidden (the tier's card below says them).
    var wide = { "Last success": 1, "Max age": 1, "Next run": 1, "Size": 1 };
    var head = el("thead", {}, [el("tr", {}, ["Profile", "Tier", "State", "Last success", "Age", "Max age", "Next run", "Size", "Outbox"].map(function (h) { return el("th", { "class": wide[h] ? "wide" : null, text: h }); }))]);
    return el("table", { "class": "summary" }, [head, body]);
  }

  var OUTCOME_STATE = { success: "OK", warning: "LATE", failed: "FAILED", interrupted: "FAILED" };
  function figuresText(r) {
    var f = r.figures;
    if (r.kind === "forget") return "kept " + (f.kept === undefined ? "?" : f.kept) + ", removed " + (f.removed === undefined ? "?" : f.removed);
    if (r.kind === "check") return f.errors === undefined ? "" : f.errors + " error(s) found";
    if (r.kind === "stats") return (f.rawSize === undefined ? "" : fmtBytes(f.rawSize) + " stored, ") + (f.snapshots === undefined ? "" : f.snapshots + " snapshot(s)");
    if (r.kind === "verify") return f.files === undefined ? "" : f.files + " file(s) verified, " + (f.mismatches || 0) + " mismatch(es)";
    return "";
  }
  function renderRepository(status) {
    var runs = status.repositoryRuns || [];
    if (runs.length === 0) return el("p", { "class": "empty-repo", text: "No forget, check, stats or verify run recorded yet." });
    var body = el("tbody");
    runs.forEach(function (r) {
      body.append(el("tr", { "class": "repo-row", "data-profile": r.profile, "data-kind": r.kind, "data-outcome": r.outcome }, [
        el("td", { text: r.profile }),
        el("td", { text: r.kind + (r.tier ? " " + r.tier : "") }),
        el("td", {}, [el("span", { "class": "badge state-" + (OUTCOME_STATE[r.outcome] || "NEVER"), text: r.outcome })]),
        el("td", { "class": "age num", text: fmtAge(r.ageMs) + " ago" }),
        el("td", { "class": "figures", text: figuresText(r) }),
        el("td", { "class": "error", text: r.error || "" })
      ]));
    });
    var head = el("thead", {}, [el("tr", {}, ["Profile", "Run", "Outcome", "Age", "Figures", "Error"].map(function (h) { return el("th", { text: h }); }))]);
    return el("table", { "class": "summary repository" }, [head, body]);
  }

  // The tier's last runs, newest first: time, outcome, duration, size, and a failed run's error
  // (once for a series of runs that failed alike).
  function runList(runs) {
    var body = el("tbody");
    var shownError = null;
    runs.slice(-LIST_LIMIT).reverse().forEach(function (r) {
      var bad = isFailingRun(r);
      body.append(el("tr", { "class": "run" + (bad ? " bad" : ""), "data-run-id": r.id }, [
        el("td", { "class": "time", text: fmtRunTime(r.startedAt) }),
        el("td", { "class": "outcome", text: r.outcome + (r.reason && r.outcome !== "success" ? " (" + r.reason + ")" : "") }),
        el("td", { "class": "duration num", text: fmtDuration(r.durationSeconds) }),
        el("td", { "class": "size num", text: r.processedBytes === null ? "\u2014" : fmtBytes(r.processedBytes) })
      ]));
      if (bad && r.error && r.error !== shownError) body.append(el("tr", { "class": "run-error" }, [el("td", { colspan: 4, text: r.error })]));
      shownError = bad ? r.error : null;
    });
    var head = el("thead", {}, [el("tr", {}, ["Started", "Outcome", "Duration", "Size"].map(function (h) { return el("th", { text: h }); }))]);
    return el("div", { "class": "runs" }, [
      el("div", { "class": "runs-title", text: "Last runs" }),
      el("table", { "class": "runs" }, [head, body])
    ]);
  }

  function renderTier(t, runs, now) {
    var a = tierAttrs(t);
    a["data-runs"] = runs.length;
    var title = el("h2", {}, [t.profile + " / " + t.tier, badge(t.state)]);
    if (runs.length === 0) {
      // Never ran: one line, no empty charts.
      a["class"] = "tier compact state-" + t.state + "-border";
      return el("section", a, [title, el("div", { "class": "facts", text:
        (t.state === "WAITING" ? "no backup yet, none due so far" : "no backup recorded") +
        " \u00b7 next run " + fmtUntil(t.nextRun, now) + " \u00b7 max age " + fmtAge(t.maxAgeMs) })]);
    }
    a["class"] = "tier state-" + t.state + "-border";
    var last = runs[runs.length - 1];
    var facts = "last success " + (t.lastSuccess === null ? "never" : fmtTime(t.lastSuccess, false) + " (" + fmtAge(t.ageMs) + " ago)") +
      " \u00b7 next run " + fmtUntil(t.nextRun, now) +
      " \u00b7 last run " + last.outcome + (last.reason ? " (" + last.reason + ")" : "");
    var parts = [title, el("div", { "class": "facts", text: facts })];
    if (t.lastError) parts.push(el("div", { "class": "tier-error", text: t.lastError }));
    parts.push(el("div", { "class": "tier-body" }, [
      el("div", { "class": "charts" }, [
        figure("Duration", "duration", runs, [{ key: "duration", label: "duration", get: function (r) { return r.durationSeconds; } }], fmtDuration, true),
        figure("Bytes", "bytes", runs, [
          { key: "processed", label: "processed", get: function (r) { return r.processedBytes; } },
          { key: "added", label: "added", get: function (r) { return r.addedBytes; } }
        ], fmtBytes),
        figure("Files", "files", runs, [
          { key: "new", label: "new", get: function (r) { return r.filesNew; } },
          { key: "changed", label: "changed", get: function (r) { return r.filesChanged; } }
        ], fmtCount)
      ]),
      runList(runs)
    ]));
    return el("section", a, parts);
  }

  function getJson(url) {
    return fetch(url, { cache: "no-store", credentials: "same-origin" }).then(function (res) {
      if (!res.ok) throw new Error(url + ": HTTP " + res.status);
      return res.json();
    });
  }

  var errorBox = document.getElementById("error");
  function refresh() {
    return getJson("api/status").then(function (status) {
      return Promise.all(status.tiers.map(function (t) {
        var q = "api/history?profile=" + encodeURIComponent(t.profile) + "&tier=" + encodeURIComponent(t.tier) + "&limit=" + HISTORY_LIMIT;
        return getJson(q).then(function (h) { return h.runs; });
      })).then(function (histories) {
        var banner = document.getElementById("deliveries");
        banner.replaceChildren.apply(banner, renderDeliveries(status, status.generatedAt));
        banner.className = banner.childNodes.length ? "shown" : "";
        document.getElementById("summary").replaceChildren(renderSummary(status));
        document.getElementById("repository").replaceChildren(renderRepository(status));
        document.getElementById("tiers").replaceChildren.apply(document.getElementById("tiers"),
          status.tiers.map(function (t, i) { return renderTier(t, histories[i], status.generatedAt); }));
        var d = status.daemon;
        document.getElementById("meta").textContent =
          (d ? "resticprom " + d.version + " \u00b7 up since " + fmtTime(d.startedAt, true) + " \u00b7 " : "") +
          "times in " + Intl.DateTimeFormat().resolvedOptions().timeZone + " \u00b7 updated " + fmtTime(status.generatedAt, true);
        errorBox.className = "";
        errorBox.textContent = "";
        document.body.setAttribute("data-updated-at", String(status.generatedAt));
      });
    }).catch(function (err) {
      errorBox.textContent = "Cannot refresh: " + (err && err.message ? err.message : String(err)) + " (showing the last data)";
      errorBox.className = "shown";
    });
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
`;

// The doctor page: sends the token and expectations to the local tollgate, renders the
// report it answers. No diagnosis here; every text is inserted as text (never as HTML).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const lines = (s) => s.split(/[\n,]/).map((x) => x.trim()).filter((x) => x);
  let presets = [];

  function relative(t, now) {
    const d = t - now;
    const a = Math.abs(d);
    const unit = a < 120 ? a + " s" : a < 7200 ? Math.round(a / 60) + " min" : a < 172800 ? Math.round(a / 3600) + " h" : Math.round(a / 86400) + " days";
    return d >= 0 ? "in " + unit : unit + " ago";
  }
  function when(t, now) {
    return new Date(t * 1000).toLocaleString() + " (" + relative(t, now) + ")";
  }
  function value(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function fillForm(p) {
    $("issuers").value = (p.issuers || []).join("\n");
    $("audiences").value = (p.audiences || []).join("\n");
    $("algorithms").value = (p.algorithms || []).join(", ");
    $("jwks_url").value = p.jwks_url || "";
    $("jwks").value = p.jwks || "";
    $("discovery_url").value = p.discovery_url || "";
    $("leeway").value = p.leeway === undefined || p.leeway === null ? 60 : p.leeway;
    $("typ").value = (p.typ || []).join(", ");
  }

  async function loadExpectations() {
    const r = await fetch("/doctor/api/expectations");
    if (!r.ok) return;
    const body = await r.json();
    presets = body.issuers || [];
    if (presets.length) {
      const sel = $("preset");
      presets.forEach((p, i) => sel.append(el("option", { value: String(i) }, p.issuers[0])));
      $("preset-field").hidden = false;
      sel.addEventListener("change", () => fillForm(presets[Number(sel.value)]));
      fillForm(presets[0]);
    }
    if (body.recent_refusals !== null && body.recent_refusals !== undefined) {
      $("refusals-section").hidden = false;
      loadRefusals();
    }
  }

  async function loadRefusals() {
    const r = await fetch("/doctor/api/refusals");
    if (!r.ok) return;
    const body = await r.json();
    const tbody = $("refusals").querySelector("tbody");
    tbody.replaceChildren();
    if (!body.enabled) {
      tbody.append(el("tr", {}, el("td", { colspan: "6" }, "Recent refusals are off (recent_refusals = 0).")));
      return;
    }
    if (!body.refusals.length) {
      tbody.append(el("tr", {}, el("td", { colspan: "6" }, "No refusal yet.")));
    }
    for (const e of body.refusals) {
      const open = el("button", { type: "button", class: "secondary", "data-refusal": String(e.id) }, "Open");
      open.addEventListener("click", () => openRefusal(e.id));
      tbody.append(el("tr", {},
        el("td", {}, new Date(e.at * 1000).toLocaleString()),
        el("td", {}, e.route || "(none)"),
        el("td", { class: "v" }, e.code),
        el("td", { class: "v" }, e.cause || ""),
        el("td", { class: "v" }, e.subject || ""),
        el("td", {}, open)));
    }
  }

  async function openRefusal(id) {
    const r = await fetch("/doctor/api/refusals/" + encodeURIComponent(id));
    const body = await r.json();
    if (!r.ok) return showError(body);
    if (!body.report) {
      return showError({ error_description: body.entry.code + ": " + body.entry.description + " (no token to diagnose)" });
    }
    render(body.report, body.snippets);
  }

  function showError(body) {
    const e = $("error");
    e.textContent = (body.error_description || body.error || "request failed") + (body.fix ? " Fix: " + body.fix : "");
    e.hidden = false;
  }

  async function submit(ev) {
    ev.preventDefault();
    $("error").hidden = true;
    const leeway = $("leeway").value.trim();
    const req = {
      token: $("token").value,
      issuers: lines($("issuers").value),
      audiences: lines($("audiences").value),
      algorithms: lines($("algorithms").value),
      jwks_url: $("jwks_url").value.trim() || null,
      jwks: $("jwks").value.trim() || null,
      discovery_url: $("discovery_url").value.trim() || null,
      leeway: leeway === "" ? null : Number(leeway),
      typ: lines($("typ").value),
      offline: $("offline").checked,
    };
    $("diagnose").disabled = true;
    try {
      const r = await fetch("/doctor/api/diagnose", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(req),
      });
      const body = await r.json();
      if (!r.ok) return showError(body);
      render(body.report, body.snippets);
    } catch (e) {
      showError({ error_description: String(e) });
    } finally {
      $("diagnose").disabled = false;
    }
  }

  function render(report, snippets) {
    $("result").hidden = false;
    const words = { valid: "Valid: the API accepts this token", invalid: "Refused", cannot_check: "Cannot check now" };
    const v = $("verdict");
    v.className = "verdict " + report.verdict;
    v.dataset.verdict = report.verdict;
    v.textContent = words[report.verdict] + (report.code ? " — " + report.code : "") + (report.message ? ": " + report.message : "");

    const top = report.causes[0];
    const card = $("top-cause");
    card.replaceChildren();
    card.hidden = !top;
    if (top) {
      card.dataset.cause = top.id;
      card.append(el("h3", {}, "Top cause: " + top.summary), el("p", { class: "id" }, top.id),
        el("p", {}, el("strong", {}, "Evidence: "), top.evidence),
        el("p", { class: "fix", id: "top-fix" }, el("strong", {}, "Fix: "), top.fix));
    }
    const others = $("other-causes");
    others.replaceChildren();
    for (const c of report.causes.slice(1)) {
      others.append(el("li", {}, el("span", { class: "cause-id" }, c.id), " — ", c.summary, el("br"), "Fix: " + c.fix));
    }
    $("other-causes-section").hidden = report.causes.length < 2;

    const checks = $("checks");
    checks.replaceChildren();
    for (const c of report.checks) {
      checks.append(el("li", { "data-check": c.id, "data-status": c.status }, el("span", { class: "badge " + c.status }, c.status), el("strong", {}, c.id), " — ", c.summary));
    }

    renderParts(report.parts);
    renderTable($("header-table"), report.header, report.header_meanings, report.now, false);
    renderTable($("claims-table"), report.claims, report.claim_meanings, report.now, true);
    renderTimeline(report.timeline);
    renderKeys(report.keys, report.rotation);
    renderProvider(report.provider);
    const f = $("fetches");
    f.replaceChildren();
    if (!report.fetches.length) f.append(el("li", {}, "No network fetch was made."));
    for (const x of report.fetches) f.append(el("li", {}, el("strong", {}, x.what), " ", el("code", {}, x.url), " — ", x.outcome));
    const n = $("notes");
    n.replaceChildren();
    for (const x of report.notes) n.append(el("li", {}, x));
    renderStacks(snippets || []);
    v.scrollIntoView({ block: "start" });
  }

  function renderParts(parts) {
    const p = $("parts");
    p.replaceChildren();
    parts.forEach((part, i) => {
      if (i) p.append(el("span", {}, "."));
      const text = part.text !== null && part.text !== undefined ? part.text : "[" + part.name + ": " + part.chars + " characters, not shown]";
      p.append(el("span", { class: "part-" + part.name, title: part.name + " (" + part.chars + " characters)" }, text));
    });
  }

  function renderTable(table, members, meanings, now, claims) {
    table.replaceChildren();
    table.append(el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Value"), el("th", { scope: "col" }, "Meaning"))));
    const body = el("tbody");
    for (const [k, val] of Object.entries(members || {})) {
      let shown = value(val);
      if (claims && ["exp", "nbf", "iat", "auth_time"].includes(k) && typeof val === "number") shown += " — " + when(val, now);
      body.append(el("tr", { "data-member": k }, el("th", { scope: "row" }, k), el("td", { class: "v" }, shown), el("td", { class: "m" }, (meanings || {})[k] || "")));
    }
    table.append(body);
  }

  function renderTimeline(t) {
    const box = $("timeline");
    box.replaceChildren();
    const pts = [["iat", t.iat], ["nbf", t.nbf], ["exp", t.exp], ["now", t.now]].filter(([, x]) => x !== null && x !== undefined);
    if (pts.length < 2) { box.append(el("p", { class: "hint" }, "The token has no times to draw.")); return; }
    const lo = Math.min(...pts.map(([, x]) => x)) - t.leeway;
    const hi = Math.max(...pts.map(([, x]) => x)) + t.leeway;
    const W = 640, H = 170, pad = 70;
    const span = Math.max(hi - lo, 1);
    const x = (s) => pad + ((s - lo) / span) * (W - 2 * pad);
    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Timeline of iat, nbf, exp and now, with the leeway band" });
    s.append(svg("title", {}, "Timeline: iat, nbf, exp, now and the leeway band"));
    s.append(svg("line", { x1: pad, y1: 90, x2: W - pad, y2: 90, stroke: "#57606a", "stroke-width": 2 }));
    if (t.exp !== null && t.exp !== undefined) {
      const start = t.nbf !== null && t.nbf !== undefined ? t.nbf : (t.iat !== null && t.iat !== undefined ? t.iat : t.exp);
      s.append(svg("rect", { x: x(start), y: 80, width: Math.max(x(t.exp) - x(start), 1), height: 20, fill: "#dafbe1" }));
      s.append(svg("rect", { x: x(t.exp), y: 80, width: Math.max(x(t.exp + t.leeway) - x(t.exp), 2), height: 20, fill: "#fff8c5", stroke: "#9a6700" }));
      s.append(svg("text", { x: x(t.exp), y: 114, "text-anchor": "middle", "font-size": 11, fill: "#9a6700" }, "exp + " + t.leeway + " s leeway"));
    }
    // Labels of points closer than 70 px go on separate rows.
    const rows = [];
    pts.sort((a, b) => a[1] - b[1]).forEach(([name, at]) => {
      let row = 0;
      while (rows[row] !== undefined && x(at) - rows[row] < 70) row++;
      rows[row] = x(at);
      const colour = name === "now" ? "#b42318" : "#0550ae";
      s.append(svg("line", { x1: x(at), y1: 58 - row * 2, x2: x(at), y2: 104, stroke: colour, "stroke-width": name === "now" ? 3 : 2 }));
      s.append(svg("text", { x: x(at), y: 14 + row * 14, "text-anchor": "middle", "font-size": 12, "font-weight": "bold", fill: colour }, name));
      s.append(svg("text", { x: x(at), y: 132 + row * 13, "text-anchor": "middle", "font-size": 10, fill: "#57606a" }, name === "now" ? new Date(at * 1000).toLocaleTimeString() : relative(at, t.now)));
    });
    box.append(s);
  }

  function renderKeys(sets, rotation) {
    const k = $("keys");
    k.replaceChildren();
    if (rotation) k.append(el("p", { class: "error", id: "rotation" }, rotation));
    if (!sets.length) { k.append(el("p", { class: "hint" }, "No key set was available.")); return; }
    for (const set of sets) {
      const names = { api: "The API's keys", live: "The issuer's live keys", app: "Application-specific keys" };
      k.append(el("h4", {}, names[set.role] || set.role, " — ", el("code", {}, set.origin)));
      k.append(el("p", {}, "Token kid: ", el("code", {}, set.token_kid === null ? "(none)" : set.token_kid)));
      const t = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "kid"), el("th", { scope: "col" }, "kty / alg"), el("th", { scope: "col" }, "Thumbprint"), el("th", { scope: "col" }, "Against the token"))));
      const b = el("tbody");
      for (const key of set.keys) {
        b.append(el("tr", { "data-fit": key.fit }, el("td", { class: "v" }, key.kid === null ? "(none)" : key.kid), el("td", {}, key.kty + (key.alg ? " / " + key.alg : "")), el("td", { class: "v" }, key.thumbprint), el("td", { class: "key-" + key.fit }, key.fit + ": " + key.why)));
      }
      for (const sk of set.skipped) {
        b.append(el("tr", { "data-fit": "skipped" }, el("td", { class: "v" }, sk.kid || "(none)"), el("td", {}, sk.kty || "?"), el("td", {}, ""), el("td", {}, "skipped: " + sk.reason)));
      }
      t.append(b);
      k.append(el("div", { class: "scroll" }, t));
    }
  }

  function renderProvider(p) {
    const box = $("provider");
    box.replaceChildren();
    box.append(el("p", {}, el("strong", { id: "provider-name" }, p.name), " (", p.id, ", from the ", p.source, ")"));
    if (p.issuer) box.append(el("p", {}, "Issuer: ", el("code", {}, p.issuer)));
    if (p.discovery_url) box.append(el("p", {}, "Discovery: ", el("code", {}, p.discovery_url)));
    if (p.jwks_url) box.append(el("p", {}, "Keys: ", el("code", {}, p.jwks_url)));
    if (p.notes) box.append(el("p", { class: "hint" }, p.notes));
  }

  function renderStacks(snippets) {
    const tabs = $("stacks");
    tabs.replaceChildren();
    const show = (sn, button) => {
      for (const b of tabs.children) b.setAttribute("aria-selected", "false");
      button.setAttribute("aria-selected", "true");
      $("stack-note").textContent = sn.note;
      $("stack-code").textContent = sn.code;
      $("stack-code").dataset.stack = sn.stack;
    };
    snippets.forEach((sn, i) => {
      const b = el("button", { type: "button", role: "tab", class: "secondary", "data-stack": sn.stack, "aria-selected": "false" }, sn.title + " — " + sn.file);
      b.addEventListener("click", () => show(sn, b));
      tabs.append(b);
      if (i === 0) show(sn, b);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("form").addEventListener("submit", submit);
    loadExpectations();
  });
})();

// Drawing shared by the portal page and the MCP App: service cards, the plan, the timeline,
// a diagnosis, log lines. Every piece of data goes in as text (textContent), never as markup:
// names, messages and log lines come from services and are shown exactly as printed.
"use strict";

var LaunchdeckRender = (function () {
  var STATES = {
    SERVICE_DEPLOYMENT_COMPLETED: "ok",
    BUILD_FAILED: "failed",
    SERVICE_DEPLOYMENT_FAILED: "failed",
    BUILD_QUEUED: "busy",
    BUILD_RUNNING: "busy",
    UPDATE_QUEUED: "busy",
    SERVICE_DEPLOYMENT_PENDING: "busy",
    NOT_DEPLOYED: "idle",
    STOPPED: "idle",
  };

  // el("div", {class: "x", onclick: fn}, "text", child, ...): text children become text nodes
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function kind(state) { return STATES[state] || "idle"; }

  function failed(state) { return kind(state) === "failed"; }

  function badge(state) {
    return el("span", { class: "state " + kind(state), title: state }, state || "");
  }

  function clock(iso) {
    var at = new Date(iso);
    return isNaN(at) ? "" : at.toLocaleTimeString([], { hour12: false });
  }

  function when(iso) {
    var at = new Date(iso);
    return isNaN(at) ? "" : at.toLocaleString([], { hour12: false });
  }

  // an endpoint is a link only when it is http(s); openLink decides how it opens
  function endpoint(url, openLink) {
    if (!/^https?:\/\//i.test(url)) return el("span", { class: "mono" }, url);
    var link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "mono" }, url);
    if (openLink) link.addEventListener("click", function (event) { event.preventDefault(); openLink(url); });
    return link;
  }

  // an image digest is long; its first 12 hex digits name it well enough (the title has it all)
  function shortImage(image) {
    if (!image) return "-";
    var digest = /^sha256:([0-9a-f]{12})[0-9a-f]*$/.exec(image);
    return digest ? "sha256:" + digest[1] : image;
  }

  // one service: state, replicas, health, endpoints, image, deployment; buttons from `actions`
  function card(s, options) {
    options = options || {};
    var facts = el("dl", null,
      el("dt", null, "replicas"), el("dd", { class: "replicas" }, s.replicas_running + "/" + s.replicas_desired),
      el("dt", null, "health"), el("dd", { class: "health" }, s.health || "-"),
      el("dt", null, "endpoints"),
      el("dd", { class: "endpoints" }, (s.endpoints || []).length
        ? s.endpoints.map(function (url, i) { return [i ? " " : null, endpoint(url, options.openLink)]; })
        : "-"),
      el("dt", null, "image"), el("dd", { class: "image mono", title: s.image || "" }, shortImage(s.image)),
      el("dt", null, "deployment"), el("dd", { class: "deployment mono" }, s.deployment_id || "-"));
    var lines = (s.message || "").split("\n").filter(function (l) { return l.trim(); });
    var message = lines.length ? el("pre", { class: "message" }, lines.slice(0, 12).join("\n")) : null;
    var buttons = (options.actions || []).filter(function (a) { return !a.when || a.when(s); })
      .map(function (a) { return el("button", { type: "button", class: "small", onclick: function () { a.run(s); } }, a.label); });
    return el("article", { class: "card " + kind(s.state), "data-service": s.name },
      el("header", null, el("h4", null, s.name), badge(s.state)),
      facts, message,
      buttons.length ? el("div", { class: "buttons" }, buttons) : null,
      el("div", { class: "slot" }));
  }

  function plan(changes) {
    if (!changes || !changes.length) return el("p", { class: "dim" }, "Nothing to deploy.");
    return el("table", { class: "plan" },
      el("thead", null, el("tr", null, ["unit", "kind", "action", "why"].map(function (h) { return el("th", null, h); }))),
      el("tbody", null, changes.map(function (c) {
        return el("tr", null, el("td", null, c.service), el("td", { class: "dim" }, c.kind),
          el("td", { class: "action " + c.action }, c.action), el("td", null, c.reason || "-"));
      })));
  }

  function timeline(entries) {
    if (!entries || !entries.length) return el("p", { class: "dim" }, "No events yet.");
    return el("ol", { class: "timeline" }, entries.map(function (e) {
      return el("li", { class: e.output ? "output" : "" },
        el("time", { datetime: e.at }, clock(e.at)),
        el("span", null, e.state ? badge(e.state) : el("span", { class: "dim" }, e.service || "")),
        el("span", { class: "what" }, (e.state && e.service ? e.service + (e.message ? ": " : "") : "") + (e.message || "")));
    }));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    var s = Math.round(seconds);
    return s < 60 ? s + "s" : Math.floor(s / 60) + "m " + (s % 60) + "s";
  }

  function git(d) {
    if (!d.commit) return "-";
    return d.commit.slice(0, 8) + (d.branch ? " " + d.branch : "") + (d.dirty ? " (dirty)" : "");
  }

  // the history: one row per deployment (newest first) with id, when, who, git, outcome, what
  // it changed and how long it took; `options.rollback(d)` adds a Rollback button to the rows
  // a rollback can go back to (never the newest: that is what runs)
  function history(entries, options) {
    options = options || {};
    if (!entries || !entries.length) return el("p", { class: "dim" }, "No deployment kept yet.");
    return el("table", { class: "history" },
      el("thead", null, el("tr", null, ["id", "when", "who", "git", "outcome", "changed", "took", ""].map(function (h) { return el("th", null, h); }))),
      el("tbody", null, entries.map(function (d, i) {
        var changed = d.changed ? d.changed.map(function (c) { return c.unit + " " + c.action; }).join(", ") : null;
        var what = d.operation + (d.rollback_of ? " to " + d.rollback_of : "");
        var button = options.rollback && i > 0 && (d.can_roll_back_to !== undefined ? d.can_roll_back_to : Object.keys(d.images || {}).length && d.operation !== "destroy")
          ? el("button", { type: "button", class: "small", onclick: function () { options.rollback(d); } }, "Roll back")
          : null;
        return el("tr", { "data-deployment": d.id },
          el("td", { class: "mono id" }, d.id),
          el("td", { class: "when" }, el("time", { datetime: d.started }, when(d.started))),
          el("td", { class: "who" }, d.who || "-"),
          el("td", { class: "git mono", title: d.commit || "" }, git(d)),
          el("td", { class: "outcome " + d.outcome, title: d.message || "" }, what + ": " + d.outcome),
          el("td", { class: "changed" }, changed === null ? "-" : changed || "nothing"),
          el("td", { class: "took" }, duration(d.seconds !== undefined ? d.seconds
            : d.ended ? (new Date(d.ended) - new Date(d.started)) / 1000 : null)),
          el("td", null, button));
      })));
  }

  // debug_failure's result for one service: each finding's cause, evidence lines and fix
  function diagnosis(result, service) {
    var findings = (result.findings || []).filter(function (f) { return f.service === service; });
    var evidence = (result.evidence || []).filter(function (e) { return e.service === service; })[0];
    var out = el("div", { class: "diagnosis" }, el("h5", null, "Diagnosis"));
    findings.forEach(function (f) {
      out.appendChild(el("div", { class: "finding" },
        el("div", { class: "cause" }, f.cause),
        (f.evidence || []).length ? el("pre", { class: "evidence" }, f.evidence.slice(0, 6).join("\n")) : null,
        el("div", { class: "fix" }, f.fix)));
    });
    if (!findings.length) {
      var tail = evidence ? (evidence.logs || []).slice(-8) : [];
      out.appendChild(el("p", { class: "dim" }, evidence ? "No known cause matched; the last lines it printed:" : (result.next_step || "")));
      if (tail.length) out.appendChild(el("pre", { class: "evidence" }, tail.join("\n")));
    }
    return out;
  }

  function logLine(line) {
    return el("div", { class: "line" },
      el("time", { datetime: line.at }, clock(line.at)),
      el("span", { class: "svc" }, line.service),
      el("span", { class: "text" }, line.text));
  }

  return { el: el, clear: clear, kind: kind, failed: failed, badge: badge, when: when, card: card,
           plan: plan, timeline: timeline, history: history, diagnosis: diagnosis, logLine: logLine };
})();

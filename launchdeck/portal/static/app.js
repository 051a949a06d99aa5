// The deployment view as an MCP App: rendered by the host next to a deploy or ps result, it
// talks to the host over the Apps bridge (JSON-RPC 2.0 through postMessage): ui/initialize,
// then the host's tool-input and tool-result; buttons call ps, deploy (dry_run), logs,
// debug_failure, deployments and rollback (its preview first, then the typed project name)
// through the host's tools/call, and links open through ui/open-link.
"use strict";

(function () {
  var R = LaunchdeckRender, el = R.el;
  var $ = function (id) { return document.getElementById(id); };
  var PROTOCOL = "2026-01-26";
  var POLL_SECONDS = 3;
  var WHERE = ["working_directory", "compose_files", "project_name", "provider", "stack"];
  var nextId = 1, pending = {}, host = {}, where = null, services = [], seen = {}, timeline = [];
  var polling = null, diagnoses = {}, project = null, rollingTo = null;

  function send(message) {
    message.jsonrpc = "2.0";
    window.parent.postMessage(message, "*");
  }

  function request(method, params) {
    var id = nextId++;
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
      send({ id: id, method: method, params: params });
    });
  }

  function notify(method, params) { send({ method: method, params: params || {} }); }

  // a tool through the host: its structured result, or an Error with the tool's own words
  function callTool(name, args) {
    return request("tools/call", { name: name, arguments: args }).then(function (result) {
      if (result.isError) {
        var text = (result.content || []).filter(function (c) { return c.type === "text"; })
          .map(function (c) { return c.text; }).join("\n");
        throw new Error(text || name + " failed");
      }
      return result.structuredContent || {};
    });
  }

  function showProblem(text) {
    $("problem").hidden = !text;
    $("problem").textContent = text || "";
  }

  function canCall() { return !!(host.serverTools && where); }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var m = event.data;
    if (!m || typeof m !== "object" || m.jsonrpc !== "2.0") return;
    if (m.method === undefined) {
      var waiting = pending[m.id];
      if (!waiting) return;
      delete pending[m.id];
      if (m.error) waiting.reject(new Error(m.error.message || "the host refused"));
      else waiting.resolve(m.result);
      return;
    }
    if (m.method === "ui/notifications/tool-input") onInput((m.params || {}).arguments || {});
    else if (m.method === "ui/notifications/tool-result") onResult(m.params || {});
    else if (m.method === "ui/notifications/tool-cancelled") showProblem("The tool call was cancelled.");
    else if (m.method === "ui/notifications/host-context-changed") applyContext(m.params || {});
    else if (m.method === "ui/resource-teardown") { stopPolling(); send({ id: m.id, result: {} }); }
    else if (m.id !== undefined) send({ id: m.id, error: { code: -32601, message: "no method " + m.method } });
  });

  function applyContext(context) {
    var variables = (context.styles || {}).variables || {};
    Object.keys(variables).forEach(function (name) {
      if (/^--[a-z0-9-]+$/.test(name) && variables[name]) document.documentElement.style.setProperty(name, variables[name]);
    });
  }

  function onInput(args) {
    where = {};
    WHERE.forEach(function (k) { if (args[k] !== undefined && args[k] !== null) where[k] = args[k]; });
    if (!where.working_directory) where = null;
    $("refresh").disabled = $("plan-button").disabled = $("history-button").disabled = !canCall();
  }

  function onResult(result) {
    var data = result.structuredContent;
    if (result.isError || !data) {
      showProblem((result.content || []).map(function (c) { return c.text || ""; }).join("\n") || "The tool failed.");
      return;
    }
    showProblem("");
    project = data.project;
    $("title").textContent = data.project;
    if (data.dry_run) {
      $("subtitle").textContent = data.stack + " · " + data.provider + " · plan: nothing was changed";
      drawPlan("Plan", data.changes);
      return;
    }
    if (data.changes && data.changes.length) drawPlan("Changes of deployment " + data.deployment_id, data.changes);
    drawServices(data);
    if (data.finished === false || data.deploying) startPolling();
  }

  function drawPlan(title, changes) {
    $("plan-title").textContent = title;
    R.clear($("plan")).appendChild(R.plan(changes));
  }

  function drawServices(data) {
    services = data.services || [];
    var running = data.deploying || (data.finished === false ? data.deployment_id : null);
    $("subtitle").textContent = [data.stack, data.provider,
      running ? "deploying " + running + "…" : data.deployment_id ? "deployment " + data.deployment_id : null,
    ].filter(Boolean).join(" · ");
    var now = new Date().toISOString();
    services.forEach(function (s) {
      if (seen[s.name] !== s.state) {
        seen[s.name] = s.state;
        timeline.push({ at: now, service: s.name, state: s.state, message: R.failed(s.state) ? (s.message || "").split("\n")[0] : "" });
      }
    });
    R.clear($("timeline")).appendChild(R.timeline(timeline));
    drawCards();
  }

  function drawCards() {
    var box = R.clear($("services"));
    services.forEach(function (s) {
      var node = R.card(s, {
        openLink: openLink,
        actions: canCall() ? [
          { label: "Logs", run: showLogs },
          { label: "Why did it fail?", when: function (svc) { return R.failed(svc.state); }, run: diagnose },
        ] : [],
      });
      var found = diagnoses[s.name];
      if (found) node.querySelector(".slot").appendChild(found);
      box.appendChild(node);
    });
  }

  function openLink(url) {
    request("ui/open-link", { url: url }).catch(function (error) { showProblem(error.message); });
  }

  function showLogs(s) {
    $("output-panel").hidden = false;
    $("output-title").textContent = "Logs of " + s.name + " (the service's own output, shown as text)";
    var box = R.clear($("output"));
    box.appendChild(el("p", { class: "dim" }, "Reading…"));
    callTool("logs", Object.assign({}, where, { service: s.name, tail: 50 })).then(function (page) {
      R.clear(box);
      if (!page.lines.length) box.appendChild(el("p", { class: "dim" }, "No lines."));
      page.lines.forEach(function (line) { box.appendChild(R.logLine(line)); });
    }).catch(function (error) { R.clear(box).appendChild(el("p", { class: "problem" }, error.message)); });
  }

  function diagnose(s) {
    diagnoses[s.name] = el("p", { class: "dim" }, "Diagnosing…");
    drawCards();
    callTool("debug_failure", Object.assign({}, where, { service: s.name })).then(function (result) {
      diagnoses[s.name] = R.diagnosis(result, s.name);
    }).catch(function (error) {
      diagnoses[s.name] = el("p", { class: "problem" }, error.message);
    }).then(refresh);
  }

  function refresh() {
    if (!canCall()) return Promise.resolve();
    return callTool("ps", where).then(function (data) {
      drawServices(data);
      if (!data.deploying) stopPolling();
    }).catch(function (error) { showProblem(error.message); stopPolling(); });
  }

  function startPolling() {
    if (polling || !canCall()) return;
    polling = setInterval(refresh, POLL_SECONDS * 1000);
  }

  function stopPolling() {
    if (polling) clearInterval(polling);
    polling = null;
  }

  $("refresh").addEventListener("click", refresh);
  $("plan-button").addEventListener("click", function () {
    R.clear($("plan")).appendChild(el("p", { class: "dim" }, "Planning…"));
    callTool("deploy", Object.assign({}, where, { dry_run: true })).then(function (data) {
      drawPlan("Plan", data.changes);
    }).catch(function (error) { R.clear($("plan")).appendChild(el("p", { class: "problem" }, error.message)); });
  });

  // -- the history, and a rollback to one of its deployments ----------------------------

  function showHistory() {
    $("history-panel").hidden = false;
    var box = R.clear($("history"));
    box.appendChild(el("p", { class: "dim" }, "Reading…"));
    return callTool("deployments", where).then(function (listed) {
      R.clear(box).appendChild(R.history(listed.deployments, { rollback: askRollback }));
    }).catch(function (error) { R.clear(box).appendChild(el("p", { class: "problem" }, error.message)); });
  }

  function askRollback(d) {
    rollingTo = { id: d.id, ready: false };
    var job = rollingTo;
    $("rollback").hidden = false;
    $("rollback-title").textContent = "Roll back " + project + " to deployment " + d.id;
    $("rollback-name").textContent = project;
    $("rollback-input").value = "";
    updateRollback();
    var box = R.clear($("rollback-preview"));
    box.appendChild(el("p", { class: "dim" }, "Checking what the rollback would change…"));
    callTool("rollback", Object.assign({}, where, { deployment: d.id, dry_run: true })).then(function (out) {
      if (rollingTo !== job) return;
      var shown = out.preview;
      R.clear(box).appendChild(R.plan(shown.plan.changes.filter(function (c) { return c.action !== "NOOP"; })));
      if (shown.config_changed.length) box.appendChild(el("p", { class: "dim" },
        "Config changed since then (today's values are used): " + shown.config_changed.join(", ")));
      job.ready = true;
      updateRollback();
    }).catch(function (error) {
      if (rollingTo === job) R.clear(box).appendChild(el("p", { class: "problem" }, error.message));
    });
  }

  function updateRollback() {
    $("rollback-go").disabled = !rollingTo || !rollingTo.ready || $("rollback-input").value !== project;
  }

  function closeRollback() {
    rollingTo = null;
    $("rollback").hidden = true;
  }

  $("history-button").addEventListener("click", showHistory);
  $("rollback-input").addEventListener("input", updateRollback);
  $("rollback-cancel").addEventListener("click", closeRollback);
  $("rollback-go").addEventListener("click", function () {
    var job = rollingTo;
    $("rollback-go").disabled = true;
    R.clear($("rollback-preview")).appendChild(el("p", { class: "dim" }, "Rolling back…"));
    callTool("rollback", Object.assign({}, where, { deployment: job.id, confirm: job.id })).then(function (out) {
      closeRollback();
      showProblem(out.ok ? "" : out.next_step);
      return Promise.all([refresh(), showHistory()]);
    }).catch(function (error) {
      R.clear($("rollback-preview")).appendChild(el("p", { class: "problem" }, error.message));
    });
  });

  // the host sizes the frame to the view: tell it each new size (once initialized)
  function watchSize() {
    if (!window.ResizeObserver) return;
    new ResizeObserver(function () {
      var box = document.documentElement;
      notify("ui/notifications/size-changed", { width: box.scrollWidth, height: box.scrollHeight });
    }).observe(document.body);
  }

  request("ui/initialize", {
    protocolVersion: PROTOCOL,
    appInfo: { name: "launchdeck-deployment", version: "1" },
    appCapabilities: { availableDisplayModes: ["inline"] },
  }).then(function (result) {
    host = result.hostCapabilities || {};
    applyContext(result.hostContext || {});
    notify("ui/notifications/initialized");
    watchSize();
  }).catch(function (error) { showProblem("The host did not start the view: " + error.message); });
})();

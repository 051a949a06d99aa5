// The portal page: lists the deployments, follows the chosen one over server-sent events (no
// reload), shows its history of deployments, streams its logs with the shared filters, and runs
// redeploy / rollback / destroy after the user types the project's name (a rollback after its
// preview). Every request carries the session token from the address.
"use strict";

(function () {
  var R = LaunchdeckRender, el = R.el;
  var token = new URLSearchParams(location.search).get("token") || "";
  var $ = function (id) { return document.getElementById(id); };
  var MAX_LOG_LINES = 2000;
  var state = { targets: [], current: null, view: null, stream: null, logs: null, diagnoses: {}, listed: "" };

  function base(t) {
    return "/api/targets/" + [t.provider, t.project, t.stack].map(encodeURIComponent).join("/");
  }

  function key(t) { return t.provider + "/" + t.project + "/" + t.stack; }

  function withToken(path, params) {
    var query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) { if (params[k]) query.set(k, params[k]); });
    query.set("token", token);
    return path + "?" + query.toString();
  }

  function api(path, options) {
    options = options || {};
    var headers = { Authorization: "Bearer " + token };
    if (options.body) headers["Content-Type"] = "application/json";
    return fetch(path, { method: options.method || "GET", headers: headers, cache: "no-store",
                         body: options.body ? JSON.stringify(options.body) : undefined })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = new Error(data.error || "the portal answered " + response.status);
            error.hint = data.hint || "";
            throw error;
          }
          return data;
        });
      });
  }

  function problemText(error) { return error.message + (error.hint ? "\n" + error.hint : ""); }

  // -- the deployments -------------------------------------------------------------------

  function loadTargets() {
    return api("/api/targets").then(function (listing) {
      var listed = JSON.stringify(listing.targets.map(key));
      state.targets = listing.targets;
      if (listed !== state.listed) {
        state.listed = listed;
        drawTargets();
      }
      var unlisted = listing.problems || [];  // providers that could not be read, and why
      $("unlisted").hidden = unlisted.length === 0;
      $("unlisted").textContent = unlisted.length ? "Not listed: " + unlisted.join("; ") : "";
      $("empty").hidden = listing.targets.length > 0;
      if (!listing.targets.length) { $("target").hidden = true; return; }
      var wanted = decodeURIComponent(location.hash.slice(1));
      var chosen = listing.targets.filter(function (t) { return key(t) === wanted; })[0];
      if (!state.current || !listing.targets.some(function (t) { return key(t) === key(state.current); })) {
        select(chosen || listing.targets[0]);
      }
    }).catch(function (error) { showProblem(problemText(error)); });
  }

  function drawTargets() {
    R.clear($("targets"));
    state.targets.forEach(function (t) {
      $("targets").appendChild(el("a", {
        href: "#" + encodeURIComponent(key(t)), "aria-current": state.current && key(state.current) === key(t) ? "true" : "false",
        "data-key": key(t),
        onclick: function (event) { event.preventDefault(); select(t); },
      }, el("span", { class: "dot" }), t.project, el("span", { class: "dim" }, " " + t.stack + " · " + t.provider)));
    });
  }

  function select(target) {
    if (state.stream) state.stream.close();
    state.current = target;
    state.view = null;
    state.historyKey = null;
    R.clear($("history"));
    state.diagnoses = {};
    history.replaceState(null, "", "#" + encodeURIComponent(key(target)));
    drawTargets();
    $("target").hidden = false;
    $("title").textContent = target.project;
    $("subtitle").textContent = target.stack + " · " + target.provider;
    R.clear($("services"));
    R.clear($("logs"));
    $("log-service").value = "";
    showProblem("");
    state.stream = new EventSource(withToken(base(target) + "/stream"));
    state.stream.addEventListener("view", function (event) { drawView(JSON.parse(event.data)); });
    state.stream.addEventListener("problem", function (event) {
      state.stream.close();
      showProblem(problemText(JSON.parse(event.data)));
      loadTargets();
    });
    loadPlan();
    startLogs();
  }

  function showProblem(text) {
    $("problem").hidden = !text;
    $("problem").textContent = text;
  }

  // -- one deployment --------------------------------------------------------------------

  function drawView(view) {
    state.view = view;
    var t = view.target, d = view.deployment;
    var parts = [t.stack, t.provider];
    if (d) parts.push("deployment " + d.id + (d.at ? " at " + R.when(d.at) : "") + (d.ok ? "" : " (failed)"));
    else parts.push("no deployment record");
    if (view.deploying) parts.push("deploying " + view.deploying + "…");
    $("subtitle").textContent = parts.join(" · ");
    showProblem(view.problem || "");
    $("redeploy").disabled = !view.can_redeploy;
    $("redeploy").title = view.can_redeploy ? "" : (view.deploying ? "a deploy is running"
      : "needs the project's directory: start the portal with -C DIR");
    $("destroy").disabled = !!view.deploying;

    var cards = view.services.map(function (s) {
      var node = R.card(s, { actions: [
        { label: "Logs", run: function (svc) { $("log-service").value = svc.name; startLogs(); } },
        { label: "Diagnose", when: function (svc) { return R.failed(svc.state) && t.on_disk; },
          run: function (svc) { diagnose(svc, true); } },
      ] });
      var found = state.diagnoses[diagnosisKey(s)];
      if (found && found.result) node.querySelector(".slot").appendChild(R.diagnosis(found.result, s.name));
      else if (found && found.error) node.querySelector(".slot").appendChild(el("p", { class: "problem" }, found.error));
      return node;
    });
    var box = R.clear($("services"));
    cards.forEach(function (node) { box.appendChild(node); });
    view.services.forEach(function (s) { if (R.failed(s.state) && t.on_disk) diagnose(s, false); });

    $("timeline-of").textContent = view.timeline_of ? "of the " + view.timeline_of + " started here" : "";
    R.clear($("timeline"));
    if (view.timeline_error) $("timeline").appendChild(el("p", { class: "problem" }, view.timeline_error));
    if (view.timeline.length) $("timeline").appendChild(R.timeline(view.timeline));
    else if (d) $("timeline").appendChild(el("div", null,
      el("p", { class: "dim" }, "Events are kept for deploys started from this page; the last deployment changed:"),
      R.plan(d.changes.filter(function (c) { return c.action !== "NOOP"; }))));
    else $("timeline").appendChild(R.timeline([]));

    var historyKey = JSON.stringify([view.history, view.can_roll_back]);
    if (historyKey !== state.historyKey) {
      state.historyKey = historyKey;
      R.clear($("history")).appendChild(R.history(view.history, {
        rollback: view.can_roll_back ? function (d) { confirmAction("rollback", d); } : null,
      }));
    }

    R.clear($("config")).appendChild(view.config.length
      ? el("ul", { class: "config" }, view.config.map(function (c) {
          return el("li", null, el("span", { class: "mono" }, c.name),
            el("span", { class: c.set ? "dim" : "unset" }, c.set ? "set" : "not set"));
        }))
      : el("p", { class: "dim" }, "No config values."));

    var picker = $("log-service"), chosen = picker.value;
    R.clear(picker).appendChild(el("option", { value: "" }, "all"));
    view.services.forEach(function (s) { picker.appendChild(el("option", { value: s.name }, s.name)); });
    picker.value = chosen;
  }

  function diagnosisKey(s) { return s.name + "/" + (s.deployment_id || "") + "/" + s.state; }

  function diagnose(s, again) {
    var k = diagnosisKey(s);
    if (state.diagnoses[k] && !again) return;
    state.diagnoses[k] = { pending: true };
    var target = state.current;
    api(base(target) + "/diagnosis?service=" + encodeURIComponent(s.name)).then(function (result) {
      state.diagnoses[k] = { result: result };
    }).catch(function (error) {
      state.diagnoses[k] = { error: problemText(error) };
    }).then(function () {
      if (state.view && state.current === target) drawView(state.view);
    });
  }

  function loadPlan() {
    var target = state.current;
    R.clear($("plan")).appendChild(el("p", { class: "dim" }, "Planning…"));
    api(base(target) + "/plan").then(function (planned) {
      if (state.current !== target) return;
      R.clear($("plan")).appendChild(planned.problem ? el("p", { class: "problem" }, planned.problem)
                                                     : R.plan(planned.changes));
    }).catch(function (error) {
      R.clear($("plan")).appendChild(el("p", { class: "problem" }, problemText(error)));
    });
  }

  // -- logs ------------------------------------------------------------------------------

  function startLogs() {
    if (state.logs) state.logs.close();
    var box = R.clear($("logs"));
    var source = new EventSource(withToken(base(state.current) + "/logs", {
      service: $("log-service").value, since: $("log-since").value.trim(), contains: $("log-contains").value,
    }));
    state.logs = source;
    source.addEventListener("line", function (event) {
      var follow = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      box.appendChild(R.logLine(JSON.parse(event.data)));
      while (box.childNodes.length > MAX_LOG_LINES) box.removeChild(box.firstChild);
      if (follow) box.scrollTop = box.scrollHeight;
    });
    source.addEventListener("problem", function (event) {
      source.close();
      box.appendChild(el("p", { class: "problem" }, problemText(JSON.parse(event.data))));
    });
  }

  // -- actions ---------------------------------------------------------------------------

  var pending = null;

  var TITLES = { redeploy: "Redeploy", destroy: "Destroy", rollback: "Roll back" };

  function confirmAction(action, to) {
    var t = state.current;
    pending = { action: action, target: t, to: to ? to.id : null, ready: action !== "rollback" };
    $("confirm-title").textContent = TITLES[action] + " " + t.project + (to ? " to deployment " + to.id : "");
    $("confirm-text").textContent = action === "redeploy"
      ? "Deploys the project on disk to " + t.provider + " (" + t.stack + ") again; only what changed is replaced."
      : action === "rollback"
      ? "Runs the images deployment " + to.id + " ran, with today's compose settings and config values; nothing is built."
      : "Removes every service, network and load balancer of " + t.project + " (" + t.stack + ") on " + t.provider + ". Data volumes are kept.";
    $("confirm-name").textContent = t.project;
    $("confirm-go").textContent = TITLES[action];
    $("confirm-go").className = action === "destroy" ? "danger" : "";
    $("confirm-input").value = "";
    $("confirm-go").disabled = true;
    $("confirm-error").hidden = true;
    var preview = R.clear($("confirm-preview"));
    preview.hidden = action !== "rollback";
    if (action === "rollback") {
      var job = pending;
      preview.appendChild(el("p", { class: "dim" }, "Checking what the rollback would change…"));
      api(base(t) + "/rollback?to=" + encodeURIComponent(to.id)).then(function (shown) {
        if (pending !== job) return;
        R.clear(preview).appendChild(R.plan(shown.plan.changes.filter(function (c) { return c.action !== "NOOP"; })));
        if (shown.config_changed.length) preview.appendChild(el("p", { class: "dim" },
          "Config changed since then (today's values are used): " + shown.config_changed.join(", ")));
        if (!shown.images_checked) preview.appendChild(el("p", { class: "dim" },
          "The target cannot confirm its images are still there."));
        job.ready = true;
        updateGo();
      }).catch(function (error) {
        if (pending !== job) return;
        R.clear(preview).appendChild(el("p", { class: "problem" }, problemText(error)));
      });
    }
    $("confirm").showModal();
    $("confirm-input").focus();
  }

  function updateGo() {
    $("confirm-go").disabled = !pending || !pending.ready || $("confirm-input").value !== pending.target.project;
  }

  $("confirm-input").addEventListener("input", updateGo);
  $("confirm-cancel").addEventListener("click", function () { $("confirm").close(); });
  $("confirm-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var job = pending;
    $("confirm-go").disabled = true;
    var body = { confirm: $("confirm-input").value };
    if (job.to) body.to = job.to;
    api(base(job.target) + "/" + job.action, { method: "POST", body: body })
      .then(function () {
        $("confirm").close();
        if (job.action === "destroy") loadTargets();
      })
      .catch(function (error) {
        $("confirm-error").hidden = false;
        $("confirm-error").textContent = problemText(error);
        $("confirm-go").disabled = false;
      });
  });

  $("redeploy").addEventListener("click", function () { confirmAction("redeploy"); });
  $("destroy").addEventListener("click", function () { confirmAction("destroy"); });
  $("replan").addEventListener("click", loadPlan);
  $("log-filters").addEventListener("submit", function (event) { event.preventDefault(); startLogs(); });

  loadTargets();
  setInterval(loadTargets, 5000);
})();

/* zalohub inbox: live refresh over server-sent events, the composer, small actions.
   No framework: the server renders every fragment; this file only fetches and swaps. */
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const byId = (id) => document.getElementById(id);

  async function fetchHtml(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.text();
  }

  // One refresh at a time per part; a change during a refresh triggers one more.
  function serial(job) {
    let busy = false, again = false;
    return async function run() {
      if (busy) { again = true; return; }
      busy = true;
      try { await job(); } catch (error) { console.warn("inbox refresh failed", error); }
      busy = false;
      if (again) { again = false; run(); }
    };
  }

  const refreshList = serial(async function () {
    const template = document.createElement("template");
    template.innerHTML = await fetchHtml(root.dataset.listUrl);
    template.content.querySelectorAll("[data-part]").forEach(function (part) {
      const target = byId(part.dataset.part);
      if (target) target.innerHTML = part.innerHTML;
    });
    document.dispatchEvent(new CustomEvent("inbox:list"));
  });

  function applyThreadState(stickToBottom) {
    const messages = byId("messages");
    if (!messages) return;
    const composer = byId("composer");
    if (composer) composer.dataset.open = messages.dataset.open;
    const seen = byId("reply-seen");
    if (seen) seen.value = messages.dataset.latestId;
    if (stickToBottom) messages.scrollTop = messages.scrollHeight;
  }

  // The colleague picked in "Assign to" survives a live refresh of the thread, which
  // would otherwise put the select back on the current assignee under the agent's hand.
  let pickedAssignee = null;
  document.addEventListener("change", function (event) {
    if (event.target.id === "assign-user") pickedAssignee = event.target.value;
  });

  const refreshThread = serial(async function () {
    if (!root.dataset.threadUrl) return;
    const old = byId("messages");
    const atBottom = !old || old.scrollHeight - old.scrollTop - old.clientHeight < 120;
    const html = await fetchHtml(root.dataset.threadUrl);
    byId("thread-part").innerHTML = html;
    const picker = byId("assign-user");
    if (picker && pickedAssignee !== null) {
      const option = Array.from(picker.options).find((o) => o.value === pickedAssignee);
      if (option) picker.value = pickedAssignee;
    }
    applyThreadState(atBottom);
    document.dispatchEvent(new CustomEvent("inbox:thread"));
  });

  applyThreadState(true);
  // The team's script (team.js) refreshes and posts through the same functions.
  window.zalohubInbox = { refreshList: refreshList, refreshThread: refreshThread, post: post, showError: showError };

  if (window.EventSource && root.dataset.eventsUrl) {
    const events = new EventSource(root.dataset.eventsUrl);
    events.addEventListener("list", refreshList);
    events.addEventListener("thread", refreshThread);
  }

  async function post(form) {
    // getAttribute: a field named "action" would shadow the form.action property.
    const response = await fetch(form.getAttribute("action"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    });
    let body = {};
    try { body = await response.json(); } catch (error) { body = { ok: false, error: "HTTP " + response.status }; }
    return body;
  }

  // Assignment and Resend: small forms anywhere in the thread (replaced on refresh).
  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!form.matches("[data-inbox-action]")) return;
    event.preventDefault();
    const result = await post(form);
    if (!result.ok) showError(result.error);
    else if (form.querySelector("#assign-user")) pickedAssignee = null;
    refreshThread();
    refreshList();
  });

  // --- the composer -----------------------------------------------------------------
  const form = byId("reply-form");
  if (!form) return;
  const text = byId("reply-text");
  const file = byId("reply-file");
  const send = byId("reply-send");
  const rules = {};
  (file.dataset.rules || "").split(",").forEach(function (pair) {
    const [ext, limit] = pair.split(":");
    if (ext) rules[ext] = Number(limit);
  });

  function showError(message) {
    const place = byId("reply-error");
    if (place) place.textContent = message || "";
  }
  function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  // Refuse what Zalo would refuse before a byte is uploaded.
  function fileProblem() {
    const chosen = file.files[0];
    if (!chosen) return "";
    const ext = chosen.name.includes(".") ? chosen.name.split(".").pop().toLowerCase() : "";
    if (!(ext in rules)) return fill(file.dataset.msgType, { name: chosen.name });
    if (chosen.size > rules[ext]) {
      return fill(file.dataset.msgSize, { name: chosen.name, size: megabytes(chosen.size), limit: megabytes(rules[ext]) });
    }
    return "";
  }

  file.addEventListener("change", function () {
    const problem = fileProblem();
    showError(problem);
    if (problem) file.value = "";
    byId("reply-file-name").textContent = file.files[0] ? file.files[0].name : "";
  });

  text.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter is a new line; never while an IME composes (Telex, VNI).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  let sending = false;
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (sending) return;
    const problem = fileProblem();
    if (problem) { showError(problem); file.value = ""; return; }
    if (!text.value.trim() && !file.files[0]) { showError(form.dataset.msgEmpty); return; }
    sending = true;
    send.disabled = true;
    showError("");
    try {
      const result = await post(form);
      if (result.ok) {
        text.value = "";
        file.value = "";
        byId("reply-file-name").textContent = "";
      } else {
        showError(result.error);
        if (result.latest_id) byId("reply-seen").value = result.latest_id;
      }
      await refreshThread();
      refreshList();
    } finally {
      sending = false;
      send.disabled = false;
      text.focus();
    }
  });
})();

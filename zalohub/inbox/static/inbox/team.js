/* zalohub inbox, the team's part (issue 19): resolving a selection, the away switch, browser
   notifications for conversations assigned to me and for mentions, private notes, saved
   replies found with "/", keyboard shortcuts listed with "?". Loaded after inbox.js,
   whose refresh and post functions it uses (window.zalohubInbox). */
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  const inbox = window.zalohubInbox;
  if (!root || !inbox) return;
  const byId = (id) => document.getElementById(id);
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] || "");

  // --- resolve a selection: the picks survive the list's live refresh ----------------------
  const picked = new Set();
  function showPicks() {
    document.querySelectorAll("#conversation-list .ib-pick").forEach(function (box) {
      box.checked = picked.has(box.value);
    });
    const button = byId("resolve-selected");
    if (button) button.disabled = picked.size === 0;
  }
  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.classList && box.classList.contains("ib-pick")) {
      if (box.checked) picked.add(box.value); else picked.delete(box.value);
      showPicks();
    } else if (box.id === "away-switch") {
      const body = new FormData();
      body.append("away", box.checked ? "1" : "0");
      body.append("csrfmiddlewaretoken", document.querySelector("[name=csrfmiddlewaretoken]").value);
      fetch(box.dataset.url, { method: "POST", body: body, credentials: "same-origin" });
    }
  });
  const selectionForm = byId("selection-form");
  if (selectionForm) selectionForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    selectionForm.querySelectorAll("input[name=c]").forEach((input) => input.remove());
    picked.forEach(function (pk) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = "c"; input.value = pk;
      selectionForm.appendChild(input);
    });
    const result = await inbox.post(selectionForm);
    if (result.ok) picked.clear();
    inbox.refreshList();
    inbox.refreshThread();
  });

  // --- browser notifications: newly assigned to me, newly mentioned ----------------
  const canNotify = "Notification" in window;
  const askButton = byId("notify-permission");
  if (canNotify && askButton && Notification.permission === "default") {
    askButton.hidden = false;
    askButton.addEventListener("click", function () {
      Notification.requestPermission().then(function () { askButton.hidden = true; });
    });
  }
  function notify(title, url) {
    if (!canNotify || Notification.permission !== "granted") return;
    try {
      const shown = new Notification(title, { tag: url });
      shown.onclick = function () { window.focus(); window.location.href = url; };
    } catch (error) {
      console.warn("notification refused", error);  // e.g. a browser that wants a service worker
    }
  }
  function currentSets() {
    const mine = byId("mine");
    const ids = new Set(((mine && mine.dataset.ids) || "").split(",").filter(Boolean));
    const mentions = new Map();
    document.querySelectorAll("#mentions [data-mention]").forEach(function (item) {
      mentions.set(item.dataset.mention, item);
    });
    return { ids: ids, mentions: mentions };
  }
  let known = currentSets();
  document.addEventListener("inbox:rows", showPicks);  // rows pushed in (inbox.js)
  document.addEventListener("inbox:list", function () {
    showPicks();
    const now = currentSets();
    // Not the conversation open on this page: taking it was the agent's own doing.
    const open = /\/c\/(\d+)\//.exec(root.dataset.threadUrl || "");
    now.ids.forEach(function (pk) {
      if (!known.ids.has(pk) && !(open && open[1] === pk)) {
        notify(root.dataset.msgAssigned, "/inbox/c/" + pk + "/");
      }
    });
    now.mentions.forEach(function (item, pk) {
      if (!known.mentions.has(pk)) {
        const link = item.querySelector("a");
        notify(fill(root.dataset.msgMentioned, { who: item.dataset.who }), link ? link.href : "/inbox/");
      }
    });
    known = now;
  });

  // --- keyboard shortcuts ------------------------------------------------------------
  const help = byId("shortcuts");
  function go(step) {
    const rows = Array.from(document.querySelectorAll("#conversation-list .ib-row"));
    if (!rows.length) return;
    const at = rows.findIndex((row) => row.classList.contains("current"));
    const next = rows[Math.min(rows.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    const link = next && next.querySelector("a");
    if (link) window.location.href = link.href;
  }
  const keys = {
    j: () => go(1),
    k: () => go(-1),
    e: () => byId("resolve") && byId("resolve").click(),
    a: () => byId("take") && byId("take").click(),
    r: () => { setMode("reply"); const t = byId("reply-text"); if (t) t.focus(); },
    n: () => { setMode("note"); const t = byId("note-text"); if (t) t.focus(); },
    "?": () => { if (help) help.hidden = !help.hidden; },
  };
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && help && !help.hidden) { help.hidden = true; return; }
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });
  const closeHelp = byId("shortcuts-close");
  if (closeHelp) closeHelp.addEventListener("click", () => { help.hidden = true; });

  // --- the composer: reply or private note ------------------------------------------
  const composer = byId("composer");
  function setMode(mode) {
    if (!composer) return;
    composer.dataset.mode = mode;
    document.querySelectorAll(".ib-mode").forEach(function (button) {
      button.classList.toggle("selected", button.dataset.mode === mode);
      button.setAttribute("aria-selected", button.dataset.mode === mode ? "true" : "false");
    });
  }
  if (!composer) return;
  setMode("reply");
  document.querySelectorAll(".ib-mode").forEach(function (button) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  });
  const noteForm = byId("note-form");
  noteForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const result = await inbox.post(noteForm);
    byId("note-error").textContent = result.ok ? "" : result.error || "";
    if (result.ok) byId("note-text").value = "";
    await inbox.refreshThread();
  });
  byId("note-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      noteForm.requestSubmit();
    }
  });

  // --- saved replies: "/" at the start of the reply, then part of the shortcut -------
  const replies = JSON.parse((byId("saved-replies") || {}).textContent || "[]");
  const menu = byId("saved-menu");
  const text = byId("reply-text");
  let choices = [], chosen = 0;
  function typedShortcut() {
    const match = /^\/([^\s/]*)$/.exec(text.value);
    return match ? match[1].toLowerCase() : null;
  }
  function drawMenu() {
    const typed = typedShortcut();
    choices = typed === null ? [] : replies.filter(function (reply) {
      return reply.shortcut.toLowerCase().includes(typed) || reply.text.toLowerCase().includes(typed);
    }).slice(0, 8);
    chosen = Math.min(chosen, Math.max(0, choices.length - 1));
    menu.replaceChildren(...choices.map(function (reply, index) {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.className = index === chosen ? "selected" : "";
      item.dataset.index = String(index);
      const name = document.createElement("strong");
      name.textContent = "/" + reply.shortcut;
      const body = document.createElement("span");
      body.textContent = " " + reply.text;
      item.append(name, body);
      return item;
    }));
    menu.hidden = choices.length === 0;
  }
  function insert(index) {
    const reply = choices[index];
    if (!reply) return;
    text.value = reply.text;
    menu.hidden = true;
    choices = [];
    text.focus();
  }
  text.addEventListener("input", () => { chosen = 0; drawMenu(); });
  menu.addEventListener("mousedown", function (event) {
    const item = event.target.closest("li");
    if (item) { event.preventDefault(); insert(Number(item.dataset.index)); }
  });
  // Capture: runs before inbox.js's Enter-sends on the same box, and can stop it.
  document.addEventListener("keydown", function (event) {
    if (event.target !== text || menu.hidden || !choices.length) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      chosen = (chosen + moves[event.key] + choices.length) % choices.length;
      drawMenu();
    } else if (event.key === "Enter" || event.key === "Tab") {
      insert(chosen);
    } else if (event.key === "Escape") {
      menu.hidden = true;
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);
})();

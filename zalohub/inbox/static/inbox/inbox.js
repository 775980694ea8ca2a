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
  async function fetchJson(url, params) {
    return JSON.parse(await fetchHtml(url + (url.includes("?") ? "&" : "?") + params.toString()));
  }
  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
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

  // Live updates come in small parts (inbox/live_parts.py): the page says what it shows
  // and the server answers what changed, or "stale", and then the part is drawn whole.
  const whole = { list: false, thread: false };  // set: the next update draws it whole
  const LIST_MAX = 50;  // services.conversation_list's limit
  const swapped = {};  // the list's small parts as last swapped in

  function swapPart(id, html) {
    const target = byId(id);
    if (!target || swapped[id] === html) return;
    swapped[id] = html;
    target.innerHTML = html;
  }

  async function wholeList() {
    const parts = parse(await fetchHtml(root.dataset.listUrl));
    parts.querySelectorAll("[data-part]").forEach(function (part) {
      const target = byId(part.dataset.part);
      if (!target) return;
      target.innerHTML = part.innerHTML;
      swapped[part.dataset.part] = null;
      if (part.dataset.cursor) target.dataset.cursor = part.dataset.cursor;
    });
  }

  function rowsOf(list) { return Array.from(list.querySelectorAll(":scope > li.ib-row")); }
  function before(a, b) {  // newest message first, then the higher id (the server's order)
    const at = Number(a.dataset.at) - Number(b.dataset.at);
    return at > 0 || (at === 0 && Number(a.dataset.conversation) > Number(b.dataset.conversation));
  }

  // A drawn row in its place (the server's order), instead of the one it replaces.
  function placeRow(list, row, old) {
    if (old) old.remove();
    const next = rowsOf(list).find((other) => before(row, other));
    list.insertBefore(row, next || null);
  }
  // The list cut to its length; false when it is left empty without its "none" line.
  function settleList(list) {
    rowsOf(list).slice(LIST_MAX).forEach((row) => row.remove());
    const empty = byId("no-conversations");
    if (rowsOf(list).length && empty) empty.remove();
    return rowsOf(list).length > 0 || Boolean(empty);
  }

  // True when it drew the list's changes; false when only a whole list will do.
  async function listChanges() {
    const list = byId("conversation-list");
    if (!list || !list.dataset.cursor) return false;
    const rows = rowsOf(list);
    const params = new URLSearchParams({ since: list.dataset.cursor });
    params.set("v", rows.map((row) => row.dataset.conversation + ":" + row.dataset.v).join(","));
    if (rows.length >= LIST_MAX) params.set("low", rows[rows.length - 1].dataset.at);
    const changes = await fetchJson(root.dataset.listUrl, params);
    if (changes.stale) return false;
    changes.remove.forEach(function (pk) {
      const row = list.querySelector(':scope > [data-conversation="' + pk + '"]');
      if (row) row.remove();
    });
    // A row gone from a full list: one from below would take its place.
    if (changes.remove.length && rows.length >= LIST_MAX) return false;
    changes.rows.forEach(function (drawn) {
      const row = parse(drawn.html).querySelector("li.ib-row");
      if (row) placeRow(list, row, list.querySelector(':scope > [data-conversation="' + drawn.id + '"]'));
    });
    if (!settleList(list)) return false;
    Object.entries(changes.parts).forEach(([id, html]) => swapPart(id, html));
    list.dataset.cursor = changes.cursor;
    return true;
  }

  const refreshList = serial(async function () {
    const full = whole.list;
    whole.list = false;
    if (full || !(await listChanges())) await wholeList();
    document.dispatchEvent(new CustomEvent("inbox:list"));
  });

  // Whether the thread follows its newest message: it does unless the agent scrolled up.
  // Kept from the agent's own scrolls rather than read before each change: a read of the
  // thread's scroll metrics after the list's rows changed makes the browser lay the page
  // out then and there, once more per change than the frame's own layout.
  let following = true, ownTop = -1, stickFrame = 0;
  document.addEventListener("scroll", function (event) {
    const m = event.target;
    if (m.id !== "messages" || Math.abs(m.scrollTop - ownTop) < 2) return;  // stickToBottom's
    following = m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }, { capture: true, passive: true });
  // At the next frame, after every change the frame brings: one layout for all of them.
  function stickToBottom() {
    if (stickFrame) return;
    stickFrame = requestAnimationFrame(function () {
      stickFrame = 0;
      const messages = byId("messages");
      if (!messages || !following) return;
      ownTop = messages.scrollHeight - messages.clientHeight;
      messages.scrollTop = ownTop;
    });
  }

  function applyThreadState() {
    const messages = byId("messages");
    if (!messages) return;
    const composer = byId("composer");
    const band = byId("reply-window");
    if (composer && band) composer.dataset.open = band.dataset.open;
    const seen = byId("reply-seen");
    if (seen) seen.value = messages.dataset.latestId;
    stickToBottom();
    watchWindow();
  }

  // The colleague picked in "Assign to" survives a live refresh of the thread, which
  // would otherwise put the select back on the current assignee under the agent's hand.
  let pickedAssignee = null;
  document.addEventListener("change", function (event) {
    if (event.target.id === "assign-user") pickedAssignee = event.target.value;
  });
  function keepPickedAssignee() {
    const picker = byId("assign-user");
    if (picker && pickedAssignee !== null) {
      const option = Array.from(picker.options).find((o) => o.value === pickedAssignee);
      if (option) picker.value = pickedAssignee;
    }
  }

  // When the reply window's band ends (the free 48 hours, the 7 days), the thread is
  // asked again at that moment: its top changes, and the composer's offers come.
  let windowTimer = null;
  function watchWindow() {
    const band = byId("reply-window");
    const ends = band ? Number(band.dataset.ends) : 0;
    if (windowTimer) clearTimeout(windowTimer);
    windowTimer = null;
    if (ends) windowTimer = setTimeout(() => refreshThread(), Math.max(0, ends - Date.now()) + 1000);
  }
  async function syncOffers() {
    const band = byId("reply-window");
    const place = byId("offers-part");
    if (!band || !place || band.dataset.offers !== "1" || byId("window-offers")) return;
    place.innerHTML = await fetchHtml(root.dataset.threadUrl + "&part=offers");
    document.dispatchEvent(new CustomEvent("inbox:offers"));
  }

  function appendItems(messages, html) {
    const items = typeof html === "string" ? parse(html) : html;
    // A message the page shows already is not drawn twice: a push and a fetch on the way
    // at the same time may both bring it.
    items.querySelectorAll(".ib-bubble[id]").forEach((b) => { if (byId(b.id)) b.remove(); });
    items.querySelectorAll(".ib-group").forEach((g) => { if (!g.querySelector(".ib-bubble")) g.remove(); });
    const empty = byId("no-messages");
    if (empty && items.children.length) empty.remove();
    Array.from(items.children).forEach(function (item) {
      const last = messages.lastElementChild;
      const joins = item.dataset.continues && last && last.classList.contains("ib-group") &&
        last.querySelector("#m-" + item.dataset.continues);
      if (joins) item.querySelectorAll(":scope > .ib-bubble").forEach((b) => last.appendChild(b));
      else messages.appendChild(item);
    });
  }

  // The thread drawn again after a message (one stored late has its place there): the
  // messages after it in its group, and all after that group, give way to the drawn ones,
  // whose first group joins that one when it continues it. False when the page does not
  // show that message, or would lose one it shows (one whose commit the drawing's read
  // did not see yet): only a whole thread will do then.
  function replaceTail(messages, pk, html) {
    const cut = byId("m-" + pk);
    const group = cut && cut.parentElement;
    if (!group || !group.classList.contains("ib-group")) return false;
    const items = parse(html);
    const drawn = new Set(Array.from(items.querySelectorAll(".ib-bubble[id]"), (b) => b.id));
    const gone = [];
    for (let node = cut.nextElementSibling; node; node = node.nextElementSibling) gone.push(node);
    for (let node = group.nextElementSibling; node; node = node.nextElementSibling) gone.push(node);
    const shown = (node) => (node.matches(".ib-bubble[id]") ? [node] : Array.from(node.querySelectorAll(".ib-bubble[id]")));
    if (gone.some((node) => shown(node).some((b) => !drawn.has(b.id)))) return false;
    gone.forEach((node) => node.remove());
    appendItems(messages, items);
    return true;
  }

  // True when it drew the thread's changes; false when only a whole thread will do.
  async function threadChanges() {
    const messages = byId("messages");
    const top = byId("thread-top");
    if (!messages || !top || !messages.dataset.base) return false;
    const states = Array.from(messages.querySelectorAll(".ib-bubble[data-state]"))
      .filter((b) => !b.dataset.state.startsWith("read."))
      .slice(-100)
      .map((b) => b.dataset.message + ":" + b.dataset.state);
    const params = new URLSearchParams({
      after: messages.dataset.latestId, first: messages.dataset.firstId,
      entry: messages.dataset.entryId, base: messages.dataset.base,
      head: top.dataset.head, states: states.join(","),
    });
    const band = byId("reply-window");
    if (band && band.dataset.ends) params.set("ends", band.dataset.ends);
    // Replies are not free in the band shown: a customer's message since opens it again.
    if (band && band.dataset.offers === "1") params.set("inbound", band.dataset.inbound);
    const changes = await fetchJson(root.dataset.threadUrl, params);
    if (changes.stale) return false;
    if (changes.tail && !replaceTail(messages, changes.tail.after, changes.tail.html)) return false;
    if (changes.append) appendItems(messages, changes.append);
    Object.entries(changes.bubbles).forEach(function ([pk, html]) {
      const old = byId("m-" + pk);
      const drawn = parse(html).firstElementChild;
      if (old && drawn) old.replaceWith(drawn);
    });
    messages.dataset.latestId = changes.marks.latest;
    messages.dataset.entryId = changes.marks.entry;
    messages.dataset.base = changes.marks.base;
    if (changes.top) {
      top.innerHTML = changes.top;
      top.dataset.head = changes.head;
      keepPickedAssignee();
    }
    applyThreadState();
    return true;
  }

  async function wholeThread() {
    // Drawn anew, the thread starts at its top: it goes to the bottom if it followed.
    byId("thread-part").innerHTML = await fetchHtml(root.dataset.threadUrl);
    keepPickedAssignee();
    applyThreadState();
  }

  // The pushes that came while the thread was being fetched. Each is taken at once if it
  // can be, and looked at again once the fetch is drawn: the fetch may bring its messages
  // or not (the push left the server before or after the fetch's read), and the page then
  // takes what it still lacks. Dropped, a push that found the page behind would leave it
  // to fetch again (spaced), to land behind the next push as likely: for seconds, under a
  // flood; and held until the fetch is drawn, every push would wait for the slowest fetch
  // (a whole thread, under a flood, takes seconds).
  let fetchingThread = false, held = [];
  const refreshThread = serial(async function () {
    if (!root.dataset.threadUrl) return;
    const full = whole.thread;
    whole.thread = false;
    fetchingThread = true;
    try {
      if (full || !(await threadChanges())) await wholeThread();
    } finally {
      fetchingThread = false;
      const pushes = held;
      held = [];
      pushes.forEach((pushed) => takeAppend(pushed, false));
    }
    await syncOffers();
    document.dispatchEvent(new CustomEvent("inbox:thread"));
  });

  // --- pushes (inbox/push.py) ---------------------------------------------------------
  // The stream may carry the changed rows, with what the list's parts count, and the
  // customer's new messages themselves, drawn once for every page. A page keeps what its
  // filters and marks let through; the stream says "list" or "thread" only for what its
  // pushes did not bring, and the page fetches that at most every data-fetch-every ms.
  // A push a page cannot use is dropped, and it fetches.
  const filter = root.dataset;
  const me = Number(filter.user);
  function fits(row) {
    if (row.status !== filter.filterStatus) return false;
    if (filter.filterOa && filter.filterOa !== "all" && String(row.oa) !== filter.filterOa) return false;
    if (filter.filterScope === "mine") return row.assignee === me;
    if (filter.filterScope === "unassigned") return row.assignee === null;
    return true;
  }
  function fitRow(row) {  // drawn for any page: this page's link, mark and OA name
    if (row.dataset.conversation === filter.current) row.classList.add("current");
    const link = row.querySelector("a");
    if (link) link.setAttribute("href", link.getAttribute("href").split("?")[0] + "?" + (filter.query || ""));
    if (filter.filterOa !== "all") row.querySelectorAll(".ib-row-oa").forEach((oa) => oa.remove());
    return row;
  }
  // A count beside an OA's name or a tab, as the server draws it (none when 0 for an OA).
  function setBadge(link, n) {
    if (!link) return 0;
    let badge = link.querySelector(".ib-count");
    const old = badge ? Number(badge.textContent) : 0;
    if (n > 0 && !badge) {
      badge = document.createElement("span");
      badge.className = "ib-count";
      link.append(" ", badge);
    }
    if (n > 0) badge.textContent = String(n);
    else if (badge) badge.remove();
    return old;
  }
  // The list's other parts from the pushed counts: the tabs within this page's OA and
  // scope, the unread messages by OA (and for all OAs, by the difference).
  function pushedCounts(counts) {
    const tabs = {};
    counts.tabs.forEach(function ([oa, status, assignee, n]) {
      if (filter.filterOa && filter.filterOa !== "all" && String(oa) !== filter.filterOa) return;
      if (filter.filterScope === "mine" && assignee !== me) return;
      if (filter.filterScope === "unassigned" && assignee !== null) return;
      tabs[status] = (tabs[status] || 0) + n;
    });
    document.querySelectorAll("#status-tabs .ib-tab-count").forEach(function (count) {
      const n = tabs[count.parentElement.id.replace("status-", "")] || 0;
      if (count.dataset.count !== String(n)) { count.dataset.count = String(n); count.textContent = String(n); }
    });
    let change = 0;
    Object.entries(counts.unread).forEach(function ([oa, n]) {
      const link = byId("oa-" + oa);
      if (link) change += n - setBadge(link, n);
    });
    const all = byId("oa-all");
    if (all && change) {
      const badge = all.querySelector(".ib-count");
      setBadge(all, (badge ? Number(badge.textContent) : 0) + change);
    }
    // Drawn here, not as last swapped in: the next fetch's parts are swapped in whole.
    swapped["oa-nav"] = swapped["status-tabs"] = null;
  }
  function pushedRows(event) {
    const list = byId("conversation-list");
    const pushed = JSON.parse(event.data);
    if (!list || !list.dataset.cursor || filter.filterQ) { listSoon(); return; }
    let refetch = pushed.counts.mentioned.includes(me);  // a colleague named me in a note
    const mine = byId("mine");
    const mineIds = new Set(((mine && mine.dataset.ids) || "").split(",").filter(Boolean));
    // Every row parsed at once: one parser for the round, not one per row.
    const drawn = {};
    parse(pushed.rows.map((row) => row.html).join("")).querySelectorAll("li.ib-row")
      .forEach((row) => { drawn[row.dataset.conversation] = row; });
    pushed.rows.forEach(function (pushed) {
      const old = list.querySelector(':scope > [data-conversation="' + pushed.id + '"]');
      if (old && Number(old.dataset.v) >= pushed.v) return;
      // Newly mine: the fetch says so at once (team.js notifies the agent).
      if (pushed.assignee === me && !mineIds.has(String(pushed.id))) refetch = true;
      const rows = rowsOf(list);
      const full = rows.length >= LIST_MAX;
      if (!fits(pushed)) {
        if (old) { old.remove(); if (full) refetch = true; }  // one from below takes its place
        return;
      }
      if (!old && full && pushed.at < Number(rows[rows.length - 1].dataset.at)) return;
      const row = drawn[String(pushed.id)];
      if (!row) return;
      placeRow(list, fitRow(row), old);
    });
    if (!settleList(list)) refetch = true;
    pushedCounts(pushed.counts);
    document.dispatchEvent(new CustomEvent("inbox:rows"));
    if (refetch) refreshList();
  }
  function pushedAppend(event) {
    const pushed = JSON.parse(event.data);
    if (fetchingThread) held.push(pushed);
    takeAppend(pushed, fetchingThread);
  }
  // A push draws the thread again after a message (one stored late has its place there),
  // which the page may be unable to do; or it appends (partway, leaving out the messages
  // the page shows).
  function drawPush(messages, pushed) {
    if (pushed.tail) return replaceTail(messages, pushed.tail, pushed.html);
    appendItems(messages, pushed.html);
    return true;
  }
  function takeAppend(pushed, fetching) {
    const messages = byId("messages");
    if (!messages || String(pushed.conversation) !== filter.current || !messages.dataset.base) return;
    // The page takes the push where it starts; or, when a fetch between two rounds
    // brought it part of the way (it shows every pushed message up to its own latest),
    // the rest. Otherwise it fetches.
    const mine = Number(messages.dataset.latestId);
    const partway = mine > pushed.after && mine < pushed.latest &&
      pushed.messages.every(([pk]) => pk > mine || byId("m-" + pk));
    const usable = messages.dataset.entryId === String(pushed.entry) && (mine === pushed.after || partway);
    const added = pushed.messages.filter(([pk]) => !byId("m-" + pk));
    if (!usable || !drawPush(messages, pushed)) {
      // (Unless a fetch is on the way: the push is looked at again once it is drawn.)
      if (!fetching && !byId("m-" + pushed.latest)) threadSoon();  // else a fetch brought it
      return;
    }
    const base = messages.dataset.base.split(".").map(Number);
    base[0] += added.length;
    base[1] += added.filter(([, blank]) => blank).length;
    messages.dataset.base = base.join(".");
    messages.dataset.latestId = pushed.latest;
    applyThreadState();
    const top = byId("thread-top");
    const band = byId("reply-window");
    // Its top reads otherwise now, or its band (replies not free) was asked for before
    // the customer's message just drawn, which opens the free window again.
    if (top && (top.dataset.head !== pushed.head || (band && band.dataset.offers === "1"))) threadSoon();
  }
  // At once when the last fetch is older than the interval, else once at its end.
  function spaced(run) {
    let last = 0, timer = null;
    return function () {
      if (timer) return;
      const wait = last + Number(filter.fetchEvery || 0) - Date.now();
      const go = function () { timer = null; last = Date.now(); run(); };
      if (wait <= 0) go();
      else timer = setTimeout(go, wait);
    };
  }
  const listSoon = spaced(refreshList);
  const threadSoon = spaced(refreshThread);

  applyThreadState();
  // The team's script (team.js) refreshes and posts through the same functions.
  window.zalohubInbox = { refreshList: refreshList, refreshThread: refreshThread, post: post, showError: showError };

  if (window.EventSource && root.dataset.eventsUrl) {
    const events = new EventSource(root.dataset.eventsUrl);
    let opened = false;
    let pushes = false;  // this stream pushes (zalohub serve): fetches are spaced
    // Each stream ends after a while, saying so ("end"); the next resumes from its last id:
    // it sends the pushes the page missed meanwhile and says what moved beyond them, and
    // the page fetches only that. Back after a break, or once in WHOLE_EVERY, it draws
    // both whole, which also brings what no cursor tracks (a contact renamed, another
    // OA's name). Whole at every planned end (each page every 20-25 s), a flood's threads
    // took seconds to draw; fetching both at every planned end, a page cost the server
    // two fetches every 20-25 s, as much as all the pushes under a flood.
    const WHOLE_EVERY = 5 * 60 * 1000;
    let planned = false, drawnWhole = Date.now();
    events.addEventListener("end", () => { planned = true; });
    events.addEventListener("open", function () {
      if (opened && (!planned || Date.now() - drawnWhole > WHOLE_EVERY)) {
        whole.list = whole.thread = true;
        drawnWhole = Date.now();
        refreshList();
        refreshThread();
      }
      opened = true;
      planned = false;
    });
    events.addEventListener("rows", function (event) { pushes = true; pushedRows(event); });
    events.addEventListener("append", function (event) { pushes = true; pushedAppend(event); });
    events.addEventListener("list", () => (pushes ? listSoon() : refreshList()));
    events.addEventListener("thread", () => (pushes ? threadSoon() : refreshThread()));
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

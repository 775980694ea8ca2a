// The template form's parameter and button tables: add and remove rows, count each
// value against Zalo's limit for its type, and ask the lint endpoint while typing.
(function () {
  "use strict";
  const box = document.getElementById("zbs-lint-live");
  const form = box && box.closest("form");
  if (!form) return;

  function counter(row) {
    const cell = row.querySelector(".zbs-count");
    if (!cell) return;
    let length = 0, limit = "";
    const type = row.querySelector(".zbs-param-type");
    if (type) {
      const option = type.options[type.selectedIndex];
      limit = option ? option.dataset.limit || "" : "";
      length = row.querySelector(".zbs-param-sample").value.length;
    } else {
      const title = row.querySelector(".zbs-button-title");
      limit = title.dataset.limit;
      length = title.value.length;
    }
    cell.textContent = length + " / " + (limit || "—");
    cell.classList.toggle("zbs-over", Boolean(limit) && length > Number(limit));
  }

  function nextIndex(table, prefix) {
    let most = -1;
    const pattern = new RegExp("^" + prefix + "-(\\d+)-");
    table.querySelectorAll("[name]").forEach(function (input) {
      const match = input.name.match(pattern);
      if (match) most = Math.max(most, Number(match[1]));
    });
    return most + 1;
  }

  function clear(row) {
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    row.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
    counter(row);
  }

  document.querySelectorAll(".zbs-rows").forEach(function (rows) {
    const prefix = rows.dataset.prefix;
    const most = Number(rows.dataset.most);
    const body = rows.querySelector("tbody");
    const add = rows.querySelector(".zbs-row-add");
    function refresh() {
      const count = body.querySelectorAll(".zbs-row").length;
      add.disabled = count >= most;
      rows.querySelector("input[name='" + prefix + "-count']").value = count;
    }
    add.addEventListener("click", function () {
      const first = body.querySelector(".zbs-row");
      const index = nextIndex(body, prefix);
      const row = first.cloneNode(true);
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(/-\d+-/, "-" + index + "-");
      });
      clear(row);
      body.appendChild(row);
      refresh();
      row.querySelector("input, select").focus();
    });
    body.addEventListener("click", function (event) {
      const button = event.target.closest(".zbs-row-remove");
      if (!button) return;
      const row = button.closest(".zbs-row");
      if (body.querySelectorAll(".zbs-row").length > 1) row.remove(); else clear(row);
      refresh();
      schedule();
    });
    body.addEventListener("input", function (event) { counter(event.target.closest(".zbs-row")); });
    body.addEventListener("change", function (event) { counter(event.target.closest(".zbs-row")); });
    body.querySelectorAll(".zbs-row").forEach(counter);
    refresh();
  });

  function show(problems) {
    form.querySelectorAll(".zbs-live").forEach(function (list) { list.remove(); });
    box.classList.toggle("zbs-live-ok", problems.length === 0);
    box.querySelector(".zbs-live-summary").textContent =
      problems.length ? box.dataset.problems : box.dataset.ok;
    const byField = {};
    problems.forEach(function (problem) {
      (byField[problem.field] = byField[problem.field] || []).push(problem.message);
    });
    Object.keys(byField).forEach(function (field) {
      const place = form.querySelector(".form-row.field-" + field) || box;
      const list = document.createElement("ul");
      list.className = "errorlist zbs-live";
      list.dataset.field = field;
      byField[field].forEach(function (message) {
        const item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
      place.appendChild(list);
    });
  }

  let timer = null;
  let asked = 0;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  }
  function check() {
    const mine = ++asked;
    const data = new FormData(form);
    fetch(box.dataset.url, {
      method: "POST",
      body: data,
      headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") },
      credentials: "same-origin",
    })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (result) {
        // Only the answer to the latest question is shown.
        if (result && mine === asked) show(result.problems);
      });
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  check();
})();

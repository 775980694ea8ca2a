/* zalohub inbox: once the free reply window has closed, the composer's offers (the OA's
   Approved templates, filled from the customer) are chosen, edited and sent in one step
   (issue 19). Loaded after inbox.js, whose post and refresh functions it uses. The offers
   may come after the page loaded (the window closed while it was open: inbox.js fetches
   them and says "inbox:offers"), so every handler is on the document. */
(function () {
  "use strict";
  const inbox = window.zalohubInbox;
  const composer = document.getElementById("composer");
  if (!inbox || !composer) return;
  const forms = () => Array.from(document.querySelectorAll("#window-offers form.ib-offer"));

  // The offers hide while the window is free again (a customer's message reopens it).
  document.addEventListener("inbox:thread", function () {
    const band = document.getElementById("reply-window");
    if (band) composer.dataset.free = band.dataset.band === "free" ? "1" : "0";
  });

  document.addEventListener("change", function (event) {
    if (event.target.id !== "offer-choice") return;
    forms().forEach(function (form) { form.hidden = form.id !== event.target.value; });
  });

  // The preview reads as the customer will: each <name> replaced by its value.
  function preview(form) {
    const place = form.querySelector(".ib-offer-preview");
    if (!place || !place.dataset.body) return;
    const values = {};
    form.querySelectorAll("[data-param]").forEach(function (input) { values[input.dataset.param] = input.value; });
    place.textContent = place.dataset.body.replace(/<([^<>\s]*)>/g, function (whole, name) {
      return values[name] ? values[name] : whole;
    });
  }
  forms().forEach(preview);
  document.addEventListener("inbox:offers", () => forms().forEach(preview));
  document.addEventListener("input", function (event) {
    const form = event.target.closest && event.target.closest("#window-offers form.ib-offer");
    if (form) preview(form);
  });

  const sending = new WeakSet();
  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!form.matches("#window-offers form.ib-offer")) return;
    event.preventDefault();
    if (sending.has(form)) return;
    sending.add(form);
    const offers = document.getElementById("window-offers");
    const button = form.querySelector(".ib-offer-send");
    const error = form.querySelector(".ib-offer-error");
    const done = form.querySelector(".ib-offer-done");
    button.disabled = true;
    error.textContent = "";
    done.textContent = "";
    try {
      // The values stay in the form whatever happens: a refusal loses nothing.
      const result = await inbox.post(form);
      if (result.ok) done.textContent = offers.dataset.msgSent || "";
      else error.textContent = result.error || "";
      await inbox.refreshThread();
      inbox.refreshList();
    } finally {
      sending.delete(form);
      button.disabled = false;
    }
  });
})();

/* zalohub inbox: once the free reply window has closed, the composer's offers (the OA's
   Approved templates, filled from the customer) are chosen, edited and sent in one step
   (issue 19). Loaded after inbox.js, whose post and refresh functions it uses. */
(function () {
  "use strict";
  const inbox = window.zalohubInbox;
  const offers = document.getElementById("window-offers");
  if (!inbox || !offers) return;
  const composer = document.getElementById("composer");
  const choice = document.getElementById("offer-choice");
  const forms = Array.from(offers.querySelectorAll("form.ib-offer"));

  // The offers hide while the window is free again (a customer's message reopens it).
  document.addEventListener("inbox:thread", function () {
    const band = document.getElementById("reply-window");
    if (composer && band) composer.dataset.free = band.dataset.band === "free" ? "1" : "0";
  });

  if (choice) choice.addEventListener("change", function () {
    forms.forEach(function (form) { form.hidden = form.id !== choice.value; });
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
  forms.forEach(function (form) {
    preview(form);
    form.addEventListener("input", function () { preview(form); });
    let sending = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (sending) return;
      sending = true;
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
        sending = false;
        button.disabled = false;
      }
    });
  });
})();

// paperfeed: while a submission waits for arXiv, the button is disabled (no second submit)
// and a status line says what is happening. Without this file the form works the same.
(function () {
  "use strict";
  const form = document.querySelector("form.submit-form");
  if (!form) return;
  const button = form.querySelector('button[type="submit"]');
  const progress = document.getElementById("submit-progress");
  const label = button.textContent;
  form.addEventListener("submit", function (event) {
    if (form.dataset.pending) {
      event.preventDefault();
      return;
    }
    form.dataset.pending = "1";
    // Disabled after the browser has taken the form's data, so the submission still goes.
    window.setTimeout(function () {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.textContent = "Submitting…";
      if (progress) progress.hidden = false;
    }, 0);
  });
  // Back from the next page (the browser's page cache): the form is usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    delete form.dataset.pending;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
    if (progress) progress.hidden = true;
  });
})();

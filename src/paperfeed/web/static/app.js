// paperfeed: small progressive enhancements. Every form works without this file.
(function () {
  "use strict";
  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
    event.preventDefault();
    // Busy, not disabled: a disabled button would drop the keyboard focus.
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    const button = form.querySelector("button");
    const count = form.querySelector(".count");
    const input = form.querySelector('input[name="vote"]');
    button.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.status === 401 || response.redirected) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        return;
      }
      if (!response.ok) throw new Error("vote failed: " + response.status);
      const state = await response.json();
      count.textContent = state.upvotes.toLocaleString("en-US");
      const noun = form.querySelector(".noun");
      if (noun) noun.textContent = state.upvotes === 1 ? noun.dataset.one : noun.dataset.many;
      button.setAttribute("aria-pressed", state.upvoted ? "true" : "false");
      form.classList.toggle("voted", state.upvoted);
      input.value = state.upvoted ? "0" : "1";
    } catch (error) {
      form.submit();
    } finally {
      delete form.dataset.busy;
      button.removeAttribute("aria-busy");
    }
  });
})();

// The header menu (a <details>) closes on Escape and on a click outside it, as menus do.
(function () {
  "use strict";
  const menu = document.querySelector("details.site-menu");
  if (!menu) return;
  document.addEventListener("click", function (event) {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !menu.open) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
})();

// Save buttons (collections): sent in the background, the button shows the new state.
(function () {
  "use strict";
  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("save-form")) return;
    event.preventDefault();
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    const button = form.querySelector("button");
    const label = form.querySelector(".save-label");
    const input = form.querySelector('input[name="saved"]');
    const named = form.querySelector('input[name="collection"]') !== null;
    button.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.status === 401 || response.redirected) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        return;
      }
      if (!response.ok) throw new Error("save failed: " + response.status);
      const state = await response.json();
      const name = form.dataset.name;
      label.textContent = named ? (state.saved ? "In " : "Add to ") + name : state.saved ? "Saved" : "Save";
      button.setAttribute("aria-pressed", state.saved ? "true" : "false");
      form.classList.toggle("saved", state.saved);
      input.value = state.saved ? "0" : "1";
    } catch (error) {
      form.submit();
    } finally {
      delete form.dataset.busy;
      button.removeAttribute("aria-busy");
    }
  });
})();

// Keyboard shortcuts and time-on-task for the task page. Works with the card swapped in by htmx.
(function () {
  "use strict";
  let shownAt = performance.now();

  function card() { return document.getElementById("task"); }
  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text"));
  }
  function pick(key) {
    const input = card() && card().querySelector('input[data-key="' + key + '"]');
    if (input) { input.checked = true; input.focus(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (e) {
    if (!card() || e.ctrlKey || e.metaKey || e.altKey) return;
    const form = document.getElementById("judge");
    if (!form) return;
    if (typing(e.target)) {
      if (e.key === "Escape") { e.target.blur(); }
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { form.requestSubmit(); }
      return;
    }
    const k = e.key.toLowerCase();
    let handled = false;
    if (k === "a" || e.key === "ArrowLeft") handled = pick("a");
    else if (k === "b" || e.key === "ArrowRight") handled = pick("b");
    else if (k === "t" || k === "x" || /^[1-9]$/.test(k)) handled = pick(k);
    else if (k === "r") { const r = document.getElementById("reason"); if (r) { r.focus(); handled = true; } }
    else if (k === "s") { document.getElementById("skip-button").click(); handled = true; }
    else if (e.key === "Enter") { form.requestSubmit(); handled = true; }
    if (handled) e.preventDefault();
  });

  // Time on task, sent with the judgment.
  document.addEventListener("submit", function (e) {
    const field = e.target.querySelector && e.target.querySelector('input[name="seconds_spent"]');
    if (field) field.value = ((performance.now() - shownAt) / 1000).toFixed(1);
  }, true);
  document.addEventListener("htmx:afterSettle", function () { shownAt = performance.now(); });

  // A failed request leaves the form as it was and offers to send it again.
  let lastFailed = null;
  document.addEventListener("htmx:sendError", function (e) {
    lastFailed = e.detail.elt;
    document.getElementById("net-error").hidden = false;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) document.getElementById("net-error").hidden = true;
  });
  document.addEventListener("click", function (e) {
    if (e.target && e.target.id === "net-retry" && lastFailed) {
      document.getElementById("net-error").hidden = true;
      htmx.trigger(lastFailed, "submit");
    }
  });
})();

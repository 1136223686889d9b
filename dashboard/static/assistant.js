// Live arrival of pending readings on the assistant's room view.
// Polls the encounter's revision (no patient data) and, when it changes, swaps in the pending
// section rendered by the server. Skips the swap while the assistant is typing in that section,
// so an edit in progress is never wiped; the next poll catches up.
(function () {
  "use strict";
  var section = document.getElementById("pending");
  if (!section) { return; }
  var revision = section.getAttribute("data-revision");
  var busy = false;

  function typing() {
    var active = document.activeElement;
    return active && section.contains(active) && active.tagName !== "BUTTON";
  }

  function refresh() {
    return fetch(section.getAttribute("data-pending-url"), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { section.innerHTML = html; } });
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(section.getAttribute("data-revision-url"), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (state && String(state.revision) !== revision && !typing()) {
          return refresh().then(function () {
            revision = String(state.revision);
            section.setAttribute("data-revision", revision);
          });
        }
        return null;
      })
      .catch(function () { /* offline for a moment: try again on the next tick */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, 2000);
})();

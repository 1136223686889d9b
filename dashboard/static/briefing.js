// The physician's briefing: live updates over Server-Sent Events, no reload.
// The server pushes "revision" when the encounter changed; we fetch the briefing body and
// swap it in. "expired" (idle login) and a refused stream reload the page, which goes to
// the login page; "ended" goes to the room's address (the next patient's briefing).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  var root = document.getElementById("briefing");
  if (!root || !window.EventSource) { return; }
  var revision = root.dataset.revision;
  var live = document.getElementById("live-state");
  var fetching = false;
  var again = false;

  function setState(state, text) {
    if (live) { live.dataset.state = state; live.textContent = text; }
  }

  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(root.dataset.body, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { window.location.reload(); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("briefing-body");
        var old = document.getElementById("briefing-body");
        if (!fresh || !old) { window.location.reload(); return; }
        old.replaceWith(fresh);
        revision = fresh.dataset.revision;
        root.dataset.revision = revision;
        fresh.classList.add("just-updated");
        var stamp = document.getElementById("updated-at");
        if (stamp) { stamp.textContent = new Date().toLocaleTimeString(); }
      })
      .catch(function () { setState("error", "update failed, retrying"); })
      .finally(function () {
        fetching = false;
        if (again) { again = false; refresh(); }
      });
  }

  function connect() {
    var source = new EventSource(root.dataset.events + "?revision=" + encodeURIComponent(revision));
    source.onopen = function () { setState("live", "live"); };
    source.addEventListener("revision", function (event) {
      if (event.data !== revision) { refresh(); }
    });
    source.addEventListener("ended", function () {
      source.close();
      window.location.assign(root.dataset.room);
    });
    source.addEventListener("gone", function () { source.close(); window.location.reload(); });
    source.addEventListener("expired", function () { source.close(); window.location.reload(); });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (logged out, or the page is gone): the page itself says why.
        window.location.reload();
      } else {
        setState("reconnecting", "reconnecting…");
      }
    };
  }

  connect();
}());

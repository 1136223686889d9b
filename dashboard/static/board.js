// The clinic board: refresh the rooms every few seconds and tick "for N min" in between.
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root) { return; }
  var every = Math.max(5, parseInt(root.dataset.refresh, 10) || 10) * 1000;

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".minutes[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (!isNaN(since)) { el.textContent = String(Math.max(0, Math.floor((now - since) / 60000))); }
    });
  }

  function refresh() {
    fetch(root.dataset.body, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { window.location.reload(); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("board-rooms");
        var old = document.getElementById("board-rooms");
        if (fresh && old) { old.replaceWith(fresh); }
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  setInterval(tick, 15000);
  setInterval(refresh, every);
}());

// A room tablet (dashboard/tablets.py). On the PIN screen: follow the room's encounter over
// Server-Sent Events and go back to the room screen when it ends (the "room free" page).
// On the unlocked briefing (briefing.js does the live updates): a touch tells the server the
// screen is in use, at most every 20 s, so the unlock lapses only when nobody touches it.
(function () {
  "use strict";

  // The pairing page opened from the admin's QR code: the code rides in the fragment (never
  // sent to a server); put it in the form and take it out of the address bar and history.
  var codeField = document.getElementById("code");
  var fromQr = /^#code=([A-Za-z0-9-]{1,64})$/.exec(window.location.hash);
  if (codeField && fromQr) {
    codeField.value = fromQr[1];
    window.history.replaceState(null, "", window.location.pathname);
  }

  var root = document.getElementById("tablet");
  if (!root) { return; }

  if (root.dataset.watch && window.EventSource) {
    var source = new EventSource(root.dataset.watch);
    var home = function () { source.close(); window.location.assign(root.dataset.home); };
    source.addEventListener("ended", home);
    source.addEventListener("gone", home);
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { home(); }
    };
  }

  if (root.dataset.activity) {
    var last = 0;
    var touched = function () {
      var now = Date.now();
      if (now - last < 20000) { return; }
      last = now;
      fetch(root.dataset.activity, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": root.dataset.csrf },
      }).then(function (response) {
        if (response.status === 403 || response.status === 401) { window.location.reload(); }
      }).catch(function () {});
    };
    ["pointerdown", "keydown", "wheel", "touchmove"].forEach(function (name) {
      document.addEventListener(name, touched, { passive: true });
    });
  }
}());

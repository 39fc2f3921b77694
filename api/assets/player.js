// The player's page: asks /p/{code}/status every 5 s and, when anything
// changed, swaps in the page as the server renders it (so the words live in
// one place). The recall countdown ticks every second; the buttons post
// without leaving the page. Without JavaScript, the page and its forms work
// the same, only without live updates.
(function () {
  "use strict";
  var POLL_MS = 5000;
  var base = location.pathname.replace(/\/+$/, "");
  var last = null;
  var note = function (text) {
    var el = document.getElementById("note");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  };

  function tick() {
    var el = document.querySelector("time[data-expires]");
    if (!el) return;
    var left = Math.max(0, Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000));
    var m = Math.floor(left / 60), s = left % 60;
    el.textContent = left > 0 ? m + ":" + (s < 10 ? "0" : "") + s : "time's up, come now";
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("player");
    var old = document.getElementById("player");
    if (fresh && old) {
      old.replaceWith(fresh);
      wire();
      tick();
    }
  }

  function reload() {
    return fetch(base, { credentials: "omit", cache: "no-store" }).then(function (r) {
      if (r.ok) return r.text().then(swap);
    });
  }

  function poll() {
    fetch(base + "/status", { credentials: "omit", cache: "no-store" })
      .then(function (r) {
        if (r.status === 404) {
          note("This link has expired.");
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (text) {
        if (text === null) return;
        if (last !== null && text !== last) reload();
        last = text;
        note("");
      })
      .catch(function () {
        note("No connection: trying again…");
      });
  }

  function wire() {
    var forms = document.querySelectorAll(".actions form");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var button = form.querySelector("button");
        if (button) button.disabled = true;
        fetch(form.getAttribute("action"), { method: "POST", credentials: "omit" })
          .then(function (r) {
            return r.json().then(function (body) {
              if (r.ok && body.link) {
                location.assign(new URL(body.link).pathname);
                return;
              }
              if (!r.ok) note(r.status === 429 ? "Too many taps: wait a moment." : "That's not possible right now.");
              last = null;
              return reload().then(poll);
            });
          })
          .catch(function () {
            note("No connection: try again.");
            if (button) button.disabled = false;
          });
      });
    });
  }

  wire();
  tick();
  poll();
  setInterval(tick, 1000);
  setInterval(poll, POLL_MS);
})();

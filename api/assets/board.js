// The display board (/board). Authenticates with a display token given once
// (in the URL fragment, #token=odk_..., or in the setup form) and kept in
// localStorage; follows GET /api/v1/events and, on each event (debounced),
// reads GET /api/v1/queue and GET /api/v1/leaderboard?day=<today> again, so
// what it shows is always one consistent answer of the API.
import { EventFeed, debounced, today, displayName, h, deviceToken } from "/assets/sse.js";

const TZ = document.querySelector('meta[name="ondeck-tz"]').content || "UTC";
const KEY = "ondeck.board.token";
const $ = (id) => document.getElementById(id);

let token = null;
let feed = null;
let show = { id: null, name: "" };
let seen = new Set();
let firstRender = true;

class Denied extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401 || response.status === 403) throw new Denied(response.status);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status-text").textContent = text;
}

function tickClock() {
  try {
    $("clock").textContent = new Intl.DateTimeFormat([], {
      timeZone: TZ,
      hour: "numeric",
      minute: "2-digit",
    }).format(new Date());
  } catch (error) {
    $("clock").textContent = new Date().toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }
}

function waitText(seconds) {
  // None while the show is paused.
  if (seconds === null || seconds === undefined) return "on hold";
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return "< 1 min";
  if (minutes < 90) return `~${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `~${hours} h ${String(minutes % 60).padStart(2, "0")}`;
}

function person(game) {
  const team = game.player && game.player.team;
  return h(
    "li",
    { class: fresh(game) ? "fresh" : null, dataset: { game: game.id } },
    h("span", { class: "name" }, displayName(game.player)),
    team ? h("span", { class: "team" }, team) : null,
    // The player answered the recall: "On my way" on their page or by text.
    game.state === "recalled" && game.acknowledged_at ? h("span", { class: "omw" }, "on the way") : null,
  );
}

function row(position, name, team, value, extra) {
  return h(
    "li",
    extra || {},
    h("span", { class: "pos" }, position),
    h("span", { class: "who" }, h("span", { class: "name" }, name), team ? h("span", { class: "team" }, team) : null),
    h("span", { class: "value" }, value),
  );
}

function fresh(game) {
  return !firstRender && !seen.has(game.id);
}

function empty(text) {
  return h("li", { class: "empty" }, text);
}

// Drops rows from the end of a list until it fits its panel, and says how
// many did not fit.
function fit(list, moreText) {
  const items = [...list.children].filter((li) => !li.classList.contains("empty"));
  let hidden = 0;
  while (list.scrollHeight > list.clientHeight + 1 && items.length > 1) {
    items.pop().remove();
    hidden += 1;
    if (hidden === 1 && moreText) list.append(h("li", { class: "more" }, ""));
  }
  if (hidden && moreText) {
    const more = list.querySelector("li.more");
    more.textContent = moreText(hidden);
    while (list.scrollHeight > list.clientHeight + 1 && items.length > 1) {
      items.pop().remove();
      hidden += 1;
      more.textContent = moreText(hidden);
    }
  }
}

function render(queue, board) {
  $("playing").replaceChildren(...(queue.playing.length ? queue.playing.map(person) : [empty("Next player up soon")]));
  $("confirmed").replaceChildren(...(queue.confirmed.length ? queue.confirmed.map(person) : [empty("Nobody on deck yet")]));
  $("recalled").replaceChildren(...(queue.recalled.length ? queue.recalled.map(person) : [empty("Nobody right now")]));
  $("recalled-panel").classList.toggle("active", queue.recalled.length > 0);

  $("paused").hidden = !queue.paused;
  $("scan").hidden = !queue.scan_to_join;
  $("waiting-count").textContent = queue.waiting.length ? String(queue.waiting.length) : "";
  $("waiting").replaceChildren(
    ...(queue.waiting.length
      ? queue.waiting.map((game) =>
          row(game.position, displayName(game.player), game.player.team, waitText(game.eta_seconds), {
            class: fresh(game) ? "fresh" : null,
            dataset: { game: game.id },
          }),
        )
      : [empty("Nobody waiting — sign up at the tablet!")]),
  );

  $("top").replaceChildren(
    ...(board.players.length
      ? board.players.map((p) => row(p.rank, p.name, p.team, p.score.toLocaleString("en-US")))
      : [empty("No scores yet today")]),
  );
  $("teams").replaceChildren(
    ...(board.teams.length
      ? board.teams.map((t) => row(t.rank, t.name, null, t.score.toLocaleString("en-US")))
      : [empty("No team scores yet today")]),
  );

  for (const id of ["playing", "confirmed", "recalled"]) fit($(id), (n) => `+ ${n} more`);
  fit($("waiting"), (n) => `+ ${n} more waiting`);
  fit($("top"), null);
  fit($("teams"), (n) => `+ ${n} more teams`);

  seen = new Set([...queue.playing, ...queue.confirmed, ...queue.recalled, ...queue.waiting].map((g) => g.id));
  firstRender = false;
}

async function load() {
  try {
    const [queue, board] = await Promise.all([
      api("/api/v1/queue"),
      api(`/api/v1/leaderboard?day=${encodeURIComponent(today(TZ))}&limit=10`),
    ]);
    if (queue.show_id !== show.id) {
      show = { id: queue.show_id, name: "" };
      if (queue.show_id !== null) {
        const detail = await api(`/api/v1/shows/${encodeURIComponent(queue.show_id)}`);
        show.name = detail.name;
      }
      $("show-name").textContent = show.name;
    }
    render(queue, board);
    document.body.dataset.loaded = "true";
  } catch (error) {
    if (error instanceof Denied) deny(error.status);
    else setStatus("down", "Offline — retrying");
  }
}

const refresh = debounced(load, 200);

function deny(status) {
  if (feed) feed.stop();
  feed = null;
  localStorage.removeItem(KEY);
  token = null;
  showSetup(
    status === 403
      ? "This token may not read the board. Enter a display token."
      : "The board's token was refused (unknown or revoked). Enter a display token.",
  );
}

function showSetup(message) {
  $("board").hidden = true;
  $("setup").hidden = false;
  $("setup-error").hidden = !message;
  $("setup-error").textContent = message || "";
  $("setup-token").focus();
}

function start() {
  $("setup").hidden = true;
  $("board").hidden = false;
  firstRender = true;
  feed = new EventFeed({
    url: "/api/v1/events",
    headers: () => ({ Authorization: `Bearer ${token}` }),
    onEvent: () => refresh(),
    onStatus: (state, detail) => {
      if (state === "live") {
        setStatus("live", "Live");
        refresh();
      } else if (state === "down") {
        setStatus("down", "Reconnecting");
      } else if (state === "denied") {
        deny(detail);
      }
    },
  });
  feed.start();
  refresh.now();
}

token = deviceToken(KEY, (given) => {
  if (feed) feed.stop();
  token = given;
  start();
});
tickClock();
setInterval(tickClock, 5000);
// Waits change as time passes, and the day turns: read again now and then.
setInterval(() => token && refresh(), 30000);
// After a screen resize (rotation), lists are fitted again.
window.addEventListener("resize", () => token && refresh());
if (token) start();
else showSetup(null);

// The staff page (/admin). Logged in through POST /admin/login, which opens
// a server-side session and keeps its id (not the token) in an HttpOnly
// cookie; every /api/v1 call here sends that cookie with the header
// X-Ondeck-Csrf: 1, which the API requires before it takes the cookie in
// place of a bearer token. Transitions are offered only
// where the game's state allows them: the map comes from the server's table.
import { EventFeed, debounced, today, displayName, h } from "/assets/sse.js";
import { renderReport } from "/assets/reports.js";

const $ = (id) => document.getElementById(id);
const TZ = document.querySelector('meta[name="ondeck-tz"]').content || "UTC";
const { allowed: ALLOWED } = JSON.parse($("transitions").textContent);
const LABELS = { queue: "Queue", recall: "Recall", confirm: "Confirm", play: "Play", complete: "Complete…", cancel: "Cancel game" };
const DONE = { queue: "queued", recall: "recalled", confirm: "confirmed", play: "playing", complete: "completed", cancel: "cancelled" };
const STAMPS = [
  ["created_at", "Created"],
  ["queued_at", "Queued"],
  ["recalled_at", "Recalled"],
  ["confirmed_at", "Confirmed"],
  ["playing_at", "Playing"],
  ["completed_at", "Completed"],
  ["cancelled_at", "Cancelled"],
];

let currentPlayer = null;

// --- talking to the API ---------------------------------------------------------

class Problem extends Error {}

function problemText(body, status) {
  if (!body || typeof body !== "object") return `The server answered ${status}.`;
  let text = body.detail || body.title || `The server answered ${status}.`;
  if (body.errors) {
    const fields = Object.entries(body.errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(", ")}`);
    if (fields.length) text += ` (${fields.join("; ")})`;
  }
  return text;
}

async function request(method, path, body, accept = "application/json") {
  const headers = { "X-Ondeck-Csrf": "1", Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 401) {
    // The session ended (logout, expiry, or its token was revoked): the page shows the login form.
    location.reload();
    throw new Problem("Your session has ended.");
  }
  return response;
}

async function api(method, path, body) {
  const response = await request(method, path, body);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = null;
  }
  if (!response.ok) throw new Problem(problemText(data, response.status));
  return data;
}

let toastTimer = null;
function toast(text, bad = false) {
  const element = $("toast");
  element.textContent = text;
  element.classList.toggle("bad", bad);
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.hidden = true), bad ? 7000 : 3500);
}

// Runs an action from a button: disables it meanwhile, reports failures.
async function act(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    toast(error instanceof Problem ? error.message : `Something went wrong: ${error.message}`, true);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// --- formatting --------------------------------------------------------------------

function fullName(player) {
  return [player.first_name, player.last_name].filter(Boolean).join(" ");
}

function dayOf(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

function time(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  const clock = new Intl.DateTimeFormat([], { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(date);
  if (dayOf(iso) === dayOf(new Date().toISOString())) return clock;
  const day = new Intl.DateTimeFormat([], { timeZone: TZ, month: "short", day: "numeric" }).format(date);
  return `${day}, ${clock}`;
}

/** "STOP" beside a number that replied STOP: it gets no texts until it replies START. */
function stopBadge(player) {
  return player.sms_opted_out ? h("span", { class: "badge stop", title: "replied STOP: gets no texts until START" }, "STOP") : null;
}

function badge(state) {
  return h("span", { class: `badge state-${state}` }, state);
}

function minutes(seconds) {
  // None while the show is paused.
  if (seconds === null || seconds === undefined) return "on hold";
  const m = Math.round(seconds / 60);
  return m < 1 ? "under a minute" : `~${m} min`;
}

// --- tabs --------------------------------------------------------------------------

const loaders = {};

function showTab() {
  const name = (location.hash.slice(1).split("/")[0] || "players").toLowerCase();
  const tab = document.querySelector(`section.tab[data-tab="${name}"]`) ? name : "players";
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.dataset.tab !== tab;
  for (const link of document.querySelectorAll(".tabs a")) link.classList.toggle("active", link.dataset.tab === tab);
  if (loaders[tab]) loaders[tab]();
}

function visible(tab) {
  return !document.querySelector(`section.tab[data-tab="${tab}"]`).hidden;
}

// --- players -------------------------------------------------------------------------

let searches = 0;

async function search(q) {
  const mine = ++searches;
  const params = new URLSearchParams({ limit: "25" });
  if (q) params.set("q", q);
  else params.set("order", "-created_at");
  const page = await api("GET", `/api/v1/players?${params}`);
  if (mine !== searches) return; // a later search answers instead
  const rows = page.items.map((player) =>
    h(
      "tr",
      {
        class: `pick${currentPlayer === player.id ? " selected" : ""}`,
        dataset: { player: player.id },
        tabindex: "0",
        onclick: () => openPlayer(player.id),
        onkeydown: (event) => event.key === "Enter" && openPlayer(player.id),
      },
      h("td", {}, h("strong", {}, fullName(player))),
      h("td", {}, player.mobile_number || "—", stopBadge(player)),
      h("td", {}, player.team || "—"),
      h("td", {}, player.active_game ? [badge(player.active_game.state), ` #${player.active_game.id}`] : "—"),
      h("td", { class: "num" }, player.total_score.toLocaleString()),
    ),
  );
  $("results").tBodies[0].replaceChildren(...rows);
  $("results-note").textContent = q
    ? `${page.items.length}${page.next_cursor ? "+" : ""} found for “${q}”.`
    : "The latest sign-ups:";
  if (!rows.length) $("results").tBodies[0].append(h("tr", {}, h("td", { colspan: "5", class: "note" }, "Nobody found.")));
}

async function openPlayer(id) {
  currentPlayer = id;
  for (const tr of document.querySelectorAll("#results tr[data-player]")) {
    tr.classList.toggle("selected", tr.dataset.player === String(id));
  }
  if (!visible("players")) location.hash = "#players";
  await renderPlayer();
}

const reloadPlayer = debounced(() => currentPlayer !== null && renderPlayer(), 250);

async function renderPlayer() {
  const id = currentPlayer;
  const player = await api("GET", `/api/v1/players/${encodeURIComponent(id)}`);
  if (id !== currentPlayer) return;
  const games = [...(player.games || [])].reverse();
  const texts = await Promise.all(
    games.map((game) => api("GET", `/api/v1/messages?game_id=${game.id}&limit=20`).then((p) => p.items, () => [])),
  );
  if (id !== currentPlayer) return;
  const latest = games[0];
  const facts = [
    ["Mobile", player.mobile_number || "—"],
    ["Email", player.email || "—"],
    ["Team", player.team || "—"],
    ["Bats", player.handedness === "L" ? "left" : "right"],
    ["Waiver", player.signed_waiver ? "signed" : "not signed"],
    ["Total score", player.total_score.toLocaleString()],
  ];
  if (player.is_finalist) facts.push(["Finalist", "yes"]);
  if (player.sms_opted_out) facts.push(["Texts", "replied STOP: gets no texts until START"]);
  const parts = [
    h(
      "div",
      { class: "player-head" },
      player.photo_url ? h("img", { src: player.photo_url, alt: "" }) : null,
      h(
        "div",
        {},
        h("h2", { id: "player-name" }, fullName(player)),
        h("p", { class: "facts" }, facts.map(([k, v]) => h("span", {}, `${k}: `, h("b", {}, v)))),
      ),
    ),
    !latest || ["completed", "cancelled"].includes(latest.state)
      ? h(
          "p",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              class: "button quiet",
              onclick: (event) =>
                act(event.currentTarget, async () => {
                  const game = await api("POST", "/api/v1/games", { player_id: player.id });
                  toast(`New game #${game.id} for ${fullName(player)}.`);
                  await renderPlayer();
                }),
            },
            "Start a new game",
          ),
        )
      : null,
    games.map((game, i) => gameCard(game, texts[i], i === 0)),
    games.length ? null : h("p", { class: "note" }, "No games yet."),
  ];
  $("player").replaceChildren(...parts.flat().filter(Boolean));
  // The search results show the same game: keep its state there current.
  const row = document.querySelector(`#results tr[data-player="${CSS.escape(String(id))}"]`);
  if (row && latest) row.cells[3].replaceChildren(badge(latest.state), ` #${latest.id}`);
}

function transitionButtons(game, after, compact = false) {
  const size = compact ? " small" : "";
  const cancelLabel = compact ? "Cancel" : LABELS.cancel;
  return (ALLOWED[game.state] || []).map((transition) => {
    if (transition === "complete") {
      return h(
        "button",
        {
          type: "button",
          class: `button quiet${size}`,
          dataset: { transition },
          onclick: (event) => {
            const card = event.currentTarget.closest(".game, .queue-item");
            const form = card.querySelector(".complete-form");
            form.hidden = !form.hidden;
            if (!form.hidden) form.querySelector("input").focus();
          },
        },
        LABELS.complete,
      );
    }
    const danger = transition === "cancel";
    return h(
      "button",
      {
        type: "button",
        class: `button${danger ? " danger" : transition === "play" ? " go" : ""}${size}`,
        dataset: { transition },
        onclick: (event) => {
          const button = event.currentTarget;
          // Cancelling asks once more, on the button itself.
          if (danger && !button.classList.contains("armed")) {
            button.classList.add("armed");
            button.textContent = "Really cancel?";
            setTimeout(() => {
              button.classList.remove("armed");
              button.textContent = cancelLabel;
            }, 4000);
            return;
          }
          act(button, async () => {
            await api("POST", `/api/v1/games/${game.id}/${transition}`);
            toast(`Game #${game.id} of ${displayName(game.player)}: ${DONE[transition]}.`);
            await after();
          });
        },
      },
      danger ? cancelLabel : LABELS[transition],
    );
  });
}

function completeForm(game, after) {
  const field = (name, label) =>
    h("label", {}, `${label} `, h("input", { name, type: "number", min: "0", max: "1000000", required: true, inputmode: "numeric" }));
  return h(
    "form",
    {
      class: "complete-form",
      hidden: true,
      onsubmit: (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const value = (name) => Number(form.elements[name].value);
        act(form.querySelector("button"), async () => {
          await api("POST", `/api/v1/games/${game.id}/complete`, {
            score: value("score"),
            distance: value("distance"),
            homeruns: value("homeruns"),
          });
          toast(`Game #${game.id} completed.`);
          await after();
        });
      },
    },
    field("score", "Score"),
    field("distance", "Distance"),
    field("homeruns", "Home runs"),
    h("button", { type: "submit", class: "button" }, "Save result"),
  );
}

function gameCard(game, texts, current) {
  const after = () => Promise.all([renderPlayer(), visible("queue") ? loadQueue() : null]);
  const result =
    game.state === "completed" && game.score !== null
      ? `${game.score.toLocaleString()} pts · ${game.distance} ft · ${game.homeruns} HR`
      : null;
  return h(
    "div",
    { class: `game${current ? " current" : ""}`, dataset: { game: game.id, state: game.state } },
    h("div", { class: "game-head" }, h("h3", {}, `Game #${game.id}`), badge(game.state), result ? h("span", { class: "result" }, result) : null),
    h(
      "dl",
      { class: "timeline" },
      STAMPS.map(([key, label]) => h("div", { class: game[key] ? null : "unset" }, h("dt", {}, label), h("dd", {}, time(game[key])))),
    ),
    h(
      "div",
      { class: "actions" },
      transitionButtons(game, after),
      h("span", { class: "spacer" }),
      game.souvenir_url ? h("a", { href: game.souvenir_url, target: "_blank", rel: "noopener" }, "Souvenir") : null,
      game.state === "completed"
        ? h(
            "button",
            {
              type: "button",
              class: "button quiet",
              onclick: (event) =>
                act(event.currentTarget, async () => {
                  await api("POST", `/api/v1/games/${game.id}/souvenir`);
                  toast(`The souvenir of game #${game.id} is being rendered and sent again.`);
                }),
            },
            "Re-send souvenir",
          )
        : null,
    ),
    (ALLOWED[game.state] || []).includes("complete") ? completeForm(game, after) : null,
    texts && texts.length
      ? h(
          "details",
          { class: "texts" },
          h("summary", {}, `${texts.length} text${texts.length === 1 ? "" : "s"}`),
          h(
            "table",
            { class: "table" },
            h(
              "tbody",
              {},
              texts.map((m) =>
                h(
                  "tr",
                  {},
                  h("td", {}, time(m.created_at)),
                  h("td", {}, m.kind),
                  h("td", {}, h("span", { class: `status-${m.status}` }, m.status)),
                  h("td", {}, m.body),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(event.submitter, () => search($("search").value.trim()));
});

$("game-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("game-id").value.trim().replace(/^#/, "");
  if (!id) return;
  act(event.submitter, async () => {
    const game = await api("GET", `/api/v1/games/${encodeURIComponent(id)}`);
    await openPlayer(game.player_id);
  });
});

loaders.players = () => {
  if (!$("results").tBodies[0].children.length) act(null, () => search(""));
};

// --- the queue -------------------------------------------------------------------------

async function loadQueue() {
  const queue = await api("GET", "/api/v1/queue");
  const column = (title, games, meta, extra = () => null) =>
    h(
      "div",
      { class: "card", dataset: { column: title.toLowerCase() } },
      h("h2", {}, title, h("span", { class: "note" }, String(games.length))),
      games.length
        ? games.map((game) =>
            h(
              "div",
              { class: "queue-item", dataset: { game: game.id } },
              h(
                "div",
                { class: "who" },
                h("a", { href: "#players", onclick: (event) => (event.preventDefault(), openPlayer(game.player_id)) }, fullName(game.player)),
              ),
              h("div", { class: "meta" }, meta(game)),
              h("div", { class: "actions" }, transitionButtons(game, loadQueue, true), extra(game, games.length)),
              (ALLOWED[game.state] || []).includes("complete") ? completeForm(game, loadQueue) : null,
            ),
          )
        : h("p", { class: "note" }, "Nobody."),
    );
  const team = (game) => (game.player.team ? ` · ${game.player.team}` : "");
  $("queue").replaceChildren(
    column("Playing", queue.playing, (g) => `since ${time(g.playing_at)}${team(g)}`),
    column("On deck", queue.confirmed, (g) => `confirmed ${time(g.confirmed_at)}${team(g)}`),
    column("Recalled", queue.recalled, (g) => `recalled ${time(g.recalled_at)}${g.recall_expires_at ? `, until ${time(g.recall_expires_at)}` : ""}`),
    column("Waiting", queue.waiting, (g) => `#${g.position} · wait ${minutes(g.eta_seconds)}${team(g)}`, moveButtons),
  );
}

// Up and down one place: POST /api/v1/games/{id}/move with the new position.
function moveButtons(game, count) {
  const move = (position) => (event) =>
    act(event.currentTarget, async () => {
      await api("POST", `/api/v1/games/${game.id}/move`, { position });
      await loadQueue();
    });
  return [
    game.position > 1 ? h("button", { type: "button", class: "button quiet small", title: "Move up", onclick: move(game.position - 1) }, "↑") : null,
    game.position < count ? h("button", { type: "button", class: "button quiet small", title: "Move down", onclick: move(game.position + 1) }, "↓") : null,
  ];
}

// --- the line's settings (the current show's) ----------------------------------------

let lineShow = null;
// Staff's edits of the Line card, counted, and how many of them a save has
// sent. While some are unsent, a reload (a show event from elsewhere, or the
// reload after a save that answered while staff went on editing) leaves the
// form alone: a reload never takes back what staff have just chosen.
let lineEdits = 0;
let lineEditsSent = 0;

// What the venue's clock (VENUE_TZ) reads at `date`, to the minute.
function venueClock(date) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: TZ,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour"), minute: get("minute") };
}

// A time as a datetime-local input takes it, on the venue's clock: staff
// off site see the venue's time, as everywhere on this page.
function localInput(iso) {
  if (!iso) return "";
  const c = venueClock(new Date(iso));
  const pad = (n) => String(n).padStart(2, "0");
  return `${c.year}-${pad(c.month)}-${pad(c.day)}T${pad(c.hour)}:${pad(c.minute)}`;
}

// The moment a datetime-local value names on the venue's clock: a first
// guess, corrected by what the venue's clock reads then (twice, in case a
// daylight-saving change lies between the guess and the answer).
function fromLocalInput(value) {
  const [date, time] = value.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const c = venueClock(new Date(guess));
    guess += wanted - Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute);
  }
  return new Date(guess).toISOString();
}

async function loadLine({ keepEdits = false } = {}) {
  const shows = await api("GET", "/api/v1/shows?limit=1");
  lineShow = shows.items[0] || null;
  const form = $("line-form");
  form.hidden = !lineShow;
  if (!lineShow) return;
  $("line-show").textContent = lineShow.name;
  if (keepEdits && lineEdits > lineEditsSent) return;
  lineEditsSent = lineEdits;
  form.elements.joining.value = lineShow.joining;
  form.elements.paused.checked = lineShow.paused;
  form.elements.stations.value = lineShow.stations;
  form.elements.max_waiting.value = lineShow.max_waiting ?? "";
  form.elements.closes_at.value = localInput(lineShow.closes_at);
  form.elements.self_join.checked = lineShow.self_join;
  form.elements.waiver_text.value = lineShow.waiver_text;
}

for (const type of ["input", "change"]) $("line-form").addEventListener(type, () => (lineEdits += 1));

$("line-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const changes = {
    joining: form.elements.joining.value,
    paused: form.elements.paused.checked,
    stations: Number(form.elements.stations.value),
    max_waiting: form.elements.max_waiting.value ? Number(form.elements.max_waiting.value) : null,
    closes_at: form.elements.closes_at.value ? fromLocalInput(form.elements.closes_at.value) : null,
    self_join: form.elements.self_join.checked,
    waiver_text: form.elements.waiver_text.value,
  };
  const sending = lineEdits;
  act(event.submitter, async () => {
    if (!lineShow) return;
    await api("PATCH", `/api/v1/shows/${lineShow.id}`, changes);
    lineEditsSent = Math.max(lineEditsSent, sending);
    toast("Line saved.");
    await Promise.all([loadLine({ keepEdits: true }), loadQueue()]);
  });
});

const reloadLine = debounced(() => visible("queue") && loadLine({ keepEdits: true }), 250);

const reloadQueue = debounced(() => visible("queue") && loadQueue(), 250);
loaders.queue = () => act(null, () => Promise.all([loadQueue(), loadLine()]));

// --- messages ----------------------------------------------------------------------------

let messagesCursor = null;

async function loadMessages(more = false) {
  const params = new URLSearchParams({ limit: "50" });
  if ($("messages-status").value) params.set("status", $("messages-status").value);
  if ($("messages-kind").value) params.set("kind", $("messages-kind").value);
  if (more && messagesCursor) params.set("cursor", messagesCursor);
  const page = await api("GET", `/api/v1/messages?${params}`);
  const rows = page.items.map((m) =>
    h(
      "tr",
      {},
      h("td", {}, time(m.created_at)),
      h("td", {}, m.kind),
      h("td", {}, m.direction === "inbound" ? `from ${m.from || "—"}` : m.to || "—"),
      h("td", {}, h("span", { class: `status-${m.status}` }, m.status)),
      h("td", { class: "num" }, m.attempts),
      h("td", { class: "error-text" }, m.error_code ? h("span", { class: "error-code" }, m.error_code) : null, m.error || ""),
      h(
        "td",
        {},
        m.game_id
          ? h(
              "a",
              {
                href: "#players",
                onclick: (event) => {
                  event.preventDefault();
                  act(null, async () => openPlayer((await api("GET", `/api/v1/games/${m.game_id}`)).player_id));
                },
              },
              `#${m.game_id}`,
            )
          : "—",
      ),
    ),
  );
  const body = $("messages").tBodies[0];
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: "7", class: "note" }, "No messages.")));
  messagesCursor = page.next_cursor;
  $("messages-more").hidden = !messagesCursor;
}

$("messages-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(event.submitter, () => loadMessages(false));
});
$("messages-more").addEventListener("click", (event) => act(event.currentTarget, () => loadMessages(true)));
loaders.messages = () => act(null, () => loadMessages(false));

// --- venue cues ----------------------------------------------------------------------------

async function loadCues() {
  const cues = await api("GET", "/api/v1/cues");
  const rows = cues.items.map((cue) =>
    h(
      "tr",
      { dataset: { cue: cue.name } },
      h("td", {}, h("strong", {}, cue.name)),
      h("td", {}, cue.actions.join(", ")),
      h(
        "td",
        { class: "num" },
        h(
          "button",
          {
            type: "button",
            class: "button small",
            onclick: (event) =>
              act(event.currentTarget, async () => {
                await api("POST", "/api/v1/cues", { cue: cue.name });
                toast(`Cue “${cue.name}” fired.`);
                setTimeout(() => visible("cues") && act(null, loadRuns), 1500);
              }),
          },
          "Fire",
        ),
      ),
    ),
  );
  $("cues").tBodies[0].replaceChildren(...rows);
  if (!rows.length) $("cues").tBodies[0].append(h("tr", {}, h("td", { colspan: "3", class: "note" }, "No cues: set CUES_FILE.")));
}

async function loadRuns() {
  const status = $("runs-status").value;
  const statuses = status === "problems" ? ["failed", "retrying"] : [status];
  const pages = await Promise.all(
    statuses.map((s) => api("GET", `/api/v1/cues/runs?${new URLSearchParams(s ? { status: s, limit: "50" } : { limit: "50" })}`)),
  );
  const runs = pages.flatMap((page) => page.items).sort((a, b) => b.id - a.id);
  const rows = runs.map((run) =>
    h(
      "tr",
      { dataset: { run: run.id, status: run.status } },
      h("td", {}, time(run.created_at)),
      h("td", {}, run.cue),
      h("td", {}, run.kind),
      h("td", {}, run.target || "—"),
      h("td", {}, h("span", { class: `status-${run.status}` }, run.status)),
      h("td", { class: "num" }, run.attempts),
      h("td", { class: "error-text" }, run.error || ""),
      h("td", {}, run.game_id ? `#${run.game_id}` : "—"),
    ),
  );
  const body = $("cue-runs").tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: "8", class: "note" }, "No runs.")));
}

$("runs-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(event.submitter, loadRuns);
});
loaders.cues = () => act(null, () => Promise.all([loadCues(), loadRuns()]));

// --- shows and teams -------------------------------------------------------------------

const MESSAGE_FIELDS = [
  ["welcome_message", "Welcome text"],
  ["recall_message", "Recall text"],
  ["souvenir_message", "Souvenir text (must contain {url})"],
];

function counted(textarea) {
  const counter = h("span", { class: "counter" });
  const update = () => {
    const n = [...textarea.value].length;
    counter.textContent = `${n}/160`;
    counter.classList.toggle("over", n > 160);
  };
  textarea.addEventListener("input", update);
  update();
  return counter;
}

function showEditor(show) {
  const form = h("form", { class: "stack", hidden: true });
  form.append(
    h("label", {}, "Name", h("input", { name: "name", value: show.name, required: true, maxlength: "200" })),
    h("label", {}, "Date", h("input", { name: "date", type: "date", value: show.date, required: true })),
  );
  for (const [key, label] of MESSAGE_FIELDS) {
    const textarea = h("textarea", { name: key, rows: "2" });
    textarea.value = show[key] || "";
    form.append(h("label", {}, h("span", {}, `${label} `, counted(textarea)), textarea));
  }
  form.append(h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "Save show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = {};
    for (const key of ["name", "date", ...MESSAGE_FIELDS.map(([k]) => k)]) {
      if (form.elements[key].value !== (show[key] || "")) changes[key] = form.elements[key].value;
    }
    act(event.submitter, async () => {
      if (Object.keys(changes).length) await api("PATCH", `/api/v1/shows/${show.id}`, changes);
      toast(`Show “${changes.name || show.name}” saved.`);
      await loadShows();
    });
  });
  return form;
}

async function loadShows() {
  const [shows, teams] = await Promise.all([api("GET", "/api/v1/shows?limit=100"), api("GET", "/api/v1/teams?limit=500")]);
  $("shows").replaceChildren(
    ...shows.items.map((show, i) => {
      const editor = showEditor(show);
      return h(
        "div",
        { class: "game", dataset: { show: show.id } },
        h(
          "div",
          { class: "game-head" },
          h("h3", {}, show.name),
          h("span", { class: "note" }, show.date),
          i === 0 ? h("span", { class: "badge state-confirmed" }, "current") : null,
          h("span", { class: "spacer" }),
          h(
            "button",
            {
              type: "button",
              class: "button quiet small",
              onclick: () => {
                editor.hidden = !editor.hidden;
              },
            },
            "Edit",
          ),
        ),
        editor,
      );
    }),
  );
  if (!shows.items.length) $("shows").append(h("p", { class: "note" }, "No show yet: create one below before signing players up."));
  const day = today(TZ);
  $("teams").tBodies[0].replaceChildren(
    ...teams.items.map((team) => {
      const score = (team.scores || []).find((s) => s.day === day);
      return h(
        "tr",
        {},
        h("td", {}, team.name),
        h("td", { class: "num" }, team.members),
        h("td", { class: "num" }, score ? score.score.toLocaleString() : "0"),
      );
    }),
  );
  if (!teams.items.length) $("teams").tBodies[0].append(h("tr", {}, h("td", { colspan: "3", class: "note" }, "No teams yet.")));
}

$("show-create").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  act(event.submitter, async () => {
    const show = await api("POST", "/api/v1/shows", { name: form.elements.name.value, date: form.elements.date.value });
    toast(`Show “${show.name}” created.`);
    form.reset();
    form.elements.date.value = today(TZ);
    await Promise.all([loadShows(), loadCurrentShow()]);
  });
});

$("team-create").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  act(event.submitter, async () => {
    const team = await api("POST", "/api/v1/teams", { name: form.elements.name.value });
    toast(`Team “${team.name}” created.`);
    form.reset();
    await loadShows();
  });
});
$("show-create").elements.date.value = today(TZ);
loaders.shows = () => act(null, loadShows);

async function loadCurrentShow() {
  const shows = await api("GET", "/api/v1/shows?limit=1");
  const show = shows.items[0];
  $("show-badge").textContent = show ? `${show.name} · ${show.date}` : "no show yet";
}

// --- downloads -------------------------------------------------------------------------

const DOWNLOADS = {
  players: ["/api/v1/players?format=csv", "players"],
  games: ["/api/v1/games?format=csv", "games"],
  "games-today": [`/api/v1/games?format=csv&day=${today(TZ)}`, `games-${today(TZ)}`],
  messages: ["/api/v1/messages?format=csv", "messages"],
};

// Fetches the CSV at `path` with the session (a plain link would not send
// X-Ondeck-Csrf) and saves it as `filename`.
async function downloadCsv(path, filename) {
  const response = await request("GET", path, undefined, "text/csv");
  if (!response.ok) throw new Problem(problemText(await response.json().catch(() => null), response.status));
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

for (const button of document.querySelectorAll("[data-csv]")) {
  button.addEventListener("click", (event) =>
    act(event.currentTarget, () => {
      const [path, name] = DOWNLOADS[button.dataset.csv];
      return downloadCsv(path, `ondeck-${name}-${today(TZ)}.csv`);
    }),
  );
}

// --- reports ---------------------------------------------------------------------------

// The shows staff can pick, newest first (the first is the current show).
let reportShows = [];
let reports = 0;

// The query of the report picked: show, day (none for every day), format.
function reportQuery(format) {
  const params = new URLSearchParams({ show_id: $("report-show").value });
  if (!$("report-every-day").checked) params.set("day", $("report-day").value);
  if (format) params.set("format", format);
  return params;
}

// The day a show's report opens on: today for the current show, else the show's date.
function reportDay(show) {
  return !show || show.id === reportShows[0]?.id ? today(TZ) : show.date;
}

async function loadReportShows() {
  const shows = (await api("GET", "/api/v1/shows?limit=100")).items;
  const picked = $("report-show").value;
  reportShows = shows;
  $("report-show").replaceChildren(...shows.map((show) => h("option", { value: show.id }, `${show.name} · ${show.date}`)));
  if (shows.some((show) => String(show.id) === picked)) $("report-show").value = picked;
  else if (shows.length) $("report-day").value = reportDay(shows[0]);
}

async function loadReport() {
  const mine = ++reports;
  if (!reportShows.length) await loadReportShows();
  if (!reportShows.length) {
    $("report").replaceChildren(h("p", { class: "placeholder" }, "No show yet: create one in Shows & teams."));
    return;
  }
  $("report-day").disabled = $("report-every-day").checked;
  if (!$("report-every-day").checked && !$("report-day").value) $("report-day").value = today(TZ);
  const report = await api("GET", `/api/v1/stats?${reportQuery()}`);
  if (mine !== reports) return; // a later pick answers instead
  const show = reportShows.find((s) => s.id === report.show_id);
  $("report").replaceChildren(renderReport(report, show));
}

$("report-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(event.submitter, async () => {
    await loadReportShows();
    await loadReport();
  });
});
$("report-show").addEventListener("change", () => {
  const show = reportShows.find((s) => String(s.id) === $("report-show").value);
  $("report-day").value = reportDay(show);
  act(null, loadReport);
});
for (const id of ["report-day", "report-every-day"]) $(id).addEventListener("change", () => act(null, loadReport));
$("report-csv").addEventListener("click", (event) =>
  act(event.currentTarget, () => {
    const day = $("report-every-day").checked ? "every-day" : $("report-day").value;
    return downloadCsv(`/api/v1/stats?${reportQuery("csv")}`, `ondeck-stats-${$("report-show").value}-${day}.csv`);
  }),
);
$("report-print").addEventListener("click", () => window.print());
loaders.reports = () => act(null, loadReport);

// --- live updates ----------------------------------------------------------------------

const feed = new EventFeed({
  url: "/api/v1/events",
  headers: () => ({ "X-Ondeck-Csrf": "1" }),
  credentials: "same-origin",
  onEvent: (event) => {
    let game = null;
    try {
      game = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (event.type === "show") reloadLine();
    else if (currentPlayer !== null && game && String(game.player_id) === String(currentPlayer)) reloadPlayer();
    reloadQueue();
  },
  onStatus: (state) => {
    const live = $("live");
    if (state === "denied") {
      location.reload();
      return;
    }
    live.dataset.state = state === "live" ? "live" : state === "down" ? "down" : "connecting";
    live.textContent = state === "live" ? "live" : state === "down" ? "reconnecting" : "connecting";
    if (state === "live") reloadQueue();
  },
});

window.addEventListener("hashchange", showTab);
showTab();
act(null, loadCurrentShow);
feed.start();

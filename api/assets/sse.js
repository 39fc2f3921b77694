// A small Server-Sent Events reader on fetch(), for the venue screens.
//
// EventSource cannot send an Authorization header; fetch can. This reader
// sends the caller's headers and Last-Event-ID, parses the stream as the SSE
// spec says (event, data, id, retry; comments are keep-alives), and reconnects
// by itself with exponential backoff (1 s, 2 s, 4 s ... 30 s, with jitter)
// after a network drop, a server restart or a stalled connection (no bytes,
// not even the server's 15 s keep-alive, for 45 s). It stops for good on 401
// or 403 and says so.
"use strict";

const STALL_MS = 45000;
const MAX_DELAY_MS = 30000;

export class EventFeed {
  // options: url; headers() -> object; credentials ("omit" | "same-origin");
  // onEvent({type, data, id}); onStatus(status, detail) with status one of
  // "connecting", "live", "down" (detail: the delay before the next try, ms),
  // "denied" (detail: the HTTP status).
  constructor(options) {
    this.options = options;
    this.lastEventId = null;
    this.stopped = true;
    this.attempt = 0;
    this.baseDelay = 1000;
    this.controller = null;
    this.wake = null;
    this.onOnline = () => this.reconnectNow();
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    this.loop();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    if (this.controller) this.controller.abort();
    if (this.wake) this.wake();
  }

  // Drops the current connection (or the wait before the next one) and
  // connects again at once.
  reconnectNow() {
    this.attempt = 0;
    if (this.wake) this.wake();
    else if (this.controller) this.controller.abort();
  }

  status(status, detail) {
    if (this.options.onStatus) this.options.onStatus(status, detail);
  }

  async loop() {
    while (!this.stopped) {
      const outcome = await this.connectOnce();
      if (this.stopped) return;
      if (outcome === "denied") {
        this.stopped = true;
        return;
      }
      const delay = Math.min(MAX_DELAY_MS, this.baseDelay * 2 ** this.attempt);
      const jittered = Math.round(delay * (0.5 + Math.random() / 2));
      this.attempt = Math.min(this.attempt + 1, 10);
      this.status("down", jittered);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, jittered);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async connectOnce() {
    const controller = new AbortController();
    this.controller = controller;
    let stall = null;
    const arm = () => {
      clearTimeout(stall);
      stall = setTimeout(() => controller.abort(), STALL_MS);
    };
    this.status("connecting");
    try {
      const headers = Object.assign({ Accept: "text/event-stream" }, this.options.headers());
      if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
      arm();
      const response = await fetch(this.options.url, {
        headers,
        signal: controller.signal,
        cache: "no-store",
        credentials: this.options.credentials || "omit",
      });
      if (response.status === 401 || response.status === 403) {
        this.status("denied", response.status);
        return "denied";
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      this.attempt = 0;
      this.status("live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let event = { type: "", data: [], id: null };
      for (;;) {
        arm();
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          let line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line === "") {
            if (event.id !== null) this.lastEventId = event.id;
            if (event.data.length) {
              this.options.onEvent({
                type: event.type || "message",
                data: event.data.join("\n"),
                id: this.lastEventId,
              });
            }
            event = { type: "", data: [], id: null };
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") event.type = value;
          else if (field === "data") event.data.push(value);
          else if (field === "id" && !value.includes("\0")) event.id = value;
          else if (field === "retry" && /^\d+$/.test(value)) this.baseDelay = Math.max(500, +value);
        }
      }
      return "ended";
    } catch (error) {
      return "failed";
    } finally {
      clearTimeout(stall);
      controller.abort();
      if (this.controller === controller) this.controller = null;
    }
  }
}

// Calls fn at most once per `ms`, after the last call of a burst, and never
// twice at the same time (a call during a run schedules one more run).
export function debounced(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (timer === null) timer = setTimeout(run, ms);
  };
  schedule.now = () => {
    clearTimeout(timer);
    return run();
  };
  return schedule;
}

// "YYYY-MM-DD" of now in the IANA time zone `tz`.
export function today(tz) {
  try {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return `${get("year")}-${get("month")}-${get("day")}`;
  } catch (error) {
    return new Date().toISOString().slice(0, 10);
  }
}

// "Ada L.", as the API's leaderboard names players.
export function displayName(player) {
  const first = String((player && player.first_name) || "").trim();
  const last = String((player && player.last_name) || "").trim();
  return last ? `${first} ${[...last][0].toUpperCase()}.` : first;
}

// Builds an element: h("div", {class: "x"}, "text", child, ...).
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * The token of a screen that stays logged in (the board, the kiosk): given
 * once in the address (`#token=...`, which never reaches a server or a log)
 * or in the page's `#setup-form`, and kept in localStorage under `key`.
 * Returns the token kept now (or null); calls `use(token)` whenever another
 * one is given.
 */
export function deviceToken(key, use) {
  const fromUrl = () => {
    const given = (new URLSearchParams(location.hash.slice(1)).get("token") || "").trim();
    if (given) {
      localStorage.setItem(key, given);
      // The token should not stay in the address bar (or in a screenshot of it).
      history.replaceState(null, "", location.pathname + location.search);
    }
    return given;
  };
  document.getElementById("setup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("setup-token");
    const given = input.value.trim();
    if (!given) return;
    localStorage.setItem(key, given);
    input.value = "";
    use(given);
  });
  // A token given in the address of a page that is already open.
  window.addEventListener("hashchange", () => {
    if (fromUrl()) use(localStorage.getItem(key));
  });
  fromUrl();
  return localStorage.getItem(key);
}

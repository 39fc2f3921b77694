// Browser tests of joining from a phone, /join, in headless Chromium at a
// phone's size (390×844). deploy/browser-test runs this after kiosk.mjs,
// against the same server, with the same environment, plus the Twilio
// stand-in (browser/twilio.mjs) that ondeck sends its texts to:
//
//   ONDECK_URL            the server, e.g. http://127.0.0.1:38123
//   ONDECK_ADMIN_TOKEN, ONDECK_TABLET_TOKEN, ONDECK_DISPLAY_TOKEN
//   ONDECK_TWILIO_URL     the stand-in, whose GET /texts lists the texts
//   ONDECK_SCREENSHOTS    where to save the PNGs (default docs/screenshots)
//
// Prints one line per test and closes with "N passed, M failed"; exits 1 when
// anything failed.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { BASE, CHROMIUM, api, need, run as runTests, screenshot, test } from "./harness.mjs";

const ADMIN = need("ONDECK_ADMIN_TOKEN");
const TABLET = need("ONDECK_TABLET_TOKEN");
const DISPLAY = need("ONDECK_DISPLAY_TOKEN");
const TWILIO = need("ONDECK_TWILIO_URL").replace(/\/$/, "");
const PHONE = { width: 390, height: 844 };
// The board follows a change of the show within this long.
const LIVE_MS = 10_000;
// The worker sends a text from the outbox within this long.
const TEXT_MS = 15_000;
const WAIVER = "I play at my own risk and follow the staff's instructions in the cage.";
// A number no other test texts, as typed and as the stand-in sees it.
const TYPED = "(415) 555-0177";
const E164 = "+14155550177";

const getJson = async (url) => {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  return response.json();
};

// The join codes texted to E164 so far, oldest first.
async function codes() {
  const texts = await getJson(`${TWILIO}/texts`);
  return texts
    .filter((t) => t.to === E164)
    .map((t) => t.body.match(/^(\d{6}) is your code to join the line at /))
    .filter(Boolean)
    .map((m) => m[1]);
}

// Waits for the `n`th code texted to E164 and answers it.
async function nthCode(n) {
  const deadline = Date.now() + TEXT_MS;
  for (;;) {
    const got = await codes();
    if (got.length >= n) return got[n - 1];
    if (Date.now() > deadline) throw new Error(`no code texted to ${E164} within ${TEXT_MS} ms (${got.length} so far)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// The page is no wider than the phone: nothing to scroll sideways to.
async function fits(page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no sideways scrolling: ${width} px wide`);
  assert.equal(await page.evaluate(() => window.scrollX), 0, "not scrolled sideways");
}

const ordinal = (n) => {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${s}`;
};

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const showId = (await api(ADMIN, "GET", "/api/v1/queue")).show_id;
  const setShow = (fields) => api(ADMIN, "PATCH", `/api/v1/shows/${showId}`, fields);
  try {
    await setShow({ joining: "open", paused: false, closes_at: null, max_waiting: null, waiver_text: WAIVER, self_join: true });
    // Three players ahead with a mobile number: the recall sweep calls the
    // first ones with a number, so the one who joins stays in line.
    for (const [i, first] of ["Ahead1", "Ahead2", "Ahead3"].entries()) {
      const mobile_number = `(415) 555-018${i}`;
      const player = await api(TABLET, "POST", "/api/v1/players", { first_name: first, mobile_number, handedness: "R", signed_waiver: true });
      await api(TABLET, "POST", `/api/v1/games/${player.active_game.id}/queue`);
    }
    await run(browser, setShow);
  } finally {
    await setShow({ waiver_text: "", self_join: false }).catch(() => {});
    await browser.close();
  }
}

async function run(browser, setShow) {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A failed request is a console error too: each is checked by its
  // response instead, so the wrong code's expected 422 does not count.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 400 && !(path === "/join/verify" && r.status() === 422)) errors.push(`${r.status()} ${path}`);
  });
  const code = page.locator('input[name="code"]');

  await test("the join page asks for a name, a mobile number and the waiver at 390 px", async () => {
    const response = await page.goto(`${BASE}/join`);
    assert.equal(response.status(), 200);
    assert.equal(await page.locator("h2").textContent(), "Join the line");
    assert.match(await page.locator(".waiver").textContent(), /at my own risk/);
    await page.fill('input[name="first_name"]', "Jo");
    await page.fill('input[name="last_name"]', "Phone");
    await page.fill('input[name="mobile_number"]', TYPED);
    await page.locator("label", { hasText: "Left-handed" }).click();
    await page.locator('input[name="signed_waiver"]').check();
    await fits(page);
    await screenshot(page, "join.png");
  });

  let sent;
  await test("Text me a code texts a 6-digit code through Twilio and asks for it", async () => {
    assert.deepEqual(await codes(), [], "no code before the button");
    await page.getByRole("button", { name: "Text me a code" }).click();
    await page.locator("h2", { hasText: "Enter your code" }).waitFor();
    assert.match(await page.locator(".state").textContent(), /We texted a 6-digit code to \(415\) 555-0177/);
    sent = await nthCode(1);
    assert.equal((await codes()).length, 1, "one code");
    // The code is only in the text: not in the page.
    assert.ok(!(await page.content()).includes(sent), "the page does not hold the code");
    await fits(page);
    await screenshot(page, "join-code.png");
  });

  await test("a wrong code says so and stays on the code page", async () => {
    const wrong = String((Number(sent) + 1) % 1_000_000).padStart(6, "0");
    await code.fill(wrong);
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/join/verify"),
      page.getByRole("button", { name: "Join the line" }).click(),
    ]);
    assert.equal(response.status(), 422);
    await page.locator("#code-error").waitFor();
    assert.match(await page.locator("#code-error").textContent(), /wrong code; 4 tries left/);
    assert.equal(await page.locator("h2").textContent(), "Enter your code");
    assert.equal(await code.inputValue(), "", "the field is empty for another try");
    assert.equal(new URL(page.url()).pathname, "/join/verify");
    const players = (await api(ADMIN, "GET", "/api/v1/players?q=Phone&limit=50")).items;
    assert.equal(players.filter((p) => p.first_name === "Jo").length, 0, "no player yet");
  });

  await test("the right code lands on the player's own page with their place in line", async () => {
    await code.fill(sent);
    await page.getByRole("button", { name: "Join the line" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/p/"));
    const jo = (await api(ADMIN, "GET", "/api/v1/players?q=Phone&limit=50")).items.filter((p) => p.first_name === "Jo");
    assert.equal(jo.length, 1, "one player");
    const queue = await api(ADMIN, "GET", "/api/v1/queue");
    const mine = queue.waiting.find((g) => g.id === jo[0].active_game.id);
    assert.ok(mine, `Jo's game is waiting, not ${jo[0].active_game.state}`);
    await page.locator(".state", { hasText: `You're ${ordinal(mine.position)} in line` }).waitFor();
    assert.match(await page.locator("h1").textContent(), /Hi Jo/);
    const detail = await api(ADMIN, "GET", `/api/v1/games/${mine.id}`);
    assert.equal(new URL(detail.player_link).pathname, new URL(page.url()).pathname);
    assert.equal(detail.state, "queued");
    await fits(page);
    await screenshot(page, "join-done.png");
  });

  await test("ondeck called the Twilio stand-in as Twilio's API expects", async () => {
    assert.deepEqual(await getJson(`${TWILIO}/refused`), []);
  });

  await test("the join pages ran without script errors", async () => {
    assert.deepEqual(errors, []);
  });
  await context.close();

  const screen = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  screen.setDefaultTimeout(10_000);
  const board = await screen.newPage();
  await test("the board shows the join page's QR code while self-join is on, and hides it once it is off", async () => {
    await board.goto(`${BASE}/board#token=${encodeURIComponent(DISPLAY)}`);
    await board.waitForSelector('#status[data-state="live"]');
    await board.locator("#scan").waitFor({ state: "visible", timeout: LIVE_MS });
    assert.match(await board.locator("#scan figcaption").textContent(), /Scan to join the line/);
    const qr = board.locator("#scan img");
    const src = new URL(await qr.getAttribute("src"), BASE);
    await board.waitForFunction(() => document.querySelector("#scan img").naturalWidth > 0);
    const svg = await fetch(src);
    assert.equal(svg.status, 200);
    assert.match(svg.headers.get("content-type"), /^image\/svg\+xml/);
    assert.match(await svg.text(), /<svg[\s\S]*<\/svg>\s*$/);
    await setShow({ self_join: false });
    await board.locator("#scan").waitFor({ state: "hidden", timeout: LIVE_MS });
    const closed = await fetch(`${BASE}/join`);
    assert.equal(closed.status, 404, "the join page is off too");
  });
  await screen.close();
}

await runTests("join tests", 180_000, main);

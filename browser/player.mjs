// Browser tests of the player's page, /p/{code}, in headless Chromium at a
// phone's size (390×844). deploy/browser-test runs this after test.mjs,
// against the same server, with the same environment:
//
//   ONDECK_URL            the server, e.g. http://127.0.0.1:38123
//   ONDECK_ADMIN_TOKEN, ONDECK_TABLET_TOKEN, ONDECK_GAME_TOKEN
//   ONDECK_SCREENSHOTS    where to save the PNGs (default docs/screenshots)
//
// Prints one line per test and closes with "N passed, M failed"; exits 1 when
// anything failed.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { BASE, CHROMIUM, api, need, run as runTests, screenshot, test } from "./harness.mjs";

const ADMIN = need("ONDECK_ADMIN_TOKEN");
const TABLET = need("ONDECK_TABLET_TOKEN");
const GAME = need("ONDECK_GAME_TOKEN");
const DISPLAY = need("ONDECK_DISPLAY_TOKEN");
// The page must follow a change within this long (it polls every 5 s).
const LIVE_MS = 10000;
const PHONE = { width: 390, height: 844 };

// A player without a mobile number (so no automatic recall moves the game)
// and the path of their page, from the link staff see.
async function signUp(first) {
  const player = await api(TABLET, "POST", "/api/v1/players", {
    first_name: first,
    last_name: "Phone",
    handedness: "L",
  });
  const game = player.active_game.id;
  const detail = await api(ADMIN, "GET", `/api/v1/games/${game}`);
  return { game, path: new URL(detail.player_link).pathname };
}

const move = (token, game, transition, body) => api(token, "POST", `/api/v1/games/${game}/${transition}`, body);

// Waits until the page's state section reads `pattern`.
async function reads(page, pattern, timeout = LIVE_MS) {
  await page.locator(".state", { hasText: pattern }).waitFor({ timeout });
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const show = (await api(ADMIN, "GET", "/api/v1/queue")).show_id;
  const showName = (await api(ADMIN, "GET", `/api/v1/shows/${show}`)).name;
  const ahead = [];
  for (const name of ["Ahead1", "Ahead2"]) ahead.push(await signUp(name));
  const me = await signUp("Jordan");
  const behind = [];
  for (const name of ["Behind1", "Behind2", "Behind3"]) behind.push(await signUp(name));
  for (const p of [...ahead, me, ...behind]) await move(TABLET, p.game, "queue");
  // Whoever waited before this test stays ahead of these players.
  const before = (await api(ADMIN, "GET", "/api/v1/queue")).waiting.findIndex((g) => g.id === me.game);
  const ordinal = (n) => {
    const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
    return `${n}${s}`;
  };

  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${new URL(r.url()).pathname}`));

  await test("the page shows the place in line at 390 px", async () => {
    await page.goto(`${BASE}${me.path}`);
    await reads(page, `You're ${ordinal(before + 1)} in line`);
    assert.match(await page.locator("h1").textContent(), /Hi Jordan/);
    assert.match(await page.locator(".show").textContent(), new RegExp(showName));
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling: ${width}`);
    await screenshot(page, "player-queued.png");
  });

  await test("the page follows staff moving the line within 10 s", async () => {
    await move(TABLET, ahead[0].game, "cancel");
    await reads(page, `You're ${ordinal(before)} in line`);
  });

  await test("I need more time moves the player three places back", async () => {
    await page.getByRole("button", { name: "I need more time" }).click();
    await reads(page, `You're ${ordinal(before + 3)} in line`, 5000);
  });

  await test("a recall shows up with a countdown that runs", async () => {
    await move(TABLET, me.game, "recall");
    await reads(page, `It's your turn: come to ${showName} now`);
    const time = page.locator("time[data-expires]");
    const first = await time.textContent();
    assert.match(first, /^\d+:\d{2}$/);
    await page.waitForTimeout(2200);
    const second = await time.textContent();
    assert.notEqual(second, first, "the countdown ticks");
    await screenshot(page, "player-recalled.png");
  });

  await test("On my way tells staff and the board the player is coming", async () => {
    const screen = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    try {
      const board = await screen.newPage();
      await board.goto(`${BASE}/board#token=${encodeURIComponent(DISPLAY)}`);
      await board.waitForSelector('#status[data-state="live"]');
      const mine = board.locator("#recalled li", { hasText: "Jordan P." });
      await mine.waitFor({ timeout: LIVE_MS });
      assert.equal(await mine.locator(".omw").count(), 0, "not on the way before the button");
      await page.getByRole("button", { name: "On my way" }).click();
      await reads(page, "on your way", 5000);
      assert.equal(await page.getByRole("button", { name: "On my way" }).count(), 0, "said once");
      const game = await api(ADMIN, "GET", `/api/v1/games/${me.game}`);
      assert.ok(game.acknowledged_at, "acknowledged_at is set");
      // The board follows by its event stream, without a reload.
      await mine.locator(".omw", { hasText: "on the way" }).waitFor({ timeout: LIVE_MS });
    } finally {
      await screen.close();
    }
  });

  await test("confirmed and playing read You're up", async () => {
    await move(TABLET, me.game, "confirm");
    await reads(page, "You're up");
    assert.equal(await page.locator(".actions button").count(), 0, "no buttons");
    await screenshot(page, "player-up.png");
  });

  await test("completed shows the result and its rank", async () => {
    await move(GAME, me.game, "play");
    await move(GAME, me.game, "complete", { score: 2010, distance: 462, homeruns: 8 });
    await reads(page, "Thanks for playing");
    assert.match(await page.locator(".state").textContent(), /2010[\s\S]*462 ft[\s\S]*8/);
    assert.match(await page.locator(".state").textContent(), /1st[\s\S]*today/);
    // The souvenir, once rendered (the worker of `ondeck run` does it).
    await page.locator(".state img").waitFor({ timeout: 30000 }).catch(() => {});
    await screenshot(page, "player-completed.png");
  });

  await test("leave and Join again", async () => {
    const other = await signUp("Sam");
    await page.goto(`${BASE}${other.path}`);
    await reads(page, "You're signed up");
    await screenshot(page, "player-new.png");
    await page.getByRole("button", { name: "Leave the line" }).click();
    await reads(page, "You left the line", 5000);
    await screenshot(page, "player-cancelled.png");
    await page.getByRole("button", { name: "Join again" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/p/") && url.pathname !== other.path);
    await reads(page, "in line", 5000);
  });

  await test("the page ran without script errors", async () => {
    assert.deepEqual(errors, []);
  });
  await context.close();

  const noJs = await browser.newContext({ viewport: PHONE, javaScriptEnabled: false });
  const plain = await noJs.newPage();
  await test("without JavaScript the page reads and its buttons work", async () => {
    await plain.goto(`${BASE}${behind[2].path}`);
    await reads(plain, "in line", 2000);
    const text = await plain.locator(".state h2").textContent();
    const place = Number(text.match(/(\d+)/)[1]);
    await plain.getByRole("button", { name: "Leave the line" }).click();
    await reads(plain, "You left the line", 5000);
    assert.ok(place > 0);
  });
  await noJs.close();
}

await runTests("player page tests", 240_000, main);

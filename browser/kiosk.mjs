// Browser tests of the kiosk, /kiosk, in headless Chromium at a tablet's size
// (768×1024), with Chromium's fake camera (--use-fake-device-for-media-stream)
// and camera permission granted without asking (--use-fake-ui-for-media-stream).
// deploy/browser-test runs this after player.mjs, against the same server,
// with the same environment:
//
//   ONDECK_URL            the server, e.g. http://127.0.0.1:38123
//   ONDECK_ADMIN_TOKEN, ONDECK_TABLET_TOKEN, ONDECK_DISPLAY_TOKEN
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
const TABLET_SIZE = { width: 768, height: 1024 };
// The kiosk's own reset delay (api/assets/kiosk.js).
const RESET_SECONDS = 15;
const WAIVER = "I play at my own risk and follow the staff's instructions in the cage.";

// The players of that first name, as staff find them.
const playersNamed = async (first) =>
  (await api(ADMIN, "GET", `/api/v1/players?q=${encodeURIComponent(first)}&limit=50`)).items.filter(
    (p) => p.first_name === first,
  );

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
  });
  const showId = (await api(ADMIN, "GET", "/api/v1/queue")).show_id;
  const setShow = (fields) => api(ADMIN, "PATCH", `/api/v1/shows/${showId}`, fields);
  try {
    await api(ADMIN, "POST", "/api/v1/teams", { name: "Mets" }).catch(() => {});
    await setShow({ joining: "open", paused: false, closes_at: null, max_waiting: null, waiver_text: WAIVER });
    await run(browser, setShow);
  } finally {
    await setShow({ joining: "open", paused: false, max_waiting: null, waiver_text: "" }).catch(() => {});
    await browser.close();
  }
}

async function run(browser, setShow) {
  const context = await browser.newContext({ viewport: TABLET_SIZE, deviceScaleFactor: 1, hasTouch: true });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const signups = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/api/v1/players") signups.push(r);
  });
  const form = page.locator("#signup");
  const fill = async (first, last) => {
    await form.locator('input[name="first_name"]').fill(first);
    await form.locator('input[name="last_name"]').fill(last);
    await form.locator(".choice", { hasText: "Right" }).click();
  };

  await test("the kiosk asks for a token, and refuses a display token at the first signup", async () => {
    await page.goto(`${BASE}/kiosk`);
    await page.locator("#setup").waitFor({ state: "visible" });
    await page.fill("#setup-token", DISPLAY);
    await page.click("#setup-form button[type=submit]");
    await page.locator("#signup").waitFor({ state: "visible" });
    await fill("Dee", "Splay");
    await form.locator('input[name="signed_waiver"]').check();
    await page.click("#submit");
    await page.locator("#setup-error", { hasText: "tablet token" }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem("ondeck.kiosk.token")), null);
    assert.deepEqual(await playersNamed("Dee"), []);
  });

  await test("the kiosk starts from #token=, keeps it, and drops it from the address", async () => {
    await page.goto(`${BASE}/kiosk#token=${encodeURIComponent(TABLET)}`);
    await page.waitForSelector('body[data-loaded="true"]');
    assert.equal(new URL(page.url()).hash, "");
    assert.equal(await page.evaluate(() => localStorage.getItem("ondeck.kiosk.token")), TABLET);
    assert.equal(await page.locator("#waiver-text").textContent(), WAIVER);
    const teams = await form.locator('select[name="team"] option').allTextContents();
    assert.ok(teams.includes("Mets"), `teams offered: ${teams}`);
    // Large touch targets: every button and field at least 48 px tall.
    const small = await page.$$eval("#signup button:not([hidden]), #signup input:not([type=radio]):not([type=file]), #signup select, .choice span", (els) =>
      els.filter((e) => e.offsetParent && e.getBoundingClientRect().height < 48).map((e) => e.outerHTML.slice(0, 60)),
    );
    assert.deepEqual(small, []);
  });

  await test("without the waiver ticked the signup is refused in the page", async () => {
    const before = signups.length;
    await fill("Wanda", "Waiver");
    await page.click("#submit");
    await page.locator('.field-error[data-for="signed_waiver"]', { hasText: "waiver" }).waitFor();
    assert.equal(await page.isVisible("#form-error"), true);
    assert.equal(signups.length, before, "nothing was sent");
    assert.deepEqual(await playersNamed("Wanda"), []);
    await form.locator('input[name="first_name"]').fill("");
    await form.locator('input[name="last_name"]').fill("");
  });

  let kiki;
  let shownAt;
  await test("a player signs up with a photo from the camera: queued, with a photo, #N and a QR code", async () => {
    await fill("Kiki", "Camera");
    await form.locator('select[name="team"]').selectOption("Mets");
    await page.click("#camera-on");
    await page.waitForFunction(() => document.getElementById("preview").videoWidth > 0);
    await page.click("#snap");
    await page.locator("#still").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => document.getElementById("preview").srcObject), null, "the camera is off");
    await form.locator('input[name="signed_waiver"]').check();
    await screenshot(page, "kiosk-form.png", { fullPage: true });
    const before = signups.length;
    // A double tap signs up once.
    await page.dblclick("#submit");
    await page.locator("#done").waitFor({ state: "visible" });
    shownAt = Date.now();
    assert.ok(signups.length - before >= 1);
    for (const request of signups.slice(before)) assert.ok(request.headers()["idempotency-key"], "an Idempotency-Key");

    const found = await playersNamed("Kiki");
    assert.equal(found.length, 1, "one player");
    kiki = await api(ADMIN, "GET", `/api/v1/players/${found[0].id}`);
    assert.ok(kiki.photo_url, "the player has a photo");
    assert.equal(kiki.signed_waiver, true);
    assert.equal(kiki.team, "Mets");
    assert.equal(kiki.active_game.state, "queued");
    const photo = await fetch(new URL(kiki.photo_url, BASE));
    assert.equal(photo.status, 200);
    assert.match(photo.headers.get("content-type"), /^image\/jpeg/);

    const queue = await api(ADMIN, "GET", "/api/v1/queue");
    const place = queue.waiting.find((g) => g.id === kiki.active_game.id);
    const minutes = Math.max(1, Math.ceil(place.eta_seconds / 60));
    const title = await page.textContent("#done-title");
    assert.equal(title, `You're #${place.position}, about ${minutes} minute${minutes === 1 ? "" : "s"}`);

    const link = (await api(ADMIN, "GET", `/api/v1/games/${kiki.active_game.id}`)).player_link;
    const qr = page.locator("#qr");
    assert.equal(await qr.getAttribute("src"), `${new URL(link).pathname}/qr.svg`);
    await page.waitForFunction(() => document.getElementById("qr").naturalWidth > 0);
    assert.equal(await page.textContent("#countdown"), String(RESET_SECONDS));
    await screenshot(page, "kiosk.png");
  });

  await test(`the kiosk clears itself ${RESET_SECONDS} s after the signup`, async () => {
    await form.waitFor({ state: "visible", timeout: (RESET_SECONDS + 5) * 1000 });
    const after = (Date.now() - shownAt) / 1000;
    assert.ok(after >= RESET_SECONDS - 1.5, `cleared after ${after} s`);
    assert.equal(await form.locator('input[name="first_name"]').inputValue(), "");
    assert.equal(await form.locator('input[name="signed_waiver"]').isChecked(), false);
    assert.equal(await page.isVisible("#still"), false);
    assert.equal(await page.isVisible("#done"), false);
  });

  await test("while the show is paused the wait is on hold; Next player clears at once", async () => {
    await setShow({ paused: true });
    await page.reload();
    await page.waitForSelector('body[data-loaded="true"]');
    await fill("Pat", "Paused");
    await form.locator('input[name="signed_waiver"]').check();
    await page.click("#submit");
    await page.locator("#done").waitFor({ state: "visible" });
    const pat = (await playersNamed("Pat"))[0];
    const place = (await api(ADMIN, "GET", "/api/v1/queue")).waiting.find((g) => g.id === pat.active_game.id);
    assert.equal(await page.textContent("#done-title"), `You're #${place.position}`);
    assert.equal(await page.textContent("#done-wait"), "Paused: the wait is on hold");
    await page.click("#next");
    await form.waitFor({ state: "visible", timeout: 1000 });
    await setShow({ paused: false });
  });

  await test("a full line is refused with the server's words, and nothing is queued", async () => {
    await setShow({ max_waiting: 1 });
    await fill("Fulton", "Full");
    await form.locator('input[name="signed_waiver"]').check();
    await page.click("#submit");
    await page.locator("#form-error", { hasText: "full" }).waitFor();
    assert.deepEqual(await playersNamed("Fulton"), []);
    await setShow({ max_waiting: null });
    // The same signup, tapped again once there is room, goes through.
    await page.click("#submit");
    await page.locator("#done").waitFor({ state: "visible" });
    assert.equal((await playersNamed("Fulton"))[0].active_game.state, "queued");
    await page.click("#next");
  });

  await test("a closed line is said on the kiosk, and its button is off", async () => {
    await setShow({ joining: "closed" });
    await page.reload();
    await page.waitForSelector('body[data-loaded="true"]');
    await page.locator("#line-note", { hasText: "closed" }).waitFor();
    assert.equal(await page.isDisabled("#submit"), true);
    await setShow({ joining: "open" });
  });

  await test("the kiosk ran without script errors", async () => {
    assert.deepEqual(errors, []);
  });
  await context.close();

  // A tablet whose camera is refused: the tablet's camera app, via a file input.
  const refused = await browser.newContext({ viewport: TABLET_SIZE, deviceScaleFactor: 1 });
  refused.setDefaultTimeout(10_000);
  await refused.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("refused", "NotAllowedError"));
  });
  const other = await refused.newPage();
  await test("without a camera the photo comes from a file input", async () => {
    await other.goto(`${BASE}/kiosk#token=${encodeURIComponent(TABLET)}`);
    await other.waitForSelector('body[data-loaded="true"]');
    await other.click("#camera-on");
    await other.locator("#file-pick").waitFor({ state: "visible" });
    assert.match(await other.textContent("#camera-note"), /camera/);
    assert.equal(await other.getAttribute("#file", "capture"), "user");
    const picture = await other.screenshot({ type: "png", clip: { x: 0, y: 0, width: 320, height: 240 } });
    await other.setInputFiles("#file", { name: "photo.png", mimeType: "image/png", buffer: picture });
    await other.locator("#still").waitFor({ state: "visible" });
    await other.fill('input[name="first_name"]', "Filo");
    await other.locator(".choice", { hasText: "Left" }).click();
    await other.check('input[name="signed_waiver"]');
    await other.click("#submit");
    await other.locator("#done").waitFor({ state: "visible" });
    const filo = await api(ADMIN, "GET", `/api/v1/players/${(await playersNamed("Filo"))[0].id}`);
    assert.ok(filo.photo_url, "the player has a photo");
    assert.equal(filo.handedness, "L");
  });
  await refused.close();
}

await runTests("kiosk tests", 240_000, main);

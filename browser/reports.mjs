// Browser tests of the staff page's Reports tab (/admin#reports) in headless
// Chromium: a day of games is played through the API, then every chart is
// checked against GET /api/v1/stats for the same day, bar by bar; the
// hourly CSV, the empty day, every day, and printing (one page, no
// navigation, black on white) too. deploy/browser-test runs this after the
// other files, against the same server, with the same environment:
//
//   ONDECK_URL            the server, e.g. http://127.0.0.1:38123
//   ONDECK_ADMIN_TOKEN, ONDECK_TABLET_TOKEN, ONDECK_GAME_TOKEN
//   ONDECK_SCREENSHOTS    where to save the PNGs (default docs/screenshots)
//
// Needs pdftoppm (poppler-utils) for the printed page's picture. Prints one
// line per test and closes with "N passed, M failed"; exits 1 when anything
// failed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { BASE, CHROMIUM, SHOTS, api, need, run as runTests, screenshot, test } from "./harness.mjs";

const ADMIN = need("ONDECK_ADMIN_TOKEN");
const TABLET = need("ONDECK_TABLET_TOKEN");
const GAME = need("ONDECK_GAME_TOKEN");
const SCREEN = { width: 1440, height: 1000 };
// The outcomes chart's bars, in order.
const OUTCOMES = ["completed", "left", "no_show", "cancelled", "open"];
const CURLY = "Hi {first_name}, you’re in line for the Home Run Derby: {link}";

const move = (token, game, transition, body) => api(token, "POST", `/api/v1/games/${game}/${transition}`, body);
const stats = (query) => api(ADMIN, "GET", `/api/v1/stats?${new URLSearchParams(query)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// "YYYY-MM-DD" of `date` in the IANA time zone `tz`.
const dayIn = (tz, date = new Date()) =>
  new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);

// --- a day at the cage, through the API ---------------------------------------------------

// Who plays: first name, mobile (some get texts), and how the game ends:
// a score, "left" (the player's "Leave the line"), "cancel" (staff), or
// "open" (still waiting when the report is drawn).
const PLAYERS = [
  ["Rosa", "(415) 555-0701", 2150],
  ["Omar", "(415) 555-0702", 1720],
  ["Lena", null, 1310],
  ["Ivan", "(415) 555-0704", 1280],
  ["Maya", null, 860],
  ["Theo", null, 240],
  ["Nina", "(415) 555-0707", "left"],
  ["Paul", null, "cancel"],
  ["Gwen", null, "open"],
];

// Plays the day; returns the ids of the games and the day they count for.
async function seed() {
  const games = [];
  for (const [first, mobile] of PLAYERS) {
    const player = await api(TABLET, "POST", "/api/v1/players", {
      first_name: first,
      last_name: "Report",
      handedness: "R",
      signed_waiver: true,
      ...(mobile ? { mobile_number: mobile } : {}),
    });
    games.push(player.active_game.id);
    await move(TABLET, player.active_game.id, "queue");
  }
  // A wait of a few seconds, growing down the line.
  for (const [i, [, , end]] of PLAYERS.entries()) {
    const game = games[i];
    if (end === "left") {
      const { player_link: link } = await api(ADMIN, "GET", `/api/v1/games/${game}`);
      const response = await fetch(`${link.replace(/^https?:\/\/[^/]+/, BASE)}/leave`, { method: "POST" });
      assert.equal(response.status, 200, `leaving the line: ${response.status}`);
    } else if (end === "cancel") {
      await move(ADMIN, game, "cancel");
    } else if (typeof end === "number") {
      await sleep(700);
      await move(TABLET, game, "confirm");
      await move(GAME, game, "play");
      await move(GAME, game, "complete", { score: end, distance: 200 + Math.round(end / 10), homeruns: Math.round(end / 400) });
    }
  }
  const created = await Promise.all(games.map((id) => api(ADMIN, "GET", `/api/v1/games/${id}`)));
  return { games, created };
}

// Waits until the texts of the seeded games have gone (the worker sends
// them; a souvenir's is written once the souvenir is rendered) and no text
// of `day` is on its way, so that the page and the test read the same numbers.
async function settled(day, seeded) {
  const wanted = PLAYERS.flatMap(([, mobile, end], i) =>
    mobile ? [[seeded.games[i], "welcome"], ...(typeof end === "number" ? [[seeded.games[i], "souvenir"]] : [])] : [],
  );
  let last = null;
  for (let i = 0; i < 120; i++) {
    const texts = await Promise.all(wanted.map(([game]) => api(ADMIN, "GET", `/api/v1/messages?game_id=${game}&limit=50`)));
    const gone = wanted.every(([, kind], j) => texts[j].items.some((m) => m.kind === kind && m.status !== "queued"));
    const report = await stats({ day });
    const pending = Object.values(report.texts.by_kind).some((statuses) => statuses.queued || statuses.sending);
    const now = JSON.stringify(report.texts);
    if (gone && !pending && now === last) return report;
    last = now;
    await sleep(500);
  }
  throw new Error(`the texts of ${day} are still being sent after 60 s`);
}

// --- the tests ---------------------------------------------------------------------------------

async function main() {
  await mkdir(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const showId = (await api(ADMIN, "GET", "/api/v1/queue")).show_id;
  const show = await api(ADMIN, "GET", `/api/v1/shows/${showId}`);
  try {
    await run(browser, show);
  } finally {
    await api(ADMIN, "PATCH", `/api/v1/shows/${showId}`, { welcome_message: show.welcome_message }).catch(() => {});
    await browser.close();
  }
}

async function run(browser, show) {
  const tz = (await stats({})).time_zone;
  // The games of a day: played again should midnight fall in the middle.
  const waiting = PLAYERS.findIndex(([, , end]) => end === "open");
  let seeded = await seed();
  const open = [seeded.games[waiting]];
  let days = new Set(seeded.created.map((g) => dayIn(tz, new Date(g.created_at))));
  if (days.size > 1) {
    seeded = await seed();
    open.push(seeded.games[waiting]);
    days = new Set(seeded.created.map((g) => dayIn(tz, new Date(g.created_at))));
  }
  const [day] = days;
  const expected = await settled(day, seeded);

  const context = await browser.newContext({ viewport: SCREEN, deviceScaleFactor: 1, acceptDownloads: true });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A refused script or style is a console error; a failed request is named by its path.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${new URL(r.url()).pathname}`));
  // The answer the page drew last.
  let drawn = null;
  page.on("response", async (r) => {
    if (new URL(r.url()).pathname === "/api/v1/stats" && !r.url().includes("format=csv")) drawn = r.json();
  });
  // Does `action` and waits until the page has drawn a new report; returns
  // the answer it drew.
  const redraw = async (action) => {
    drawn = null;
    await page.evaluate(() => document.querySelector("#report .report")?.setAttribute("data-old", ""));
    await action();
    await page.locator("#report .report:not([data-old])").waitFor();
    assert.ok(drawn, "the page asked for /api/v1/stats");
    return drawn;
  };
  const pickDay = (value) => page.fill("#report-day", value).then(() => page.dispatchEvent("#report-day", "change"));
  const attr = (selector, name) => page.locator(selector).evaluateAll((els, n) => els.map((e) => e.getAttribute(n)), name);

  await test("the Reports tab opens on today in the venue's time zone, for the current show", async () => {
    await page.goto(`${BASE}/admin`);
    await page.fill("#token", ADMIN);
    await page.click("#login-form button[type=submit]");
    await page.locator("#search-form").waitFor();
    const before = dayIn(tz);
    const report = await redraw(() => page.click('.tabs a[data-tab="reports"]'));
    assert.ok([before, dayIn(tz)].includes(await page.inputValue("#report-day")));
    assert.equal(await page.inputValue("#report-show"), String(show.id));
    assert.equal(await page.isChecked("#report-every-day"), false);
    assert.equal(report.day, await page.inputValue("#report-day"));
    assert.equal(await page.locator(".tabs a.active").textContent(), "Reports");
  });

  let report = null;
  await test(`the charts of ${day} are the API's numbers, bar by bar`, async () => {
    if ((await page.inputValue("#report-day")) !== day) {
      report = await redraw(() => pickDay(day));
    } else {
      report = await redraw(() => page.click("#report-form button[type=submit]"));
    }
    assert.equal(report.day, day);
    // What the page drew is what the API answers the admin token.
    assert.deepEqual(report, await stats({ day, show_id: show.id }));
    assert.deepEqual(report.texts, expected.texts);
    // Every chart has something to show.
    const { games } = report;
    assert.ok(games.completed >= 6 && games.left >= 1 && games.cancelled >= 1 && games.open >= 1, JSON.stringify(games));
    assert.ok(report.hourly.length >= 1);
    assert.ok(Object.keys(report.texts.by_kind).length >= 1);

    // Every chart is an image with a name.
    const charts = page.locator("#report svg.chart");
    assert.equal(await charts.count(), 5);
    for (const svg of await charts.all()) {
      assert.equal(await svg.getAttribute("role"), "img");
      assert.ok((await svg.getAttribute("aria-label")).length > 10);
      assert.ok((await svg.locator("title").first().textContent()).length > 10);
      assert.ok((await svg.locator(".axis-title").count()) === 2, "both axes have a title");
      assert.ok((await svg.locator(".y-tick").count()) >= 2, "the y axis has ticks");
    }

    // (a) waits per hour: a bar per hourly row, its median wait in minutes.
    const waits = (await attr("#chart-waits rect.bar", "data-value")).map((v) => (v === "" ? null : Number(v)));
    assert.equal(waits.length, report.hourly.length);
    report.hourly.forEach((row, i) => {
      if (row.wait_p50 === null) assert.equal(waits[i], null);
      else assert.ok(Math.abs(waits[i] - row.wait_p50 / 60) < 1e-9, `${row.hour}: ${waits[i]} min for ${row.wait_p50} s`);
    });
    assert.deepEqual(await attr("#chart-waits rect.bar", "data-name"), report.hourly.map((r) => r.hour));

    // (b) the line's length: a point per hourly row, and the step line through them.
    assert.deepEqual((await attr("#chart-line circle.point", "data-value")).map(Number), report.hourly.map((r) => r.longest_line));
    assert.equal(await page.locator("#chart-line path.step").count(), 1);

    // (c) outcomes: five bars, the rates in words.
    assert.deepEqual(await attr("#chart-outcomes rect.bar", "data-name"), OUTCOMES);
    assert.deepEqual((await attr("#chart-outcomes rect.bar", "data-value")).map(Number), OUTCOMES.map((k) => games[k]));
    const rates = await page.locator("#chart-outcomes .chart-note").textContent();
    const pct = (rate) => `${Math.round(rate * 1000) / 10}%`;
    assert.ok(rates.startsWith(`No-show rate ${pct(games.no_show_rate)} `), rates);
    assert.ok(rates.includes(`drop-off rate ${pct(games.drop_off_rate)} `), rates);

    // (d) scores: exactly ten bars, as tall as their counts, the best game named.
    const bins = page.locator("#chart-scores rect.bar");
    assert.equal(await bins.count(), 10);
    assert.deepEqual((await attr("#chart-scores rect.bar", "data-value")).map(Number), report.scores.bins.map((b) => b.count));
    const heights = (await attr("#chart-scores rect.bar", "height")).map(Number);
    const tallest = Math.max(...report.scores.bins.map((b) => b.count));
    const unit = heights[report.scores.bins.findIndex((b) => b.count === tallest)] / tallest;
    assert.ok(unit > 0);
    report.scores.bins.forEach((b, i) => assert.ok(Math.abs(heights[i] - b.count * unit) < 0.2, `bin ${i}: ${heights[i]} px for ${b.count}`));
    const best = await page.locator("#best-game").textContent();
    const { first_name: first, score, game_id: id } = report.scores.best;
    assert.match(best, new RegExp(`^Best game: ${first}\\b.*, ${score.toLocaleString()} points, .*\\(game #${id}\\)\\.$`));

    // (e) texts: a segment per kind and status, the errors and the segments in words.
    const segments = await page
      .locator("#chart-texts rect.segment")
      .evaluateAll((els) => els.map((e) => [e.dataset.kind, e.dataset.status, Number(e.dataset.count)]));
    const want = Object.entries(report.texts.by_kind).flatMap(([kind, statuses]) =>
      Object.entries(statuses)
        .filter(([, n]) => n)
        .map(([status, n]) => [kind, status, n]),
    );
    assert.deepEqual([...segments].sort(), [...want].sort());
    assert.match(await page.locator("#text-segments").textContent(), new RegExp(`^${report.texts.segments} SMS segments?`));
    const failed = page.locator("#text-errors li");
    assert.equal(await failed.count(), report.texts.errors.length);
    if (!report.texts.errors.length) assert.equal(await page.locator("#text-errors").textContent(), "No text failed.");

    // The headline figures.
    // Minutes and seconds, or hours and minutes past an hour.
    const clock = (s) => {
      if (s === null) return "—";
      const [sign, t] = [s < 0 ? "−" : "", Math.abs(s)];
      const two = (n) => String(n).padStart(2, "0");
      return t < 3600 ? `${sign}${Math.floor(t / 60)}:${two(t % 60)}` : `${sign}${Math.floor(t / 3600)} h ${two(Math.floor(t / 60) % 60)} min`;
    };
    const figure = (key) => page.locator(`[data-figure="${key}"] dd`).textContent();
    assert.equal(await figure("games"), report.games.total.toLocaleString());
    assert.equal(await figure("wait"), [report.wait.p50, report.wait.p90, report.wait.max].map(clock).join(" / "));
    assert.equal(await figure("play"), [report.play.p50, report.play.p90].map(clock).join(" / "));
    const error = report.wait.quote_error_p50;
    const told = error === null ? "" : error > 0 ? " (quoted too long)" : error < 0 ? " (quoted too short)" : " (exact)";
    assert.equal(await figure("quote-error"), `${clock(error)}${told}`);

    // The templates and what they cost.
    assert.deepEqual(await attr("#report-templates tbody tr", "data-template"), report.templates.map((t) => t.name));
    await screenshot(page, "reports.png", { fullPage: true });
  });

  await test("a curly apostrophe in a text is named as what makes it UCS-2", async () => {
    await api(ADMIN, "PATCH", `/api/v1/shows/${show.id}`, { welcome_message: CURLY });
    await redraw(() => page.click("#report-form button[type=submit]"));
    const row = page.locator('#report-templates tr[data-template="welcome_message"]');
    const cells = await row.locator("td").allTextContents();
    const template = (await stats({ day })).templates.find((t) => t.name === "welcome_message");
    assert.equal(template.encoding, "UCS-2");
    assert.deepEqual(cells, ["welcome message", "UCS-2", String(template.segments), String(template.units), "’ (U+2019) makes it UCS-2"]);
    await api(ADMIN, "PATCH", `/api/v1/shows/${show.id}`, { welcome_message: show.welcome_message });
    await redraw(() => page.click("#report-form button[type=submit]"));
    assert.equal(await page.locator('#report-templates tr[data-template="welcome_message"] td').nth(4).textContent(), "");
  });

  await test("the hourly CSV downloads with the session, as the API answers it", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#report-csv")]);
    const csv = await readFile(await download.path(), "utf8");
    const response = await fetch(`${BASE}/api/v1/stats?${new URLSearchParams({ show_id: show.id, day, format: "csv" })}`, {
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(response.status, 200);
    assert.equal(csv, await response.text());
    assert.equal(csv.trim().split("\n").length, report.hourly.length + 1);
    assert.equal(download.suggestedFilename(), `ondeck-stats-${show.id}-${day}.csv`);
  });

  await test("a day without games says so instead of drawing empty axes", async () => {
    const report = await redraw(() => pickDay("2001-01-01"));
    assert.equal(report.games.total, 0);
    assert.match(await page.locator("#report-empty").textContent(), /No games on 2001-01-01/);
    assert.equal(await page.locator("#report svg").count(), 0);
    assert.equal(await page.locator("#report-templates tbody tr").count(), report.templates.length);
  });

  await test("every day of the show adds up the days", async () => {
    const all = await redraw(() => page.check("#report-every-day"));
    assert.equal(all.day, null);
    assert.equal(await page.isDisabled("#report-day"), true);
    assert.deepEqual(all.games, (await stats({ show_id: show.id })).games);
    assert.ok(all.games.total >= report.games.total);
    const bars = (await attr("#chart-outcomes rect.bar", "data-value")).map(Number);
    assert.deepEqual(bars, OUTCOMES.map((k) => all.games[k]));
    assert.equal(await page.locator("#chart-line circle.point").count(), all.hourly.length);
    await redraw(() => page.uncheck("#report-every-day"));
    await redraw(() => pickDay(day));
  });

  await test("printed, the report is one A4 page, black on white, without the page around it", async () => {
    await page.emulateMedia({ media: "print" });
    for (const hidden of [".appbar", ".report-controls", "#report-print"]) assert.equal(await page.isVisible(hidden), false, `${hidden} is printed`);
    const colours = await page.evaluate(() => ({
      text: getComputedStyle(document.querySelector(".report-title")).color,
      page: getComputedStyle(document.body).backgroundColor,
      bar: getComputedStyle(document.querySelector("#chart-scores rect.bar")).fill,
    }));
    assert.deepEqual(colours, { text: "rgb(0, 0, 0)", page: "rgb(255, 255, 255)", bar: "rgb(68, 68, 68)" });
    // page.pdf() prints with the print style unless told otherwise, as emulateMedia does.
    await page.emulateMedia({ media: null });
    const work = await mkdtemp(join(tmpdir(), "ondeck-reports-"));
    try {
      for (const format of ["A4", "Letter"]) {
        const pdf = await page.pdf({ format, printBackground: true });
        await writeFile(join(work, "report.pdf"), pdf);
        const pages = pdf.toString("latin1").match(/\/Type\s*\/Page(?![a-z])/g) || [];
        assert.equal(pages.length, 1, `${format}: ${pages.length} pages`);
        assert.ok(pdf.length > 20_000, `${format}: only ${pdf.length} bytes`);
        if (format !== "A4") continue;
        execFileSync("pdftoppm", ["-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", join(work, "report.pdf"), join(SHOTS, "reports-print")]);
        const png = await readFile(join(SHOTS, "reports-print.png"));
        assert.equal(png.subarray(1, 4).toString(), "PNG");
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  await test("the Print button opens the browser's print dialog", async () => {
    await page.evaluate(() => {
      window.printed = 0;
      window.print = () => (window.printed += 1);
    });
    await page.click("#report-print");
    assert.equal(await page.evaluate(() => window.printed), 1);
  });

  await test("the Reports tab ran without script errors or refused content", async () => {
    assert.deepEqual(errors, []);
  });

  // The line is left as it was found.
  for (const game of open) await move(ADMIN, game, "cancel").catch(() => {});
  await context.close();
}

await runTests("reports browser tests", 300_000, main);

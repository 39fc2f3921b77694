// What every browser test file (test.mjs, player.mjs, kiosk.mjs, join.mjs)
// needs: its settings from the environment deploy/browser-test sets, the API
// as a client with a token calls it, screenshots, and a tiny runner that
// prints one line per test and closes with "N passed, M failed".
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";

// An environment variable the tests cannot run without.
export function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`browser tests: ${name} is not set (run deploy/browser-test)`);
    process.exit(2);
  }
  return value;
}

export const BASE = need("ONDECK_URL").replace(/\/$/, "");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// Where the screenshots go: $ONDECK_SCREENSHOTS, or docs/screenshots.
export const SHOTS = resolve(process.env.ONDECK_SCREENSHOTS || "docs/screenshots");

// Saves `page` (a Playwright page or locator, with its screenshot `options`)
// as the PNG `name` in SHOTS.
export async function screenshot(page, name, options = {}) {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ ...options, path: join(SHOTS, name) });
}

// `method path` with `token`; the parsed JSON answer, or an Error naming the
// status and body of an unsuccessful one.
export async function api(token, method, path, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const results = [];

// One test: a line "ok" or "FAIL" with why; a failure does not stop the others.
export async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok    ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL  ${name}\n      ${String(error && error.stack ? error.stack : error).split("\n").join("\n      ")}`);
  }
}

// Runs `main` (which calls `test`) under a watchdog of `limitMs`, prints
// the summary and exits: 1 when anything failed.
export async function run(what, limitMs, main) {
  const watchdog = setTimeout(() => {
    console.log(`${what}: still running after ${limitMs / 60_000} minutes; giving up`);
    console.log(`${results.filter(Boolean).length} passed, ${results.filter((r) => !r).length + 1} failed`);
    process.exit(1);
  }, limitMs);
  try {
    await main();
  } catch (error) {
    results.push(false);
    console.log(`FAIL  setting up: ${error && error.stack ? error.stack : error}`);
  }
  clearTimeout(watchdog);
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

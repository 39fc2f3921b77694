// A stand-in for Twilio's Messages API, for the browser tests: ondeck runs
// with SMS_PROVIDER=twilio and TWILIO_API_BASE pointing here, so the tests
// can read the texts it sends (a join code, above all). It answers as
// testkit/src/twilio.rs does, as far as ondeck's sender (jobs/src/sms.rs)
// uses the API:
//
//   POST /2010-04-01/Accounts/{sid}/Messages.json
//     HTTP Basic auth TWILIO_ACCOUNT_SID:TWILIO_AUTH_TOKEN, a form with To
//     (E.164), From (TWILIO_FROM) and Body, and optionally StatusCallback
//     and ValidityPeriod: 201 {"sid": "SM" + 32 hex digits, "status":
//     "queued", ...}. A wrong account is a 404 (code 20404), wrong
//     credentials a 401 (20003), a form Twilio would refuse a 400 (21602).
//   GET  /2010-04-01/Accounts/{sid}/Messages.json?To=...
//     the texts taken, newest first, as {"messages": [...]}: ondeck asks
//     before sending again a text whose first try it never heard back from.
//   GET  /texts     every text taken, oldest first: [{sid, to, from, body, at}]
//   GET  /refused   every request refused, with why: must stay empty
//
// Settings from the environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
// TWILIO_FROM. It listens on 127.0.0.1, on TWILIO_PORT or a free port, and
// prints the port on the first line of its standard output.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";

function setting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`twilio.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const SID = setting("TWILIO_ACCOUNT_SID");
const TOKEN = setting("TWILIO_AUTH_TOKEN");
const FROM = setting("TWILIO_FROM");
const AUTH = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString("base64")}`;
const MESSAGES = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
// Parameters Twilio knows that ondeck does not send, and the ones it may.
const KNOWN = new Set(["To", "From", "Body", "StatusCallback", "ValidityPeriod", "MaxPrice", "ProvideFeedback", "Attempt", "SmartEncoded"]);

const texts = [];
const refused = [];

function reply(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  response.end(text);
}

// Twilio's error answer; the request is remembered as refused.
function refuse(response, status, code, why) {
  refused.push(why);
  console.error(`twilio.mjs: refused: ${why}`);
  reply(response, status, { code, message: why, more_info: "https://www.twilio.com/docs/errors", status });
}

// The account in the path and the Basic credentials; why not, if wrong.
function unauthorised(account, request) {
  if (account !== SID) return [404, 20404, `account ${JSON.stringify(account)} in the path, expected ${SID}`];
  const got = request.headers.authorization;
  if (!got) return [401, 20003, "no Authorization header"];
  if (got !== AUTH) return [401, 20003, "wrong Basic credentials"];
  return null;
}

// The text a send's form describes, or why Twilio would refuse it.
function parseSend(request, body) {
  const type = request.headers["content-type"] || "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return `Content-Type ${JSON.stringify(type)}, expected a form`;
  const fields = new Map();
  for (const [name, value] of new URLSearchParams(body)) {
    if (fields.has(name)) return `field ${name} given twice`;
    if (!KNOWN.has(name)) return `unknown parameter ${name}`;
    fields.set(name, value);
  }
  const to = fields.get("To");
  if (!to || !/^\+\d{8,15}$/.test(to)) return `To ${JSON.stringify(to)} is not E.164`;
  if (fields.get("From") !== FROM) return `From ${JSON.stringify(fields.get("From"))}, expected ${FROM}`;
  const text = fields.get("Body");
  if (!text || !text.trim() || [...text].length > 1600) return `Body of ${text ? [...text].length : 0} characters`;
  const validity = fields.get("ValidityPeriod");
  if (validity !== undefined && !(/^\d+$/.test(validity) && +validity >= 1 && +validity <= 36000)) {
    return `ValidityPeriod ${JSON.stringify(validity)} is not 1 to 36000 seconds`;
  }
  const callback = fields.get("StatusCallback");
  if (callback !== undefined && !/^https?:\/\//.test(callback)) return `StatusCallback ${JSON.stringify(callback)} is not a URL`;
  return { to, from: FROM, body: text };
}

function messageJson(text, status) {
  const date = new Date(text.at).toUTCString().replace("GMT", "+0000");
  return {
    sid: text.sid,
    account_sid: SID,
    to: text.to,
    from: text.from,
    body: text.body,
    status,
    direction: "outbound-api",
    num_segments: "1",
    date_created: date,
    date_updated: date,
    date_sent: status === "queued" ? null : date,
    uri: `/2010-04-01/Accounts/${SID}/Messages/${text.sid}.json`,
  };
}

async function handle(request, response) {
  const url = new URL(request.url, "http://stand-in.invalid");
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8");
  const messages = url.pathname.match(MESSAGES);
  if (messages && request.method === "POST") {
    const wrong = unauthorised(messages[1], request);
    if (wrong) return refuse(response, ...wrong);
    const text = parseSend(request, body);
    if (typeof text === "string") return refuse(response, 400, 21602, text);
    text.sid = `SM${randomBytes(16).toString("hex")}`;
    text.at = new Date().toISOString();
    texts.push(text);
    return reply(response, 201, messageJson(text, "queued"));
  }
  if (messages && request.method === "GET") {
    const wrong = unauthorised(messages[1], request);
    if (wrong) return refuse(response, ...wrong);
    const to = url.searchParams.get("To");
    const found = texts.filter((t) => !to || t.to === to).reverse().map((t) => messageJson(t, "sent"));
    return reply(response, 200, { messages: found, page: 0, page_size: 100, next_page_uri: null, previous_page_uri: null });
  }
  if (url.pathname === "/texts" && request.method === "GET") return reply(response, 200, texts);
  if (url.pathname === "/refused" && request.method === "GET") return reply(response, 200, refused);
  reply(response, 404, { code: 20404, message: `no route ${request.method} ${url.pathname}`, status: 404 });
}

const server = createServer((request, response) => {
  handle(request, response).catch((error) => {
    console.error(`twilio.mjs: ${error && error.stack ? error.stack : error}`);
    if (!response.headersSent) reply(response, 500, { code: 20500, message: "the stand-in failed", status: 500 });
  });
});
server.listen(Number(process.env.TWILIO_PORT || 0), "127.0.0.1", () => {
  console.log(server.address().port);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));

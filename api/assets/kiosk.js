// The kiosk (/kiosk): a signup page for the venue's own tablets. Logs in
// like the board: a tablet token given once (in the URL fragment,
// #token=odk_..., or in the setup form) and kept in localStorage.
//
// A signup is three calls, each safe to repeat: POST /api/v1/players (with an
// Idempotency-Key, so a double tap or a retry after a dropped connection
// signs the player up once), PUT /api/v1/players/{id}/photo when a photo was
// taken (a PUT replaces), and POST /api/v1/games/{id}/queue (with a key of
// its own). Then the player's place from GET /api/v1/queue and the QR code of
// their page, /p/{code}/qr.svg, until the screen clears for the next player.
import { h, deviceToken } from "/assets/sse.js";

const KEY = "ondeck.kiosk.token";
// How long the "You're #N" screen stays before the form comes back.
const RESET_SECONDS = 15;
// The photo sent: the server takes up to 4096 pixels a side, but a face
// on a souvenir needs far less, and a small upload is quick on venue Wi-Fi.
const PHOTO_MAX_SIDE = 1280;
const $ = (id) => document.getElementById(id);

let token = null;
let show = null;
// The signup under way: its body, its key, and the player once created.
let attempt = null;
let photo = null; // a JPEG Blob
let stream = null;
let resetTimer = null;
let refreshTimer = null;

class Denied extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

// An answer of the API that is not a success: its problem body, if any.
class Problem extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, { json, body, contentType, key } = {}) {
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(path, { method, headers, body, cache: "no-store" });
  if (response.status === 401 || response.status === 403) throw new Denied(response.status);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (error) {
    parsed = null;
  }
  if (!response.ok) throw new Problem(response.status, parsed);
  return parsed;
}

function newKey() {
  if (crypto.randomUUID) return `kiosk-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `kiosk-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// --- the show and its teams -------------------------------------------------------

async function loadShow() {
  const queue = await api("GET", "/api/v1/queue");
  show = queue.show_id === null ? null : await api("GET", `/api/v1/shows/${encodeURIComponent(queue.show_id)}`);
  $("show-name").textContent = show ? show.name : "";
  const waiver = (show && show.waiver_text) || "";
  $("waiver").hidden = !waiver;
  $("waiver-text").textContent = waiver;
  let note = "";
  if (!show) note = "There is no show yet: staff must create one before anyone can sign up.";
  else if (show.joining === "closed") note = "The line is closed right now.";
  else if (show.paused) note = "Paused: the wait is on hold, but you can still join the line.";
  $("line-note").textContent = note;
  $("line-note").hidden = !note;
  $("submit").disabled = !show || show.joining === "closed";
  await loadTeams();
}

async function loadTeams() {
  const select = document.querySelector('select[name="team"]');
  const chosen = select.value;
  const teams = await api("GET", "/api/v1/teams?limit=500");
  const names = teams.items.map((t) => t.name).sort((a, b) => a.localeCompare(b));
  select.replaceChildren(h("option", { value: "" }, "No team"), ...names.map((n) => h("option", { value: n }, n)));
  select.value = names.includes(chosen) ? chosen : "";
  $("team-row").hidden = names.length === 0;
}

// --- the camera -------------------------------------------------------------------

function cameraPossible() {
  return window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
}

// The tablet's own camera app, through a file input: where there is no live
// camera (not https, no camera, or permission refused).
function useFilePicker(why) {
  stopCamera();
  $("camera-on").hidden = true;
  $("snap").hidden = true;
  $("file-pick").hidden = false;
  $("camera-note").hidden = !why;
  $("camera-note").textContent = why || "";
}

async function startCamera() {
  if (!cameraPossible()) {
    useFilePicker(
      window.isSecureContext
        ? "This browser has no camera preview: the photo is taken with the tablet's camera app."
        : "The live camera needs https (or localhost): the photo is taken with the tablet's camera app.",
    );
    $("file").click();
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
      audio: false,
    });
  } catch (error) {
    useFilePicker("The camera is not available (no camera, or permission refused): use the tablet's camera app.");
    return;
  }
  const video = $("preview");
  video.srcObject = stream;
  video.hidden = false;
  $("still").hidden = true;
  $("no-photo").hidden = true;
  $("camera-on").hidden = true;
  $("retake").hidden = true;
  $("snap").hidden = false;
  $("drop-photo").hidden = false;
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  const video = $("preview");
  video.srcObject = null;
  video.hidden = true;
  $("snap").hidden = true;
}

// Draws `source` (a video frame or an image) scaled down to fit
// PHOTO_MAX_SIDE and encodes it as JPEG.
function toJpeg(source, width, height) {
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no image"))), "image/jpeg", 0.88),
  );
}

// The page's policy lets images come from data: URLs, not blob: ones.
function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function showPhoto(blob) {
  photo = blob;
  const still = $("still");
  still.src = await dataUrl(blob);
  still.hidden = false;
  $("no-photo").hidden = true;
  $("retake").hidden = !cameraPossible() || !$("file-pick").hidden;
  $("drop-photo").hidden = false;
  $("camera-on").hidden = true;
  fieldError("photo", "");
}

async function snap() {
  const video = $("preview");
  if (!stream || !video.videoWidth) return;
  const blob = await toJpeg(video, video.videoWidth, video.videoHeight);
  stopCamera();
  await showPhoto(blob);
}

async function picked() {
  const file = $("file").files[0];
  if (!file) return;
  try {
    const image = await createImageBitmap(file);
    const blob = await toJpeg(image, image.width, image.height);
    image.close();
    await showPhoto(blob);
  } catch (error) {
    fieldError("photo", "That picture could not be read: take it again.");
  } finally {
    $("file").value = "";
  }
}

function dropPhoto() {
  stopCamera();
  photo = null;
  const still = $("still");
  still.removeAttribute("src");
  still.hidden = true;
  $("no-photo").hidden = false;
  $("retake").hidden = true;
  $("drop-photo").hidden = true;
  $("camera-on").hidden = !$("file-pick").hidden;
}

// --- the form ---------------------------------------------------------------------

function fieldError(name, message) {
  const slot = document.querySelector(`.field-error[data-for="${name}"]`);
  if (slot) slot.textContent = message;
}

function formError(message) {
  $("form-error").textContent = message || "";
  $("form-error").hidden = !message;
}

function clearErrors() {
  for (const slot of document.querySelectorAll(".field-error")) slot.textContent = "";
  formError("");
}

// The player as POST /api/v1/players takes them, or null after marking
// what is missing.
function readForm() {
  const form = $("signup");
  const value = (name) => form.elements[name].value.trim();
  const body = { first_name: value("first_name"), handedness: form.elements.handedness.value };
  let ok = true;
  if (!body.first_name) {
    fieldError("first_name", "Enter your first name.");
    ok = false;
  }
  if (body.handedness !== "L" && body.handedness !== "R") {
    fieldError("handedness", "Left or right?");
    ok = false;
  }
  for (const name of ["last_name", "mobile_number", "team"]) {
    if (value(name)) body[name] = value(name);
  }
  if (show && show.waiver_text) {
    if (!form.elements.signed_waiver.checked) {
      fieldError("signed_waiver", "Tick the box to accept the waiver.");
      ok = false;
    }
    body.signed_waiver = true;
  } else {
    body.signed_waiver = form.elements.signed_waiver.checked;
  }
  return ok ? body : null;
}

async function submit(event) {
  event.preventDefault();
  if ($("submit").disabled) return;
  clearErrors();
  const body = readForm();
  if (!body) {
    formError("Check the fields marked above.");
    return;
  }
  // The same signup again (a retry) keeps its key; anything else is new.
  const json = JSON.stringify(body);
  if (!attempt || (!attempt.player && attempt.json !== json)) attempt = { json, key: newKey(), player: null };
  $("submit").disabled = true;
  $("submit").textContent = "Signing you up…";
  stopCamera();
  try {
    await signUp(body);
  } catch (error) {
    failed(error);
  } finally {
    $("submit").disabled = !show || show.joining === "closed";
    $("submit").textContent = "Sign me up";
  }
}

// The 409 of a request whose first copy is still being processed.
function stillRunning(problem) {
  return problem.status === 409 && /Idempotency-Key/.test(problem.body.detail || "");
}

async function signUp(body) {
  if (!attempt.player) {
    try {
      attempt.player = await api("POST", "/api/v1/players", { json: body, key: attempt.key });
    } catch (error) {
      // A definite answer is kept under its key: the next try needs a new one.
      // Only a request still running under the key (after a dropped
      // connection) or a failure on the server's side keeps it.
      if (error instanceof Problem && error.status < 500 && !stillRunning(error)) attempt = null;
      throw error;
    }
    // The player exists: what was typed is theirs now.
    $("fields").disabled = true;
  }
  const player = attempt.player;
  if (photo && !attempt.photoSent) {
    await api("PUT", `/api/v1/players/${encodeURIComponent(player.id)}/photo`, {
      body: photo,
      contentType: "image/jpeg",
    });
    attempt.photoSent = true;
  }
  const game = player.active_game;
  if (game.state === "new") {
    await api("POST", `/api/v1/games/${encodeURIComponent(game.id)}/queue`, { key: `${attempt.key}-queue` });
  }
  const queue = await api("GET", "/api/v1/queue");
  attempt = null;
  showDone(player, game, queue);
}

function failed(error) {
  if (error instanceof Denied) {
    deny(error.status);
    return;
  }
  if (error instanceof Problem) {
    const errors = error.body.errors || {};
    let marked = false;
    for (const [field, messages] of Object.entries(errors)) {
      if (document.querySelector(`.field-error[data-for="${field}"]`)) {
        fieldError(field, [].concat(messages).join(" "));
        marked = true;
      }
    }
    // The line's rules (closed, full, last call) say why in `detail`.
    formError(marked && error.status === 422 ? "Check the fields marked above." : error.message);
    if (error.body.rule) loadShow().catch(() => {});
    return;
  }
  formError("The server did not answer: check the connection and tap Sign me up again.");
}

// --- after the signup -------------------------------------------------------------

function minutes(seconds) {
  const m = Math.max(1, Math.ceil(seconds / 60));
  return m === 1 ? "about 1 minute" : `about ${m} minutes`;
}

// What the player reads after the signup: "You're #N, about M minutes"
// (no minutes while the show is paused), or where they are if staff moved
// the game already.
function placeText(player, game, queue) {
  const waiting = queue.waiting.find((g) => g.id === game.id);
  if (waiting) {
    const paused = waiting.eta_seconds === null || waiting.eta_seconds === undefined;
    return {
      title: paused ? `You're #${waiting.position}` : `You're #${waiting.position}, ${minutes(waiting.eta_seconds)}`,
      wait: paused ? "Paused: the wait is on hold" : `${player.first_name}, feel free to walk around.`,
      position: String(waiting.position),
    };
  }
  if (queue.recalled.some((g) => g.id === game.id)) {
    return { title: "It's your turn", wait: "Come to the attraction now.", position: "" };
  }
  return { title: `You're in line, ${player.first_name}`, wait: "", position: "" };
}

function showDone(player, game, queue) {
  const place = placeText(player, game, queue);
  $("done-title").textContent = place.title;
  $("done-wait").textContent = place.wait;
  $("done").dataset.position = place.position;
  $("done-note").hidden = !player.mobile_number;
  $("done-note").textContent = player.mobile_number ? "We'll text you when it's your turn." : "";
  const link = game.player_link ? new URL(game.player_link) : null;
  const qr = $("qr");
  qr.closest("figure").hidden = !link;
  if (link) qr.src = `${link.pathname}/qr.svg`;
  $("signup").hidden = true;
  $("line-note").hidden = true;
  $("done").hidden = false;
  countDown(RESET_SECONDS);
}

function countDown(seconds) {
  clearInterval(resetTimer);
  let left = seconds;
  $("countdown").textContent = String(left);
  resetTimer = setInterval(() => {
    left -= 1;
    $("countdown").textContent = String(Math.max(0, left));
    if (left <= 0) reset();
  }, 1000);
}

// Nothing of the last player left on the tablet.
function clearForm() {
  clearInterval(resetTimer);
  resetTimer = null;
  attempt = null;
  stopCamera();
  dropPhoto();
  $("signup").reset();
  $("fields").disabled = false;
  clearErrors();
  $("qr").removeAttribute("src");
  $("done").hidden = true;
  $("signup").hidden = false;
}

// An empty form for the next player.
function reset() {
  clearForm();
  loadShow().catch(failedToLoad);
  window.scrollTo(0, 0);
}

// --- start and token --------------------------------------------------------------

function failedToLoad(error) {
  if (error instanceof Denied) deny(error.status);
  else {
    $("line-note").textContent = "Offline: retrying…";
    $("line-note").hidden = false;
  }
}

function deny(status) {
  localStorage.removeItem(KEY);
  token = null;
  clearForm();
  delete document.body.dataset.loaded;
  clearInterval(refreshTimer);
  showSetup(
    status === 403
      ? "This token may not sign players up. Enter a tablet token."
      : "The kiosk's token was refused (unknown or revoked). Enter a tablet token.",
  );
}

function showSetup(message) {
  $("kiosk").hidden = true;
  $("setup").hidden = false;
  $("setup-error").hidden = !message;
  $("setup-error").textContent = message || "";
  $("setup-token").focus();
}

async function start() {
  $("setup").hidden = true;
  $("kiosk").hidden = false;
  try {
    await loadShow();
    document.body.dataset.loaded = "true";
  } catch (error) {
    failedToLoad(error);
  }
  clearInterval(refreshTimer);
  // The line opens and closes, and teams are added, while the tablet waits.
  refreshTimer = setInterval(() => {
    if (token && !$("signup").hidden && !attempt) loadShow().catch(failedToLoad);
  }, 30000);
}

// The camera is off whenever nobody is looking at the page.
document.addEventListener("visibilitychange", () => {
  if (document.hidden && stream) {
    stopCamera();
    if (!photo) dropPhoto();
  }
});

$("signup").addEventListener("submit", submit);
// A field's complaint goes as soon as it is changed.
$("signup").addEventListener("input", (event) => {
  const name = event.target.name;
  if (name) fieldError(name, "");
  formError("");
});
$("camera-on").addEventListener("click", startCamera);
$("snap").addEventListener("click", () => snap().catch(() => fieldError("photo", "No picture: try again.")));
$("retake").addEventListener("click", startCamera);
$("drop-photo").addEventListener("click", dropPhoto);
$("file").addEventListener("change", picked);
$("next").addEventListener("click", reset);

token = deviceToken(KEY, (given) => {
  token = given;
  start();
});
if (token) start();
else showSetup(null);

// The staff page's Reports tab: a show's numbers (GET /api/v1/stats, see
// docs/reports.md) as text and as charts. Each chart is an inline <svg> made
// with DOM calls, no library: bars and points carry their numbers in data-*
// attributes, each chart has a <title> and an aria-label, and its colours
// are classes of admin.css, so that printing turns them black on white.
import { h } from "/assets/sse.js";

const SVG = "http://www.w3.org/2000/svg";
// Every chart's drawing size; CSS scales it to the width of its card.
const WIDTH = 560;
const HEIGHT = 250;
const MARGIN = { top: 16, right: 14, bottom: 46, left: 52 };
const STATUS_ORDER = ["delivered", "sent", "queued", "sending", "received", "undelivered", "failed"];
const OUTCOMES = [
  ["completed", "completed"],
  ["left", "left"],
  ["no_show", "no-show"],
  ["cancelled", "cancelled by staff"],
  ["open", "open"],
];

// Builds an SVG element: s("rect", {x: 1}, child, ...).
function s(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined) continue;
    element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// --- numbers as words ----------------------------------------------------------------

// "12:34" (minutes and seconds), or "1 h 02 min" past an hour; "—" for none.
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const sign = seconds < 0 ? "−" : "";
  const total = Math.abs(Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours) return `${sign}${hours} h ${String(minutes).padStart(2, "0")} min`;
  return `${sign}${minutes}:${String(rest).padStart(2, "0")}`;
}

const percent = (rate) => `${Math.round(rate * 1000) / 10}%`;
const count = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

// "’ (U+2019)": a character that makes a text UCS-2, visible even when it is a space.
function character(c) {
  const code = `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  return /\s/.test(c) ? code : `${c} (${code})`;
}

// "’ (U+2019) makes it UCS-2", or nothing for a GSM-7 text.
function because(characters) {
  if (!characters.length) return "";
  return `${characters.map(character).join(", ")} ${characters.length === 1 ? "makes" : "make"} it UCS-2`;
}

// The venue-time hour of an `hourly` row, "14:00"; with the day ("12-05 14:00")
// where the row starts another day than the row before.
function hourLabels(hourly) {
  return hourly.map((row, i) => {
    const day = row.hour.slice(5, 10);
    const clock = row.hour.slice(11, 16);
    return i > 0 && hourly[i - 1].hour.slice(5, 10) !== day ? `${day} ${clock}` : clock;
  });
}

// --- axes --------------------------------------------------------------------------------

// A round top for an axis that reaches `max`, and its step: 1, 2 or 5 times a power of ten.
function niceScale(max, ticks = 5) {
  if (!(max > 0)) return { top: 1, step: max === 0 ? 1 : 0.2 };
  const rough = max / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((m) => m >= rough);
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

// The frame of a chart: a y axis from 0 to niceScale(max) with ticks and grid
// lines, an x axis with one slot per label (labels thinned to fit), and both
// axis titles. Returns the svg, the group to draw in, and the scales.
function frame({ title, description, labels, max, xTitle, yTitle, integer = false }) {
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const scale = niceScale(max);
  if (integer) scale.step = Math.max(1, Math.round(scale.step));
  const y = (value) => MARGIN.top + innerHeight - (value / scale.top) * innerHeight;
  const slot = innerWidth / Math.max(1, labels.length);
  const x = (i) => MARGIN.left + i * slot;
  const svg = s("svg", {
    class: "chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${title}: ${description}`,
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(s("title", {}, `${title}: ${description}`));
  const axis = s("g", { class: "axis", "aria-hidden": "true" });
  const decimals = Math.max(0, -Math.floor(Math.log10(scale.step) + 1e-9));
  for (let value = 0; value <= scale.top + 1e-9; value += scale.step) {
    axis.append(
      s("line", { class: "grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }),
      s("text", { class: "tick y-tick", x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, value.toFixed(decimals)),
    );
  }
  const every = Math.ceil(labels.length / Math.floor(innerWidth / 46));
  labels.forEach((label, i) => {
    if (i % every) return;
    axis.append(s("text", { class: "tick x-tick", x: x(i) + slot / 2, y: HEIGHT - MARGIN.bottom + 16, "text-anchor": "middle" }, label));
  });
  axis.append(
    s("line", { class: "baseline", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0) }),
    s("line", { class: "baseline", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(0) }),
    s("text", { class: "axis-title", x: MARGIN.left + innerWidth / 2, y: HEIGHT - 6, "text-anchor": "middle" }, xTitle),
    s(
      "text",
      { class: "axis-title", transform: `translate(14 ${MARGIN.top + innerHeight / 2}) rotate(-90)`, "text-anchor": "middle" },
      yTitle,
    ),
  );
  svg.append(axis);
  const plot = s("g", { class: "plot" });
  svg.append(plot);
  return { svg, plot, x, y, slot };
}

// A bar per value (null: an empty slot, kept so that slots line up with rows),
// each with its value above it and in data-value.
function bars({ values, labels, format, className = "bar", names = [], ...rest }) {
  const max = Math.max(0, ...values.filter((v) => v !== null));
  const chart = frame({ labels, max, ...rest });
  values.forEach((value, i) => {
    const width = Math.min(60, chart.slot * 0.7);
    const left = chart.x(i) + (chart.slot - width) / 2;
    const top = value === null ? chart.y(0) : chart.y(value);
    const bar = s("rect", {
      class: className,
      x: left.toFixed(1),
      y: top.toFixed(1),
      width: width.toFixed(1),
      height: (chart.y(0) - top).toFixed(1),
      "data-value": value === null ? "" : value,
      "data-name": names[i],
    });
    bar.append(s("title", {}, `${labels[i]}: ${value === null ? "none" : format(value)}`));
    chart.plot.append(bar);
    if (value !== null && chart.slot >= 22) {
      chart.plot.append(s("text", { class: "value", x: left + width / 2, y: top - 4, "text-anchor": "middle" }, format(value)));
    }
  });
  return chart.svg;
}

// --- the charts ----------------------------------------------------------------------

function card(id, title, ...body) {
  return h("figure", { class: "chart-card", id }, h("figcaption", {}, title), ...body);
}

function empty(text) {
  return h("p", { class: "note empty" }, text);
}

function waitsChart(report) {
  const title = "Waits per hour";
  const values = report.hourly.map((row) => (row.wait_p50 === null ? null : row.wait_p50 / 60));
  if (!values.some((v) => v !== null)) return card("chart-waits", title, empty("No wait measured: no game was confirmed."));
  const labels = hourLabels(report.hourly);
  return card(
    "chart-waits",
    title,
    bars({
      title,
      description: labels.map((l, i) => `${l} ${values[i] === null ? "none" : `${values[i].toFixed(1)} min`}`).join(", "),
      values,
      labels,
      names: report.hourly.map((row) => row.hour),
      format: (v) => v.toFixed(v < 1 ? 2 : 1),
      xTitle: `Hour joined the line (${report.time_zone})`,
      yTitle: "Median wait (min)",
    }),
  );
}

function lineChart(report) {
  const title = "Line length over the day";
  const values = report.hourly.map((row) => row.longest_line);
  const labels = hourLabels(report.hourly);
  const chart = frame({
    title,
    description: labels.map((l, i) => `${l} ${values[i]}`).join(", "),
    labels,
    max: Math.max(0, ...values),
    integer: true,
    xTitle: `Hour (${report.time_zone})`,
    yTitle: "Most games waiting",
  });
  // A step for each hour, across its slot, and a point at its middle.
  const path = values
    .map((v, i) => `${i ? "L" : "M"}${chart.x(i).toFixed(1)} ${chart.y(v).toFixed(1)} H${(chart.x(i) + chart.slot).toFixed(1)}`)
    .join(" ");
  chart.plot.append(s("path", { class: "step", d: path }));
  values.forEach((v, i) => {
    const cx = chart.x(i) + chart.slot / 2;
    const point = s("circle", {
      class: "point",
      cx: cx.toFixed(1),
      cy: chart.y(v).toFixed(1),
      r: 4,
      "data-value": v,
      "data-name": report.hourly[i].hour,
    });
    point.append(s("title", {}, `${labels[i]}: ${count(v, "game")} waiting at most`));
    chart.plot.append(point);
  });
  return card("chart-line", title, chart.svg);
}

function outcomesChart(report) {
  const title = "Outcomes";
  const games = report.games;
  const values = OUTCOMES.map(([key]) => games[key]);
  const labels = OUTCOMES.map(([, label]) => label);
  return card(
    "chart-outcomes",
    title,
    bars({
      title,
      description: labels.map((l, i) => `${l} ${values[i]}`).join(", "),
      values,
      labels,
      names: OUTCOMES.map(([key]) => key),
      integer: true,
      format: (v) => v.toLocaleString(),
      xTitle: `${count(games.total, "game")} signed up`,
      yTitle: "Games",
    }),
    h(
      "p",
      { class: "chart-note" },
      `No-show rate ${percent(games.no_show_rate)} (of the games called) · ` +
        `drop-off rate ${percent(games.drop_off_rate)} (left or no-show, of the games that joined the line)`,
    ),
  );
}

function scoresChart(report) {
  const title = "Scores";
  const { bins, best } = report.scores;
  if (!bins.length) return card("chart-scores", title, empty("No game completed."));
  const labels = bins.map((b) => `${b.from.toLocaleString()}–${b.to.toLocaleString()}`);
  const values = bins.map((b) => b.count);
  const svg = bars({
    title,
    description: labels.map((l, i) => `${l}: ${values[i]}`).join(", "),
    values,
    labels: bins.map((b) => b.from.toLocaleString()),
    names: labels,
    integer: true,
    format: (v) => (v ? v.toLocaleString() : ""),
    xTitle: "Score (from)",
    yTitle: "Games",
  });
  const named = best
    ? `Best game: ${best.first_name}${best.team ? ` (${best.team})` : ""}, ${best.score.toLocaleString()} points, ` +
      `${best.distance.toLocaleString()} ft, ${count(best.homeruns, "home run")} (game #${best.game_id}).`
    : null;
  return card("chart-scores", title, svg, named ? h("p", { class: "chart-note", id: "best-game" }, named) : null);
}

function textsChart(report) {
  const title = "Texts by status";
  const texts = report.texts;
  const kinds = Object.keys(texts.by_kind);
  if (!kinds.length) return card("chart-texts", title, empty("No texts."));
  const statuses = [...new Set(kinds.flatMap((k) => Object.keys(texts.by_kind[k])))].sort(
    (a, b) => (STATUS_ORDER.indexOf(a) + 1 || 99) - (STATUS_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b),
  );
  const totals = kinds.map((k) => Object.values(texts.by_kind[k]).reduce((a, b) => a + b, 0));
  const chart = frame({
    title,
    description: kinds.map((k) => `${k}: ${Object.entries(texts.by_kind[k]).map(([st, n]) => `${n} ${st}`).join(", ")}`).join("; "),
    labels: kinds.map((k) => k.replace("_", "-")),
    max: Math.max(...totals),
    integer: true,
    xTitle: "Kind",
    yTitle: "Texts",
  });
  kinds.forEach((kind, i) => {
    const width = Math.min(60, chart.slot * 0.6);
    const left = chart.x(i) + (chart.slot - width) / 2;
    let below = 0;
    for (const status of statuses) {
      const n = texts.by_kind[kind][status] || 0;
      if (!n) continue;
      const top = chart.y(below + n);
      const segment = s("rect", {
        class: `segment status-${status.replace(/[^a-z_]/g, "")}`,
        x: left.toFixed(1),
        y: top.toFixed(1),
        width: width.toFixed(1),
        height: (chart.y(below) - top).toFixed(1),
        "data-kind": kind,
        "data-status": status,
        "data-count": n,
      });
      segment.append(s("title", {}, `${kind}: ${n} ${status}`));
      chart.plot.append(segment);
      below += n;
    }
    chart.plot.append(s("text", { class: "value", x: left + width / 2, y: chart.y(below) - 4, "text-anchor": "middle" }, totals[i]));
  });
  const legend = h(
    "ul",
    { class: "legend" },
    statuses.map((status) => h("li", {}, h("span", { class: `swatch status-${status.replace(/[^a-z_]/g, "")}` }), status)),
  );
  const errors = texts.errors.length
    ? h(
        "ul",
        { class: "chart-note", id: "text-errors" },
        texts.errors.map((e) =>
          h("li", { dataset: { kind: e.kind, code: e.code ?? "" } }, `${e.kind}: ${e.code ? `error ${e.code}` : "no error code"} × ${e.count}`),
        ),
      )
    : h("p", { class: "chart-note", id: "text-errors" }, "No text failed.");
  return card(
    "chart-texts",
    title,
    chart.svg,
    legend,
    errors,
    h("p", { class: "chart-note", id: "text-segments" }, `${count(texts.segments, "SMS segment")} handed to the provider.`),
  );
}

// --- the report ------------------------------------------------------------------------

function headline(report) {
  const figure = (key, label, value) => h("div", { dataset: { figure: key } }, h("dt", {}, label), h("dd", {}, value));
  const error = report.wait.quote_error_p50;
  return h(
    "dl",
    { class: "figures" },
    figure("games", "Games", report.games.total.toLocaleString()),
    figure("wait", "Wait p50 / p90 / max", [report.wait.p50, report.wait.p90, report.wait.max].map(duration).join(" / ")),
    figure(
      "quote-error",
      "Quote error (median)",
      error === null ? "—" : `${duration(error)} ${error > 0 ? "(quoted too long)" : error < 0 ? "(quoted too short)" : "(exact)"}`,
    ),
    figure("play", "Play p50 / p90", [report.play.p50, report.play.p90].map(duration).join(" / ")),
  );
}

function templatesTable(templates) {
  return h(
    "div",
    { class: "templates" },
    h("h3", {}, "What one text costs"),
    h(
      "table",
      { class: "table", id: "report-templates" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Text"),
          h("th", {}, "Encoding"),
          h("th", { class: "num" }, "Segments"),
          h("th", { class: "num" }, "Units"),
          h("th", {}, "Why UCS-2"),
        ),
      ),
      h(
        "tbody",
        {},
        templates.map((t) =>
          h(
            "tr",
            { dataset: { template: t.name } },
            h("td", {}, t.name.replace(/_/g, " ")),
            h("td", {}, t.encoding),
            h("td", { class: "num" }, t.segments),
            h("td", { class: "num" }, t.units),
            h("td", {}, because(t.ucs2_because)),
          ),
        ),
      ),
    ),
  );
}

/** The whole report of `show` (an item of /api/v1/shows) as one element. */
export function renderReport(report, show) {
  const when = report.day ? report.day : "every day";
  const name = show ? show.name : `Show #${report.show_id}`;
  const heading = h("h2", { class: "report-title" }, `${name} · ${when}`, h("span", { class: "note" }, ` (${report.time_zone})`));
  if (!report.games.total && !report.hourly.length) {
    return h(
      "div",
      { class: "report", dataset: { empty: "true" } },
      heading,
      h("p", { class: "placeholder", id: "report-empty" }, `No games ${report.day ? `on ${report.day}` : "in this show"}: nothing to draw.`),
      templatesTable(report.templates),
    );
  }
  return h(
    "div",
    { class: "report" },
    heading,
    headline(report),
    h("div", { class: "charts" }, waitsChart(report), lineChart(report), outcomesChart(report), scoresChart(report), textsChart(report)),
    templatesTable(report.templates),
  );
}

// render.js — builds the result panel, history entries and summary as DOM nodes.
// User text only ever reaches the page through textContent: nothing here parses HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

const LABELS = {
  positive: { title: "Positive", mouth: "M8.5 14.5q3.5 3.5 7 0" },
  neutral: { title: "Neutral", mouth: "M8.5 15h7" },
  negative: { title: "Negative", mouth: "M8.5 16.5q3.5-3.5 7 0" },
};

/** Known label, or "neutral" for anything unexpected so the page never breaks on it. */
function labelKey(label) {
  return Object.hasOwn(LABELS, label) ? label : "neutral";
}

/** Creates an element with classes and optional text (always set as text). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Creates an SVG element (icons, charts) with the given attributes. */
export function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** Score with an explicit sign and a real minus sign: "+0.64", "−0.32", "0.00". */
export function formatScore(score) {
  const rounded = Math.abs(score).toFixed(2);
  if (rounded === "0.00") return "0.00";
  return `${score > 0 ? "+" : "\u2212"}${rounded}`;
}

function percent(fraction) {
  return `${Math.round(Math.min(Math.max(fraction, 0), 1) * 100)}%`;
}

/** A face icon: smiling, flat or frowning. Decorative, the label word says the same. */
function faceIcon(label) {
  const icon = svg("svg", { viewBox: "0 0 24 24", width: 20, height: 20, "aria-hidden": "true", focusable: "false", class: "face" });
  icon.append(
    svg("circle", { cx: 12, cy: 12, r: 10, fill: "none", stroke: "currentColor", "stroke-width": 2 }),
    svg("circle", { cx: 9, cy: 10, r: 1.3, fill: "currentColor" }),
    svg("circle", { cx: 15, cy: 10, r: 1.3, fill: "currentColor" }),
    svg("path", { d: LABELS[labelKey(label)].mouth, fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round" }),
  );
  return icon;
}

/** The coloured label chip: icon plus word, so colour is never the only cue. */
function labelBadge(label, size = "large") {
  const key = labelKey(label);
  const badge = el("span", `badge badge--${key} badge--${size}`);
  badge.append(faceIcon(key), el("span", "badge__text", LABELS[key].title));
  return badge;
}

/** The -1..+1 gauge: a track with a fill from zero to the score and a marker. */
function gauge(score) {
  const clamped = Math.min(Math.max(score, -1), 1);
  const position = (clamped + 1) / 2; // 0 at -1, 0.5 at zero, 1 at +1
  const wrapper = el("div", "gauge");
  wrapper.setAttribute("role", "meter");
  wrapper.setAttribute("aria-label", "Compound score from −1 (negative) to +1 (positive)");
  wrapper.setAttribute("aria-valuemin", "-1");
  wrapper.setAttribute("aria-valuemax", "1");
  wrapper.setAttribute("aria-valuenow", String(clamped));
  wrapper.setAttribute("aria-valuetext", formatScore(clamped));

  const track = el("div", "gauge__track");
  const fill = el("div", `gauge__fill gauge__fill--${clamped < 0 ? "negative" : "positive"}`);
  fill.style.left = percent(Math.min(position, 0.5));
  fill.style.width = percent(Math.abs(position - 0.5));
  const marker = el("div", "gauge__marker");
  marker.style.left = percent(position);
  track.append(el("div", "gauge__zero"), fill, marker);

  const scale = el("div", "gauge__scale");
  scale.setAttribute("aria-hidden", "true");
  scale.append(el("span", "", "−1"), el("span", "", "0"), el("span", "", "+1"));
  wrapper.append(track, scale);
  return wrapper;
}

/** neg / neu / pos as labelled horizontal bars with their percentage. */
function proportions(scores) {
  const list = el("dl", "proportions");
  for (const [key, title] of [["neg", "Negative"], ["neu", "Neutral"], ["pos", "Positive"]]) {
    const value = Number(scores?.[key]) || 0;
    const row = el("div", `proportion proportion--${key}`);
    const bar = el("span", "bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = el("span", "bar__fill");
    fill.style.width = percent(value);
    bar.append(fill);
    const amount = el("dd", "proportion__value");
    amount.append(bar, el("span", "proportion__number", percent(value)));
    row.append(el("dt", "proportion__name", title), amount);
    list.append(row);
  }
  return list;
}

/** Fills the result panel with one analysis. */
export function renderResult(container, analysis) {
  const key = labelKey(analysis.label);
  container.replaceChildren();
  container.dataset.label = key;
  container.dataset.score = String(analysis.sentiment);

  const head = el("div", "result__head");
  const score = el("p", "result__score");
  score.append(el("span", "result__score-value", formatScore(analysis.sentiment)), el("span", "result__score-caption", "compound score"));
  head.append(labelBadge(key), score);

  const quote = el("p", "result__text", analysis.text);
  container.append(head, gauge(analysis.sentiment), proportions(analysis.scores), quote);
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absoluteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "now", "5 minutes ago", "yesterday"… relative to `now`. */
function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) < 10) return relativeFormat.format(0, "second");
  const [unit, size] = UNITS.find(([, unitSeconds]) => Math.abs(seconds) >= unitSeconds);
  return relativeFormat.format(Math.round(seconds / size), unit);
}

/** Rewrites every <time data-relative> under `root`; called on a timer. */
export function refreshRelativeTimes(root, now = Date.now()) {
  for (const node of root.querySelectorAll("time[data-relative]")) {
    node.textContent = relativeTime(new Date(node.dateTime), now);
  }
}

/** One history entry: label, score, relative time and the text. */
export function historyItem(analysis) {
  const item = el("li", "history-item");
  item.dataset.id = String(analysis.id);
  item.dataset.label = labelKey(analysis.label);

  const meta = el("div", "history-item__meta");
  const created = new Date(analysis.created_at);
  const time = el("time", "history-item__time");
  if (!Number.isNaN(created.getTime())) {
    time.dateTime = created.toISOString();
    time.dataset.relative = "";
    time.title = absoluteFormat.format(created);
    time.textContent = relativeTime(created);
  }
  meta.append(
    labelBadge(analysis.label, "small"),
    el("span", "history-item__score", formatScore(analysis.sentiment)),
    time,
  );
  item.append(meta, el("p", "history-item__text", analysis.text));
  return item;
}

/** Counts per label and the average score of the analyses shown. */
export function renderSummary(container, analyses) {
  container.replaceChildren();
  if (analyses.length === 0) return;
  const counts = { positive: 0, neutral: 0, negative: 0 };
  let total = 0;
  for (const analysis of analyses) {
    counts[labelKey(analysis.label)] += 1;
    total += Number(analysis.sentiment) || 0;
  }
  const tiles = el("dl", "summary__tiles");
  for (const key of ["positive", "neutral", "negative"]) {
    const tile = el("div", `summary__tile summary__tile--${key}`);
    tile.append(el("dt", "summary__name", LABELS[key].title), el("dd", "summary__value", String(counts[key])));
    tiles.append(tile);
  }
  const average = el("div", "summary__tile summary__tile--average");
  average.append(el("dt", "summary__name", "Average"), el("dd", "summary__value", formatScore(total / analyses.length)));
  tiles.append(average);
  const noun = analyses.length === 1 ? "analysis" : "analyses";
  container.append(tiles, el("p", "summary__caption", `Across the ${analyses.length} ${noun} shown below.`));
}

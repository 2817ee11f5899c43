// app.js — wires the page: the analyse form, the history list with its cursor
// paging, the summary and the sparkline. State lives here; DOM building lives
// in render.js and chart.js; HTTP lives in api.js.

import { analyze, fetchHistoryPage, fetchMaxTextChars, firstHistoryUrl, DEFAULT_MAX_TEXT_CHARS } from "./api.js";
import { historyItem, refreshRelativeTimes, renderResult, renderSummary } from "./render.js";
import { renderSparkline } from "./chart.js";

const HISTORY_PAGE_SIZE = 20;
const RELATIVE_TIME_REFRESH_MS = 30_000;
const UNAVAILABLE_NOTICE =
  "The server can't be reached or is too busy right now. Your text is still here: please try again in a moment.";

const $ = (id) => document.getElementById(id);
const form = $("analyze-form");
const input = $("text-input");
const button = $("analyze-button");
const buttonLabel = button.querySelector(".button__label");
const counter = $("char-count");
const notice = $("form-notice");
const result = $("result");
const historyList = $("history-list");
const historyStatus = $("history-status");
const loadMore = $("load-more");
const summary = $("summary");
const sparkline = $("sparkline");

const numberFormat = new Intl.NumberFormat();
const state = {
  maxChars: DEFAULT_MAX_TEXT_CHARS,
  analyzing: false,
  loadingHistory: false,
  /** Loaded analyses, newest first, as the history list shows them. */
  analyses: [],
  /** Cursor URL of the next history page; null once the end is reached. */
  nextUrl: firstHistoryUrl(HISTORY_PAGE_SIZE),
};

/** Characters as the server counts them (Unicode code points, not UTF-16 units). */
function characterCount(text) {
  return Array.from(text).length;
}

function updateCounter() {
  const count = characterCount(input.value);
  const over = count > state.maxChars;
  counter.textContent = over
    ? `${numberFormat.format(count)} / ${numberFormat.format(state.maxChars)}, ${numberFormat.format(count - state.maxChars)} over the limit`
    : `${numberFormat.format(count)} / ${numberFormat.format(state.maxChars)}`;
  counter.classList.toggle("char-count--over", over);
}

function showNotice(message, kind) {
  notice.textContent = message;
  notice.dataset.kind = kind;
  notice.hidden = false;
  input.setAttribute("aria-invalid", kind === "input" ? "true" : "false");
}

function clearNotice() {
  notice.hidden = true;
  notice.textContent = "";
  delete notice.dataset.kind;
  input.removeAttribute("aria-invalid");
}

/** The button stays focusable while busy (aria-disabled) so keyboard focus is never lost. */
function setAnalyzing(analyzing) {
  state.analyzing = analyzing;
  form.setAttribute("aria-busy", String(analyzing));
  button.setAttribute("aria-disabled", String(analyzing));
  button.classList.toggle("button--busy", analyzing);
  buttonLabel.textContent = analyzing ? "Analysing…" : "Analyse";
}

function describeFailure(error) {
  if (error.kind === "input") return error.message;
  if (error.kind === "unavailable") return UNAVAILABLE_NOTICE;
  return `Something went wrong on the server: ${error.message} Please try again.`;
}

function refreshOverview() {
  renderSummary(summary, state.analyses);
  renderSparkline(sparkline, state.analyses.map((analysis) => Number(analysis.sentiment) || 0).reverse());
  if (state.analyses.length === 0 && !state.loadingHistory && state.nextUrl === null) {
    historyStatus.textContent = "No analyses yet. Your results will appear here.";
  }
}

function addNewest(analysis) {
  if (state.analyses.some((known) => known.id === analysis.id)) return;
  state.analyses.unshift(analysis);
  const item = historyItem(analysis);
  item.classList.add("history-item--new");
  historyList.prepend(item);
  historyStatus.textContent = "";
  refreshOverview();
}

async function onSubmit(event) {
  event.preventDefault();
  if (state.analyzing) return;
  clearNotice();
  setAnalyzing(true);
  try {
    const analysis = await analyze(input.value);
    renderResult(result, analysis);
    addNewest(analysis);
  } catch (error) {
    showNotice(describeFailure(error), error.kind ?? "server");
  } finally {
    setAnalyzing(false);
  }
}

function onKeydown(event) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
}

async function loadNextHistoryPage() {
  if (state.loadingHistory || state.nextUrl === null) return;
  state.loadingHistory = true;
  loadMore.setAttribute("aria-disabled", "true");
  loadMore.textContent = "Loading…";
  historyStatus.textContent = state.analyses.length === 0 ? "Loading history…" : "";
  const focusWasOnButton = document.activeElement === loadMore;
  try {
    const page = await fetchHistoryPage(state.nextUrl);
    const known = new Set(state.analyses.map((analysis) => analysis.id));
    const fresh = page.items.filter((analysis) => !known.has(analysis.id));
    state.analyses.push(...fresh);
    const items = fresh.map(historyItem);
    historyList.append(...items);
    state.nextUrl = page.items.length === 0 ? null : page.next;
    historyStatus.textContent = "";
    loadMore.textContent = "Load more";
    if (state.nextUrl === null && focusWasOnButton && items.length > 0) {
      // The button is about to disappear: keep keyboard users where the new entries are.
      items[0].tabIndex = -1;
      items[0].focus();
    }
  } catch (error) {
    historyStatus.textContent =
      error.kind === "unavailable"
        ? "History can't be loaded right now: the server is unreachable or busy."
        : `History can't be loaded: ${error.message}`;
    loadMore.textContent = "Try again";
  } finally {
    state.loadingHistory = false;
    loadMore.removeAttribute("aria-disabled");
    loadMore.hidden = state.nextUrl === null;
    refreshOverview();
  }
}

async function start() {
  input.addEventListener("input", updateCounter);
  input.addEventListener("keydown", onKeydown);
  form.addEventListener("submit", onSubmit);
  loadMore.addEventListener("click", loadNextHistoryPage);
  setInterval(() => refreshRelativeTimes(historyList), RELATIVE_TIME_REFRESH_MS);
  updateCounter();

  const [maxChars] = await Promise.all([fetchMaxTextChars(), loadNextHistoryPage()]);
  state.maxChars = maxChars;
  updateCounter();
  document.body.dataset.ready = "true";
}

start();

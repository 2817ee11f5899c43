// api.js — talks to the backend over relative URLs and turns every failure
// into an ApiError whose `kind` tells the page how to word it for a person.

/** Used when GET /limits fails: the backend's documented default. */
export const DEFAULT_MAX_TEXT_CHARS = 10000;

/**
 * Why a request failed, in terms the page can act on:
 * - "input": the server rejected what the person sent (4xx); `message` is the server's sentence.
 * - "unavailable": no answer, or the service is down or busy (network error, 502/503/504).
 * - "server": anything else that went wrong on the server side.
 */
export class ApiError extends Error {
  constructor(kind, message, { status = 0, code = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/** Reads the JSON error body `{error, message}`, tolerating bodies that are not JSON. */
async function errorFromResponse(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML error page: the status alone has to do.
  }
  const code = typeof body.error === "string" ? body.error : "";
  const serverMessage = typeof body.message === "string" ? body.message : "";
  const details = { status: response.status, code };
  if (UNAVAILABLE_STATUSES.has(response.status)) {
    return new ApiError("unavailable", serverMessage || response.statusText, details);
  }
  if (response.status >= 400 && response.status < 500) {
    return new ApiError("input", serverMessage || `The request was refused (${response.status}).`, details);
  }
  return new ApiError("server", serverMessage || `The server failed (${response.status}).`, details);
}

async function request(url, options) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, ...options });
  } catch (cause) {
    throw new ApiError("unavailable", String(cause && cause.message ? cause.message : cause));
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response;
}

/** Pause before the one retry of an analysis the service could not take. */
export const RETRY_DELAY_MS = 600;

/**
 * A fresh `Idempotency-Key` value: 128 random bits as a quoted string. getRandomValues works
 * on plain-HTTP pages too, where crypto.randomUUID does not.
 */
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `"${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}"`;
}

/**
 * POST /analyze: returns the stored analysis `{id, text, sentiment, label, scores, created_at}`.
 * When the service could not be reached or was busy, it is asked once more with the same
 * Idempotency-Key: the server answers a repeat with the analysis stored the first time, so a
 * text is never stored twice however the first attempt ended.
 */
export async function analyze(text) {
  const send = (key) =>
    request("/analyze", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ text }),
    });
  const key = newIdempotencyKey();
  try {
    return (await send(key)).json();
  } catch (error) {
    if (!(error instanceof ApiError) || error.kind !== "unavailable") throw error;
    await new Promise((resolveDelay) => setTimeout(resolveDelay, RETRY_DELAY_MS));
    return (await send(key)).json();
  }
}

/** Extracts the rel="next" target from a Link header, or null. */
function nextLink(linkHeader) {
  if (!linkHeader) return null;
  for (const part of linkHeader.split(",")) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part.trim());
    if (match) return match[1];
  }
  return null;
}

/**
 * One page of history, newest first. `url` is either the first page's URL or the
 * `next` URL of the previous page (the server's cursor, followed as given).
 */
export async function fetchHistoryPage(url) {
  const response = await request(url, { cache: "no-cache" });
  const items = await response.json();
  return { items, next: nextLink(response.headers.get("Link")) };
}

export function firstHistoryUrl(pageSize) {
  return `/history?limit=${encodeURIComponent(pageSize)}`;
}

/** The server's text limit; falls back to the documented default when /limits fails. */
export async function fetchMaxTextChars() {
  try {
    const response = await request("/limits");
    const limits = await response.json();
    if (Number.isInteger(limits.max_text_chars) && limits.max_text_chars > 0) {
      return limits.max_text_chars;
    }
  } catch {
    // Fall through: counting against the default is better than no counter.
  }
  return DEFAULT_MAX_TEXT_CHARS;
}

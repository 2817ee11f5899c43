// e2e.test.mjs — the page in headless Chromium against the real local stack
// (balancer + two backend workers), used the way a person uses it: keyboard
// first, reading what the page says. Screenshots go to <repo>/target/screenshots/.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { launchBrowser, PageProblems } from "./browser.mjs";
import { FRONTEND_DIR, REPO_DIR, startStack } from "./stack.mjs";

const SCREENSHOT_DIR = join(REPO_DIR, "target", "screenshots");
const SEEDED_ANALYSES = 60;
const PAGE_SIZE = 20; // app.js HISTORY_PAGE_SIZE
const REQUEST_TIMEOUT_MS = 15_000;
const POLL_LIMIT = 120; // polls of 250 ms: 30 s at most
const XSS_TEXT = "<img src=x onerror=alert(1)>";
const SEED_TEXTS = [
  "I really enjoyed the concert, great work by the band",
  "The parcel arrived on Tuesday afternoon",
  "Awful customer service, I hated every minute of the call",
  "Pretty good coffee, though the queue was long",
  "The update broke my settings and nobody answers support tickets",
  "Thanks for the quick fix, it works perfectly now!",
];
const HAPPY_TEXT = "I love this phone, the camera is wonderful and the battery is great!";

/** What the page shows for a compound score: explicit sign, real minus, two decimals. */
function scoreText(compound) {
  const rounded = Math.abs(compound).toFixed(2);
  if (rounded === "0.00") return "0.00";
  return `${compound > 0 ? "+" : "\u2212"}${rounded}`;
}

function capitalised(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

const sleep = (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

let stack;
let browser;
const problems = new PageProblems();
let page;

async function api(path, init = {}) {
  return fetch(new URL(path, stack.baseUrl), { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

async function postAnalyze(text) {
  const response = await api("/analyze", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text }),
  });
  return { status: response.status, body: await response.json() };
}

async function admin(path, init = {}) {
  return fetch(new URL(path, stack.adminUrl), {
    ...init,
    headers: { Authorization: `Bearer ${stack.adminToken}`, "Content-Type": "application/json", ...init.headers },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** Every stored analysis, newest first, straight from the API. */
async function allHistory() {
  const response = await api("/history?limit=500");
  assert.equal(response.status, 200);
  return response.json();
}

/** Opens the page and waits until its first history page and limits have loaded. */
async function openPage(target) {
  await target.goto(stack.baseUrl);
  await target.locator("body[data-ready=true]").waitFor();
}

/** Types `text` into the box and submits it with Ctrl+Enter, as a keyboard user would. */
async function submitWithKeyboard(target, text) {
  const input = target.getByLabel("Your text");
  await input.fill(text);
  await input.focus();
  await target.keyboard.press("Control+Enter");
}

async function screenshot(target, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await target.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

describe("sentiment page end to end", { timeout: 600_000 }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    page = await problems.newPage(browser);
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test("the page is served with a strict CSP, nosniff and a referrer policy, and has no inline code", async () => {
    const response = await api("/");
    assert.equal(response.status, 200);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.ok(response.headers.get("referrer-policy"), "Referrer-Policy header missing");

    const html = readFileSync(join(FRONTEND_DIR, "index.html"), "utf8");
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "inline <script> found");
    assert.doesNotMatch(html, /\sstyle=/, "inline style attribute found");
    assert.doesNotMatch(html, /\son[a-z]+=/, "inline event handler found");
    assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//, "absolute URL found: the page must work offline");
  });

  test("keyboard focus order: skip link, text box, Analyse button", async () => {
    await openPage(page);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "Skip to history");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "text-input");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "analyze-button");
  });

  test("the character counter counts against the server's limit", async () => {
    const limits = await (await api("/limits")).json();
    const max = limits.max_text_chars;
    const maxText = new Intl.NumberFormat("en-US").format(max);
    const input = page.getByLabel("Your text");
    const counter = page.locator("#char-count");

    await input.fill("");
    await input.pressSequentially("héllo 👋");
    assert.equal(await counter.textContent(), `7 / ${maxText}`);

    const tooLong = "a".repeat(max + 1);
    await input.fill(tooLong);
    assert.equal(await counter.textContent(), `${new Intl.NumberFormat("en-US").format(max + 1)} / ${maxText}, 1 over the limit`);
    assert.match(await counter.getAttribute("class"), /char-count--over/);

    // The server has the last word: its own message is shown, in words.
    const expected = await postAnalyze(tooLong);
    assert.equal(expected.status, 422);
    problems.expectFailedResource("/analyze", "status of 422");
    await input.focus();
    await page.keyboard.press("Control+Enter");
    const notice = page.getByRole("alert");
    await notice.waitFor();
    assert.equal(await notice.textContent(), expected.body.message);
  });

  test("Ctrl+Enter analyses the text: progress, then the API's label and score, at the top of history", async () => {
    const expected = (await postAnalyze(HAPPY_TEXT)).body;

    // Hold the request so the in-progress state can be seen without racing it.
    let release;
    const held = new Promise((resolveHeld) => (release = resolveHeld));
    await page.route("**/analyze", async (route) => {
      await held;
      await route.continue();
    });
    const response = page.waitForResponse((candidate) => new URL(candidate.url()).pathname === "/analyze");
    await submitWithKeyboard(page, HAPPY_TEXT);
    const button = page.locator("#analyze-button");
    await page.locator("#analyze-form[aria-busy=true]").waitFor();
    assert.equal((await button.textContent()).trim(), "Analysing…");
    assert.equal(await button.getAttribute("aria-disabled"), "true");
    release();
    const analysis = await (await response).json();
    await page.unroute("**/analyze");
    await page.locator("#analyze-form[aria-busy=false]").waitFor();
    assert.equal((await button.textContent()).trim(), "Analyse");

    // Every submit carries its own key, so a retry can never store the text twice.
    assert.match((await response).request().headers()["idempotency-key"], /^"[0-9a-f]{32}"$/);

    // Same text, same deterministic analysis as the direct API call.
    assert.equal(analysis.label, expected.label);
    assert.equal(analysis.sentiment, expected.sentiment);
    assert.equal(analysis.label, "positive");

    const result = page.locator("#result");
    await result.locator(".badge").waitFor();
    assert.equal(await result.getAttribute("aria-live"), "polite");
    assert.equal((await result.locator(".badge").textContent()).trim(), capitalised(expected.label));
    assert.equal(await result.locator(".result__score-value").textContent(), scoreText(expected.sentiment));
    assert.equal(await result.getByRole("meter").getAttribute("aria-valuenow"), String(expected.sentiment));
    const percents = await result.locator(".proportion__number").allTextContents();
    assert.deepEqual(
      percents,
      ["neg", "neu", "pos"].map((key) => `${Math.round(expected.scores[key] * 100)}%`),
    );

    const top = page.locator("#history-list > li").first();
    assert.equal(await top.getAttribute("data-id"), String(analysis.id));
    assert.equal(await top.locator(".history-item__text").textContent(), HAPPY_TEXT);
    assert.equal((await top.locator(".badge").textContent()).trim(), capitalised(expected.label));
    assert.equal(await top.locator(".history-item__score").textContent(), scoreText(expected.sentiment));
    assert.match(await top.locator("time").textContent(), /now|second/);
  });

  test("an empty text shows the API's error message and the form stays usable", async () => {
    const expected = await postAnalyze("");
    assert.equal(expected.status, 422);
    assert.ok(expected.body.message, "the API's error has a message");
    problems.expectFailedResource("/analyze", "status of 422");

    await page.getByLabel("Your text").fill("");
    await page.locator("#analyze-button").focus();
    await page.keyboard.press("Enter");
    const notice = page.getByRole("alert");
    await notice.filter({ hasText: expected.body.message }).waitFor();
    assert.equal(await notice.textContent(), expected.body.message);
    assert.equal(await page.getByLabel("Your text").getAttribute("aria-invalid"), "true");

    await submitWithKeyboard(page, "The service was terrible and the staff were rude.");
    await page.locator("#result[data-label=negative]").waitFor();
    assert.equal(await notice.isHidden(), true);
  });

  test("user text with markup is rendered as text and runs nothing", async () => {
    const dialogs = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const response = page.waitForResponse((candidate) => new URL(candidate.url()).pathname === "/analyze");
    await submitWithKeyboard(page, XSS_TEXT);
    const analysis = await (await response).json();
    const top = page.locator(`#history-list > li[data-id="${analysis.id}"]`);
    await top.waitFor();

    assert.equal(await page.locator("#result .result__text").textContent(), XSS_TEXT);
    assert.equal(await top.locator(".history-item__text").textContent(), XSS_TEXT);
    // Only the logo is an <img>: the text was never parsed as HTML.
    assert.deepEqual(await page.locator("img").evaluateAll((images) => images.map((image) => image.className)), [
      "site-header__logo",
    ]);
    assert.deepEqual(dialogs, []);
  });

  test("history pages through the API's cursor with Load more, newest first", async () => {
    for (let index = 0; index < SEEDED_ANALYSES; index += 1) {
      const { status } = await postAnalyze(`${SEED_TEXTS[index % SEED_TEXTS.length]} (#${index + 1})`);
      assert.equal(status, 200);
    }
    const stored = await allHistory();
    assert.ok(stored.length > 2 * PAGE_SIZE, "history should span at least three pages");

    // A balancer may serve the first page from its short-lived cache: wait until it is fresh.
    for (let poll = 0; ; poll += 1) {
      const firstPage = await (await api(`/history?limit=${PAGE_SIZE}`)).json();
      if (firstPage[0]?.id === stored[0].id) break;
      assert.ok(poll < POLL_LIMIT, "the first history page never showed the newest analysis");
      await sleep(250);
    }

    await openPage(page);
    const items = page.locator("#history-list > li");
    assert.equal(await items.count(), PAGE_SIZE);
    const loadMore = page.locator("#load-more");
    for (let pages = 1; await loadMore.isVisible(); pages += 1) {
      assert.ok(pages <= Math.ceil(stored.length / PAGE_SIZE), "Load more kept appearing past the last page");
      const before = await items.count();
      await loadMore.focus();
      await page.keyboard.press("Enter");
      await page.waitForFunction(
        (count) => document.querySelectorAll("#history-list > li").length > count ||
          document.getElementById("load-more").hidden,
        before,
      );
    }

    const shownIds = await items.evaluateAll((nodes) => nodes.map((node) => node.dataset.id));
    assert.deepEqual(shownIds, stored.map((analysis) => String(analysis.id)));
    const shownTexts = await page.locator("#history-list .history-item__text").allTextContents();
    assert.deepEqual(shownTexts, stored.map((analysis) => analysis.text));

    // The summary counts what is shown; the sparkline draws it.
    const tiles = await page.locator(".summary__value").allTextContents();
    const count = (label) => stored.filter((analysis) => analysis.label === label).length;
    const average = stored.reduce((sum, analysis) => sum + analysis.sentiment, 0) / stored.length;
    assert.deepEqual(tiles, [
      String(count("positive")),
      String(count("neutral")),
      String(count("negative")),
      scoreText(average),
    ]);
    assert.equal(await page.locator("#sparkline svg polyline").count(), 1);
  });

  test("screenshots at desktop and phone widths, light and dark, without horizontal scrolling", async () => {
    for (const [device, width, height] of [["desktop", 1280, 800], ["phone", 360, 740]]) {
      for (const colorScheme of ["light", "dark"]) {
        const shot = await problems.newPage(browser, { width, height, colorScheme, reducedMotion: "reduce" });
        await openPage(shot);
        await submitWithKeyboard(shot, "Lovely weather today, but the train was late again.");
        await shot.locator("#result .badge").waitFor();
        await screenshot(shot, `${device}-${colorScheme}`);
        await shot.locator(".history").screenshot({ path: join(SCREENSHOT_DIR, `${device}-${colorScheme}-history.png`) });
        const scrollWidth = await shot.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(scrollWidth <= width, `${device} ${colorScheme}: page is ${scrollWidth}px wide in a ${width}px viewport`);
        await shot.context().close();
      }
    }
  });

  test("a submit the service could not take is sent once more with the same key, and shown once", async () => {
    const text = "Retried once, stored once, and that is fine";
    const keys = [];
    await page.route("**/analyze", async (route) => {
      keys.push(route.request().headers()["idempotency-key"]);
      if (keys.length === 1) {
        // The first answer is lost as if a proxy had failed after the backend stored it.
        const stored = await route.fetch();
        assert.equal(stored.status(), 200);
        await route.fulfill({ status: 502, contentType: "application/json", body: '{"error":"bad_gateway","message":"lost"}' });
      } else {
        await route.continue();
      }
    });
    problems.expectFailedResource("/analyze", "status of 502");
    const response = page.waitForResponse(
      (candidate) => new URL(candidate.url()).pathname === "/analyze" && candidate.status() === 200,
    );
    await submitWithKeyboard(page, text);
    const analysis = await (await response).json();
    await page.unroute("**/analyze");
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.equal((await response).headers()["idempotent-replayed"], "true");
    await page.locator(`#history-list > li[data-id="${analysis.id}"]`).waitFor();
    const history = await (await api("/history?limit=100")).json();
    assert.equal(history.filter((item) => item.text === text).length, 1, "stored once");
  });

  test("with every worker stopped, a submit shows the unreachable notice and the form stays usable", async () => {
    const scaled = await admin("/workers", { method: "POST", body: JSON.stringify({ count: 0 }) });
    assert.equal(scaled.status < 300, true, `POST /workers answered ${scaled.status}`);
    for (let poll = 0; ; poll += 1) {
      const backends = await (await admin("/backends")).json();
      if (backends.every((backend) => !backend.healthy)) break;
      assert.ok(poll < POLL_LIMIT, "workers still healthy after scaling to 0");
      await sleep(250);
    }

    problems.expectFailedResource("/analyze", "status of 503");
    const text = "Is anybody there?";
    await submitWithKeyboard(page, text);
    const notice = page.getByRole("alert");
    await notice.filter({ hasText: "can't be reached" }).waitFor();
    assert.match(await notice.textContent(), /can't be reached or is too busy/);
    await screenshot(page, "desktop-light-unreachable");

    // Still usable: the text is kept, the box editable, the button ready for a retry.
    const input = page.getByLabel("Your text");
    assert.equal(await input.inputValue(), text);
    assert.equal(await input.isEditable(), true);
    assert.equal(await page.locator("#analyze-button").getAttribute("aria-disabled"), "false");
  });

  test("with the balancer itself gone, a submit shows the same notice", async () => {
    await stack.stop();
    problems.expectFailedResource("/analyze", "net::ERR_CONNECTION_REFUSED");
    // The page hides the previous notice before it sends; once the request has
    // failed, a visible notice is the answer to this submit.
    const failed = page.waitForEvent("requestfailed", (request) => new URL(request.url()).pathname === "/analyze");
    await submitWithKeyboard(page, "Hello again?");
    await failed;
    const notice = page.getByRole("alert");
    await notice.waitFor();
    assert.equal(await notice.getAttribute("data-kind"), "unavailable");
    assert.match(await notice.textContent(), /can't be reached or is too busy/);
    assert.equal(await page.getByLabel("Your text").inputValue(), "Hello again?");
  });

  test("no console errors or uncaught exceptions on any page", () => {
    assert.deepEqual(problems.problems, []);
  });
});

// browser.mjs — launches Debian's headless Chromium through playwright-core with
// nothing phoning home, and records every console error and uncaught page error.

import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

export async function launchBrowser() {
  // launch() gives every run a fresh throw-away profile (its own --user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Collects problems from every page opened through `newPage`. A failed request
 * that a test provokes on purpose is declared with `expectFailedResource`;
 * any other console error, CSP violation or uncaught exception is a problem.
 */
export class PageProblems {
  constructor() {
    this.problems = [];
    this.expected = [];
  }

  /**
   * Chromium logs "Failed to load resource: …" for a deliberate error: `reason` is
   * the part that follows, e.g. "the server responded with a status of 422" or
   * "net::ERR_CONNECTION_REFUSED".
   */
  expectFailedResource(pathname, reason) {
    this.expected.push({ pathname, reason });
  }

  isExpected(message) {
    const text = message.text();
    if (!text.startsWith("Failed to load resource: ")) return false;
    const url = message.location().url;
    const pathname = url ? new URL(url).pathname : "";
    return this.expected.some((expected) => expected.pathname === pathname && text.includes(expected.reason));
  }

  watch(page) {
    page.on("console", (message) => {
      if (message.type() === "error" && !this.isExpected(message)) {
        this.problems.push(`console error: ${message.text()} (${message.location().url})`);
      }
    });
    page.on("pageerror", (error) => this.problems.push(`page error: ${error.message}`));
    return page;
  }

  /** A new context + page with the given viewport and colour scheme, watched. */
  async newPage(browser, { width = 1280, height = 800, colorScheme = "light", reducedMotion = "no-preference" } = {}) {
    const context = await browser.newContext({
      viewport: { width, height },
      colorScheme,
      reducedMotion,
      locale: "en-US",
    });
    return this.watch(await context.newPage());
  }
}

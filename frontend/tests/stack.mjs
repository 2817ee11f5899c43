// stack.mjs — starts the real local stack (the balancer with managed backend
// workers serving this folder as static files) on free loopback ports, and stops it.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const FRONTEND_DIR = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const REPO_DIR = resolve(FRONTEND_DIR, "..");

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

function balancerBinary() {
  const binary = process.env.BALANCER_BIN || join(REPO_DIR, "target", "release", "balancer");
  if (!existsSync(binary)) {
    throw new Error(
      `balancer binary not found at ${binary}: run \`cargo build --release\` in ${REPO_DIR} ` +
        "(or set BALANCER_BIN to the balancer executable)",
    );
  }
  return binary;
}

/**
 * Starts `balancer` with two managed workers and resolves once it printed its
 * public and admin addresses and `stack ready`.
 * Returns { baseUrl, adminUrl, adminToken, stop() }.
 *
 * The workers get the balancer's default `--db-path data/sentiment.db` and the
 * backend's default `--static-dir frontend`, both relative: running in a fresh
 * folder that holds a `frontend` link to this folder gives them an empty store and
 * this page with no worker flags at all (a `--worker-arg` would replace the default
 * of the same name; the backend itself takes the last of a repeated flag).
 */
export async function startStack() {
  const binary = balancerBinary();
  const workDir = mkdtempSync(join(tmpdir(), "sentiment-e2e-"));
  symlinkSync(FRONTEND_DIR, join(workDir, "frontend"), "dir");
  const adminToken = randomBytes(24).toString("hex");
  const args = [
    "--listen", "127.0.0.1:0",
    "--admin-listen", "127.0.0.1:0",
    "--admin-token", adminToken,
    "--workers", "2",
  ];
  const child = spawn(binary, args, { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  let stderrTail = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));

  /** SIGTERM lets the balancer stop its workers; SIGKILL only if it hangs. */
  async function stop() {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(workDir, { recursive: true, force: true });
  }

  let addresses;
  try {
    addresses = await waitUntilReady(child, exited);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n--- balancer stderr (tail) ---\n${stderrTail}`);
  }
  return { baseUrl: addresses.balancer, adminUrl: addresses.admin, adminToken, stop };
}

/** Resolves with { balancer, admin } URLs once stdout said `stack ready`. */
function waitUntilReady(child, exited) {
  return new Promise((resolveReady, rejectReady) => {
    const found = {};
    let settled = false;
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(
      () => settle(() => rejectReady(new Error(`balancer not ready within ${READY_TIMEOUT_MS} ms`))),
      READY_TIMEOUT_MS,
    );
    exited.then(({ code, signal }) =>
      settle(() => rejectReady(new Error(`balancer exited before it was ready (code ${code}, signal ${signal})`))),
    );
    createInterface({ input: child.stdout }).on("line", (line) => {
      const listening = /^(balancer|admin) listening on (http:\/\/\S+)/.exec(line.trim());
      if (listening) found[listening[1]] = listening[2];
      if (line.trim() === "stack ready" && found.balancer && found.admin) {
        settle(() => resolveReady(found));
      }
    });
  });
}

"""A local stack for the load test: one `balancer` on free loopback ports with N managed workers
sharing a fresh SQLite file, started from a generated config and stopped (SIGTERM) afterwards."""

import json
import os
import re
import selectors
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness import children

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO / "target" / "release" / "balancer"
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20
# Open files for the balancer and its workers: client connections, upstream pools, the store.
DEFAULT_OPEN_FILES = 65536


class StackError(RuntimeError):
    """The local stack did not start or announce itself as the contract says."""


@dataclass
class Stack:
    process: subprocess.Popen
    url: str
    admin_url: str
    admin_token: str
    log_path: Path
    db_path: Path

    def backends(self) -> list[dict]:
        return admin_get(self.admin_url, self.admin_token, "/backends")

    def workers(self) -> list[dict]:
        """Managed workers: slot, address, pid, restarts."""
        return admin_get(self.admin_url, self.admin_token, "/workers")["workers"]

    def wait_all_healthy(self, count: int, timeout_s: float = READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            healthy = [b for b in self.backends() if b.get("healthy") and not b.get("draining")]
            if len(healthy) >= count:
                return
            time.sleep(0.25)
        raise StackError(f"fewer than {count} healthy backends after {timeout_s}s")

    def stop(self):
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def admin_get(admin_url: str, token: str, path: str, timeout_s: float = 10):
    request = urllib.request.Request(
        f"{admin_url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.load(response)


def _toml_value(value) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML values.
    return json.dumps(value)


LOAD_CONNECTIONS = 30_000


def _config(directory: Path, static_dir: Path, health: dict | None) -> Path:
    # The worker arguments replace the defaults (relative data/ and frontend/ paths) through
    # the config file, so the command line names each flag once. (A --worker-arg would do as
    # well: it replaces the default of the same name, and the backend takes the last of a
    # repeated flag.)
    args = ["--host", "127.0.0.1", "--port", "0", "--db-path", str(directory / "lt.db"),
            "--static-dir", str(static_dir)]
    lines = ["[workers]", "args = " + _toml_value(args)]
    # All of locust's users connect from 127.0.0.1 (up to 30,000 at the full suite's highest
    # spawn rate): raise the balancer's per-address bound as one would for a known load
    # generator. The abusive client uses other 127.0.0.0/8 addresses.
    lines += ["[proxy]", f"max_connections = {LOAD_CONNECTIONS}",
              f"max_connections_per_ip = {LOAD_CONNECTIONS}"]
    if health:
        lines += ["[health]"] + [f"{key} = {_toml_value(value)}" for key, value in health.items()]
    path = directory / "balancer.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(directory: Path, *, workers: int, algorithm: str, token: str,
          binary: Path = DEFAULT_BINARY, hash_key: str | None = None,
          health: dict | None = None, open_files: int = DEFAULT_OPEN_FILES) -> Stack:
    """Starts the balancer and waits for `stack ready`; the caller must `stop()` it.

    `health` overrides keys of the balancer's `[health]` section; `open_files` is the
    RLIMIT_NOFILE of the balancer (its workers inherit it)."""
    if not binary.exists():
        raise StackError(f"{binary} is missing: build it with `cargo build --release`")
    directory.mkdir(parents=True, exist_ok=True)
    command = [str(binary), "--config", str(_config(directory, REPO / "frontend", health)),
               "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
               "--admin-token", token, "--workers", str(workers), "--algorithm", algorithm]
    if hash_key:
        command += ["--hash-key", hash_key]
    log_path = directory / "balancer.log"
    log = open(log_path, "ab")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, cwd=directory,
                               preexec_fn=children.preexec(open_files),
                               env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")})
    log.close()
    try:
        url, admin_url = _read_announcements(process)
    except Exception:
        process.kill()
        process.wait(5)
        raise
    # Keep reading stdout so a chatty balancer never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    stack = Stack(process, url, admin_url, token, log_path, directory / "lt.db")
    try:
        stack.wait_all_healthy(workers)
    except Exception:
        stack.stop()
        raise
    return stack


def _read_announcements(process: subprocess.Popen) -> tuple[str, str]:
    found = {}
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT_S
    buffered = b""
    while "ready" not in found:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise StackError(f"balancer did not print `stack ready` (saw {sorted(found)})")
        if not selector.select(remaining):
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            raise StackError("balancer closed stdout before `stack ready`")
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace").strip()
            if match := re.fullmatch(r"balancer listening on (http://\S+)", text):
                found["url"] = match.group(1)
            elif match := re.fullmatch(r"admin listening on (http://\S+)", text):
                found["admin"] = match.group(1)
            elif text == "stack ready":
                found["ready"] = True
    selector.close()
    if "url" not in found or "admin" not in found:
        raise StackError("balancer said `stack ready` without announcing both listeners")
    return found["url"], found["admin"]

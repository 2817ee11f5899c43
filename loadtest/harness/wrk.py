"""wrk runs: generated Lua scripts (request bodies, per-request client keys, a JSON summary at
the end) and the sweep over connection counts for `/`, `/history` and `POST /analyze`."""

import json
import shutil
import subprocess
from pathlib import Path

from harness import corpus

SUBPROCESS_MARGIN_S = 30


class WrkError(RuntimeError):
    """wrk is missing, did not stop in time or printed no summary."""

# Printed by wrk after the run; the runner reads the last line starting with `{`.
_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
"""

# Per-thread ids and a counter make a distinct X-Client-Id on every request, so a balancer
# hashing on that header sees many keys.
_CLIENT_KEYS = """
local threads_started = 0
function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_id", threads_started)
end
local sent = 0
local function client_key()
  sent = sent + 1
  return tostring(thread_id) .. "-" .. tostring(sent)
end
"""


def _lua_string(text: str) -> str:
    return '"' + "".join(f"\\{b}" for b in text.encode("utf-8")) + '"'


def script(endpoint: str) -> str:
    """The Lua script for one endpoint: `/`, `/history` or `POST /analyze`."""
    if endpoint != "POST /analyze":
        return _CLIENT_KEYS + """
function request()
  return wrk.format("GET", nil, {["X-Client-Id"] = client_key()})
end
""" + _DONE
    bodies = ",\n  ".join(_lua_string(json.dumps({"text": t})) for t in corpus.ALL)
    return _CLIENT_KEYS + f"""
local bodies = {{
  {bodies}
}}
function request()
  local body = bodies[(sent % #bodies) + 1]
  return wrk.format("POST", "/analyze",
    {{["Content-Type"] = "application/json", ["X-Client-Id"] = client_key()}}, body)
end
""" + _DONE


def path_of(endpoint: str) -> str:
    return {"/": "/", "/history": "/history", "POST /analyze": "/analyze"}[endpoint]


def run(host: str, endpoint: str, connections: int, duration_s: int, directory: Path,
        threads: int = 2) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    name = {"/": "root", "/history": "history", "POST /analyze": "analyze"}[endpoint]
    lua = directory / f"{name}.lua"
    lua.write_text(script(endpoint), encoding="utf-8")
    command = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections),
               "-d", f"{duration_s}s", "--timeout", "5s", "-s", str(lua),
               host.rstrip("/") + path_of(endpoint)]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False,
                                   timeout=duration_s + SUBPROCESS_MARGIN_S)
    except subprocess.TimeoutExpired as error:
        raise WrkError(f"wrk {endpoint} -c{connections} did not stop in time") from error
    (directory / f"{name}-c{connections}.txt").write_text(completed.stdout + completed.stderr)
    summary = next((json.loads(line) for line in reversed(completed.stdout.splitlines())
                    if line.startswith("{")), None)
    if summary is None:
        raise WrkError(f"wrk printed no summary: {completed.stderr.strip()}")
    seconds = summary["duration_us"] / 1e6
    errors = sum(summary["errors"].values())
    return {"endpoint": endpoint, "connections": connections, "requests": summary["requests"],
            "rps": summary["requests"] / seconds, "errors": errors,
            "errors_by_kind": summary["errors"], **summary["latency_ms"]}


def sweep(host: str, endpoints: tuple[str, ...], connections: tuple[int, ...], duration_s: int,
          directory: Path) -> list[dict]:
    if shutil.which("wrk") is None:
        raise WrkError("wrk is not installed (apt-get install wrk)")
    return [run(host, endpoint, c, duration_s, directory)
            for endpoint in endpoints for c in connections]

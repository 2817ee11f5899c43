"""The faults the suite injects into its own local stack, each undone whatever happens:
`kill -9` of a managed worker, `SIGSTOP` of a worker (always followed by `SIGCONT`), the store
made unavailable for writes by an outside process holding SQLite's write lock, and the abusive
client mix (`harness/abuse.py`) as a bounded subprocess.

Only workers of our own stack are signalled: their pids come from our balancer's admin API and
must be its children. Times are seconds on the run's time base (`clock()`, or `since_origin()` of
a time another process took)."""

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import children
from harness.stack import Stack

LOADTEST = Path(__file__).resolve().parents[1]
# Beyond the lock's own duration: Python start-up and waiting for the lock itself.
STORE_LOCK_MARGIN_S = 20.0
# Beyond the abuse's duration: opening and closing its sockets, writing its summary.
ABUSE_MARGIN_S = 30.0

Clock = Callable[[], float]
SinceOrigin = Callable[[float], float]


class InjectionError(RuntimeError):
    """A fault could not be injected as planned (no such worker, a helper did not start)."""


def our_worker(stack: Stack, slot: int) -> dict:
    """The managed worker in `slot`, checked to be a child of our balancer."""
    workers = [w for w in stack.workers() if w["pid"] and w["address"]]
    if not workers:
        raise InjectionError("the balancer reports no running worker")
    worker = workers[slot % len(workers)]
    found = children.status(worker["pid"])
    if found is None or found.parent != stack.process.pid:
        raise InjectionError(f"pid {worker['pid']} is not a worker of our balancer")
    return worker


def in_flight(stack: Stack, address: str) -> int | None:
    return next((b["in_flight"] for b in stack.backends() if b["address"] == address), None)


def kill_worker(stack: Stack, slot: int, clock: Clock) -> dict:
    """`kill -9` of one worker; notes the requests the balancer had in flight on it."""
    worker = our_worker(stack, slot)
    before = in_flight(stack, worker["address"])
    os.kill(worker["pid"], signal.SIGKILL)
    at = clock()
    after = in_flight(stack, worker["address"])
    return {"slot": worker["slot"], "pid": worker["pid"], "address": worker["address"],
            "at": at, "in_flight_before": before, "in_flight_after": after}


def hang_worker(stack: Stack, slot: int, seconds: float, clock: Clock) -> dict:
    """`SIGSTOP` of one worker for `seconds`, then `SIGCONT`, also when interrupted."""
    worker = our_worker(stack, slot)
    os.kill(worker["pid"], signal.SIGSTOP)
    fault = {"slot": worker["slot"], "pid": worker["pid"], "address": worker["address"],
             "at": clock()}
    try:
        time.sleep(seconds)
    finally:
        try:
            os.kill(worker["pid"], signal.SIGCONT)
        except ProcessLookupError:
            pass
        fault["resumed_at"] = clock()
    return fault


def _read_event(process: subprocess.Popen, word: str, timeout_s: float) -> float | None:
    """The time in a `<word> <epoch seconds>` line of the helper, or None when it said something
    else, closed its output or the time ran out."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return None
    fields = process.stdout.readline().decode("utf-8", "replace").split()
    return float(fields[1]) if len(fields) == 2 and fields[0] == word else None


def _stop(process: subprocess.Popen):
    if process.poll() is None:
        process.kill()
    process.wait(10)


def store_outage(db_path: Path, seconds: float, since_origin: SinceOrigin) -> dict:
    """SQLite's write lock held for `seconds` by another process (`harness/store_lock.py`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.store_lock", str(db_path), str(seconds)],
        cwd=LOADTEST, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=children.die_with_parent)
    try:
        locked = _read_event(process, "locked", STORE_LOCK_MARGIN_S)
        if locked is None:
            raise InjectionError("the store lock holder did not take the lock: "
                                 + process.stderr.read1(2000).decode("utf-8", "replace"))
        released = _read_event(process, "released", seconds + STORE_LOCK_MARGIN_S)
        if released is None:
            raise InjectionError("the store lock holder did not release the lock in time")
        return {"at": since_origin(locked), "released_at": since_origin(released),
                "db_path": str(db_path)}
    finally:
        _stop(process)


# The abusive client's parts run in three processes side by side, so the idle connections (tens
# of thousands of connects when the server keeps closing them) do not starve the uploads.
ABUSE_GROUPS = (("uploads",), ("slowloris", "oversized", "garbage"), ("idle",))


def abusive_mix(port: int, seconds: float, idle: int, idle_addresses: int, slowloris: int,
                summary: Path, clock: Clock) -> dict:
    """Runs `harness/abuse.py` against 127.0.0.1:`port` for `seconds`, its parts in groups of
    processes; writes their merged summary to `summary`."""
    at = clock()
    processes = []
    try:
        for group in ABUSE_GROUPS:
            name = "-".join(group)
            command = [sys.executable, "-m", "harness.abuse", "--port", str(port),
                       "--duration-s", str(seconds), "--idle", str(idle),
                       "--idle-addresses", str(idle_addresses), "--slowloris", str(slowloris),
                       "--parts", ",".join(group),
                       "--out", str(summary.with_name(f"abuse-{name}.json"))]
            with open(summary.with_name(f"abuse-{name}.log"), "wb") as log:
                processes.append((name, subprocess.Popen(
                    command, cwd=LOADTEST, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=children.die_with_parent)))
        deadline = time.monotonic() + seconds + ABUSE_MARGIN_S
        for name, process in processes:
            try:
                code = process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as error:
                raise InjectionError(f"the abusive client ({name}) did not stop in time") \
                    from error
            if code != 0:
                raise InjectionError(f"the abusive client ({name}) failed (exit {code}); see "
                                     f"abuse-{name}.log")
    finally:
        for _, process in processes:
            _stop(process)
    ended_at = clock()
    merged = merge_abuse([json.loads(summary.with_name(f"abuse-{name}.json").read_text(
        encoding="utf-8")) for name, _ in processes])
    summary.write_text(json.dumps(merged, indent=1), encoding="utf-8")
    return {"at": at, "ended_at": ended_at, "summary_path": summary.name}


def merge_abuse(summaries: list[dict]) -> dict:
    """One summary from those of the abusive client's processes (each ran some of the parts)."""
    merged = {**summaries[0], "sources": {}, "parts": {}}
    for one in summaries:
        merged["sources"].update(one["sources"])
        merged["parts"].update(one["parts"])
    return merged

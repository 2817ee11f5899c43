"""One headless locust run as a subprocess (optionally forked into several locust processes),
bounded in time, and its recorded results merged into one timeline."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness import children
from harness.record_settings import (RECORD_DIR_VARIABLE, REQUEST_LOG_VARIABLE,
                                     TIME_ORIGIN_VARIABLE)
from harness.stats import summarize

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
STOP_TIMEOUT_S = 5
# Beyond the run time: locust start-up, stopping users, writing CSVs.
SUBPROCESS_MARGIN_S = 60
KILL_TIMEOUT_S = 10
# How long forked locust workers may take to quit after their master (stopping users, writing).
WORKER_EXIT_TIMEOUT_S = 30
# Each user holds a connection: the high spawn rates run tens of thousands of users.
LOCUST_OPEN_FILES = 65536


class LocustError(RuntimeError):
    """Locust did not run or left no timeline behind."""


@dataclass(frozen=True)
class Plan:
    name: str
    users: int
    spawn_rate: float
    run_time_s: int
    wait_s: tuple[float, float]
    # Locust processes to fork (`--processes`); 0 runs a single process.
    processes: int = 0
    # A steady offered rate: each user runs this many tasks a second instead of waiting `wait_s`.
    tasks_per_s: float | None = None
    # Keep every request (start, ms, failure kind) in the timeline, for fault windows.
    request_log: bool = False


@dataclass
class Result:
    plan: Plan
    seconds: list[dict]
    spawn_complete_s: int | None
    cpu_warnings: int
    failure_reasons: list[tuple[str, int]]
    directory: Path
    log: list[tuple[float, float, str | None]]

    def total(self) -> dict:
        return summarize(self.seconds)

    def steady(self) -> dict:
        """Summary after all users were spawned, without the last, partial second."""
        start = self.spawn_complete_s + 1 if self.spawn_complete_s is not None else 0
        window = [s for s in self.seconds if start <= s["t"] < self.seconds[-1]["t"]]
        return summarize(window or self.seconds)


class Running:
    """A locust run in progress, in its own process group so it can be stopped as a whole."""

    def __init__(self, host: str, plan: Plan, directory: Path, origin: float):
        directory.mkdir(parents=True, exist_ok=True)
        # The folder is this run's: what an earlier run left there must not be merged in.
        for stale in [*directory.glob("timeline-*.json"), *directory.glob("ids-*.txt")]:
            stale.unlink()
        self.plan, self.directory = plan, directory
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
            "--users", str(plan.users), "--spawn-rate", str(plan.spawn_rate),
            "--run-time", f"{plan.run_time_s}s", "--stop-timeout", str(STOP_TIMEOUT_S),
            "--csv", str(directory / "locust"), "--only-summary", "--loglevel", "WARNING",
        ]
        if plan.processes:
            command += ["--processes", str(plan.processes)]
        env = {
            **os.environ,
            RECORD_DIR_VARIABLE: str(directory),
            "LOADTEST_WAIT_MIN": str(plan.wait_s[0]),
            "LOADTEST_WAIT_MAX": str(plan.wait_s[1]),
            TIME_ORIGIN_VARIABLE: repr(origin),
            REQUEST_LOG_VARIABLE: "1" if plan.request_log else "0",
        }
        env.pop("LOADTEST_TASKS_PER_S", None)
        if plan.tasks_per_s:
            env["LOADTEST_TASKS_PER_S"] = str(plan.tasks_per_s)
        self.deadline = time.monotonic() + plan.run_time_s + STOP_TIMEOUT_S + SUBPROCESS_MARGIN_S
        with open(directory / "locust.log", "wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=children.preexec(LOCUST_OPEN_FILES))

    def finish(self) -> Result:
        """Waits for the run to end by itself (bounded) and reads what it recorded."""
        try:
            self.process.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired as error:
            self.stop()
            raise LocustError(f"locust run {self.plan.name} did not stop in time") from error
        # Locust's master can exit while a forked worker is still stopping its users (it stops
        # waiting for a worker that is busy); the worker writes its timeline when it quits.
        if not self._wait_for_group(max(WORKER_EXIT_TIMEOUT_S,
                                        self.deadline - time.monotonic())):
            self.stop()
            raise LocustError(f"locust workers of run {self.plan.name} did not stop in time")
        return _read(self.plan, self.directory)

    def _wait_for_group(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while children.group_members(self.process.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self):
        """Stops every locust process of the run still running: SIGTERM to the group, then
        SIGKILL."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is None or children.group_members(self.process.pid):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(KILL_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
                self._wait_for_group(KILL_TIMEOUT_S)


def start(host: str, plan: Plan, directory: Path, origin: float | None = None) -> Running:
    """Starts locust; `origin` (seconds since the epoch) is time 0 of the recorded timeline."""
    return Running(host, plan, directory, time.time() if origin is None else origin)


def run(host: str, plan: Plan, directory: Path) -> Result:
    running = start(host, plan, directory)
    try:
        return running.finish()
    finally:
        running.stop()


def _read(plan: Plan, directory: Path) -> Result:
    timelines = [json.loads(path.read_text(encoding="utf-8"))
                 for path in sorted(directory.glob("timeline-*.json"))]
    if not timelines:
        raise LocustError(f"locust run {plan.name} left no timeline; see {directory}/locust.log")
    merged = merge(timelines)
    if not merged["seconds"] or not any(s["requests"] for s in merged["seconds"]):
        raise LocustError(f"locust run {plan.name} recorded no requests")
    return Result(plan, merged["seconds"], merged["spawn_complete_s"], merged["cpu_warnings"],
                  _failure_reasons(directory / "locust_failures.csv"), directory, merged["log"])


def merge(timelines: list[dict]) -> dict:
    """One timeline from the recorders of all locust processes of a run: requests, failures and
    response times add up; users and the spawn time come from the process that runs the users'
    count (the master, or the only process)."""
    requests, failures, ms = defaultdict(int), defaultdict(int), defaultdict(list)
    users = {}
    log = []
    counting = [t for t in timelines if t.get("role", "local") in ("master", "local")]
    for timeline in timelines:
        for second in timeline["seconds"]:
            requests[second["t"]] += second["requests"]
            failures[second["t"]] += second["failures"]
            ms[second["t"]] += second["ms"]
        log += timeline.get("log", [])
    for timeline in counting:
        for second in timeline["seconds"]:
            if second["users"] is not None:
                users[second["t"]] = users.get(second["t"], 0) + second["users"]
    spawned = [t["spawn_complete_s"] for t in counting if t["spawn_complete_s"] is not None]
    return {
        "seconds": [{"t": t, "requests": requests.get(t, 0), "failures": failures.get(t, 0),
                     "users": users.get(t), "ms": ms.get(t, [])}
                    for t in sorted(set(requests) | set(users))],
        "spawn_complete_s": max(spawned) if spawned else None,
        "cpu_warnings": sum(t["cpu_warnings"] for t in timelines),
        "log": sorted(log, key=lambda entry: entry[0]),
    }


def _failure_reasons(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(f"{r['Method']} {r['Name']}: {r['Error']}", int(r["Occurrences"]))
                for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda row: -row[1])


def acknowledged(root: Path) -> dict[str, tuple[float, float]]:
    """Every analysis id the locust users recorded under `root`, with the seconds (on the run's
    time base) its request started and was answered."""
    ids = {}
    for path in root.rglob("ids-*.txt"):
        for fields in (line.split() for line in path.read_text(encoding="utf-8").splitlines()):
            if not fields:
                continue
            # A locust process killed mid-line leaves an id without its times: still checked.
            times = (float(fields[1]), float(fields[2])) if len(fields) == 3 else (0.0, 0.0)
            ids[fields[0]] = times
    return ids


def acknowledged_ids(root: Path) -> set[str]:
    """Every analysis id the locust users recorded under `root`."""
    return set(acknowledged(root))

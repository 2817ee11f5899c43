"""The fault and abuse suite: locust offers a steady rate to a local stack while the harness
injects, one after another with a quiet gap between them, `kill -9` of a worker, `SIGSTOP` of a
worker, the store unavailable for writes and the abusive client mix; then every acknowledged
analysis is looked up in history and each fault window is judged against its target.

Legitimate load comes from 127.0.0.1, the abuse from 127.0.0.2 and up. Every step is bounded
in time; every process started here is stopped before `run` returns, also when interrupted."""

import json
import math
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness import fault_analysis, injectors, locust_runs, lost, monitor
from harness.stack import Stack
from harness.stats import percentile

# Beyond the planned schedule, so a fault that overran still has its quiet gap under load.
LOAD_SLACK_S = 10
KILL_SLOT, HANG_SLOT = 0, 1


@dataclass(frozen=True)
class Settings:
    users: int
    tasks_per_s: float          # per user: users x tasks_per_s is the offered rate
    spawn_rate: float
    processes: int              # locust processes (`--processes`)
    warmup_s: float             # ramp and a baseline before the first fault
    gap_s: float                # quiet time under load after each fault
    kill_window_s: float        # how long after a `kill -9` counts as "during"
    hang_s: float               # SIGSTOP to SIGCONT
    store_outage_s: float       # SQLite write lock held by another process
    abuse_s: float
    idle_connections: int
    idle_addresses: int
    slowloris: int
    health: dict                # the balancer's [health] settings for this stack

    @property
    def offered_rps(self) -> float:
        return self.users * self.tasks_per_s

    @property
    def health_interval_s(self) -> float:
        return self.health["interval_ms"] / 1000

    def planned_s(self) -> float:
        return (self.warmup_s + self.kill_window_s + self.hang_s + self.store_outage_s
                + self.abuse_s + 4 * self.gap_s)


class Schedule:
    """Fault windows on the run's time base, each with a quiet gap after it."""

    def __init__(self, origin: float, gap_s: float):
        self.origin, self.gap_s = origin, gap_s
        self.windows: list[dict] = []

    def clock(self) -> float:
        return self.since_origin(time.time())

    def since_origin(self, epoch_s: float) -> float:
        return epoch_s - self.origin

    def wait_until(self, t: float):
        time.sleep(max(0.0, t - self.clock()))

    def add(self, key: str, fault: str, start: float, end: float, detail: dict):
        if self.windows:
            self.windows[-1]["after_end"] = start
        self.windows.append({"key": key, "fault": fault, "start": round(start, 3),
                             "end": round(end, 3), "after_end": math.inf, "detail": detail})

    def quiet_gap(self):
        self.wait_until(self.windows[-1]["end"] + self.gap_s)


def inject_all(stack: Stack, settings: Settings, schedule: Schedule, out: Path):
    clock = schedule.clock
    schedule.wait_until(settings.warmup_s)
    schedule.add("baseline", "none (baseline)", 0.0, clock(), {})

    print("fault: kill -9 of a worker ...", flush=True)
    killed = injectors.kill_worker(stack, KILL_SLOT, clock)
    schedule.add("kill", "kill -9 of a worker", killed["at"],
                 killed["at"] + settings.kill_window_s, killed)
    schedule.wait_until(schedule.windows[-1]["end"])
    schedule.quiet_gap()

    print(f"fault: SIGSTOP of a worker for {settings.hang_s:g} s ...", flush=True)
    hung = injectors.hang_worker(stack, HANG_SLOT, settings.hang_s, clock)
    schedule.add("hang", f"SIGSTOP of a worker for {settings.hang_s:g} s", hung["at"],
                 hung["resumed_at"], hung)
    schedule.quiet_gap()

    print(f"fault: store unavailable for writes for {settings.store_outage_s:g} s ...",
          flush=True)
    outage = injectors.store_outage(stack.db_path, settings.store_outage_s,
                                    schedule.since_origin)
    schedule.add("store", f"store unavailable for writes for {settings.store_outage_s:g} s",
                 outage["at"], outage["released_at"], outage)
    schedule.quiet_gap()

    print(f"fault: abusive client mix for {settings.abuse_s:g} s ...", flush=True)
    abuse = injectors.abusive_mix(
        urllib.parse.urlsplit(stack.url).port, settings.abuse_s, settings.idle_connections,
        settings.idle_addresses, settings.slowloris, out / "abuse.json", clock)
    schedule.add("abuse", f"abusive client mix for {settings.abuse_s:g} s", abuse["at"],
                 abuse["ended_at"], abuse)
    schedule.quiet_gap()


def run(stack: Stack, settings: Settings, out: Path) -> dict:
    """Runs the whole suite against `stack`; the caller owns (and stops) the stack."""
    origin = time.time()
    schedule = Schedule(origin, settings.gap_s)
    plan = locust_runs.Plan(
        name="faults", users=settings.users, spawn_rate=settings.spawn_rate,
        run_time_s=math.ceil(settings.planned_s() + LOAD_SLACK_S), wait_s=(1.0, 1.0),
        processes=settings.processes, tasks_per_s=settings.tasks_per_s, request_log=True)
    load = locust_runs.start(stack.url, plan, out / "locust", origin)
    try:
        with monitor.Monitor(stack, origin) as admin:
            inject_all(stack, settings, schedule, out)
            print("waiting for locust to finish ...", flush=True)
            result = load.finish()
    finally:
        load.stop()
    # The last quiet gap runs to the end of the load (the log is never empty: locust_runs checks).
    schedule.windows[-1]["after_end"] = result.log[-1][0] + 1
    print("checking that no acknowledged analysis is lost ...", flush=True)
    acknowledged = locust_runs.acknowledged(out / "locust")
    missing, pages, rows = lost.find_missing(stack.url, set(acknowledged))
    table = fault_analysis.table(schedule.windows, result.log, acknowledged, missing,
                                 admin.samples, settings.health_interval_s,
                                 monitor.POLL_INTERVAL_S)
    return {
        "settings": {**settings.__dict__, "offered_rps": settings.offered_rps},
        "rows": table,
        "timeline": [{"t": s["t"], "requests": s["requests"], "failures": s["failures"],
                      "users": s["users"], "p99_ms": percentile(sorted(s["ms"]), 0.99)}
                     for s in result.seconds],
        "spawn_complete_s": result.spawn_complete_s,
        "cpu_warnings": result.cpu_warnings,
        "failure_reasons": result.failure_reasons,
        "lost": {"checked": len(acknowledged), "missing": len(missing),
                 "missing_sample": sorted(missing)[:20], "pages_read": pages, "rows_read": rows},
        "monitor": admin.samples,
        "monitor_interval_s": monitor.POLL_INTERVAL_S,
        "abuse": _read_json(out / "abuse.json"),
    }


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))

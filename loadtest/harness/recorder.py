"""Inside the locust process: a per-second timeline (requests, failures, users, response times)
and the ids of every analysis answered 200, written under $LOADTEST_RECORD_DIR for `loadtest/run`.

Locust's own CSV gives whole-run aggregates; the runner needs steady-state windows (after the
ramp) and failures over time, hence this small recorder. Without the variable it does nothing, so
the locustfile also runs as a plain interactive locustfile.

Requests are counted in the second they started, on the wall clock, from $LOADTEST_TIME_ORIGIN
(seconds since the epoch) when given, else from the start of the test: with `--processes` every
locust process, and the harness injecting faults, then share one time base. With
$LOADTEST_REQUEST_LOG=1 every request is also kept (start, milliseconds, failure kind), so a
fault window can be cut out to the millisecond."""

import json
import os
import time
from collections import defaultdict
from pathlib import Path

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from harness.failure_kinds import failure_kind
from harness.record_settings import (RECORD_DIR_VARIABLE, REQUEST_LOG_VARIABLE,
                                     TIME_ORIGIN_VARIABLE)


def _role(runner) -> str:
    if isinstance(runner, MasterRunner):
        return "master"
    return "worker" if isinstance(runner, WorkerRunner) else "local"


class Recorder:
    def __init__(self, directory: Path, role: str):
        self.directory = directory
        self.role = role
        self.origin = float(os.environ.get(TIME_ORIGIN_VARIABLE) or time.time())
        self.log = [] if os.environ.get(REQUEST_LOG_VARIABLE) == "1" else None
        self.requests = defaultdict(int)
        self.failures = defaultdict(int)
        self.users = {}
        self.response_ms = defaultdict(list)
        self.spawn_complete_s = None
        self.cpu_warnings = 0
        directory.mkdir(parents=True, exist_ok=True)
        # One file per process, appended line by line: ids survive even if locust is killed.
        self.ids = open(directory / f"ids-{os.getpid()}.txt", "a", buffering=1, encoding="utf-8")

    def since_origin(self, at: float | None = None) -> float:
        return (time.time() if at is None else at) - self.origin

    def second(self) -> int:
        return int(self.since_origin())

    def on_request(self, response_time, exception, response=None, start_time=None, **_):
        started = self.since_origin(start_time)
        second = int(started)
        self.requests[second] += 1
        if exception is not None:
            self.failures[second] += 1
        self.response_ms[second].append(round(response_time, 1))
        if self.log is not None:
            kind = None if exception is None else failure_kind(response, exception)
            self.log.append((round(started, 3), round(response_time, 1), kind))

    def acknowledge(self, analysis_id: str, started: float):
        """Notes an id with the times its request started and was answered, so a loss can be
        placed in time."""
        self.ids.write(f"{analysis_id}\t{self.since_origin(started):.3f}"
                       f"\t{self.since_origin():.3f}\n")

    def sample_users(self, runner):
        while True:
            self.users[self.second()] = runner.user_count
            gevent.sleep(1.0)

    def write(self):
        self.ids.close()
        seconds = sorted(set(self.requests) | set(self.users))
        timeline = {
            "role": self.role,
            "origin": self.origin,
            "spawn_complete_s": self.spawn_complete_s,
            "cpu_warnings": self.cpu_warnings,
            "seconds": [
                {
                    "t": s,
                    "requests": self.requests.get(s, 0),
                    "failures": self.failures.get(s, 0),
                    "users": self.users.get(s),
                    "ms": self.response_ms.get(s, []),
                }
                for s in seconds
            ],
        }
        if self.log is not None:
            timeline["log"] = self.log
        path = self.directory / f"timeline-{os.getpid()}.json"
        path.write_text(json.dumps(timeline), encoding="utf-8")


_recorder: Recorder | None = None


def acknowledge(analysis_id: str, started: float):
    """Notes an analysis the service acknowledged just now (its request started at `started`,
    seconds since the epoch), for the lost-analysis check."""
    if _recorder is not None:
        _recorder.acknowledge(analysis_id, started)


def install():
    """Hooks the recorder into locust's events when $LOADTEST_RECORD_DIR is set."""
    directory = os.environ.get(RECORD_DIR_VARIABLE)
    if not directory:
        return

    @events.test_start.add_listener
    def start(environment, **_):
        global _recorder
        _recorder = Recorder(Path(directory), _role(environment.runner))
        environment.events.request.add_listener(_recorder.on_request)
        gevent.spawn(_recorder.sample_users, environment.runner)

    @events.spawning_complete.add_listener
    def spawned(**_):
        if _recorder is not None and _recorder.spawn_complete_s is None:
            _recorder.spawn_complete_s = _recorder.second()

    @events.cpu_warning.add_listener
    def cpu_warning(**_):
        if _recorder is not None:
            _recorder.cpu_warnings += 1

    @events.quitting.add_listener
    def quitting(**_):
        if _recorder is not None:
            _recorder.write()

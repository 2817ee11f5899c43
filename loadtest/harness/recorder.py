"""Inside the locust process: a per-second timeline (requests, failures, users, response times)
and the ids of every analysis answered 200, written under $LOADTEST_RECORD_DIR for `loadtest/run`.

Locust's own CSV gives whole-run aggregates; the runner needs steady-state windows (after the
ramp) and failures over time, hence this small recorder. Without the variable it does nothing, so
the locustfile also runs as a plain interactive locustfile."""

import json
import os
import time
from collections import defaultdict
from pathlib import Path

import gevent
from locust import events

RECORD_DIR_VARIABLE = "LOADTEST_RECORD_DIR"


class Recorder:
    def __init__(self, directory: Path):
        self.directory = directory
        self.started = time.monotonic()
        self.requests = defaultdict(int)
        self.failures = defaultdict(int)
        self.users = {}
        self.response_ms = defaultdict(list)
        self.spawn_complete_s = None
        self.cpu_warnings = 0
        directory.mkdir(parents=True, exist_ok=True)
        # One file per process, appended line by line: ids survive even if locust is killed.
        self.ids = open(directory / f"ids-{os.getpid()}.txt", "a", buffering=1, encoding="utf-8")

    def second(self) -> int:
        return int(time.monotonic() - self.started)

    def on_request(self, response_time, exception, **_):
        second = self.second()
        self.requests[second] += 1
        if exception is not None:
            self.failures[second] += 1
        self.response_ms[second].append(round(response_time, 1))

    def acknowledge(self, analysis_id: str):
        self.ids.write(analysis_id + "\n")

    def sample_users(self, runner):
        while True:
            self.users[self.second()] = runner.user_count
            gevent.sleep(1.0)

    def write(self):
        self.ids.close()
        seconds = sorted(set(self.requests) | set(self.users))
        timeline = {
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
        path = self.directory / f"timeline-{os.getpid()}.json"
        path.write_text(json.dumps(timeline), encoding="utf-8")


_recorder: Recorder | None = None


def acknowledge(analysis_id: str):
    """Notes an analysis the service acknowledged, for the lost-analysis check."""
    if _recorder is not None:
        _recorder.acknowledge(analysis_id)


def install():
    """Hooks the recorder into locust's events when $LOADTEST_RECORD_DIR is set."""
    directory = os.environ.get(RECORD_DIR_VARIABLE)
    if not directory:
        return

    @events.test_start.add_listener
    def start(environment, **_):
        global _recorder
        _recorder = Recorder(Path(directory))
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

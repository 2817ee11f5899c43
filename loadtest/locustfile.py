"""Locust users for the sentiment service: analyse realistic texts and read history.

Every response is checked (status and JSON shape), so a wrong answer counts as a failure.
Tunable through the environment (defaults in brackets):
  LOADTEST_ANALYZE_WEIGHT [1], LOADTEST_HISTORY_WEIGHT [2]  task weights, like the classic file
  LOADTEST_WAIT_MIN [1], LOADTEST_WAIT_MAX [5]              seconds between a user's tasks
  LOADTEST_TASKS_PER_S                                       instead of waiting: each user runs
                                                             this many tasks a second on average
                                                             (a steady offered rate: users x this)
  LOADTEST_RECORD_DIR                                        where `loadtest/run` collects the
                                                             timeline and acknowledged ids
Run it by hand:  locust -f loadtest/locustfile.py --host http://127.0.0.1:8080
"""

import os
import random
import time
import uuid

from locust import FastHttpUser, between, task

from harness import corpus, recorder
from harness.checks import ShapeError, check_analysis, check_history
from harness.pacing import jittered_throughput

recorder.install()

HISTORY_LIMITS = (10, 20, 50)


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _wait_time():
    if os.environ.get("LOADTEST_TASKS_PER_S"):
        return jittered_throughput(_env_number("LOADTEST_TASKS_PER_S", 1))
    return between(_env_number("LOADTEST_WAIT_MIN", 1), _env_number("LOADTEST_WAIT_MAX", 5))


class SentimentUser(FastHttpUser):
    wait_time = _wait_time()

    def on_start(self):
        self.rng = random.Random()
        # A stable per-user key, so a balancer hashing on `header:X-Client-Id` spreads users.
        self.client_id = uuid.uuid4().hex

    @task(int(_env_number("LOADTEST_ANALYZE_WEIGHT", 1)))
    def analyze(self):
        text = corpus.pick(self.rng)
        started = time.time()
        with self.client.post(
            "/analyze",
            json={"text": text},
            # As the page does: a key per analysis lets the balancer retry it on another
            # worker after a timeout or a broken connection without storing it twice.
            headers={"X-Client-Id": self.client_id, "Idempotency-Key": f'"{uuid.uuid4().hex}"'},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                analysis_id = check_analysis(response.json(), sent_text=text)
            except (ValueError, ShapeError) as error:
                response.failure(f"bad analysis: {error}")
                return
            recorder.acknowledge(analysis_id, started)
            response.success()

    @task(int(_env_number("LOADTEST_HISTORY_WEIGHT", 2)))
    def history(self):
        limit = self.rng.choice(HISTORY_LIMITS)
        with self.client.get(
            f"/history?limit={limit}",
            headers={"X-Client-Id": self.client_id},
            name="/history?limit=[n]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                check_history(response.json(), limit)
            except (ValueError, ShapeError) as error:
                response.failure(f"bad history: {error}")
                return
            response.success()

"""Short mixed load for deploy/rehearse (used when the repo has no loadtest/locustfile.py).

Every request must succeed: a rolling update behind the balancer may not fail any.
"""

import random

from locust import HttpUser, between, task

TEXTS = [
    "I love this, it is wonderful!",
    "This is terrible and I hate it.",
    "The meeting is at noon.",
    "Not bad at all, quite good actually :)",
]


class Visitor(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(3)
    def analyze(self):
        self.client.post("/analyze", json={"text": random.choice(TEXTS)})

    @task(2)
    def history(self):
        self.client.get("/history?limit=10", name="/history")

    @task(1)
    def page(self):
        self.client.get("/")

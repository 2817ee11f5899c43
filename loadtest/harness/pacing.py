"""Steady-rate pacing for locust users (a `wait_time` function), free of locust imports."""

import random
import time


def jittered_throughput(tasks_per_s: float):
    """Like locust's `constant_throughput`, but each period is drawn from 0.5-1.5 times the mean:
    users that a hung backend released together spread out again within a few periods instead of
    moving in lockstep (bursts every period with silence between them)."""
    mean_period = 1.0 / tasks_per_s

    def wait_time(user) -> float:
        now = time.monotonic()
        ran = now - getattr(user, "_period_started", now)
        user._period_started = now + max(0.0, mean_period * random.uniform(0.5, 1.5) - ran)
        return user._period_started - now

    return wait_time

"""The suites: `quick` (CI smoke, under 3 minutes on 2 cores) and `full` (the classic 60 s
locust runs, a 10 s wrk sweep and 2 to 6 workers per algorithm) answer the capacity questions;
`faults` (about 3 minutes) and `faults-quick` (CI, about 2) inject faults under a steady load."""

from dataclasses import dataclass

from harness import capacity, concurrency, distribution, faults

ALGORITHMS = ("round-robin", "least-connections", "consistent-hash")
WRK_ENDPOINTS = ("/", "/history", "POST /analyze")
WRK_CONNECTIONS = (10, 50, 100, 150, 200)
# Short waits for the capacity search (fewer users per RPS, less load-generator overhead);
# the classic locustfile's 1-5 s for the concurrency runs, where users should behave like people.
CAPACITY_WAIT_S = (0.2, 0.6)
CLASSIC_WAIT_S = (1.0, 5.0)


@dataclass(frozen=True)
class Suite:
    name: str
    stack_workers: int
    capacity: capacity.Settings
    concurrency: concurrency.Settings
    wrk_duration_s: int
    distribution: distribution.Settings


SUITES = {
    "quick": Suite(
        name="quick",
        stack_workers=2,
        capacity=capacity.Settings(users=(10, 30, 60), ramp_s=2, hold_s=8,
                                   wait_s=CAPACITY_WAIT_S),
        concurrency=concurrency.Settings(spawn_rates=(25, 50, 100), run_time_s=6,
                                         wait_s=CLASSIC_WAIT_S),
        wrk_duration_s=1,
        distribution=distribution.Settings(algorithms=ALGORITHMS, worker_counts=(2, 4),
                                           connections=20, duration_s=1),
    ),
    "full": Suite(
        name="full",
        stack_workers=2,
        capacity=capacity.Settings(
            users=(25, 50, 100, 200, 300, 400, 600, 800, 1000, 1300, 1600),
            ramp_s=10, hold_s=60, wait_s=CAPACITY_WAIT_S),
        # 200/s and 500/s are seed 003's rates: 12,000 and 30,000 users asked for.
        concurrency=concurrency.Settings(spawn_rates=(25, 50, 100, 200, 500), run_time_s=60,
                                         wait_s=CLASSIC_WAIT_S, fork_from_rate=200),
        wrk_duration_s=10,
        distribution=distribution.Settings(algorithms=ALGORITHMS, worker_counts=(2, 3, 4, 5, 6),
                                           connections=50, duration_s=5),
    ),
}

# The balancer's active health checks in the fault suites, written into the stack's config so the
# report can judge "within one health interval" against a known interval.
FAULT_HEALTH = {"interval_ms": 1000, "timeout_ms": 1000, "fall": 2, "rise": 2}

# Many users at a low per-user rate: a worker that hangs holds the users waiting on it, and the
# others keep the offered rate up.
FAULT_SUITES = {
    "faults": faults.Settings(
        users=1000, tasks_per_s=0.25, spawn_rate=100, processes=2, warmup_s=20, gap_s=20,
        kill_window_s=5, hang_s=5, store_outage_s=10, abuse_s=30, idle_connections=10_000,
        idle_addresses=40, slowloris=50, health=FAULT_HEALTH),
    "faults-quick": faults.Settings(
        users=200, tasks_per_s=0.5, spawn_rate=100, processes=2, warmup_s=8, gap_s=8,
        kill_window_s=3, hang_s=5, store_outage_s=10, abuse_s=10, idle_connections=1000,
        idle_addresses=10, slowloris=20, health=FAULT_HEALTH),
}

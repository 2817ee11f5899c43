"""Peak concurrency: users spawned at a fixed rate for a fixed time; the answer is how many
concurrent users were active before the first failure (all of them when none failed)."""

from dataclasses import dataclass
from pathlib import Path

from harness import locust_runs
from harness.stats import percentile, without_response_times

# Zero failures is not "holding" users whose answers take many seconds: the responsive peak also
# requires each second's p95 to stay under this.
RESPONSIVE_P95_MS = 1000.0


@dataclass(frozen=True)
class Settings:
    spawn_rates: tuple[int, ...]
    run_time_s: int
    wait_s: tuple[float, float]
    # From this spawn rate on, locust forks `locust_processes` processes (`--processes`): one
    # process cannot start hundreds of users a second while running thousands.
    fork_from_rate: int | None = None
    locust_processes: int = 2

    def processes_for(self, rate: int) -> int:
        forked = self.fork_from_rate is not None and rate >= self.fork_from_rate
        return self.locust_processes if forked else 0


def peak_before(seconds: list[dict], stops) -> tuple[int, int | None]:
    """(most users seen before the first second where `stops(second)`, that second or None)."""
    peak = 0
    for second in seconds:
        if stops(second):
            return peak, second["t"]
        peak = max(peak, second["users"] or 0)
    return peak, None


def failing(second: dict) -> bool:
    return second["failures"] > 0


def failing_or_slow(second: dict) -> bool:
    p95 = percentile(sorted(second["ms"]), 0.95)
    return failing(second) or (p95 is not None and p95 > RESPONSIVE_P95_MS)


def reached(seconds: list[dict]) -> tuple[int, int | None]:
    """(most users seen, seconds from the first sample until then): how far and how fast locust
    itself got, which at high spawn rates is less than asked."""
    sampled = [s for s in seconds if s["users"] is not None]
    if not sampled:
        return 0, None
    most = max(s["users"] for s in sampled)
    return most, next(s["t"] for s in sampled if s["users"] == most) - sampled[0]["t"]


def measure(host: str, settings: Settings, directory: Path) -> dict:
    runs = []
    for rate in settings.spawn_rates:
        plan = locust_runs.Plan(
            name=f"spawn-{rate}", users=rate * settings.run_time_s, spawn_rate=rate,
            run_time_s=settings.run_time_s, wait_s=settings.wait_s,
            processes=settings.processes_for(rate))
        result = locust_runs.run(host, plan, directory / plan.name)
        peak, first_failure_s = peak_before(result.seconds, failing)
        responsive_peak, first_slow_s = peak_before(result.seconds, failing_or_slow)
        users_reached, reached_after_s = reached(result.seconds)
        runs.append({
            **result.total(), "spawn_rate": rate, "target_users": plan.users,
            "locust_processes": plan.processes or 1, "users_reached": users_reached,
            "reached_after_s": reached_after_s,
            "peak_users": peak, "first_failure_s": first_failure_s,
            "responsive_peak_users": responsive_peak, "first_slow_s": first_slow_s,
            "cpu_warnings": result.cpu_warnings, "failure_reasons": result.failure_reasons,
            "timeline": without_response_times(result.seconds),
        })
    return {"settings": settings.__dict__, "runs": runs}

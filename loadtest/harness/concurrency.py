"""Peak concurrency: users spawned at a fixed rate for a fixed time; the answer is how many
concurrent users were active before the first failure (all of them when none failed)."""

from dataclasses import dataclass
from pathlib import Path

from harness import locust_runs
from harness.stats import without_response_times


@dataclass(frozen=True)
class Settings:
    spawn_rates: tuple[int, ...]
    run_time_s: int
    wait_s: tuple[float, float]


def peak_before_failure(seconds: list[dict]) -> tuple[int, int | None]:
    """(most users seen before the first failing second, that second or None)."""
    peak = 0
    for second in seconds:
        if second["failures"] > 0:
            return peak, second["t"]
        peak = max(peak, second["users"] or 0)
    return peak, None


def measure(host: str, settings: Settings, directory: Path) -> dict:
    runs = []
    for rate in settings.spawn_rates:
        plan = locust_runs.Plan(
            name=f"spawn-{rate}", users=rate * settings.run_time_s, spawn_rate=rate,
            run_time_s=settings.run_time_s, wait_s=settings.wait_s)
        result = locust_runs.run(host, plan, directory / plan.name)
        peak, first_failure_s = peak_before_failure(result.seconds)
        runs.append({
            **result.total(), "spawn_rate": rate, "target_users": plan.users,
            "peak_users": peak, "first_failure_s": first_failure_s,
            "cpu_warnings": result.cpu_warnings, "failure_reasons": result.failure_reasons,
            "timeline": without_response_times(result.seconds),
        })
    return {"settings": settings.__dict__, "runs": runs}

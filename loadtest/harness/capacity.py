"""Capacity search: step the users up, one locust run per step, until failures or a latency or
throughput knee appear; the answer is the last clean step's steady-state RPS."""

from dataclasses import dataclass
from pathlib import Path

from harness import locust_runs
from harness.stats import without_response_times

# A step is past the knee when its p95 is this many times the first step's (and above the floor),
# or its p99 exceeds the ceiling: latency grows faster than load once a resource saturates.
# The floor is where people stop calling a page responsive; a 50 ms floor stopped the search at
# 472 RPS with 0 failures and p95 79 ms, far below what the question "max RPS at 0% failures" asks.
KNEE_P95_FACTOR = 5.0
KNEE_P95_FLOOR_MS = 500.0
P99_CEILING_MS = 1000.0
# More users but barely more throughput: the system (or the load generator) has saturated.
PLATEAU_USER_GROWTH = 1.25
PLATEAU_RPS_GROWTH = 1.05


@dataclass(frozen=True)
class Settings:
    users: tuple[int, ...]
    ramp_s: int
    hold_s: int
    wait_s: tuple[float, float]


def verdict(step: dict, previous: list[dict]) -> tuple[bool, str | None]:
    """(clean, why the search stops here) for a step given the steps before it."""
    if step["failures"] > 0:
        return False, f"{step['failures']} failures"
    if step["p99_ms"] is not None and step["p99_ms"] > P99_CEILING_MS:
        return False, f"p99 {step['p99_ms']:.0f} ms above {P99_CEILING_MS:.0f} ms"
    if previous:
        baseline = previous[0]["p95_ms"] or 0.0
        limit = max(KNEE_P95_FACTOR * baseline, KNEE_P95_FLOOR_MS)
        if step["p95_ms"] is not None and step["p95_ms"] > limit:
            return False, f"latency knee: p95 {step['p95_ms']:.0f} ms > {limit:.0f} ms"
        last = previous[-1]
        if (step["users"] >= PLATEAU_USER_GROWTH * last["users"]
                and step["rps"] < PLATEAU_RPS_GROWTH * last["rps"]):
            return True, "throughput plateau"
    return True, None


def search(host: str, settings: Settings, directory: Path) -> dict:
    steps = []
    results = []
    for users in settings.users:
        plan = locust_runs.Plan(
            name=f"capacity-{users}", users=users,
            spawn_rate=max(1.0, users / settings.ramp_s),
            run_time_s=settings.ramp_s + settings.hold_s, wait_s=settings.wait_s)
        result = locust_runs.run(host, plan, directory / plan.name)
        results.append(result)
        # Failures count over the whole run (ramp included); rates and latency in steady state.
        step = {**result.steady(), "users": users, "failures": result.total()["failures"],
                "cpu_warnings": result.cpu_warnings, "failure_reasons": result.failure_reasons}
        step["clean"], step["stop_reason"] = verdict(step, [s for s in steps if s["clean"]])
        steps.append(step)
        if step["stop_reason"]:
            break
    clean = [s for s in steps if s["clean"]]
    best = max(clean, key=lambda s: s["rps"]) if clean else None
    return {"settings": settings.__dict__, "steps": steps, "best": best,
            "timelines": [{"name": r.plan.name, "seconds": without_response_times(r.seconds)}
                          for r in results]}

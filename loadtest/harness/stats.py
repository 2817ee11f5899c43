"""Small statistics over recorded response times: nearest-rank percentiles and window summaries."""

import math


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (`None` when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(seconds: list[dict]) -> dict:
    """Requests, failures, RPS and p50/p95/p99 (ms) over whole recorded seconds."""
    requests = sum(s["requests"] for s in seconds)
    failures = sum(s["failures"] for s in seconds)
    times = sorted(ms for s in seconds for ms in s["ms"])
    duration = len(seconds)
    return {
        "seconds": duration,
        "requests": requests,
        "failures": failures,
        "rps": requests / duration if duration else 0.0,
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
    }


def without_response_times(seconds: list[dict]) -> list[dict]:
    """A timeline without raw response times, for plots and the JSON summary."""
    return [{k: v for k, v in s.items() if k != "ms"} for s in seconds]

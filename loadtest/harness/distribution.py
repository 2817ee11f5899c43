"""How evenly the balancer spreads load: per-backend request counts from the admin API before and
after a bounded wrk burst of uncacheable requests (POST /analyze), against the ideal total/N."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from harness import stack as local_stack
from harness import wrk

ENDPOINT = "POST /analyze"
HASH_KEY = "header:X-Client-Id"


@dataclass(frozen=True)
class Settings:
    algorithms: tuple[str, ...]
    worker_counts: tuple[int, ...]
    connections: int
    duration_s: int


def deviation(counts: list[int]) -> float:
    """Largest relative distance of one backend's count from the ideal even share."""
    total = sum(counts)
    if not counts or total == 0:
        return 0.0
    ideal = total / len(counts)
    return max(abs(c - ideal) for c in counts) / ideal


def _requests_by_backend(admin_url: str, token: str) -> dict[str, int]:
    backends = local_stack.admin_get(admin_url, token, "/backends")
    return {b["address"]: b["requests"] for b in backends
            if b.get("healthy") and not b.get("draining")}


def burst(host: str, admin_url: str, token: str, settings: Settings, directory: Path) -> dict:
    before = _requests_by_backend(admin_url, token)
    load = wrk.run(host, ENDPOINT, settings.connections, settings.duration_s, directory)
    after = _requests_by_backend(admin_url, token)
    counts = {address: after[address] - before.get(address, 0) for address in sorted(after)}
    values = list(counts.values())
    return {"workers": len(counts), "per_backend": counts, "total": sum(values),
            "ideal": sum(values) / len(values) if values else 0.0,
            "max_deviation": deviation(values), "wrk_errors": load["errors"],
            "rps": load["rps"]}


def measure_local(settings: Settings, directory: Path) -> list[dict]:
    """Every algorithm with every worker count, each on a fresh local stack."""
    results = []
    for algorithm in settings.algorithms:
        for workers in settings.worker_counts:
            where = directory / f"{algorithm}-{workers}"
            hash_key = HASH_KEY if algorithm == "consistent-hash" else None
            token = secrets.token_hex(16)
            stack = local_stack.start(where, workers=workers, algorithm=algorithm,
                                      token=token, hash_key=hash_key)
            try:
                result = burst(stack.url, stack.admin_url, token, settings, where)
            finally:
                stack.stop()
            results.append({"algorithm": algorithm, **result})
    return results


def measure_deployed(host: str, admin_url: str, token: str, settings: Settings,
                     directory: Path) -> list[dict]:
    """The deployed balancer as configured (its algorithm is not visible through the API)."""
    return [{"algorithm": "as deployed", **burst(host, admin_url, token, settings, directory)}]

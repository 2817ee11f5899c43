"""The report's PNG plots (matplotlib, no display): capacity, failures over time, the wrk sweep
and requests per worker against the ideal line."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

DPI = 110


def _save(figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path.name


def capacity(result: dict, path: Path) -> str:
    steps = result["steps"]
    users = [s["users"] for s in steps]
    figure, rps_axis = plt.subplots(figsize=(8, 4.5))
    rps_axis.plot(users, [s["rps"] for s in steps], "o-", color="tab:blue", label="RPS")
    rps_axis.set_xlabel("concurrent users")
    rps_axis.set_ylabel("requests / s (steady state)", color="tab:blue")
    rps_axis.set_ylim(bottom=0)
    if result["best"]:
        best = result["best"]
        rps_axis.axvline(best["users"], color="tab:green", linestyle=":",
                         label=f"last clean: {best['rps']:.0f} RPS")
    latency_axis = rps_axis.twinx()
    for key, style in (("p50_ms", "s--"), ("p95_ms", "^--"), ("p99_ms", "v--")):
        latency_axis.plot(users, [s[key] or 0 for s in steps], style, label=key[:3])
    latency_axis.set_ylabel("latency (ms)")
    latency_axis.set_ylim(bottom=0)
    lines = rps_axis.get_legend_handles_labels()
    more = latency_axis.get_legend_handles_labels()
    rps_axis.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    rps_axis.set_title("Capacity search: throughput and latency over users")
    rps_axis.grid(alpha=0.3)
    return _save(figure, path)


def _timeline_axis(axis, title: str, seconds: list[dict], boundaries: list[tuple[int, str]]):
    t = [s["t"] for s in seconds]
    axis.plot(t, [s["requests"] for s in seconds], color="tab:blue", label="requests/s")
    axis.bar(t, [s["failures"] for s in seconds], color="tab:red", width=1.0,
             label="failures/s")
    axis.set_ylabel("per second")
    axis.set_ylim(bottom=0)
    users_axis = axis.twinx()
    # Seconds without a sample (the sampler starved under load) are skipped, not drawn as zero.
    sampled = [s for s in seconds if s["users"] is not None]
    users_axis.plot([s["t"] for s in sampled], [s["users"] for s in sampled], color="tab:gray",
                    linestyle="--", label="users")
    users_axis.set_ylabel("users")
    users_axis.set_ylim(bottom=0)
    for start, label in boundaries:
        axis.axvline(start, color="lightgray", linewidth=0.8)
        axis.annotate(label, (start, 0), xytext=(2, 2), textcoords="offset points", fontsize=7)
    total_failures = sum(s["failures"] for s in seconds)
    axis.set_title(f"{title} — {total_failures} failures", fontsize=10)
    lines = axis.get_legend_handles_labels()
    more = users_axis.get_legend_handles_labels()
    axis.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=7)


def failures_over_time(capacity_result: dict, concurrency_result: dict, path: Path) -> str:
    panels = []
    offset, seconds, boundaries = 0, [], []
    for timeline in capacity_result["timelines"]:
        boundaries.append((offset, timeline["name"].removeprefix("capacity-") + " users"))
        seconds += [{**s, "t": s["t"] + offset} for s in timeline["seconds"]]
        offset += timeline["seconds"][-1]["t"] + 1
    panels.append(("Capacity search (steps back to back)", seconds, boundaries))
    for run in concurrency_result["runs"]:
        panels.append((f"Spawn rate {run['spawn_rate']} users/s", run["timeline"], []))
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), squeeze=False)
    for axis, (title, panel_seconds, panel_boundaries) in zip(axes[:, 0], panels):
        _timeline_axis(axis, title, panel_seconds, panel_boundaries)
    axes[-1, 0].set_xlabel("seconds")
    return _save(figure, path)


def wrk_sweep(rows: list[dict], path: Path) -> str:
    figure, (rps_axis, latency_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for endpoint in dict.fromkeys(r["endpoint"] for r in rows):
        mine = [r for r in rows if r["endpoint"] == endpoint]
        connections = [r["connections"] for r in mine]
        rps_axis.plot(connections, [r["rps"] for r in mine], "o-", label=endpoint)
        latency_axis.plot(connections, [r["p99"] for r in mine], "o-", label=f"{endpoint} p99")
        latency_axis.plot(connections, [r["p50"] for r in mine], "x:", label=f"{endpoint} p50")
    rps_axis.set_yscale("log")
    rps_axis.set_title("wrk: requests/s over connections")
    rps_axis.set_xlabel("connections")
    rps_axis.set_ylabel("requests / s (log)")
    latency_axis.set_yscale("log")
    latency_axis.set_title("wrk: latency over connections")
    latency_axis.set_xlabel("connections")
    latency_axis.set_ylabel("ms (log)")
    for axis in (rps_axis, latency_axis):
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=7)
    return _save(figure, path)


def distribution(rows: list[dict], path: Path) -> str:
    algorithms = list(dict.fromkeys(r["algorithm"] for r in rows))
    counts = sorted({r["workers"] for r in rows})
    figure, axes = plt.subplots(len(algorithms), len(counts),
                                figsize=(2.3 * len(counts) + 1, 2.3 * len(algorithms) + 0.6),
                                squeeze=False, sharey=True)
    for i, algorithm in enumerate(algorithms):
        for j, workers in enumerate(counts):
            axis = axes[i, j]
            row = next((r for r in rows if r["algorithm"] == algorithm
                        and r["workers"] == workers), None)
            if row is None or not row["total"]:
                axis.set_visible(False)
                continue
            shares = [100 * c / row["total"] for c in row["per_backend"].values()]
            axis.bar(range(1, len(shares) + 1), shares, color="tab:blue", label="real")
            axis.axhline(100 / len(shares), color="tab:red", linestyle="--", label="ideal")
            axis.set_xticks(range(1, len(shares) + 1))
            axis.set_title(f"{workers} workers: max dev {100 * row['max_deviation']:.0f}%",
                           fontsize=8)
            if j == 0:
                axis.set_ylabel(f"{algorithm}\n% of requests", fontsize=8)
            if i == len(algorithms) - 1:
                axis.set_xlabel("worker", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    figure.suptitle("Requests per worker: real vs ideal (POST /analyze burst)")
    return _save(figure, path)


FAULT_COLOURS = {"baseline": None, "kill": "tab:red", "hang": "tab:orange",
                 "store": "tab:purple", "abuse": "tab:brown"}


def _shade_windows(axis, rows: list[dict], label: bool):
    for row in rows:
        colour = FAULT_COLOURS.get(row["key"])
        if colour is None:
            continue
        # A kill is an instant: shade at least a second so it shows.
        axis.axvspan(row["start"], max(row["end"], row["start"] + 1), color=colour, alpha=0.18,
                     label=row["fault"] if label else None)


def _healthy_backends(samples: list[dict]) -> tuple[list[float], list[int]]:
    good = [s for s in samples if "backends" in s]
    return [s["t"] for s in good], [sum(1 for b in s["backends"] if b["healthy"]) for s in good]


def fault_timeline(results: dict, path: Path) -> str:
    """Requests and failures per second, p99 per second and healthy backends over the fault
    run, with each fault window shaded."""
    seconds, rows = results["timeline"], results["rows"]
    t = [s["t"] for s in seconds]
    figure, (load_axis, latency_axis, health_axis) = plt.subplots(
        3, 1, figsize=(10, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]})
    load_axis.plot(t, [s["requests"] for s in seconds], color="tab:blue", label="requests/s")
    load_axis.bar(t, [s["failures"] for s in seconds], color="tab:red", width=1.0, align="edge",
                  label="failures/s")
    load_axis.set_ylabel("per second")
    load_axis.set_ylim(bottom=0)
    total_failures = sum(s["failures"] for s in seconds)
    load_axis.set_title(f"Legitimate load under faults — {total_failures} failures "
                        f"(requests placed at the second they started)", fontsize=10)
    latency_axis.plot(t, [s.get("p99_ms") or float("nan") for s in seconds], color="tab:green",
                      label="p99 ms")
    latency_axis.set_yscale("log")
    latency_axis.set_ylabel("p99 ms (log)")
    times, healthy = _healthy_backends(results["monitor"])
    health_axis.step(times, healthy, where="post", color="tab:gray", label="healthy backends")
    health_axis.set_ylabel("healthy")
    health_axis.set_ylim(bottom=0, top=max(healthy, default=1) + 0.5)
    health_axis.set_xlabel("seconds since the load started")
    for index, axis in enumerate((load_axis, latency_axis, health_axis)):
        _shade_windows(axis, rows, label=index == 0)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=7)
    return _save(figure, path)

"""report.md: the headline answers first, then one section per question with its table and plot.

Headline labels are stable (tests and readers parse them): `| <label> | <number> <unit/notes> |`."""

from pathlib import Path


def format_ms(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _wrk_best(rows: list[dict], endpoint: str) -> dict | None:
    clean = [r for r in rows if r["endpoint"] == endpoint and r["errors"] == 0]
    return max(clean, key=lambda r: r["rps"]) if clean else None


def headline(results: dict) -> list[list]:
    capacity, concurrency = results["capacity"], results["concurrency"]
    best = capacity["best"]
    rows = [
        ["Max RPS at 0% failures (locust)",
         f"{best['rps']:.1f} with {best['users']} users for {best['seconds']} s" if best
         else "0 (no clean step)"],
        ["p50 / p95 / p99 at that rate (ms)",
         " / ".join(format_ms(best[key]) for key in ("p50_ms", "p95_ms", "p99_ms")) if best
         else "–"],
    ]
    for endpoint in ("/", "/history", "POST /analyze"):
        top = _wrk_best(results["wrk"], endpoint)
        rows.append([f"Max RPS at 0 errors (wrk, {endpoint})",
                     f"{top['rps']:.0f} at {top['connections']} connections, p99 "
                     f"{top['p99']:.1f} ms" if top else "0 (every level had errors)"])
    for run in concurrency["runs"]:
        state = ("0 failures" if run["first_failure_s"] is None
                 else f"first failure at {run['first_failure_s']} s")
        if run["users_reached"] < run["target_users"]:
            state += (f"; locust itself reached only {run['users_reached']} of "
                      f"{run['target_users']} users")
        rows.append([f"Peak concurrency at spawn rate {run['spawn_rate']}/s",
                     f"{run['peak_users']} users over {concurrency['settings']['run_time_s']} s,"
                     f" {state}"])
        rows.append([f"Peak concurrency at spawn rate {run['spawn_rate']}/s with p95 under 1 s",
                     f"{run['responsive_peak_users']} users"])
    rows.append(["Failures in all locust runs", f"{results['failures_total']}"])
    lost = results["lost"]
    rows.append(["Analyses acknowledged and checked in history", f"{lost['checked']}"])
    rows.append(["Analyses missing from history", f"{lost['missing']}"])
    for algorithm, rows_of in _by_algorithm(results["distribution"]).items():
        worst = max(r["max_deviation"] for r in rows_of)
        workers = ", ".join(str(r["workers"]) for r in rows_of)
        rows.append([f"Distribution max deviation from ideal, {algorithm}",
                     f"{100 * worst:.1f} % (worst of {workers} workers)"])
    return rows


def _by_algorithm(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["algorithm"], []).append(row)
    return grouped


def render(results: dict, images: dict[str, str]) -> str:
    env, meta = results["environment"], results["meta"]
    out = [f"# Load test report: {meta['suite']} suite", "",
           f"Run {meta['started']} against `{meta['host']}` ({meta['target']}); "
           f"took {meta['duration_s']:.0f} s.", "", "## Headline", ""]
    out += markdown_table(["Question", "Answer"], headline(results))

    out += ["## Machine and versions", ""]
    out += markdown_table(["Item", "Value"], [[k, v] for k, v in env.items()])
    out += ["Load generator, balancer and workers share this machine's CPUs, so every number is a "
            "lower bound for a deployment where locust runs elsewhere.", ""]

    capacity = results["capacity"]
    settings = capacity["settings"]
    out += ["## Capacity: max RPS at 0% failures (locust)", "",
            f"Users step up ({', '.join(map(str, settings['users']))}); each step ramps "
            f"{settings['ramp_s']} s and holds {settings['hold_s']} s; user wait "
            f"{settings['wait_s'][0]}–{settings['wait_s'][1]} s; {meta['task_weights']}. Rates and "
            "percentiles over the steady window (after the ramp); failures over the whole run. "
            "The search stops at the first step with failures, a latency knee or a throughput "
            "plateau; the answer is the best clean step.", ""]
    out += markdown_table(
        ["users", "RPS", "p50 ms", "p95 ms", "p99 ms", "failures", "clean", "locust CPU warnings",
         "note"],
        [[s["users"], f"{s['rps']:.1f}", format_ms(s["p50_ms"]), format_ms(s["p95_ms"]),
          format_ms(s["p99_ms"]), s["failures"], "yes" if s["clean"] else "no",
          s["cpu_warnings"], s["stop_reason"] or ""]
         for s in capacity["steps"]])
    out += [f"![capacity]({images['capacity']})", ""]

    concurrency = results["concurrency"]
    out += ["## Peak concurrency per spawn rate (locust)", "",
            f"Users spawn at the given rate for {concurrency['settings']['run_time_s']} s "
            f"(classic wait {concurrency['settings']['wait_s'][0]}–"
            f"{concurrency['settings']['wait_s'][1]} s); peak = users active before the first "
            "failure; responsive peak = users active before the first second with a failure or a "
            "p95 over 1 s (zero failures with answers taking seconds is not holding the load). "
            "Users reached = the most users locust itself had running, and how many seconds it "
            "took: at high spawn rates the load generator, not the stack, may be the limit "
            "(see its CPU warnings); those rates fork several locust processes.",
            ""]
    out += markdown_table(
        ["spawn rate /s", "target users", "users reached (after s)", "peak users",
         "responsive peak users", "requests", "failures", "RPS", "p95 ms", "p99 ms",
         "locust processes", "locust CPU warnings"],
        [[r["spawn_rate"], r["target_users"],
          f"{r['users_reached']} ({r['reached_after_s']})",
          r["peak_users"], r["responsive_peak_users"], r["requests"], r["failures"],
          f"{r['rps']:.1f}", format_ms(r["p95_ms"]), format_ms(r["p99_ms"]), r["locust_processes"],
          r["cpu_warnings"]]
         for r in concurrency["runs"]])
    out += [f"![failures over time]({images['failures']})", ""]
    reasons = [reason for step in capacity["steps"] for reason in step["failure_reasons"]]
    reasons += [reason for run in concurrency["runs"] for reason in run["failure_reasons"]]
    if reasons:
        out += ["Failure reasons (locust):", ""]
        out += markdown_table(["request and error", "count"], [[r, n] for r, n in reasons[:15]])

    lost = results["lost"]
    out += ["## Nothing lost", "",
            "Every analysis answered 200 during the locust runs was recorded by id, then history "
            "was paged (`limit=500`, `Link rel=next`, `Cache-Control: no-cache` so the balancer's "
            "cache is bypassed).", ""]
    out += markdown_table(["checked", "missing", "history pages read", "rows read"],
                  [[lost["checked"], lost["missing"], lost["pages_read"], lost["rows_read"]]])
    if lost["missing"]:
        out += [f"Missing ids (first 20): {', '.join(lost['missing_sample'])}", ""]

    out += ["## Throughput over concurrency (wrk)", "",
            f"`wrk -t2 -c<N> -d{results['meta']['wrk_duration_s']}s`; `/history` is mostly "
            "answered by the balancer's cache (2 s TTL, purged by each analysis), `POST /analyze` "
            "always reaches a worker and writes to the store. Errors = connect, read, write, "
            "timeout and non-2xx/3xx.", ""]
    out += markdown_table(
        ["endpoint", "connections", "requests", "RPS", "p50 ms", "p90 ms", "p99 ms", "max ms",
         "errors"],
        [[r["endpoint"], r["connections"], r["requests"], f"{r['rps']:.0f}", f"{r['p50']:.2f}",
          f"{r['p90']:.2f}", f"{r['p99']:.2f}", f"{r['max']:.1f}", r["errors"]]
         for r in results["wrk"]])
    out += [f"![wrk sweep]({images['wrk']})", ""]

    out += ["## Distribution over workers (real vs ideal)", ""]
    if results["distribution"]:
        out += [results["distribution_note"], ""]
        out += markdown_table(
            ["algorithm", "workers", "requests per worker", "ideal", "max deviation", "RPS",
             "wrk errors"],
            [[r["algorithm"], r["workers"], " / ".join(map(str, r["per_backend"].values())),
              f"{r['ideal']:.0f}", f"{100 * r['max_deviation']:.1f} %", f"{r['rps']:.0f}",
              r["wrk_errors"]] for r in results["distribution"]])
        out += [f"![distribution]({images['distribution']})", ""]
    else:
        out += [f"Skipped: {results['distribution_note']}", ""]
    return "\n".join(out)


def write(results: dict, images: dict[str, str], directory: Path) -> Path:
    path = directory / "report.md"
    path.write_text(render(results, images), encoding="utf-8")
    return path

"""The fault table: one row per fault window, cut from the locust request log, and each fault's
target from issue 10 judged as met or missed.

A window has a `start` and `end` (the fault itself) and an `after_end` (the next fault's start, or
the end of the load). Each request belongs to exactly one row: "during" a fault when it was in
flight at any moment of the fault's window (so the requests a `kill -9` cut off count there,
although they started before it), else "after" the fault whose quiet gap it started in. An
acknowledged analysis lost is placed by the same rule, from its request's start and answer."""

from collections import Counter

from harness.stats import percentile

TARGETS = {
    "baseline": "reference: no fault",
    "kill": "failures no more than the requests in flight on that worker; failures end within "
            "one health interval",
    "hang": "out of rotation by health-check timeouts during the hang, then back",
    "store": "503 with Retry-After during the outage, 0 failures after it",
    "abuse": "0 legitimate failures",
}
EVERY_ROW_TARGET = "0 acknowledged analyses lost"


def place(windows: list[dict], started: float, answered: float) -> tuple[int, str] | None:
    """(row index, "during" or "after") of a request that ran from `started` to `answered`."""
    for index, window in enumerate(windows):
        if started < window["end"] and answered >= window["start"]:
            return index, "during"
    for index, window in enumerate(windows):
        if window["end"] <= started < window["after_end"]:
            return index, "after"
    return None


def summarize(entries: list) -> dict:
    """Requests, failing seconds, p99 and failure kinds of log entries (start, ms, kind)."""
    failed = [entry for entry in entries if entry[2] is not None]
    return {
        "requests": len(entries),
        "failures": len(failed),
        "failure_seconds": {int(entry[0]) for entry in failed},
        "last_failure_t": max((entry[0] for entry in failed), default=None),
        "p99_ms": percentile(sorted(entry[1] for entry in entries), 0.99),
        "kinds": dict(Counter(entry[2] for entry in failed).most_common()),
    }


def rows(windows: list[dict], log: list, acknowledged: dict[str, tuple[float, float]],
         missing: set[str]) -> list[dict]:
    parts = [{"during": [], "after": []} for _ in windows]
    for entry in log:
        placed = place(windows, entry[0], entry[0] + entry[1] / 1000)
        if placed is not None:
            parts[placed[0]][placed[1]].append(entry)
    counted = [Counter() for _ in windows]
    for analysis_id, (started, answered) in acknowledged.items():
        placed = place(windows, started, answered)
        if placed is not None:
            counted[placed[0]]["acknowledged"] += 1
            counted[placed[0]]["lost"] += analysis_id in missing
    table = []
    for window, part, count in zip(windows, parts, counted):
        during, after = summarize(part["during"]), summarize(part["after"])
        table.append({
            "key": window["key"], "fault": window["fault"],
            "start": window["start"], "end": window["end"], "after_end": window["after_end"],
            "requests": during["requests"] + after["requests"],
            "failures": during["failures"] + after["failures"],
            "seconds_with_failures": len(during["failure_seconds"] | after["failure_seconds"]),
            "failures_during": during["failures"], "failures_after": after["failures"],
            "p99_during_ms": during["p99_ms"], "p99_after_ms": after["p99_ms"],
            "kinds_during": during["kinds"], "kinds_after": after["kinds"],
            "last_failure_t": max((t for t in (during["last_failure_t"],
                                               after["last_failure_t"]) if t is not None),
                                  default=None),
            "acknowledged": count["acknowledged"], "lost": count["lost"],
            "detail": window.get("detail", {}),
        })
    return table


def _backend_state(sample: dict, address: str) -> bool | None:
    for backend in sample.get("backends", []):
        if backend["address"] == address:
            return backend["healthy"]
    return None


def first_sample(samples: list[dict], start: float, end: float, test) -> float | None:
    """Time of the first monitor sample in [start, end] for which `test(sample)` holds."""
    return next((s["t"] for s in samples if start <= s["t"] <= end and "error" not in s
                 and test(s)), None)


def judge_kill(r: dict, samples: list[dict], interval_s: float) -> tuple[bool, str]:
    fault = r["detail"]
    counts = [n for n in (fault["in_flight_before"], fault["in_flight_after"]) if n is not None]
    allowed = max(counts, default=0)
    recovery = max(0.0, r["last_failure_t"] - fault["at"]) if r["failures"] else 0.0
    fault["in_flight"], fault["failures_ended_after_s"] = allowed, round(recovery, 2)

    def respawned(sample):
        return any(w["slot"] == fault["slot"] and w["pid"] not in (None, fault["pid"])
                   and w["address"] and _backend_state(sample, w["address"])
                   for w in sample["workers"])

    back = first_sample(samples, fault["at"], r["after_end"], respawned)
    fault["respawned_healthy_after_s"] = None if back is None else round(back - fault["at"], 2)
    met = r["failures"] <= allowed and recovery <= interval_s
    return met, (f"{r['failures']} failures, {allowed} in flight on the worker; failures ended "
                 f"{recovery:.1f} s after the kill (health interval {interval_s:g} s); new "
                 "worker healthy " + ("never" if back is None else
                                      f"{back - fault['at']:.1f} s after the kill"))


def judge_hang(r: dict, samples: list[dict], poll_s: float) -> tuple[bool, str]:
    fault = r["detail"]
    address = fault["address"]
    out = first_sample(samples, fault["at"], fault["resumed_at"] + poll_s,
                       lambda s: _backend_state(s, address) is False)
    back = None if out is None else first_sample(
        samples, max(out, fault["resumed_at"]), r["after_end"],
        lambda s: _backend_state(s, address) is True)
    fault["out_after_s"] = None if out is None else round(out - fault["at"], 2)
    fault["back_after_resume_s"] = None if back is None else round(back - fault["resumed_at"], 2)
    text = ("never out of rotation during the hang" if out is None else
            f"out of rotation {out - fault['at']:.1f} s after SIGSTOP, " +
            ("not back before the next fault" if back is None else
             f"back {back - fault['resumed_at']:.1f} s after SIGCONT"))
    return out is not None and back is not None, f"{text}; {r['failures']} failures"


def judge_store(r: dict) -> tuple[bool, str]:
    wrong = {kind: n for kind, n in r["kinds_during"].items()
             if not (kind.startswith("503") and "retry-after" in kind.split())}
    reasons = []
    if wrong:
        reasons.append("failures during it other than 503 with Retry-After: "
                       + ", ".join(f"{n}× {kind}" for kind, n in wrong.items()))
    if r["failures_after"]:
        reasons.append(f"{r['failures_after']} failures after it")
    good = r["failures_during"] - sum(wrong.values())
    summary = (f"{good} of {r['failures_during']} failures during it were 503 with Retry-After"
               if r["failures_during"] else
               "no request failed during it: writes waited for the lock, then succeeded "
               f"(p99 {r['p99_during_ms'] or 0:.0f} ms)")
    return not reasons, "; ".join([summary] + reasons)


def judge_abuse(r: dict) -> tuple[bool, str]:
    return r["failures"] == 0, f"{r['failures']} legitimate failures"


def judge(r: dict, samples: list[dict], interval_s: float, poll_s: float) -> dict:
    """Adds `target`, `met` and `verdict` to a row; every row must also lose nothing."""
    key = r["key"]
    if key == "kill":
        met, verdict = judge_kill(r, samples, interval_s)
    elif key == "hang":
        met, verdict = judge_hang(r, samples, poll_s)
    elif key == "store":
        met, verdict = judge_store(r)
    elif key == "abuse":
        met, verdict = judge_abuse(r)
    else:
        met, verdict = True, "reference row"
    if r["lost"]:
        met, verdict = False, f"{verdict}; {r['lost']} acknowledged analyses lost"
    return {**r, "target": f"{TARGETS[key]}; {EVERY_ROW_TARGET}", "met": met,
            "verdict": verdict}


def table(windows: list[dict], log: list, acknowledged: dict[str, tuple[float, float]],
          missing: set[str], samples: list[dict], interval_s: float,
          poll_s: float) -> list[dict]:
    return [judge(r, samples, interval_s, poll_s)
            for r in rows(windows, log, acknowledged, missing)]

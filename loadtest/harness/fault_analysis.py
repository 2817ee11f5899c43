"""The fault table: one row per fault window, cut from the locust request log (requests counted
by the time they started), and each fault's target from issue 10 judged as met or missed.

A window has a `start` and `end` (the fault itself) and an `after_end` (the next fault's start, or
the end of the load): "during" is [start, end), "after" is [end, after_end). Lost analyses are
placed in the row whose span holds the start of the request that was acknowledged."""

import bisect
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


def _slice(log: list, start: float, end: float) -> list:
    starts = [entry[0] for entry in log]
    return log[bisect.bisect_left(starts, start):bisect.bisect_left(starts, end)]


def span(log: list, start: float, end: float) -> dict:
    """Requests started in [start, end): counts, failing seconds, p99 and failure kinds."""
    entries = _slice(log, start, end)
    failed = [entry for entry in entries if entry[2] is not None]
    return {
        "requests": len(entries),
        "failures": len(failed),
        "failure_seconds": sorted({int(entry[0]) for entry in failed}),
        "last_failure_t": failed[-1][0] if failed else None,
        "p99_ms": percentile(sorted(entry[1] for entry in entries), 0.99),
        "kinds": dict(Counter(entry[2] for entry in failed).most_common()),
    }


def row(window: dict, log: list, acknowledged: dict[str, float], missing: set[str]) -> dict:
    during = span(log, window["start"], window["end"])
    after = span(log, window["end"], window["after_end"])
    mine = [i for i, t in acknowledged.items() if window["start"] <= t < window["after_end"]]
    return {
        "key": window["key"], "fault": window["fault"],
        "start": window["start"], "end": window["end"], "after_end": window["after_end"],
        "requests": during["requests"] + after["requests"],
        "failures": during["failures"] + after["failures"],
        "seconds_with_failures": len(set(during["failure_seconds"]) |
                                     set(after["failure_seconds"])),
        "failures_during": during["failures"], "failures_after": after["failures"],
        "p99_during_ms": during["p99_ms"], "p99_after_ms": after["p99_ms"],
        "kinds_during": during["kinds"], "kinds_after": after["kinds"],
        "last_failure_t": after["last_failure_t"] or during["last_failure_t"],
        "acknowledged": len(mine), "lost": sum(1 for i in mine if i in missing),
        "detail": window.get("detail", {}),
    }


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
    if r["failures_during"] == 0:
        reasons.append("no request failed during the outage (did it take effect?)")
    if wrong:
        reasons.append("failures during it other than 503 with Retry-After: "
                       + ", ".join(f"{n}× {kind}" for kind, n in wrong.items()))
    if r["failures_after"]:
        reasons.append(f"{r['failures_after']} failures after it")
    good = r["failures_during"] - sum(wrong.values())
    summary = f"{good} of {r['failures_during']} failures during it were 503 with Retry-After"
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


def table(windows: list[dict], log: list, acknowledged: dict[str, float], missing: set[str],
          samples: list[dict], interval_s: float, poll_s: float) -> list[dict]:
    return [judge(row(w, log, acknowledged, missing), samples, interval_s, poll_s)
            for w in windows]

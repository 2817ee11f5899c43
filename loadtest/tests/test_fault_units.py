"""The fault suite's decisions without a stack: windows cut from the request log, each target's
verdict, merging the timelines of several locust processes, failure kinds, the abusive client's
source addresses and answers, and the fault table of the report."""

import ipaddress
import random
import resource

from harness import (abuse, children, fault_analysis, fault_report, injectors, locust_runs,
                     outcome, pacing)
from harness.failure_kinds import failure_kind

INTERVAL_S, POLL_S = 1.0, 0.25
STORE_503 = "503 store_unavailable retry-after"


def window(key, start, end, after_end, detail=None):
    return {"key": key, "fault": key, "start": start, "end": end, "after_end": after_end,
            "detail": detail or {}}


def steady_log(start, end, per_s=10, ms=5.0):
    """A request every 1/per_s seconds in [start, end), all successful."""
    return [[start + i / per_s, ms, None] for i in range(int((end - start) * per_s))]


def judged(w, log, acknowledged=None, missing=frozenset(), samples=()):
    return fault_analysis.table([w], sorted(log), acknowledged or {}, set(missing),
                                list(samples), INTERVAL_S, POLL_S)[0]


def test_a_row_counts_during_and_after_a_fault():
    log = steady_log(0, 20) + [[10.5, 900.0, "502 bad_gateway"], [12.2, 50.0, "0 Timeout"]]
    row = judged(window("abuse", 10, 12, 20), log)
    # The steady requests from 10 s on (each takes 5 ms: none before 10 s is still in flight)
    # and the two failures.
    assert row["requests"] == 100 + 2
    assert (row["failures_during"], row["failures_after"]) == (1, 1)
    assert row["seconds_with_failures"] == 2
    assert row["p99_during_ms"] == 900.0
    assert row["kinds_during"] == {"502 bad_gateway": 1}
    assert row["met"] is False and "2 legitimate failures" in row["verdict"]


def test_a_request_in_flight_when_a_fault_starts_counts_during_it():
    windows = [window("baseline", 0, 8, 10), window("kill", 10, 13, 20, kill_detail(before=1))]
    cut_off = [9.2, 850.0, "502 bad_gateway"]
    finished_before = [9.5, 100.0, None]
    table = fault_analysis.rows(windows, [cut_off, finished_before], {}, set())
    assert (table[0]["requests"], table[0]["failures"]) == (1, 0)
    assert (table[1]["failures_during"], table[1]["requests"]) == (1, 1)


def test_lost_analyses_belong_to_the_row_they_were_in_flight_or_started_in():
    acknowledged = {"1": (5.0, 5.1), "2": (10.5, 10.6), "3": (15.0, 15.1), "4": (25.0, 25.1),
                    "5": (9.8, 10.2)}
    row = judged(window("abuse", 10, 12, 20), steady_log(0, 20), acknowledged, {"3", "4", "5"})
    assert (row["acknowledged"], row["lost"]) == (3, 2)
    assert row["met"] is False and "2 acknowledged analyses lost" in row["verdict"]


def kill_detail(before=1, after=None):
    return {"slot": 0, "pid": 100, "address": "a:1", "at": 10.0,
            "in_flight_before": before, "in_flight_after": after}


def sample(t, healthy_by_address, workers=()):
    return {"t": t, "backends": [{"address": a, "healthy": h, "in_flight": 0}
                                 for a, h in healthy_by_address.items()],
            "workers": [{"slot": s, "pid": p, "address": a} for s, p, a in workers]}


def test_kill_is_met_with_failures_up_to_those_in_flight_ending_within_an_interval():
    log = steady_log(0, 20) + [[9.9, 3.0, "502 bad_gateway"], [10.4, 3.0, "502 bad_gateway"]]
    respawned = sample(10.5, {"b:2": True}, [(0, 200, "b:2")])
    row = judged(window("kill", 10, 13, 20, kill_detail(before=1, after=2)), log,
                 samples=[sample(9.0, {"a:1": True}, [(0, 100, "a:1")]), respawned])
    assert row["met"] is True, row["verdict"]
    assert row["detail"]["respawned_healthy_after_s"] == 0.5


def test_kill_is_missed_with_more_failures_than_in_flight_or_a_late_last_failure():
    more = steady_log(0, 20) + [[10.1, 3.0, "502 bad_gateway"]] * 3
    assert judged(window("kill", 10, 13, 20, kill_detail(before=2)), more)["met"] is False
    late = steady_log(0, 20) + [[11.5, 3.0, "503 no_healthy_backend retry-after"]]
    row = judged(window("kill", 10, 13, 20, kill_detail(before=5)), late)
    assert row["met"] is False and "1.5 s after the kill" in row["verdict"]


def hang_detail():
    return {"slot": 1, "pid": 7, "address": "h:1", "at": 10.0, "resumed_at": 15.0}


def test_a_hung_worker_must_leave_rotation_during_the_hang_and_come_back():
    samples = [sample(t, {"h:1": not (12.0 <= t < 16.5)}) for t in range(8, 30)]
    row = judged(window("hang", 10, 15, 30, hang_detail()), steady_log(0, 30), samples=samples)
    assert row["met"] is True, row["verdict"]
    assert (row["detail"]["out_after_s"], row["detail"]["back_after_resume_s"]) == (2.0, 2.0)

    never_out = [sample(t, {"h:1": True}) for t in range(8, 30)]
    row = judged(window("hang", 10, 15, 30, hang_detail()), steady_log(0, 30),
                 samples=never_out)
    assert row["met"] is False and "never out of rotation" in row["verdict"]

    never_back = [sample(t, {"h:1": t < 12}) for t in range(8, 30)]
    row = judged(window("hang", 10, 15, 30, hang_detail()), steady_log(0, 30),
                 samples=never_back)
    assert row["met"] is False and "not back" in row["verdict"]


def test_the_store_outage_wants_503_with_retry_after_during_it_and_nothing_after():
    during = [[10.2, 5000.0, STORE_503], [10.3, 5000.0, STORE_503]]
    assert judged(window("store", 10, 20, 30), steady_log(0, 30) + during)["met"] is True

    no_header = [[10.2, 5000.0, "503 store_unavailable"]]
    row = judged(window("store", 10, 20, 30), steady_log(0, 30) + during + no_header)
    assert row["met"] is False and "other than 503 with Retry-After" in row["verdict"]

    after = [[21.0, 3.0, "503 no_healthy_backend retry-after"]]
    row = judged(window("store", 10, 20, 30), steady_log(0, 30) + during + after)
    assert row["met"] is False and "1 failures after it" in row["verdict"]

    waited = [[10.2, 9800.0, None]]
    row = judged(window("store", 10, 20, 30), steady_log(0, 30) + waited)
    assert row["met"] is True and "writes waited for the lock" in row["verdict"]


def test_the_baseline_is_a_reference_but_still_loses_nothing():
    row = judged(window("baseline", 0, 8, 8), steady_log(0, 8), {"1": (1.0, 1.1)}, {"1"})
    assert row["met"] is False


def test_timelines_of_several_locust_processes_merge_into_one():
    def second(t, requests, failures, users):
        return {"t": t, "requests": requests, "failures": failures, "users": users,
                "ms": [1.0] * requests}

    master = {"role": "master", "spawn_complete_s": 3, "cpu_warnings": 1,
              "seconds": [second(2, 0, 0, 40), second(3, 0, 0, 40)]}
    workers = [{"role": "worker", "spawn_complete_s": None, "cpu_warnings": 1,
                "seconds": [second(2, 5, 0, 20), second(3, 7, 1, 20)],
                "log": [[3.5, 1.0, None], [2.5, 1.0, None]]},
               {"role": "worker", "spawn_complete_s": None, "cpu_warnings": 0,
                "seconds": [second(3, 1, 1, 20), second(4, 2, 0, 20)],
                "log": [[3.0, 1.0, "502"]]}]
    merged = locust_runs.merge([master, *workers])
    assert [(s["t"], s["requests"], s["failures"], s["users"], len(s["ms"]))
            for s in merged["seconds"]] == [(2, 5, 0, 40, 5), (3, 8, 2, 40, 8),
                                            (4, 2, 0, None, 2)]
    assert merged["spawn_complete_s"] == 3 and merged["cpu_warnings"] == 2
    assert [entry[0] for entry in merged["log"]] == [2.5, 3.0, 3.5]


class FakeResponse:
    def __init__(self, status, body=None, headers=None):
        self.status_code, self._body, self.headers = status, body, headers or {}

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


def test_failure_kinds_name_status_error_code_and_retry_after():
    unavailable = FakeResponse(503, {"error": "store_unavailable"}, {"Retry-After": "1"})
    assert failure_kind(unavailable, None) == STORE_503
    assert failure_kind(FakeResponse(502), None) == "502"
    assert failure_kind(FakeResponse(0), ConnectionResetError()) == "0 ConnectionResetError"


def test_abusive_sources_are_loopback_distinct_per_part_and_never_the_legitimate_address():
    sources = [a for part in abuse.PARTS for a in abuse.sources_for(part, 40)]
    assert len(sources) == len(set(sources)) == 44
    assert abuse.sources_for("idle", 40)[0] == "127.0.0.2"
    assert "127.0.0.1" not in sources
    assert all(ipaddress.ip_address(s) in ipaddress.ip_network("127.0.0.0/8") for s in sources)


def test_the_abusive_client_processes_summaries_merge():
    common = {"duration_s": 10, "idle_requested": 1000, "slowloris_connections": 20}
    merged = injectors.merge_abuse([
        {**common, "sources": {"idle": "127.0.0.2-127.0.0.11"},
         "parts": {"idle": {"attempts": 3, "outcomes": {}}}},
        {**common, "sources": {"uploads": "127.0.0.12"},
         "parts": {"uploads": {"attempts": 5, "outcomes": {"aborted": 5}}}}])
    assert merged["sources"] == {"idle": "127.0.0.2-127.0.0.11", "uploads": "127.0.0.12"}
    assert {name: part["attempts"] for name, part in merged["parts"].items()} == \
        {"idle": 3, "uploads": 5}
    assert merged["idle_requested"] == 1000


def test_abusive_client_reads_status_lines():
    assert abuse.status_of(b"HTTP/1.1 413 Payload Too Large\r\n") == "413"
    assert abuse.status_of(b"") == "closed"
    assert abuse.status_of(b"\x15\x03\x01") == "not http"


def test_jittered_throughput_keeps_the_mean_rate_and_spreads_users(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(pacing.time, "monotonic", lambda: clock[0])
    random.seed(3)
    wait = pacing.jittered_throughput(4.0)

    class User:
        pass

    def tasks(user, count, task_s):
        """Runs `count` tasks of `task_s` each; returns when each started."""
        starts = []
        for _ in range(count):
            starts.append(clock[0])
            clock[0] += task_s
            clock[0] += wait(user)
        return starts

    starts = tasks(User(), 400, 0.05)
    assert abs(400 / (starts[-1] - starts[0]) - 4.0) < 0.3
    # Two users released at the same instant (a hung backend answering) drift apart, where
    # locust's constant_throughput would keep them in lockstep.
    clock[0] = 1000.0
    first = tasks(User(), 3, 0.05)
    clock[0] = 1000.0
    second = tasks(User(), 3, 0.05)
    assert first[1:] != second[1:]


def test_open_files_can_be_raised():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert children.raise_open_files(soft) == soft
    assert children.raise_open_files(soft + 16) >= min(soft + 16, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1])


def test_the_fault_table_has_every_figure_and_a_verdict():
    row = {"key": "store", "fault": "store unavailable", "start": 30.0, "end": 40.0,
           "requests": 1200, "failures": 2, "seconds_with_failures": 1, "p99_during_ms": 9000.0,
           "p99_after_ms": None, "acknowledged": 400, "lost": 0, "met": False}
    assert fault_report.fault_table([row]) == [[
        "store unavailable", "30.0–40.0", 1200, 2, 1, "9000.0", "–", 400, 0, "**no**"]]


def test_exit_status_fails_on_loss_and_on_findings_only_when_strict():
    clean, lost, empty = ({"checked": 9, "missing": 0}, {"checked": 9, "missing": 1},
                          {"checked": 0, "missing": 0})
    assert outcome.exit_status(clean, finding=True, strict=False) == 0
    assert outcome.exit_status(clean, finding=True, strict=True) == 1
    assert outcome.exit_status(clean, finding=False, strict=True) == 0
    assert outcome.exit_status(lost, finding=False, strict=False) == 1
    assert outcome.exit_status(empty, finding=False, strict=False) == 1

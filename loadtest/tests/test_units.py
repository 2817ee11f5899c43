"""The harness's decisions without a stack: checks, knee detection, peaks, deviation, paging,
the loopback guard and the report's headline."""

import pytest

from harness import capacity, checks, concurrency, distribution, hosts, lost, report, stats

GOOD = {"id": "7", "text": "hi", "sentiment": 0.1, "label": "positive",
        "scores": {"neg": 0.0, "neu": 0.5, "pos": 0.5, "compound": 0.1},
        "created_at": "2026-01-01T00:00:00Z"}


def test_a_valid_analysis_returns_its_id():
    assert checks.check_analysis(GOOD, sent_text="hi") == "7"


@pytest.mark.parametrize("change", [
    {"id": 7}, {"label": "happy"}, {"sentiment": 2}, {"sentiment": True},
    {"scores": {"neg": 0, "neu": 0, "pos": 0}}, {"created_at": None}, {"text": "other"},
])
def test_a_wrong_analysis_is_a_failure(change):
    with pytest.raises(checks.ShapeError):
        checks.check_analysis({**GOOD, **change}, sent_text="hi")


def test_history_must_be_a_list_within_the_limit():
    assert checks.check_history([GOOD, {**GOOD, "id": "6"}], 2) == ["7", "6"]
    with pytest.raises(checks.ShapeError):
        checks.check_history([GOOD, GOOD], 1)
    with pytest.raises(checks.ShapeError):
        checks.check_history({"items": []}, 5)


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert stats.percentile(values, 0.5) == 50
    assert stats.percentile(values, 0.99) == 99
    assert stats.percentile([], 0.5) is None


def step(users, rps, p95=10.0, p99=20.0, failures=0):
    return {"users": users, "rps": rps, "p95_ms": p95, "p99_ms": p99, "failures": failures,
            "clean": True}


def test_capacity_verdicts():
    first = step(10, 100, p95=10)
    assert capacity.verdict(first, []) == (True, None)
    assert capacity.verdict(step(20, 200), [first]) == (True, None)
    assert capacity.verdict(step(20, 200, failures=3), [first])[0] is False
    assert capacity.verdict(step(20, 200, p95=80), [first]) == (True, None)
    assert capacity.verdict(step(20, 200, p95=600), [first])[0] is False
    assert capacity.verdict(step(20, 200, p99=1500), [first])[0] is False
    assert capacity.verdict(step(20, 102), [first]) == (True, "throughput plateau")


def test_peak_concurrency_stops_at_the_first_failure_or_slow_second():
    seconds = [{"t": 0, "users": 25, "failures": 0, "ms": [5.0]},
               {"t": 1, "users": 50, "failures": 0, "ms": [5.0, 2500.0]},
               {"t": 2, "users": 75, "failures": 1, "ms": [5.0]},
               {"t": 3, "users": 100, "failures": 0, "ms": [5.0]}]
    assert concurrency.peak_before(seconds, concurrency.failing) == (50, 2)
    assert concurrency.peak_before(seconds[:2], concurrency.failing) == (50, None)
    assert concurrency.peak_before(seconds, concurrency.failing_or_slow) == (25, 1)


def test_users_reached_is_how_far_and_how_fast_locust_got():
    seconds = [{"t": 2, "users": None}, {"t": 3, "users": 200}, {"t": 4, "users": 380},
               {"t": 5, "users": 380}]
    assert concurrency.reached(seconds) == (380, 1)
    assert concurrency.reached([{"t": 1, "users": None}]) == (0, None)


def test_only_high_spawn_rates_fork_locust():
    settings = concurrency.Settings(spawn_rates=(25, 200, 500), run_time_s=60, wait_s=(1, 5),
                                    fork_from_rate=200)
    assert [settings.processes_for(rate) for rate in (25, 200, 500)] == [0, 2, 2]


def test_distribution_deviation():
    assert distribution.deviation([100, 100, 100]) == 0.0
    assert distribution.deviation([150, 50]) == pytest.approx(0.5)
    assert distribution.deviation([0, 0]) == 0.0


def test_next_link_is_read_from_the_link_header():
    assert lost.next_link('</history?limit=500&before=42>; rel="next"') == \
        "/history?limit=500&before=42"
    assert lost.next_link(None) is None
    assert lost.next_link('</x>; rel="prev"') is None


def test_only_loopback_targets_without_allow_remote():
    assert hosts.check_target("http://127.0.0.1:8080/", False) == "http://127.0.0.1:8080"
    assert hosts.check_target("http://localhost:1", False) == "http://localhost:1"
    with pytest.raises(hosts.TargetError):
        hosts.check_target("http://10.1.2.3:8080", False)
    with pytest.raises(hosts.TargetError):
        hosts.check_target("ftp://127.0.0.1", False)
    assert hosts.check_target("http://10.1.2.3:8080", True) == "http://10.1.2.3:8080"


def test_headline_reports_capacity_lost_and_distribution():
    best = {**step(60, 147.7), "seconds": 8, "p50_ms": 2.0}
    results = {
        "capacity": {"best": best, "steps": [best]},
        "concurrency": {"settings": {"run_time_s": 6},
                        "runs": [{"spawn_rate": 25, "peak_users": 150, "first_failure_s": None,
                                  "responsive_peak_users": 125, "target_users": 150,
                                  "users_reached": 150},
                                 {"spawn_rate": 500, "peak_users": 900, "first_failure_s": 4,
                                  "responsive_peak_users": 700, "target_users": 3000,
                                  "users_reached": 1200}]},
        "wrk": [{"endpoint": "/", "connections": 50, "rps": 9000.0, "p99": 3.0, "errors": 0},
                {"endpoint": "/", "connections": 100, "rps": 9500.0, "p99": 4.0, "errors": 2}],
        "failures_total": 0,
        "lost": {"checked": 12, "missing": 0},
        "distribution": [{"algorithm": "round-robin", "workers": 2, "max_deviation": 0.01}],
    }
    rows = dict(report.headline(results))
    assert rows["Max RPS at 0% failures (locust)"].startswith("147.7 with 60 users")
    assert rows["Max RPS at 0 errors (wrk, /)"].startswith("9000 at 50 connections")
    assert rows["Max RPS at 0 errors (wrk, POST /analyze)"].startswith("0 ")
    assert rows["Peak concurrency at spawn rate 25/s"].startswith("150 users")
    assert rows["Peak concurrency at spawn rate 25/s with p95 under 1 s"] == "125 users"
    assert rows["Peak concurrency at spawn rate 500/s"] == (
        "900 users over 6 s, first failure at 4 s; locust itself reached only 1200 of 3000 users")
    assert rows["Analyses missing from history"] == "0"
    assert rows["Distribution max deviation from ideal, round-robin"].startswith("1.0 %")

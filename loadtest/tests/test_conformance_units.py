"""loadtest/cache-conformance's decisions without processes: the announced port and the tally of
the suite's results by kind."""

import pytest

from harness.conformance import announced_port, reason, tally


def test_the_port_comes_from_the_announcing_line_only():
    log = "warming up on http://x:1/\nbalancer listening on http://127.0.0.1:4321\n"
    assert announced_port(log, "balancer listening on ") == 4321
    assert announced_port("Listening on http://[::]:8123/\n", "Listening on ") == 8123
    assert announced_port("admin listening on http://127.0.0.1:9\n", "balancer listening on ") is None
    assert announced_port("balancer listening on soon\n", "balancer listening on ") is None


def test_only_a_true_result_passes_and_absent_kind_is_required():
    kinds = {"a": None, "b": "required", "c": "optimal", "d": "optimal", "e": "check"}
    results = {"a": True, "b": ["Assertion", "Response 2 comes from cache"], "c": True,
               "d": False, "e": True}
    counts = tally(kinds, results)
    assert counts.headline() == "required 1/2, optimal 1/2"
    assert counts.line("check") == "check 1/1"
    assert [(f.test_id, f.kind) for f in counts.failures] == [("b", "required"), ("d", "optimal")]
    assert counts.failures[0].reason == "Assertion: Response 2 comes from cache"


def test_a_test_the_client_did_not_report_is_a_failure():
    counts = tally({"x": None}, {})
    assert counts.headline() == "required 0/1, optimal 0/0"
    assert counts.failures[0].reason == "not run"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        tally({"x": "someday"}, {"x": True})


def test_reasons_are_one_bounded_line():
    assert reason(["Setup", "retry"]) == "Setup: retry"
    assert len(reason(["Assertion", "x" * 500])) == 200

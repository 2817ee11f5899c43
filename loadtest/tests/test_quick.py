"""The quick suite end to end against its own local stack (loopback only, bounded): it must pass
with 0 failures and 0 lost analyses, and its report's files and numbers must be there."""

import json
import subprocess
import sys
from pathlib import Path

from report_table import headline, leading_number

RUN = Path(__file__).resolve().parents[1] / "run"
# The suite takes under 3 minutes on 2 cores; the margin covers a busy shared machine.
TIMEOUT_S = 420
PLOTS = ("capacity.png", "failures_over_time.png", "wrk.png", "distribution.png")


def test_quick_suite_reports_no_failures_and_nothing_lost(tmp_path):
    out = tmp_path / "report"
    completed = subprocess.run([sys.executable, str(RUN), "--suite", "quick", "--out", str(out)],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    report = out / "report.md"
    assert report.exists()
    for plot in PLOTS:
        assert (out / plot).stat().st_size > 10_000, plot
        assert f"]({plot})" in report.read_text(encoding="utf-8")

    rows = headline(report)
    assert leading_number(rows["Failures in all locust runs"]) == 0
    assert leading_number(rows["Analyses missing from history"]) == 0
    assert leading_number(rows["Analyses acknowledged and checked in history"]) > 0
    assert leading_number(rows["Max RPS at 0% failures (locust)"]) > 0
    for endpoint in ("/", "/history", "POST /analyze"):
        assert leading_number(rows[f"Max RPS at 0 errors (wrk, {endpoint})"]) > 0
    for rate in (25, 50, 100):
        assert leading_number(rows[f"Peak concurrency at spawn rate {rate}/s"]) > 0
        responsive = rows[f"Peak concurrency at spawn rate {rate}/s with p95 under 1 s"]
        assert leading_number(responsive) >= 0
    for algorithm in ("round-robin", "least-connections", "consistent-hash"):
        deviation = leading_number(rows[f"Distribution max deviation from ideal, {algorithm}"])
        assert deviation >= 0

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["lost"]["checked"] == leading_number(
        rows["Analyses acknowledged and checked in history"])
    assert {r["workers"] for r in results["distribution"]} == {2, 4}

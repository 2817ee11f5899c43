"""The fault suite end to end, in its quick variant (shorter windows, 1,000 idle connections),
against its own local stack: nothing acknowledged may be lost, the report must be complete, and
nothing it started may be left running, also when it is stopped with SIGTERM mid-fault.

Whether the balancer meets each fault's target is what the suite measures and reports; it is
not asserted here (the exit status says only that the harness worked and nothing was lost)."""

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "run"
# The quick fault suite takes about 90 s on 2 cores; the margin covers a busy shared machine.
TIMEOUT_S = 300
ROWS = ["baseline", "kill", "hang", "store", "abuse"]
ABUSE_PARTS = {"uploads", "slowloris", "oversized", "garbage", "idle"}


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (our output folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(f"{entry.name}: {command}")
    return found


def table_rows(report: str) -> list[list[str]]:
    section = report.split("## Fault table", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[1:]]


def test_quick_fault_suite_loses_nothing_and_reports_every_fault(tmp_path):
    out = tmp_path / "faults"
    completed = subprocess.run([sys.executable, str(RUN), "--suite", "faults-quick",
                                "--out", str(out)],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert processes_mentioning(str(tmp_path)) == []

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["lost"]["checked"] > 0
    assert results["lost"]["missing"] == 0
    assert [row["key"] for row in results["rows"]] == ROWS
    for row in results["rows"]:
        assert row["requests"] > 0, row
        assert row["lost"] == 0, row
        assert row["p99_during_ms"] is not None, row
        assert isinstance(row["met"], bool) and row["verdict"], row
    kill, hang, store = results["rows"][1:4]
    assert kill["detail"]["pid"] != hang["detail"]["pid"]
    assert hang["detail"]["resumed_at"] - hang["detail"]["at"] >= 4.5
    assert store["end"] - store["start"] >= 9.5
    # The outage took effect: writes waited on the lock (or failed) while it was held.
    assert store["p99_during_ms"] > 1000 or store["failures_during"] > 0
    abuse = results["abuse"]["parts"]
    assert set(abuse) == ABUSE_PARTS
    assert all(part["attempts"] > 0 for part in abuse.values())
    assert abuse["idle"]["peak_open"] > 0

    report = (out / "report.md").read_text(encoding="utf-8")
    rows = table_rows(report)
    assert len(rows) == len(ROWS)
    for cells in rows:
        assert all(cell.replace(".", "").isdigit() for cell in cells[2:5] + cells[7:9]), cells
        assert cells[9] in ("–", "yes", "**no**"), cells
    for section in ("## Targets", "## What each fault was", "## Abusive client figures",
                    "## Failures seen by the legitimate load", "## Nothing lost"):
        assert section in report
    assert "store unavailable** means" in report
    assert (out / "failures_over_time.png").stat().st_size > 10_000
    assert "](failures_over_time.png)" in report


def wait_for_output(process: subprocess.Popen, text: bytes, timeout_s: float) -> bytes:
    """What the process printed until `text` appeared, it closed its output or time ran out."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while text not in seen and time.monotonic() < deadline:
            if selector.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    return seen


def test_sigterm_mid_fault_stops_everything_it_started(tmp_path):
    out = tmp_path / "faults"
    process = subprocess.Popen([sys.executable, str(RUN), "--suite", "faults-quick",
                                "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # A worker stopped with SIGSTOP is the worst moment to be interrupted.
        seen = wait_for_output(process, b"SIGSTOP of a worker", 120)
        assert b"SIGSTOP of a worker" in seen, seen.decode(errors="replace")
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode not in (0, None)
    remaining = processes_mentioning(str(tmp_path))
    assert remaining == [], remaining

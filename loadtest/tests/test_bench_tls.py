"""bench-tls in its quick mode end to end (loopback, bounded): both servers answer over TLS and
every row of the table is printed with figures. Skipped, saying so, where nginx or h2load is
not installed (`.ci/run` installs h2load; nginx is needed only by the benchmarks)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench-tls"
ROWS = ("h1 keep-alive", "h2 streams", "new TLS conns", "h2 at equal load")


@pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("h2load") is None,
                    reason="bench-tls needs nginx and h2load (apt-get install nginx-light nghttp2-client)")
def test_bench_tls_quick_mode_prints_every_row():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick", "--rate", "500"],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for row in ROWS:
        line = next((l for l in completed.stdout.splitlines() if l.startswith(row)), None)
        assert line is not None, f"{row} missing:\n{completed.stdout}"
        figures = [float(x) for x in re.findall(r"\d+\.\d+", line)]
        assert len(figures) >= 2 and all(f > 0 for f in figures[:2]), line

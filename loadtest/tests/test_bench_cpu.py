"""bench-cpu in its quick mode end to end (loopback, bounded): every proxy, every server floor
and the whole stack are driven at their fixed rate, each prints a row with its CPU per request,
and no request fails. Skipped, saying so, where nginx, HAProxy or h2load is not installed."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench-cpu"
SERVERS = [("plain proxy", "ours"), ("plain proxy", "nginx"), ("plain proxy", "haproxy"),
           ("cache hit", "ours"), ("cache hit", "nginx"),
           ("server floor", "nginx"), ("server floor", "actix-web"), ("server floor", "actix-http"),
           ("server floor", "hyper")]


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in ("nginx", "haproxy", "h2load")),
                    reason="bench-cpu needs nginx, HAProxy and h2load "
                           "(apt-get install nginx-light haproxy nghttp2-client)")
def test_bench_cpu_quick_mode_prints_every_row():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick"],
                               capture_output=True, text=True, timeout=900)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    for path, server in SERVERS:
        row = re.search(rf"^{path}\s+{server}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+\S+x\s+(\d+)\s+(\d+)$",
                        out, re.M)
        assert row is not None, f"{path} / {server} missing:\n{out}"
        user, system, total, requests, failed = row.groups()
        assert float(total) > 0 and int(requests) > 0, row.group(0)
        assert int(failed) == 0, row.group(0)
    for who in ("balancer", "workers"):
        assert re.search(rf"^{who}\s+[\d.]+ \+\s+[\d.]+ =\s+[\d.]+ us per POST$", out, re.M), out
    assert re.search(r"failed 0;", out), out

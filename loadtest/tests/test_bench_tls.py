"""bench-tls in its quick mode end to end (loopback, bounded): both servers answer over TLS and
every row of the table is printed with figures; with --cap each server is held to about half
of its core and no cgroup is left behind. Skipped, saying so, where nginx or h2load is not
installed (`.ci/run` installs h2load; nginx is needed only by the benchmarks), or where cgroups
cannot be written."""

import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from capped_run import assert_served_at_half_a_core
from harness.bench import CpuQuota

BENCH = Path(__file__).resolve().parents[1] / "bench-tls"
ROWS = ("h1 keep-alive", "h2 streams", "new TLS conns", "h2 at equal load")


def bench_tls_module():
    loader = importlib.machinery.SourceFileLoader("bench_tls", str(BENCH))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench_tls", loader))
    loader.exec_module(module)
    return module


def test_equal_load_percentiles_leave_out_the_warm_up_and_the_closing_ramp(tmp_path):
    # h2load's log: start (us), status, duration (us). Warm-up and ramp requests are slow here,
    # so counting either would move p99 (and p50 for the warm-up, which is most of the log).
    second = 1_000_000
    requests = [(s, 9000) for s in range(0, second, 1000)]             # the warm-up second
    requests += [(second + s, 100 + s // 1000 % 200) for s in range(0, 3 * second, 1000)]
    requests += [(4 * second + s, 7000) for s in range(0, 200_000, 1000)]  # the last 0.2 s
    log = tmp_path / "h2load.log"
    log.write_text("".join(f"{start}\t200\t{took}\n" for start, took in requests))
    p50, p99 = bench_tls_module().percentiles(log, 1, 0.2)
    assert (p50, p99) == (0.2, 0.298)


NEEDS_TOOLS = pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("h2load") is None,
    reason="bench-tls needs nginx and h2load (apt-get install nginx-light nghttp2-client)")


@NEEDS_TOOLS
def test_bench_tls_quick_mode_prints_every_row():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick", "--rate", "500"],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for row in ROWS:
        line = next((l for l in completed.stdout.splitlines() if l.startswith(row)), None)
        assert line is not None, f"{row} missing:\n{completed.stdout}"
        figures = [float(x) for x in re.findall(r"\d+\.\d+", line)]
        assert len(figures) >= 2 and all(f > 0 for f in figures[:2]), line


@NEEDS_TOOLS
@pytest.mark.skipif(os.geteuid() != 0 or CpuQuota.controller() is None,
                    reason="--cap writes cgroups: it needs root and a cgroup cpu controller")
def test_bench_tls_cap_holds_each_server_to_its_cpu_share():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick", "--cap", "0.5", "--only", "new",
                                "--only", "h2"], capture_output=True, text=True, timeout=600)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "held to 50% of core 0 by a CPU quota" in out, out
    for row in ("h2 streams", "new TLS conns"):
        assert_served_at_half_a_core(out, rf"{row}\s+50")
    left = CpuQuota.left_behind("bench-tls-")
    assert not left, left

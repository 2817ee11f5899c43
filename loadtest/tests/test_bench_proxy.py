"""bench-proxy in its quick mode with --cap end to end (loopback, bounded): both proxies serve every
cell, each is held to about half of its core by the CPU quota (uncapped, the proxy's core is
95-100 % busy), and no cgroup is left behind. Skipped, saying so, where nginx or wrk is missing
or cgroups cannot be written (not root, or no cpu controller)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from capped_run import assert_served_at_half_a_core
from harness.bench import CpuQuota

BENCH = Path(__file__).resolve().parents[1] / "bench-proxy"


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in ("nginx", "wrk", "taskset")),
                    reason="bench-proxy needs nginx and wrk (apt-get install nginx-light wrk)")
@pytest.mark.skipif(os.geteuid() != 0 or CpuQuota.controller() is None,
                    reason="--cap writes cgroups: it needs root and a cgroup cpu controller")
def test_bench_proxy_quick_mode_holds_each_proxy_to_its_cpu_share():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick", "--cap", "0.5",
                                "--same-headers"], capture_output=True, text=True, timeout=600)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "held to 50% of core 0 by a CPU quota" in out, out
    for scenario in ("plain proxy", "cache hits"):
        for connections in (50, 200):
            assert_served_at_half_a_core(out, rf"{scenario}\s+{connections}")
    left = CpuQuota.left_behind("bench-proxy-")
    assert not left, left

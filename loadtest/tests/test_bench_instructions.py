"""bench-instructions in its quick mode end to end (loopback, bounded): the balancer runs under
callgrind on each path, every request succeeds, and each row prints a plausible count of
instructions per request. Skipped, saying so, where Valgrind or h2load is not installed."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench-instructions"


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in ("valgrind", "h2load")),
                    reason="bench-instructions needs Valgrind and h2load "
                           "(apt-get install valgrind nghttp2-client)")
def test_bench_instructions_quick_mode_counts_every_path():
    completed = subprocess.run([sys.executable, str(BENCH), "--quick"],
                               capture_output=True, text=True, timeout=900)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    counts = {}
    for path in ("plain proxy", "cache hit", "h2 over TLS"):
        row = re.search(rf"^{path}\s+ours\s+([\d,]+)\s*$", out, re.M)
        assert row is not None, f"{path} missing:\n{out}"
        counts[path] = int(row.group(1).replace(",", ""))
    # A proxied request parses two heads and writes two; a hit parses one and writes one. Far
    # outside these bounds the dump was not of the counted requests.
    assert 5_000 < counts["cache hit"] < counts["plain proxy"] < 500_000, counts
    # The same proxied request, decrypted, encrypted and framed as HTTP/2 on top.
    assert counts["plain proxy"] < counts["h2 over TLS"] < 500_000, counts

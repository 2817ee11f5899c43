"""Checks a benchmark table printed under `--cap 0.5` (bench-proxy, bench-tls): each row both
servers served, with each server's core held to about half."""

import re


def assert_served_at_half_a_core(out: str, row: str) -> None:
    """`row` is a regular expression for the start of one table line, up to its two figures
    (nginx's, ours); the line's first `N%/ M%` pair is how busy each server's core was."""
    found = re.search(rf"^{row}\s+([\d.]+)\s+([\d.]+).*?(\d+)%/\s*(\d+)%", out, re.M)
    assert found is not None, f"{row} missing:\n{out}"
    nginx, ours, nginx_busy, ours_busy = (float(x) for x in found.groups())
    assert nginx > 0 and ours > 0, found.group(0)
    # Half a core each, plus the little the idle servers and the kernel spend there (uncapped,
    # the proxy's core is 95-100 % busy in these rows).
    assert nginx_busy <= 70 and ours_busy <= 70, found.group(0)

"""What loadtest/cache-conformance decides without processes: the port a child announced, and
the tally of the independent HTTP caching suite's results by test kind.

The suite's client prints a JSON object `{test id: result}`; a test passed only when its result
is exactly `true` (anything else is an assertion, setup or harness failure, kept as the
reason). Its tests carry a `kind`: `required` when absent, `optimal` or `check`."""

import re
from dataclasses import dataclass, field

KINDS = ("required", "optimal", "check")


@dataclass(frozen=True)
class Failure:
    test_id: str
    kind: str
    reason: str


@dataclass
class Tally:
    passed: dict = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    total: dict = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    failures: list = field(default_factory=list)

    def line(self, kind):
        return f"{kind} {self.passed[kind]}/{self.total[kind]}"

    def headline(self):
        return f"{self.line('required')}, {self.line('optimal')}"


def announced_port(text, prefix):
    """The port of the first line of `text` starting with `prefix` and then an http URL."""
    for line in text.splitlines():
        if line.startswith(prefix):
            match = re.search(r"https?://[^\s/]*:(\d+)", line[len(prefix):])
            if match:
                return int(match.group(1))
    return None


def reason(result):
    """The suite's result for a failed test as one short line."""
    if result is None:
        return "not run"
    if isinstance(result, list):
        return ": ".join(str(part) for part in result if part not in (None, ""))[:200]
    return str(result)[:200]


def tally(kinds, results):
    """Counts passes per kind; `kinds` maps every test id of the suite to its kind (None =
    required); a test missing from `results` counts as failed (not run)."""
    counts = Tally()
    for test_id, kind in kinds.items():
        kind = kind or "required"
        if kind not in KINDS:
            raise ValueError(f"unknown test kind {kind!r} for {test_id}")
        counts.total[kind] += 1
        result = results.get(test_id)
        if result is True:
            counts.passed[kind] += 1
        else:
            counts.failures.append(Failure(test_id, kind, reason(result)))
    return counts

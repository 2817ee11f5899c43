"""One headless locust run as a subprocess, bounded in time, and its recorded results."""

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.stats import summarize

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
STOP_TIMEOUT_S = 5
# Beyond the run time: locust start-up, stopping users, writing CSVs.
SUBPROCESS_MARGIN_S = 60


class LocustError(RuntimeError):
    """Locust did not run or left no timeline behind."""


@dataclass(frozen=True)
class Plan:
    name: str
    users: int
    spawn_rate: float
    run_time_s: int
    wait_s: tuple[float, float]


@dataclass
class Result:
    plan: Plan
    seconds: list[dict]
    spawn_complete_s: int | None
    cpu_warnings: int
    failure_reasons: list[tuple[str, int]]
    directory: Path

    def total(self) -> dict:
        return summarize(self.seconds)

    def steady(self) -> dict:
        """Summary after all users were spawned, without the last, partial second."""
        start = self.spawn_complete_s + 1 if self.spawn_complete_s is not None else 0
        window = [s for s in self.seconds if start <= s["t"] < self.seconds[-1]["t"]]
        return summarize(window or self.seconds)


def run(host: str, plan: Plan, directory: Path) -> Result:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(plan.users), "--spawn-rate", str(plan.spawn_rate),
        "--run-time", f"{plan.run_time_s}s", "--stop-timeout", str(STOP_TIMEOUT_S),
        "--csv", str(directory / "locust"), "--only-summary", "--loglevel", "WARNING",
    ]
    env = {
        **os.environ,
        "LOADTEST_RECORD_DIR": str(directory),
        "LOADTEST_WAIT_MIN": str(plan.wait_s[0]),
        "LOADTEST_WAIT_MAX": str(plan.wait_s[1]),
    }
    with open(directory / "locust.log", "wb") as log:
        try:
            subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                           timeout=plan.run_time_s + STOP_TIMEOUT_S + SUBPROCESS_MARGIN_S,
                           check=False)
        except subprocess.TimeoutExpired as error:
            raise LocustError(f"locust run {plan.name} did not stop in time") from error
    timelines = sorted(directory.glob("timeline-*.json"))
    if not timelines:
        raise LocustError(f"locust run {plan.name} left no timeline; see {directory}/locust.log")
    timeline = json.loads(timelines[-1].read_text(encoding="utf-8"))
    seconds = timeline["seconds"]
    if not seconds:
        raise LocustError(f"locust run {plan.name} recorded no requests")
    return Result(plan, seconds, timeline["spawn_complete_s"], timeline["cpu_warnings"],
                  _failure_reasons(directory / "locust_failures.csv"), directory)


def _failure_reasons(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(f"{r['Method']} {r['Name']}: {r['Error']}", int(r["Occurrences"]))
                for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda row: -row[1])


def acknowledged_ids(root: Path) -> set[str]:
    """Every analysis id the locust users recorded under `root`."""
    ids = set()
    for path in root.rglob("ids-*.txt"):
        ids.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                   if line.strip())
    return ids

"""What was tested on what: CPU count and model, OS, and the versions of every tool involved."""

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

import matplotlib


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    output = (completed.stdout or completed.stderr).strip()
    return output.splitlines()[0] if output else "not available"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(balancer_binary: Path | None) -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        # Not `import locust`: it would patch the harness's own sockets and signals with gevent.
        "locust": version("locust"),
        "matplotlib": matplotlib.__version__,
        "wrk": _first_line(["wrk", "-v"]).split(" [")[0],
        "balancer": _first_line([str(balancer_binary), "--version"]) if balancer_binary
        else "remote (not inspected)",
    }

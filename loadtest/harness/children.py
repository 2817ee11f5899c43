"""What every process the harness starts gets before it runs: it dies with the harness (Linux
parent-death signal), and it may hold as many open files as the load it must carry; and what
the harness reads about processes from /proc to find and stop its own."""

import ctypes
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Linux: SIGTERM this process when its parent dies, so nothing is left behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def raise_open_files(wanted: int) -> int:
    """Raises RLIMIT_NOFILE to at least `wanted` (the hard limit too when allowed, as root);
    returns the soft limit now in force, which is below `wanted` only when the OS refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        new_hard = hard if hard == resource.RLIM_INFINITY else max(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, new_hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def preexec(open_files: int):
    """A `preexec_fn` for subprocess: dies with the harness, may hold `open_files` files."""
    def prepare():
        die_with_parent()
        raise_open_files(open_files)
    return prepare


@dataclass(frozen=True)
class Status:
    state: str     # R, S, T (stopped), Z (zombie), ...
    parent: int
    group: int


def status(pid: int) -> Status | None:
    """State, parent and process group of `pid` from /proc, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields after its last `)` are fixed.
    state, parent, group = stat.rsplit(")", 1)[1].split()[:3]
    return Status(state, int(parent), int(group))


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes in process group `group`."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids
            if (found := status(pid)) is not None and found.group == group
            and found.state != "Z"]

"""Shared parts of the side-by-side benchmarks (bench-proxy, bench-cpu, bench-tls): child processes
stopped in reverse order, the tuned peer configurations of loadtest/peers, waiting for a URL, and
the CPU time a server's processes spent."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "loadtest" / "peers"
RELEASE = ROOT / "target" / "release"
TICK = os.sysconf("SC_CLK_TCK")

# What our balancer adds to every proxied exchange; --same-headers makes nginx do it too.
SAME_HEADERS = """proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Request-Id $request_id;
            add_header X-Request-Id $request_id always;
            add_header X-Upstream $upstream_addr;"""


class Processes:
    """Every child started by a benchmark, each in its own session, stopped in reverse order."""

    def __init__(self):
        self.children = []

    def start(self, argv, cpu=None, **kwargs):
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + list(argv)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                                 **kwargs)
        self.children.append(child)
        return child

    def stop_all(self):
        self._stop(list(reversed(self.children)))
        self.children = []

    def stop(self, child):
        """Stops one child (SIGTERM, then SIGKILL after 10 s), leaving the others running."""
        self._stop([child])
        self.children.remove(child)

    @staticmethod
    def _stop(children):
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def wait_http(url, limit=30.0, what="benchmark"):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{what}: {url} never answered 200")


def ecdsa_certificate(directory):
    """A self-signed ECDSA P-256 certificate for localhost in `directory`: (cert, key) paths."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    return cert, key


def in_turn(names, run):
    """`names` in order on even runs, reversed on odd ones: the first of a series tends to
    measure faster on this VM, so no server may always go first."""
    names = list(names)
    return names if run % 2 == 0 else names[::-1]


def start_balancers(procs, command, plain_port, cpu):
    """Starts the balancer `command` (binary and common flags) twice on loopback: cache off on
    `plain_port`, cache on at the next port, each with its admin API 90 ports up. Returns the two
    processes' pids (plain, cached)."""
    env = dict(os.environ, RUST_LOG="warn")
    pids = []
    for port, extra in ((plain_port, ["--cache-max-bytes", "0"]), (plain_port + 1, [])):
        listen = ["--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{port + 90}"]
        pids.append(procs.start(list(command) + listen + extra, cpu=cpu, env=env).pid)
    return pids


def load_generator_config(scratch, binary):
    """`--config FILE` lifting the balancer `binary`'s per-address bounds (256 connections, 256
    HTTP/2 streams in flight) for the load generator, all of whose connections come from
    127.0.0.1, as one would for a known load generator; nginx has neither bound. h2load's 200
    connections x 10 streams are 2,000 streams, and a run's 200 connections can still be
    closing (most of all under --cap) when the next run opens its own. Empty for a build from
    before the stream bound, which would refuse the unknown key."""
    if b"max_streams_per_ip" not in Path(binary).read_bytes():
        return []
    path = os.path.join(scratch, "load-generator.toml")
    with open(path, "w") as config:
        config.write("[proxy]\nmax_connections_per_ip = 4096\nmax_streams_per_ip = 4096\n")
    return ["--config", path]


def render_peer(scratch, name, workers=1, same_headers=False, ports=None):
    """Writes loadtest/peers/NAME.*.tmpl into `scratch` with its folders; returns the path.
    `ports` maps a port of the template to the one this copy listens on."""
    template = next(PEERS.glob(f"{name}.*.tmpl"))
    text = template.read_text().replace("@P@", str(scratch)).replace("@WORKERS@", str(workers))
    if same_headers:
        text = text.replace("proxy_set_header Host $host;", SAME_HEADERS)
    for old, new in (ports or {}).items():
        text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    for sub in ["run", "logs", f"tmp/{name}", "cache/nginx"]:
        os.makedirs(os.path.join(scratch, sub), exist_ok=True)
    path = os.path.join(scratch, template.name.removesuffix(".tmpl"))
    with open(path, "w") as conf:
        conf.write(text)
    return path


CGROUP_V2, CGROUP_V1_CPU = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/cpu")


class CpuQuota:
    """Processes held to `share` of one core by a CFS quota, in a cgroup of their own (cgroup v2
    `cpu.max`, or v1's `cpu` controller): a server capped below what the load generator can offer
    it shows what it serves per unit of CPU, whatever the load generator's own core can do.
    Needs root; the group is removed by `close` once its processes have exited."""

    PERIOD_US = 100_000  # the kernel's default period

    def __init__(self, name, share):
        quota = int(share * self.PERIOD_US)
        version = self.controller()
        if version is None:
            raise SystemExit("no cgroup cpu controller at /sys/fs/cgroup: cannot cap CPU")
        self.path = (CGROUP_V2 if version == 2 else CGROUP_V1_CPU) / name
        try:
            if version == 2:
                (CGROUP_V2 / "cgroup.subtree_control").write_text("+cpu")
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
            else:
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as error:
            self.close()
            raise SystemExit(f"cannot cap CPU with cgroups (root is needed): {error}") from error

    @staticmethod
    def controller():
        """2 or 1 for the cgroup version whose cpu controller is mounted, None without one."""
        controllers = CGROUP_V2 / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            return 2
        return 1 if (CGROUP_V1_CPU / "cpu.cfs_quota_us").exists() else None

    @staticmethod
    def left_behind(prefix):
        """The groups named `prefix`* still present: a run removes its own."""
        return [group for base in (CGROUP_V2, CGROUP_V1_CPU) if base.is_dir()
                for group in base.glob(f"{prefix}*")]

    def add(self, pid):
        """Moves process `pid`, all its threads, into the group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def close(self):
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # processes still exiting
                time.sleep(0.1)


def cap_each(servers, share, prefix, quotas):
    """Holds each of `servers` (name: the pid leading its session, e.g. nginx's master, whose
    workers go with it) to `share` of a core in a group `prefix`-name of its own, appending
    each group to `quotas` as it is made, so the caller closes every one made even if a later
    one fails."""
    for name, leader in servers.items():
        quotas.append(CpuQuota(f"{prefix}-{name}", share))
        for pid in session_pids(leader):
            quotas[-1].add(pid)


def session_pids(leader):
    """Every process of the session `leader` started (nginx master and workers, ...)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == leader:  # field 6 of stat: the session id
                pids.append(int(entry))
    return pids


def cpu_ticks(pids):
    """(user, system) clock ticks of every thread of `pids`."""
    user = system = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user += int(fields[11])   # field 14 of stat
            system += int(fields[12])  # field 15 of stat
    return user, system


def core_ticks(cpu):
    """(busy, all) clock ticks of core `cpu` since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(x) for x in line.split()[1:]]
            return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # less idle and iowait
    raise SystemExit(f"no cpu{cpu} in /proc/stat")

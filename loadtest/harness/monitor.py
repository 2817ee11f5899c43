"""The balancer's view during a fault run: a thread polls the admin API (`GET /backends` and
`GET /workers`) a few times a second and keeps each sample on the run's time base, so the report
can say when a backend left rotation and came back, and which worker was which."""

import threading
import time
import urllib.error

from harness.stack import Stack, admin_get

POLL_INTERVAL_S = 0.25
ADMIN_TIMEOUT_S = 2.0
# A bound on memory and time whatever happens: an hour of samples.
MAX_SAMPLES = int(3600 / POLL_INTERVAL_S)


class Monitor:
    def __init__(self, stack: Stack, origin: float):
        self.stack, self.origin = stack, origin
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="admin-monitor", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join(ADMIN_TIMEOUT_S * 3)

    def _poll(self):
        while not self._stop.is_set() and len(self.samples) < MAX_SAMPLES:
            t = time.time() - self.origin
            try:
                backends = admin_get(self.stack.admin_url, self.stack.admin_token, "/backends",
                                     ADMIN_TIMEOUT_S)
                workers = admin_get(self.stack.admin_url, self.stack.admin_token, "/workers",
                                    ADMIN_TIMEOUT_S)["workers"]
            except (OSError, urllib.error.URLError, ValueError, KeyError) as error:
                self.samples.append({"t": round(t, 3), "error": str(error)[:200]})
            else:
                self.samples.append({
                    "t": round(t, 3),
                    "backends": [{"address": b["address"], "healthy": b["healthy"],
                                  "in_flight": b["in_flight"]} for b in backends],
                    "workers": [{"slot": w["slot"], "pid": w["pid"], "address": w["address"]}
                                for w in workers],
                })
            self._stop.wait(POLL_INTERVAL_S)

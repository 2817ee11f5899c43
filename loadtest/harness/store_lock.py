#!/usr/bin/env python3
"""Makes the embedded store unavailable for writes from outside, as a process of its own:

  cd loadtest && python3 -m harness.store_lock PATH/TO/store.db SECONDS

It opens the SQLite file like any other client would (an operator's `sqlite3` shell left in a
transaction, a backup or migration tool), takes SQLite's write lock with `BEGIN IMMEDIATE`, prints
`locked`, holds it for SECONDS, rolls back and prints `released`. Meanwhile the workers' commits
wait their busy timeout and fail (503 `store_unavailable`); reads go on, since WAL readers never
wait for the writer. The kernel drops the lock if this process dies, so it cannot outlive a
killed harness for long."""

import sqlite3
import sys
import time

# How long to wait for the lock: the workers commit every few milliseconds, so it is free often.
ACQUIRE_TIMEOUT_S = 10.0


def main(argv) -> int:
    path, seconds = argv[0], float(argv[1])
    connection = sqlite3.connect(path, timeout=ACQUIRE_TIMEOUT_S, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print(f"locked {time.time():.3f}", flush=True)
    time.sleep(seconds)
    connection.execute("ROLLBACK")
    print(f"released {time.time():.3f}", flush=True)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The environment variables through which `loadtest/run` tells the recorder inside locust where
and how to record. Kept apart from `recorder.py` so the harness can name them without importing
locust (which patches the harness's sockets and signals with gevent)."""

RECORD_DIR_VARIABLE = "LOADTEST_RECORD_DIR"
TIME_ORIGIN_VARIABLE = "LOADTEST_TIME_ORIGIN"
REQUEST_LOG_VARIABLE = "LOADTEST_REQUEST_LOG"

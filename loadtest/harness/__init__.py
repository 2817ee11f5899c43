"""The load-test harness behind `loadtest/run`: locust users' helpers, the local stack, the
capacity, concurrency, wrk and distribution runs, the lost-analysis check and the report."""

//! How a balancer that manages its workers shares the machine's CPUs with them. Left to their
//! own defaults, the balancer and every worker each start a thread per CPU: on two CPUs the
//! local stack ran six request threads that took turns waking for each POST. Measured there
//! (two workers, `POST /analyze` at 5,000/s over 20 connections, CPU per POST from `/proc`,
//! nine rounds of each build alternating, medians): balancer 52.3 -> 45.0 us, workers 80.8 ->
//! 71.5 us per POST with one proxy thread and one HTTP thread per worker; saturated POST
//! (`wrk -t1 -c50`) and cache-hit throughput the same within the spread (balancer/README.md).
//! So the default divides the CPUs: half for the balancer (which alone serves cache hits), the
//! CPUs over the worker count for each worker, at least one thread each. `threads` and a
//! worker's `--threads` still choose otherwise; static backends run elsewhere and leave the
//! balancer a thread per CPU.

/// The CPUs this process may run on (its affinity mask, so `taskset` counts).
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The balancer's proxy threads beside the workers it manages.
pub fn balancer_threads(cpus: usize) -> usize {
    (cpus / 2).max(1)
}

/// Each managed worker's HTTP threads, with `workers` of them on the machine.
pub fn worker_threads(cpus: usize, workers: usize) -> usize {
    (cpus / workers.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::{balancer_threads, worker_threads};

    #[test]
    fn two_cpus_and_two_workers_give_everyone_one_thread() {
        assert_eq!(balancer_threads(2), 1);
        assert_eq!(worker_threads(2, 2), 1);
    }

    #[test]
    fn the_cpus_are_divided_and_nobody_gets_none() {
        assert_eq!(balancer_threads(1), 1);
        assert_eq!(balancer_threads(8), 4);
        assert_eq!(worker_threads(8, 2), 4);
        assert_eq!(worker_threads(8, 3), 2);
        assert_eq!(worker_threads(2, 5), 1);
        assert_eq!(worker_threads(4, 0), 4, "a stack scaled to no workers yet");
    }
}

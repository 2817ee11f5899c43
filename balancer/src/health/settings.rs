//! The `[health]` settings: active checks and passive ejection.

use std::time::Duration;

use crate::configuration::convert::{keep, positive, positive_ms, prefix};
use crate::configuration::section;

section! {
    /// `[health]`: active checks and passive ejection.
    HealthLayer => HealthSettings, "health." {
        #[arg(skip)]
        path: String = "/readyz".into() => path: String = prefix,
        /// Active health check interval in milliseconds.
        #[arg(long = "health-interval-ms", env = "BALANCER_HEALTH_INTERVAL_MS", value_name = "MS")]
        interval_ms: u64 = 1000 => interval: Duration = positive_ms,
        #[arg(skip)]
        timeout_ms: u64 = 1000 => timeout: Duration = positive_ms,
        /// Down after this many failed checks.
        #[arg(skip)]
        fall: u32 = 2 => fall: u32 = positive,
        /// Up after this many good checks (a new backend: after its first).
        #[arg(skip)]
        rise: u32 = 2 => rise: u32 = positive,
        /// Backend faults in a row that eject it until `rise` good active checks.
        #[arg(skip)]
        passive_failures: u32 = 3 => passive_failures: u32 = positive,
        /// Also count 5xx answers as backend faults.
        #[arg(skip)]
        passive_5xx: bool = false => passive_5xx: bool = keep,
    }
}

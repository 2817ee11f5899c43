//! Backend health: the prober that checks every backend each interval (`probe`), and the state
//! machine that turns active checks and passive failures into up, down and ejected (`state`).

mod probe;
mod settings;
mod state;

pub use probe::run;
pub use settings::{HealthLayer, HealthSettings};
pub use state::{CheckResult, HealthFlip, HealthState};

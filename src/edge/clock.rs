//! The system's clock behind the [`Clock`] port.

use crate::ports::clock::Clock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The time as the system tells it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        now_ms() / 1000
    }
}

/// Milliseconds since the Unix epoch: what EMF documents carry.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

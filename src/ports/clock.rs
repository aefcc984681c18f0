//! What time it is: the [`Clock`] port, so that every flow that decides by time takes the
//! time as a parameter. The system's clock is `edge::clock::SystemClock`; tests set the time.

/// The time now, in Unix seconds.
pub trait Clock {
    fn now(&self) -> u64;
}

/// A clock that says what it is told: for tests, and for replaying a run at a given time.
#[derive(Debug, Default)]
pub struct FixedClock(pub std::sync::atomic::AtomicU64);

impl FixedClock {
    pub fn at(seconds: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(seconds))
    }

    pub fn set(&self, seconds: u64) {
        self.0.store(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

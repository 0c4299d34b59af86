//! Time is injected: the crate never reads the system clock.

use chrono::{DateTime, Utc};

/// A source of the current time, supplied by the host.
///
/// Any `Fn() -> DateTime<Utc>` is a clock, so a host passes `|| chrono::Utc::now()` and a test
/// passes a fixed or stepping time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

impl<F: Fn() -> DateTime<Utc> + Send + Sync> Clock for F {
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

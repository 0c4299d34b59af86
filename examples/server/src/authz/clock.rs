//! Time, injected so that lifetimes (code expiry, token expiry) can be tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// The system clock shifted by an adjustable offset: tests move time forward with
/// [`OffsetClock::advance`] to expire codes and tokens.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl OffsetClock {
    /// A clock that starts at the system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves this clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        SystemClock.now() + self.offset.load(Ordering::SeqCst)
    }
}

//! Time as the host passes it in: the crate never reads a clock.

/// A point in time, in whole seconds since the Unix epoch (the JWT `NumericDate`).
///
/// The host reads its clock and passes the value in; tests pin it.
///
/// ```
/// use smart_auth::UnixTime;
/// let now = UnixTime::from_secs(1_700_000_000);
/// assert_eq!(now.as_secs(), 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The time `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: i64) -> UnixTime {
        UnixTime(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// Reads the given system time (a convenience for hosts; the crate itself never calls it
    /// with the real clock). Times before the epoch map to 0.
    pub fn from_system_time(t: std::time::SystemTime) -> UnixTime {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => UnixTime(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(_) => UnixTime(0),
        }
    }

    /// `self + secs`, saturating.
    pub const fn plus(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

/// The whole second of a `chrono` instant (earlier fractions are dropped), so that a host with
/// one clock hands the same instant to the validator and to its audit records:
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use smart_auth::UnixTime;
/// let recorded = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::milliseconds(999);
/// assert_eq!(UnixTime::from(recorded), UnixTime::from_secs(1_767_225_600));
/// ```
impl From<chrono::DateTime<chrono::Utc>> for UnixTime {
    fn from(t: chrono::DateTime<chrono::Utc>) -> UnixTime {
        UnixTime(t.timestamp())
    }
}

/// A source of the current time, for hosts that prefer to hand the validator a clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The host's system clock. The crate never uses it on its own; a host opts in by passing it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_system_time(std::time::SystemTime::now())
    }
}

/// A clock that always reads the same instant (for tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

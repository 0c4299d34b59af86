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

/// Clock leeway: how far the clocks of the authorization server, the client and this server
/// may disagree when `exp`, `nbf` and `iat` are checked. Between 0 and [`Leeway::MAX`] (300 s,
/// smart.md §3.3; RFC 7519 §4.1.4: "usually no more than a few minutes"). The only way to make
/// one from a number, [`Leeway::from_secs`], checks that bound, so every validator taking a
/// `Leeway` ([`IssuerConfig`](crate::IssuerConfig), the
/// [`Introspector`](crate::introspection::Introspector), the
/// [`ClientAssertionValidator`](crate::client_assertion::ClientAssertionValidator), the
/// [`DpopValidator`](crate::dpop::DpopValidator), the
/// [`IdTokenValidator`](crate::oidc::IdTokenValidator)) uses exactly the one it was given.
///
/// ```
/// use smart_auth::time::Leeway;
/// assert_eq!(Leeway::from_secs(10)?.as_secs(), 10);
/// assert!(Leeway::from_secs(301).is_err());
/// # Ok::<(), smart_auth::validator::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Leeway(i64);

impl Leeway {
    /// No leeway.
    pub const ZERO: Leeway = Leeway(0);
    /// 30 s: the default of every validator except DPoP proofs'.
    pub const DEFAULT: Leeway = Leeway(30);
    /// 300 s, the largest leeway.
    pub const MAX: Leeway = Leeway(300);
    /// 5 s: the default for a DPoP proof's `iat` in the future.
    pub(crate) const DPOP_PROOF: Leeway = Leeway(5);

    /// A leeway of `secs` seconds, or [`ConfigError::Leeway`](crate::validator::ConfigError::Leeway)
    /// outside 0..=300.
    pub const fn from_secs(secs: i64) -> Result<Leeway, crate::validator::ConfigError> {
        if secs >= 0 && secs <= Leeway::MAX.0 {
            Ok(Leeway(secs))
        } else {
            Err(crate::validator::ConfigError::Leeway(secs))
        }
    }

    /// The leeway in seconds.
    pub const fn as_secs(self) -> i64 {
        self.0
    }
}

impl Default for Leeway {
    fn default() -> Leeway {
        Leeway::DEFAULT
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

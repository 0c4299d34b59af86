//! Time as the host passes it in: the crate never reads a clock.

use crate::validator::ConfigError;

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

/// A duration in whole seconds that can only be made within `0..=MAX`: `from_secs` returns the
/// named [`ConfigError`] outside it, so no validator or cache silently clamps what it is given.
/// One type per use, so that two durations passed side by side cannot be swapped.
macro_rules! bounded_secs {
    ($(#[$doc:meta])* $name:ident, max = $max:literal, error = $err:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            #[doc = concat!("The largest value, ", stringify!($max), " s.")]
            pub const MAX: $name = $name($max);

            #[doc = concat!("`secs` seconds, or [`ConfigError::", stringify!($err), "`] outside 0..=",
                            stringify!($max), ".")]
            pub const fn from_secs(secs: i64) -> Result<$name, ConfigError> {
                if secs >= 0 && secs <= $max {
                    Ok($name(secs))
                } else {
                    Err(ConfigError::$err(secs))
                }
            }

            /// The duration in seconds.
            pub const fn as_secs(self) -> i64 {
                self.0
            }
        }
    };
}

bounded_secs! {
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
    Leeway, max = 300, error = Leeway
}

impl Leeway {
    /// No leeway.
    pub const ZERO: Leeway = Leeway(0);
    /// 30 s: the default of every validator except DPoP proofs'.
    pub const DEFAULT: Leeway = Leeway(30);
    /// 5 s: the default for a DPoP proof's `iat` in the future.
    pub(crate) const DPOP_PROOF: Leeway = Leeway(5);
}

impl Default for Leeway {
    fn default() -> Leeway {
        Leeway::DEFAULT
    }
}

bounded_secs! {
    /// How long a cache may serve an answer that let a token through: a positive
    /// [`IntrospectionCache`](crate::introspection::IntrospectionCache) answer. Never past the
    /// token's `exp` either. At most [`CacheTtl::MAX`], one hour: a token revoked at the
    /// authorization server must stop working within the hour (smart.md §11, ONC g10 9.3), and a
    /// cached answer is not asked again.
    ///
    /// ```
    /// use smart_auth::time::CacheTtl;
    /// assert_eq!(CacheTtl::from_secs(300)?.as_secs(), 300);
    /// assert!(CacheTtl::from_secs(3601).is_err() && CacheTtl::from_secs(-1).is_err());
    /// # Ok::<(), smart_auth::validator::ConfigError>(())
    /// ```
    CacheTtl, max = 3600, error = CacheTtl
}

impl CacheTtl {
    /// 60 s, smart.md §13's default for the introspection cache.
    pub const DEFAULT: CacheTtl = CacheTtl(60);
}

impl Default for CacheTtl {
    fn default() -> CacheTtl {
        CacheTtl::DEFAULT
    }
}

/// A negative answer's few seconds are well within a cache's bound.
impl From<NegativeTtl> for CacheTtl {
    fn from(ttl: NegativeTtl) -> CacheTtl {
        CacheTtl(ttl.0)
    }
}

bounded_secs! {
    /// How long an introspection answer `"active": false` is cached (0 for never): seconds only
    /// (smart.md §4: "negative answers at most a few seconds"; RFC 7662 §4), at most
    /// [`NegativeTtl::MAX`], 10 s. Enough to spare the authorization server a client retrying a
    /// dead token; short enough that a token the server did not know yet is soon asked again.
    ///
    /// ```
    /// use smart_auth::time::NegativeTtl;
    /// assert_eq!(NegativeTtl::from_secs(5)?.as_secs(), 5);
    /// assert!(NegativeTtl::from_secs(300).is_err());
    /// # Ok::<(), smart_auth::validator::ConfigError>(())
    /// ```
    NegativeTtl, max = 10, error = NegativeTtl
}

impl NegativeTtl {
    /// No negative caching: every request with an inactive token asks again.
    pub const ZERO: NegativeTtl = NegativeTtl(0);
}

bounded_secs! {
    /// How old (by its `iat`) a DPoP proof may be: RFC 9449 §11.1 has servers accept proofs
    /// "only for a limited time", and the replay store keeps each `jti` that long. At most
    /// [`ProofAge::MAX`], 300 s (the default), like a client assertion's 5 minutes (smart.md §11).
    ///
    /// ```
    /// use smart_auth::time::ProofAge;
    /// assert_eq!(ProofAge::from_secs(60)?.as_secs(), 60);
    /// assert!(ProofAge::from_secs(3600).is_err());
    /// # Ok::<(), smart_auth::validator::ConfigError>(())
    /// ```
    ProofAge, max = 300, error = ProofAge
}

bounded_secs! {
    /// The longest an access token may live, `exp` minus `iat` (or `nbf`), for
    /// [`IssuerConfig::max_lifetime`](crate::IssuerConfig::max_lifetime). At most
    /// [`MaxLifetime::MAX`], 24 h (the default): user-facing access tokens SHOULD live an hour at
    /// most and backend ones 5 minutes (smart.md §11), so a longer bound only hides a token that
    /// should not exist. A negative one, which would refuse every token, cannot be made.
    ///
    /// ```
    /// use smart_auth::time::MaxLifetime;
    /// assert_eq!(MaxLifetime::from_secs(3600)?.as_secs(), 3600);
    /// assert!(MaxLifetime::from_secs(-1).is_err() && MaxLifetime::from_secs(86_401).is_err());
    /// # Ok::<(), smart_auth::validator::ConfigError>(())
    /// ```
    ///
    /// A [`Leeway`] is not a lifetime, nor is a bare number:
    ///
    /// ```compile_fail
    /// use smart_auth::{time::Leeway, IssuerConfig};
    /// let c = IssuerConfig::new("https://as.example", "https://fhir.example")
    ///     .max_lifetime(Some(Leeway::DEFAULT));
    /// ```
    ///
    /// ```compile_fail
    /// use smart_auth::IssuerConfig;
    /// let c = IssuerConfig::new("https://as.example", "https://fhir.example").max_lifetime(Some(3600));
    /// ```
    MaxLifetime, max = 86_400, error = MaxLifetime
}

impl MaxLifetime {
    /// 24 h, [`IssuerConfig::new`](crate::IssuerConfig::new)'s default.
    pub const DEFAULT: MaxLifetime = MaxLifetime::MAX;
}

impl Default for MaxLifetime {
    fn default() -> MaxLifetime {
        MaxLifetime::DEFAULT
    }
}

bounded_secs! {
    /// How long ago an OpenID Connect ID token may have been issued
    /// ([`IdTokenValidator::max_age_of_iat`](crate::oidc::IdTokenValidator::max_age_of_iat)) or
    /// its user authenticated (`auth_time` against the `max_age` request parameter,
    /// [`IdTokenExpectations::max_age`](crate::oidc::IdTokenExpectations::max_age); OIDC Core
    /// §3.1.2.1, §3.1.3.7 items 10 and 13). At most [`MaxAge::MAX`], 30 days: a sign-in older than
    /// that is no longer one a client can call recent. A negative one, which would refuse every
    /// ID token, cannot be made.
    ///
    /// ```
    /// use smart_auth::time::MaxAge;
    /// assert_eq!(MaxAge::from_secs(600)?.as_secs(), 600);
    /// assert!(MaxAge::from_secs(-1).is_err() && MaxAge::from_secs(2_592_001).is_err());
    /// # Ok::<(), smart_auth::validator::ConfigError>(())
    /// ```
    MaxAge, max = 2_592_000, error = MaxAge
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

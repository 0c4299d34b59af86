//! DPoP-bound access tokens (RFC 9449) at the facade: `Authorization: DPoP <token>` with a
//! `DPoP` proof header, checked against the request as the client addressed it.
//!
//! Off by default (such requests are refused as an unsupported confirmation, never treated as
//! bearer tokens); [`crate::SecureFhir::with_dpop`] turns it on.

use std::sync::Arc;

use smart_auth::bearer::Credential;
use smart_auth::dpop::DpopValidator;
use smart_auth::replay::ReplayStore;
use smart_auth::{AccessContext, TokenError, UnixTime, Validator};

/// The public base URL given to [`crate::SecureFhir::with_dpop`] is not an absolute `http(s)`
/// URL, so no proof's `htu` could be checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBaseUrl;

impl std::fmt::Display for InvalidBaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the public FHIR base URL is not an absolute http(s) URL")
    }
}

impl std::error::Error for InvalidBaseUrl {}

/// What the facade needs to check DPoP proofs.
///
/// Certificate-bound tokens (`cnf.x5t#S256`, RFC 8705) are not accepted by the facade: it sees
/// `http` requests, not the TLS connection they came over, so it cannot know the client
/// certificate. A host that terminates mutual TLS checks them with
/// `smart_auth::mtls::check_certificate_binding` before (or instead of) this facade.
pub(crate) struct DpopBinding {
    pub(crate) validator: DpopValidator,
    pub(crate) replay: Arc<dyn ReplayStore>,
    /// `scheme://authority` of the URL clients address (the proof's `htu` is this origin and
    /// the request path).
    pub(crate) origin: String,
}

impl DpopBinding {
    /// A binding for a FHIR base addressed as `public_base_url`; `None` when the URL is not an
    /// absolute `http(s)` URL.
    pub(crate) fn new(
        validator: DpopValidator,
        replay: Arc<dyn ReplayStore>,
        public_base_url: &str,
    ) -> Option<DpopBinding> {
        let (scheme, rest) = public_base_url.split_once("://")?;
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() {
            return None;
        }
        Some(DpopBinding {
            validator,
            replay,
            origin: format!("{scheme}://{authority}"),
        })
    }

    /// Validates a `DPoP` credential: the token (which must be bound by `cnf.jkt`), the proof
    /// against this request's method and URL (query and fragment are not part of `htu`), the
    /// proof's `ath` against the token, and the proof's `jti` against replays.
    pub(crate) fn validate(
        &self,
        validator: &Validator,
        credential: Credential<'_>,
        parts: &http::request::Parts,
        now: UnixTime,
    ) -> Result<AccessContext, TokenError> {
        let uri = format!("{}{}", self.origin, parts.uri.path());
        // A token also bound to a client certificate (RFC 8705) is refused there too: only the
        // host's TLS termination could check the certificate.
        self.validator.validate_request(
            validator,
            credential,
            parts.method.as_str(),
            &uri,
            None,
            &*self.replay,
            now,
        )
    }

    /// The `algs` attribute of the `DPoP` challenge.
    pub(crate) fn algs(&self) -> String {
        self.validator.algs_attribute()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smart_auth::replay::InMemoryReplayStore;

    #[test]
    fn origin_of_the_public_base() {
        let b = |u: &str| {
            DpopBinding::new(
                DpopValidator::new(),
                Arc::new(InMemoryReplayStore::new(8)),
                u,
            )
            .map(|b| b.origin)
        };
        assert_eq!(
            b("https://fhir.example.com:8443/r4/fhir").as_deref(),
            Some("https://fhir.example.com:8443")
        );
        assert_eq!(
            b("http://127.0.0.1:8080/fhir").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(b("/fhir"), None);
        assert_eq!(b("ftp://x/fhir"), None);
        assert_eq!(b("https:///fhir"), None);
    }
}

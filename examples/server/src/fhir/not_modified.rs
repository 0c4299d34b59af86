//! Conditional read (FHIR R4 http.html §3.1.0.2.1): a read or vread with `If-None-Match` or
//! `If-Modified-Since` that names what the caller holds already is answered `304 Not Modified`,
//! evaluated as RFC 9110 §13.1.2 and §13.1.3 have it. Only ever asked after the caller's access
//! to the version was checked: what it may not read is the same 404 whatever it sends.

use chrono::{DateTime, Utc};

use crate::store::Version;

/// Whether the read of `v` may be answered `304`: `If-None-Match` names it (`*`, or a tag
/// compared weakly; a malformed value names nothing), or, without `If-None-Match`,
/// `v` was last changed no later than `If-Modified-Since` (to the second, the precision of
/// `Last-Modified`).
pub fn holds(
    if_none_match: Option<&str>,
    if_modified_since: Option<DateTime<Utc>>,
    v: &Version,
) -> bool {
    if let Some(tags) = if_none_match {
        return super::rest::if_match_holds(tags, Some(v));
    }
    let Some(since) = if_modified_since else {
        return false;
    };
    DateTime::parse_from_rfc3339(&v.last_updated)
        .is_ok_and(|changed| changed.timestamp() <= since.timestamp())
}

/// An `If-Modified-Since` value as an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7); `None` for
/// anything else, which the recipient must ignore (§13.1.3).
pub fn http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    value.ends_with(" GMT").then_some(())?;
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(n: i64, last_updated: &str) -> Version {
        Version {
            rtype: "Patient".into(),
            id: "p".into(),
            version: n,
            last_updated: last_updated.into(),
            deleted: false,
            body: Some("{}".into()),
        }
    }

    #[test]
    fn if_none_match_decides_alone_and_if_modified_since_counts_whole_seconds() {
        let v = version(3, "2026-12-07T06:17:18.750Z");
        let at = http_date("Mon, 07 Dec 2026 06:17:18 GMT");
        let before = http_date("Mon, 07 Dec 2026 06:17:17 GMT");
        assert!(at.is_some() && before.is_some());
        assert!(holds(Some("W/\"3\""), None, &v));
        assert!(holds(Some("\"1\", W/\"3\""), None, &v));
        assert!(holds(Some("*"), None, &v));
        assert!(!holds(Some("W/\"2\""), at, &v));
        assert!(!holds(Some("W/\"3"), None, &v));
        assert!(holds(None, at, &v));
        assert!(!holds(None, before, &v));
        assert!(!holds(None, None, &v));
    }

    #[test]
    fn only_http_dates_are_dates() {
        assert!(http_date("2026-12-07T06:17:18Z").is_none());
        assert!(http_date("Mon, 07 Dec 2026 06:17:18 +0100").is_none());
        assert!(http_date("yesterday").is_none());
        assert_eq!(
            http_date("Thu, 01 Jan 1970 00:00:01 GMT").map(|t| t.timestamp()),
            Some(1)
        );
    }
}

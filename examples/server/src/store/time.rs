//! FHIR date, dateTime and instant values as half-open millisecond ranges, so that a value's
//! precision becomes an interval (`2024` covers the whole year), as FHIR search compares them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// `[lo, hi)` in milliseconds since the Unix epoch of a date, dateTime or instant string.
/// Values without a time zone are taken as UTC.
pub fn instant_range(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    if s.len() > 40 {
        return None;
    }
    let date_only = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    let ms = |d: NaiveDateTime| Utc.from_utc_datetime(&d).timestamp_millis();
    match s.len() {
        4 => {
            let y: i32 = s.parse().ok()?;
            let lo = date_only(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
            let hi = date_only(y + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
            Some((ms(lo), ms(hi)))
        }
        7 => {
            let (y, m) = s.split_once('-')?;
            let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
            let lo = date_only(y, m, 1)?;
            let hi = if m == 12 {
                date_only(y + 1, 1, 1)?
            } else {
                date_only(y, m + 1, 1)?
            };
            Some((ms(lo.and_hms_opt(0, 0, 0)?), ms(hi.and_hms_opt(0, 0, 0)?)))
        }
        10 => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let lo = d.and_hms_opt(0, 0, 0)?;
            Some((ms(lo), ms(lo + Duration::days(1))))
        }
        _ => {
            // A dateTime with a time: seconds precision (or finer), with or without a zone.
            let parsed = DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                        .iter()
                        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                        .map(|d| Utc.from_utc_datetime(&d))
                })
                .or_else(|| {
                    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z")
                        .ok()
                        .map(|d| d.with_timezone(&Utc))
                })?;
            if parsed.year() < 1 {
                return None;
            }
            let lo = parsed.timestamp_millis();
            let step = if s.len() <= 16 || s.as_bytes().get(16) != Some(&b':') {
                60_000
            } else {
                1_000
            };
            // Round the upper bound up to the value's own precision.
            Some((lo, lo - lo.rem_euclid(step) + step))
        }
    }
}

/// `[lo, hi)` of a FHIR Period object (an open end is unbounded).
pub fn period_range(v: &Value) -> Option<(i64, i64)> {
    let start = v.get("start").and_then(Value::as_str).map(instant_range);
    let end = v.get("end").and_then(Value::as_str).map(instant_range);
    match (start, end) {
        (None, None) => None,
        (Some(s), e) => {
            let (lo, _) = s?;
            let hi = match e {
                Some(e) => e?.1,
                None => i64::MAX,
            };
            Some((lo, hi.max(lo)))
        }
        (None, Some(e)) => Some((i64::MIN, e?.1)),
    }
}

/// An instant as FHIR `instant` text (UTC, milliseconds).
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_becomes_a_range() {
        let (lo, hi) = instant_range("2024").unwrap();
        assert_eq!(hi - lo, 366 * 86_400_000);
        let (lo, hi) = instant_range("2024-02").unwrap();
        assert_eq!(hi - lo, 29 * 86_400_000);
        let (lo, hi) = instant_range("2024-02-03").unwrap();
        assert_eq!(hi - lo, 86_400_000);
        let (lo, hi) = instant_range("2024-02-03T10:00:00Z").unwrap();
        assert_eq!(hi - lo, 1_000);
        let (a, _) = instant_range("2024-02-03T10:00:00+01:00").unwrap();
        assert_eq!(a, lo - 3_600_000);
        assert!(instant_range("not a date").is_none());
        assert!(instant_range("2024-13").is_none());
    }

    #[test]
    fn periods() {
        let v = serde_json::json!({"start": "2024-01-01", "end": "2024-01-31"});
        let (lo, hi) = period_range(&v).unwrap();
        assert_eq!(hi - lo, 31 * 86_400_000);
        let open = serde_json::json!({"start": "2024-01-01"});
        assert_eq!(period_range(&open).unwrap().1, i64::MAX);
    }
}

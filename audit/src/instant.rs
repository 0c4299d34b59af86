//! `recorded` in the log's canonical JSON: the RFC 3339 text chrono's serde writes
//! (`SecondsFormat::AutoSi`, `Z`), built in a stack buffer. chrono's own path formats through
//! `collect_str`, which escape-checks every character; this runs once per audited request.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// Serializes `t` exactly as chrono's `Serialize` for `DateTime<Utc>` does.
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match write(t, &mut buf) {
        // Only ASCII digits and separators were written.
        Some(n) => s.serialize_str(std::str::from_utf8(&buf[..n]).unwrap_or_default()),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z` into `buf`; `None` for what the fast path leaves to
/// chrono (years outside 0..=9999, leap seconds).
fn write(t: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut n = 0;
    for (value, width, after) in [
        (year, 4, b'-'),
        (t.month(), 2, b'-'),
        (t.day(), 2, b'T'),
        (t.hour(), 2, b':'),
        (t.minute(), 2, b':'),
    ] {
        n = digits(buf, n, value, width);
        buf[n] = after;
        n += 1;
    }
    n = digits(buf, n, t.second(), 2);
    // AutoSi: as few groups of three digits as show every non-zero one.
    if nanos != 0 {
        let (value, width) = if nanos.is_multiple_of(1_000_000) {
            (nanos / 1_000_000, 3)
        } else if nanos.is_multiple_of(1_000) {
            (nanos / 1_000, 6)
        } else {
            (nanos, 9)
        };
        buf[n] = b'.';
        n = digits(buf, n + 1, value, width);
    }
    buf[n] = b'Z';
    Some(n + 1)
}

/// `value` as `width` decimal digits at `buf[n..]`; the index after them.
fn digits(buf: &mut [u8; 30], mut n: usize, value: u32, width: u32) -> usize {
    for i in (0..width).rev() {
        buf[n] = b'0' + (value / 10u32.pow(i) % 10) as u8;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn ours(t: &DateTime<Utc>) -> String {
        serialize(t, serde_json::value::Serializer)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn chronos(t: &DateTime<Utc>) -> String {
        serde_json::to_value(t)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 12, 6, 17, 56, 23).unwrap();
        let mut times = vec![
            base,
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for nanos in [
            1,
            10,
            999,
            1_000,
            120_000,
            191_543_126,
            5_000_000,
            999_999_999,
        ] {
            times.push(base + chrono::Duration::nanoseconds(nanos));
        }
        // A leap second, which chrono writes as second 60.
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        times.push(leap);
        for t in &times {
            assert_eq!(ours(t), chronos(t), "{t:?}");
        }
    }

    #[test]
    fn agrees_with_chrono_across_many_instants() {
        // A deterministic walk over dates and sub-second values.
        let mut t = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
        for i in 0..20_000i64 {
            t += chrono::Duration::nanoseconds(i * 7_919_000_003 + (i % 7) * 1_000_000_000_000);
            assert_eq!(ours(&t), chronos(&t));
        }
    }
}

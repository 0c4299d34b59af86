//! The lexical rules of the FHIR R4 primitive types (the regexes of the specification's
//! datatypes page), written out by hand so no regex engine is needed.

/// FHIR whitespace (`\s` in the spec's regexes: Java's ASCII class).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn num2(s: &[u8], max: u8) -> bool {
    s.len() == 2 && digits(s) && (s[0] - b'0') * 10 + (s[1] - b'0') <= max
}

/// `string`: `[ \r\n\t\S]+`.
pub(crate) fn is_string(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b == 0x0b || b == 0x0c)
}

/// `code`: `[^\s]+(\s[^\s]+)*`, read as the spec's prose says: "no leading or trailing
/// whitespace, and no whitespace other than single spaces in the contents". Whitespace here is
/// Unicode whitespace, so a code of a lone no-break space (as in two v2 tables) is rejected.
pub(crate) fn is_code(s: &str) -> bool {
    let mut prev_space = true; // rejects a leading space
    for c in s.chars() {
        if c == ' ' {
            if prev_space {
                return false;
            }
            prev_space = true;
        } else if c.is_whitespace() {
            return false;
        } else {
            prev_space = false;
        }
    }
    !s.is_empty() && !prev_space
}

/// `id`: `[A-Za-z0-9\-\.]{1,64}`.
pub(crate) fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `uri` (also `url`, `canonical`): `\S*`, and not empty (FHIR forbids empty strings).
pub(crate) fn is_uri(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(is_ws)
}

/// `oid`: `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`.
pub(crate) fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return false;
    };
    let mut parts = rest.split('.');
    let first = parts.next().unwrap_or("");
    if !(first.len() == 1 && matches!(first.as_bytes()[0], b'0'..=b'2')) {
        return false;
    }
    let mut n = 0;
    for p in parts {
        n += 1;
        let b = p.as_bytes();
        if !digits(b) || (b.len() > 1 && b[0] == b'0') {
            return false;
        }
    }
    n > 0
}

/// `uuid`: `urn:uuid:` and a lowercase 8-4-4-4-12 hex uuid.
pub(crate) fn is_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// `base64Binary`: groups of four base64 characters, whitespace allowed between them.
/// (R4's regex omits `/`, an erratum; standard base64 has it and the examples use it.)
pub(crate) fn is_base64(s: &str) -> bool {
    let mut n = 0usize;
    let mut pad = 0usize;
    for b in s.bytes() {
        // Whitespace only between quartets: `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`.
        if is_ws(b) {
            if !n.is_multiple_of(4) {
                return false;
            }
            continue;
        }
        match b {
            b'=' => pad += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if pad == 0 => {}
            _ => return false,
        }
        n += 1;
    }
    n > 0 && n.is_multiple_of(4) && pad <= 2
}

/// `decimal` (and JSON number): `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(crate) fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start || (i - start > 1 && b[start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// Year: four digits, not `0000`.
fn year(b: &[u8]) -> bool {
    b.len() == 4 && digits(b) && b != b"0000"
}

fn month(b: &[u8]) -> bool {
    num2(b, 12) && b != b"00"
}

fn day(b: &[u8]) -> bool {
    num2(b, 31) && b != b"00"
}

/// The value of a run of ASCII digits.
fn number(b: &[u8]) -> u32 {
    b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
}

/// Whether day `dd` exists in month `mm` of year `yyyy` (all already lexically valid): R4's
/// regex allows `2021-02-30`, but its prose says "Dates SHALL be valid dates".
fn day_exists(yyyy: &[u8], mm: &[u8], dd: &[u8]) -> bool {
    let (year, day) = (number(yyyy), number(dd));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match number(mm) {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// `date`: `YYYY(-MM(-DD)?)?`, and a day that exists in its month.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        4 => year(b),
        7 => year(&b[..4]) && b[4] == b'-' && month(&b[5..7]),
        10 => {
            year(&b[..4])
                && b[4] == b'-'
                && month(&b[5..7])
                && b[7] == b'-'
                && day(&b[8..10])
                && day_exists(&b[..4], &b[5..7], &b[8..10])
        }
        _ => false,
    }
}

/// `time`: `hh:mm:ss(.f+)?` (seconds up to 60 for leap seconds).
pub(crate) fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8
        || !num2(&b[..2], 23)
        || b[2] != b':'
        || !num2(&b[3..5], 59)
        || b[5] != b':'
        || !num2(&b[6..8], 60)
    {
        return false;
    }
    match &b[8..] {
        [] => true,
        [b'.', frac @ ..] => digits(frac),
        _ => false,
    }
}

/// Time zone: `Z` or `(+|-)hh:mm` up to `14:00`.
fn is_zone(b: &[u8]) -> bool {
    match b {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let h = [*h1, *h2];
            let m = [*m1, *m2];
            (num2(&h, 13) && num2(&m, 59)) || (&h == b"14" && &m == b"00")
        }
        _ => false,
    }
}

/// Date, `T`, time and zone: the full form shared by dateTime and instant.
fn is_full_timestamp(b: &[u8]) -> bool {
    if b.len() < 20 || !is_date_bytes(&b[..10]) || b[10] != b'T' {
        return false;
    }
    let rest = &b[11..];
    let zone_at = rest
        .iter()
        .position(|&c| c == b'Z' || c == b'+' || c == b'-');
    let Some(z) = zone_at else { return false };
    std::str::from_utf8(&rest[..z]).is_ok_and(is_time) && is_zone(&rest[z..])
}

fn is_date_bytes(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(is_date)
}

/// `dateTime`: a date, or a full timestamp with a time zone.
pub(crate) fn is_date_time(s: &str) -> bool {
    is_date(s) || is_full_timestamp(s.as_bytes())
}

/// `instant`: a full timestamp with a time zone.
pub(crate) fn is_instant(s: &str) -> bool {
    is_full_timestamp(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        for ok in ["2020", "2020-02", "2020-02-29"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "0000",
            "20",
            "2020-13",
            "2020-00",
            "2020-1-01",
            "2020-01-32",
            "2020-01-01T00:00:00Z",
            "2021-02-29",
            "2020-02-30",
            "1900-02-29",
            "2021-04-31",
            "2021-11-31",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        for ok in [
            "2000-02-29",
            "2024-02-29",
            "2021-02-28",
            "2021-04-30",
            "2021-12-31",
        ] {
            assert!(is_date(ok), "{ok}");
        }
        assert!(!is_date_time("2021-02-29T10:00:00Z") && !is_instant("2021-06-31T10:00:00Z"));
        assert!(is_date_time("2015-02-07T13:28:17.239+02:00"));
        assert!(is_date_time("2015-02-07T13:28:17Z"));
        assert!(!is_date_time("2015-02-07T13:28:17"), "time needs a zone");
        assert!(!is_date_time("2015-02-07T13:28"), "seconds are required");
        assert!(is_instant("2015-02-07T13:28:17.239+14:00"));
        assert!(!is_instant("2015-02-07"));
        assert!(is_time("23:59:60.5") && !is_time("24:00:00") && !is_time("12:00"));
    }

    #[test]
    fn tokens() {
        assert!(
            is_code("a b")
                && !is_code(" a")
                && !is_code("a  b")
                && !is_code("a\n")
                && !is_code("a\tb")
        );
        assert!(!is_code("\u{a0}") && !is_code("CHEST\u{a0}") && !is_code("") && !is_code("a "));
        assert!(is_id("a-Z.9") && !is_id("a_b") && !is_id(&"x".repeat(65)) && !is_id(""));
        assert!(is_uri("urn:x") && !is_uri("a b") && !is_uri(""));
        assert!(is_oid("urn:oid:1.2.840") && !is_oid("urn:oid:3.1") && !is_oid("urn:oid:1.02"));
        assert!(is_uuid("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"));
        assert!(!is_uuid("urn:uuid:C757873D-ec9a-4326-a141-556f43239520"));
        assert!(
            is_base64("aGVsbG8=")
                && is_base64("aGVs\nbG8h")
                && !is_base64("abc")
                && !is_base64("a=bc")
        );
        assert!(
            is_decimal("1.50")
                && is_decimal("-0.0")
                && is_decimal("1e-3")
                && !is_decimal("01")
                && !is_decimal("1.")
        );
    }
}

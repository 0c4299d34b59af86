//! The implicit range of a decimal for number and quantity search (FHIR search, "number"): a
//! value stands for every value that rounds to it, half a unit of its last digit either side
//! (`100` is `[99.5, 100.5)`, `100.00` is `[99.995, 100.005)`, `1e2` is `[50, 150)`), and
//! prefixes compare such ranges as they compare dates.
//!
//! Bounds are computed on the decimal digits and rounded to `f64` once, so the same text always
//! gives the same bounds and a stored value and an equal search value compare as contained.

/// Longest decimal text accepted (FHIR decimals carry at most 18 significant digits).
const MAX_TEXT: usize = 64;
/// Largest exponent magnitude accepted (beyond it `f64` is infinite or zero anyway).
const MAX_EXPONENT: i32 = 400;

/// `[lo, hi)` of the decimal `text` (JSON number syntax), or `None` if it is not one or is out
/// of `f64`'s range.
pub fn decimal_range(text: &str) -> Option<(f64, f64)> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], exponent(&rest[i + 1..])?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || (int.len() > 1 && int.starts_with('0'))
        || !digits_ok(int)
        || !digits_ok(frac)
        || (mantissa.contains('.') && frac.is_empty())
    {
        return None;
    }
    // value = M * 10^(exponent - frac digits); the range is (10M -/+ 5) * 10^(that - 1).
    let scale = exponent - frac.len() as i32 - 1;
    let m = format!("{int}{frac}");
    let above = format!("{m}5");
    let below = minus_five(&m);
    let (lo, hi) = match negative {
        false => (format!("{below}e{scale}"), format!("{above}e{scale}")),
        true => (
            format!("-{above}e{scale}"),
            format!("{}e{scale}", negate(&below)),
        ),
    };
    let (lo, hi): (f64, f64) = (lo.parse().ok()?, hi.parse().ok()?);
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}

fn exponent(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let e: i32 = s.parse().ok()?;
    (e.abs() <= MAX_EXPONENT).then_some(e)
}

/// `10m - 5` as digits, for the digit string `m` (`"-5"` when `m` is zero).
fn minus_five(m: &str) -> String {
    let mut digits = m.as_bytes().to_vec();
    match digits.iter().rposition(|&d| d != b'0') {
        None => "-5".to_owned(),
        Some(i) => {
            digits[i] -= 1;
            digits[i + 1..].fill(b'9');
            digits.push(b'5');
            String::from_utf8(digits).unwrap_or_default()
        }
    }
}

fn negate(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(positive) => positive.to_owned(),
        None => format!("-{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::decimal_range;

    #[test]
    fn half_a_unit_of_the_last_digit_either_side() {
        assert_eq!(decimal_range("100"), Some((99.5, 100.5)));
        assert_eq!(decimal_range("100.00"), Some((99.995, 100.005)));
        assert_eq!(decimal_range("1e2"), Some((50.0, 150.0)));
        assert_eq!(decimal_range("1.5E-1"), Some((0.145, 0.155)));
        assert_eq!(decimal_range("0"), Some((-0.5, 0.5)));
        assert_eq!(decimal_range("0.0"), Some((-0.05, 0.05)));
        assert_eq!(decimal_range("-2.5"), Some((-2.55, -2.45)));
        assert_eq!(decimal_range("-0"), Some((-0.5, 0.5)));
        assert_eq!(decimal_range("10"), Some((9.5, 10.5)));
        assert_eq!(decimal_range("1000.0"), Some((999.95, 1000.05)));
    }

    #[test]
    fn a_value_is_within_its_own_range_and_a_coarser_one() {
        let (lo, hi) = decimal_range("140.0").unwrap();
        let (clo, chi) = decimal_range("140").unwrap();
        assert!(lo >= clo && hi <= chi);
        let (flo, fhi) = decimal_range("140.04").unwrap();
        assert!(flo >= lo && fhi <= hi);
    }

    #[test]
    fn only_json_numbers_within_range() {
        for bad in [
            "", "-", "+1", "01", "1.", ".5", "1e", "1e+", "1e99999", "1e400", "1x", "1.2.3", "NaN",
            "inf", "1_0", " 1", "0x10",
        ] {
            assert_eq!(decimal_range(bad), None, "{bad:?}");
        }
        assert_eq!(decimal_range(&"9".repeat(65)), None);
        assert!(decimal_range("1e-400").is_some());
    }
}

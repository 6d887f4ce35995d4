//! Byte-level guards on text the policy echoes back. serde_json skips unknown subtrees without a
//! depth limit and without checking their escapes or numbers; that is harmless for the fields the
//! rules read, but a mutation copies every byte into the object policy-server must parse again.

/// The API server refuses request bodies over 3 MiB and etcd stores objects of 1.5 MiB at most;
/// an admission request carries the object and, on UPDATE, the old one. A payload far beyond
/// that did not come from the API server, and decoding it would only burn the time budget.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Kubernetes objects nest a dozen levels at most (a Pod's node affinity is the deepest); the
/// envelope adds three. Anything far deeper is not an object the API server produced.
pub const MAX_DEPTH: usize = 100;

/// The four hex digits of a `\u` escape starting at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// Whether a JSON number is at most 1.7e308 in magnitude, a little under the largest 64-bit
/// float, read from its decimal digits (no float parsing, whose tables would double the size of
/// this check in the module). Numbers too small for a float round to zero and fit.
fn fits_f64(number: &str) -> bool {
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, ""),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || integer.bytes().chain(fraction.bytes());
    let Some(lead) = digits().position(|d| d != b'0') else {
        return true; // zero
    };
    let exponent: i64 = {
        let (negative, digits) = match exponent.as_bytes().first() {
            Some(b'-') => (true, &exponent[1..]),
            Some(b'+') => (false, &exponent[1..]),
            _ => (false, exponent),
        };
        // Far more digits than any float exponent needs: saturate, the sign decides.
        let magnitude = digits
            .bytes()
            .try_fold(0i64, |n, d| {
                n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
            })
            .unwrap_or(i64::MAX / 2)
            .min(i64::MAX / 2);
        if negative { -magnitude } else { magnitude }
    };
    // The power of ten of the first significant digit.
    let power = (integer.len() as i64 - 1 - lead as i64).saturating_add(exponent);
    match power.cmp(&308) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        // 1.7e308 and below: the significant digits, read as 1.7000..., at most 17 then zeros.
        std::cmp::Ordering::Equal => {
            let mut significant = digits().skip(lead);
            let first = significant.next().unwrap_or(b'0');
            let second = significant.next().unwrap_or(b'0');
            first == b'1' && (second < b'7' || (second == b'7' && significant.all(|d| d == b'0')))
        }
    }
}

/// Everything a mutation needs before it echoes `text`, checked in one pass over the bytes:
///
/// - nesting at most [`MAX_DEPTH`] deep: serde skips unknown subtrees without a depth limit, and
///   policy-server's parser would refuse deeper text in an answer;
/// - every `\u` escape valid UTF-16 (surrogates in pairs), and every number within a 64-bit
///   float. serde_json checks neither in the values it skips, so a lone `\ud800` or a `1e400`
///   in a field no rule reads would reach policy-server in the mutated object, and the request
///   would fail as if the policy had trapped.
///
/// The API server never writes any of these (Go's encoder emits valid UTF-8, its types hold no
/// such number), so an object that has one is rejected like any other undecodable object. Only
/// the mutation path pays this scan: an accept or a rejection never sends the object back.
pub fn check_echoable(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => i = string_end(bytes, i + 1)?,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("it is nested more than {MAX_DEPTH} levels deep"));
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(bytes.len(), |n| i + n);
                let number = &text[i..end];
                // Short integers always fit; only long ones and floats need a look.
                if (number.len() > 15 || number.contains(['.', 'e', 'E'])) && !fits_f64(number) {
                    return Err(format!("the number {number} does not fit a 64-bit float"));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Checks the escapes of the string whose contents start at `i`; returns where it ends. Most of
/// an object's bytes are string contents, skipped to the next quote or backslash at once.
fn string_end(bytes: &[u8], mut i: usize) -> Result<usize, String> {
    let lone = |u: Option<u32>| format!("a lone surrogate \\u{:04x} in a string", u.unwrap_or(0));
    loop {
        let Some(at) = memchr::memchr2(b'"', b'\\', bytes.get(i..).unwrap_or_default()) else {
            return Ok(bytes.len());
        };
        i += at;
        if bytes[i] == b'"' {
            return Ok(i + 1);
        }
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        match hex4(bytes, i + 2) {
            unit @ Some(0xD800..=0xDBFF) => {
                let next = i + 6;
                let low = (bytes.get(next) == Some(&b'\\') && bytes.get(next + 1) == Some(&b'u'))
                    .then(|| hex4(bytes, next + 2))
                    .flatten();
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return Err(lone(unit));
                }
                i = next + 6;
            }
            unit @ Some(0xDC00..=0xDFFF) => return Err(lone(unit)),
            Some(_) => i += 6,
            None => return Err("an invalid \\u escape in a string".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_echoable(&nested(MAX_DEPTH)).is_ok());
        let e = check_echoable(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e, "it is nested more than 100 levels deep");
        // Brackets inside strings, escaped quotes included, do not count.
        let s = format!(r#"{{"a":"\"{}"}}"#, "[".repeat(500));
        assert!(check_echoable(&s).is_ok());
    }

    #[test]
    fn escapes_must_be_valid_utf16() {
        for ok in [
            r#"{"a":"\u0063omponent","b":"\ud83d\ude00","c":"\\ud800","d":"\"\\"}"#,
            r#"{"\ud800\udc00":"x"}"#,
            "plain text with no strings",
        ] {
            assert_eq!(check_echoable(ok), Ok(()), "{ok}");
        }
        for (bad, unit) in [
            (r#"{"x":"\ud800"}"#, "d800"),
            (r#"{"x":"\ud800\u0041"}"#, "d800"),
            (r#"{"x":"\udfff"}"#, "dfff"),
            (r#"{"x":"a\ud83d"}"#, "d83d"),
            (r#"{"\udc00":1}"#, "dc00"),
        ] {
            let e = check_echoable(bad).expect_err(bad);
            assert_eq!(e, format!("a lone surrogate \\u{unit} in a string"));
        }
        assert!(check_echoable(r#"{"x":"\u12"}"#).is_err());
    }

    #[test]
    fn numbers_must_fit_a_float() {
        for ok in [
            r#"{"a":1,"b":-0.5,"c":65534,"d":1.5e300,"e":123456789012345678901234567890}"#,
            r#"{"a":"1e400 in a string","b":[1e-400,-1.7e308,0]}"#,
            r#"[1.7000e308,17e307,0.00017e312,-0.0,0e999999999999999999999,1e-99999999999999999999999]"#,
            r#"[9.99e307,1699999999999999999999e287,000.0001e311]"#,
        ] {
            assert_eq!(check_echoable(ok), Ok(()), "{ok}");
        }
        for (bad, number) in [
            (r#"{"runAsGroup":1e400}"#, "1e400"),
            (r#"[0,-2E+999]"#, "-2E+999"),
            (r#"[1.71e308]"#, "1.71e308"),
            (r#"[1.7000001e308]"#, "1.7000001e308"),
            (r#"[2e308]"#, "2e308"),
            (r#"[17.1e307]"#, "17.1e307"),
            (
                r#"[1e99999999999999999999999]"#,
                "1e99999999999999999999999",
            ),
            (
                &format!(r#"{{"x":{}}}"#, "9".repeat(400)),
                &"9".repeat(400)[..],
            ),
        ] {
            assert_eq!(
                check_echoable(bad),
                Err(format!("the number {number} does not fit a 64-bit float")),
                "{bad}"
            );
        }
    }
}

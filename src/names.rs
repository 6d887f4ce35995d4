//! Kubernetes name rules (apimachinery's validation), written out by hand: a regex engine would
//! add more to the module than the policy itself.

/// A DNS-1123 subdomain, the rule for ServiceAccount names.
pub fn validate_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 253 {
        return Err("must be no more than 253 characters".into());
    }
    for part in name.split('.') {
        let bytes = part.as_bytes();
        let ok = !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-';
        if !ok {
            return Err("is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)".into());
        }
    }
    Ok(())
}

/// A label name: 63 characters at most, alphanumerics with `-`, `_`, `.` inside.
fn valid_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a label name.
pub(crate) fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        validate_dns1123_subdomain(p).map_err(|e| format!("has a prefix that {e}"))?;
    }
    if !valid_label_name(name) {
        return Err("is not a valid label key (63 characters at most, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, after an optional DNS subdomain prefix and '/')".into());
    }
    Ok(())
}

/// A label value: empty, or a label name.
pub(crate) fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || valid_label_name(value) {
        Ok(())
    } else {
        Err("is not a valid label value (63 characters at most, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        for ok in [
            "hook-image-puller",
            "a",
            "myhub-continuous-image-puller",
            "a.b-c.d",
            "0x",
        ] {
            assert!(validate_dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Hook",
            "-a",
            "a-",
            "a..b",
            "a_b",
            "a b",
            &"a".repeat(254),
        ] {
            assert!(validate_dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        for ok in ["component", "app.kubernetes.io/component", "a_b.c-d", "A1"] {
            assert!(validate_label_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/x", "Bad/x", "x/", "-a", "a b", &"a".repeat(64)] {
            assert!(validate_label_key(bad).is_err(), "{bad}");
        }
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("hook-image-puller").is_ok());
        assert!(validate_label_value("a/b").is_err());
        assert!(validate_label_value("_a").is_err());
    }
}

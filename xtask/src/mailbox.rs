//! RFC 5322 `name-addr` lists, as written in `io.kubewarden.policy.author`.
//!
//! Artifact Hub turns the author into its `maintainers` (a name and an e-mail each) and kwctl
//! refuses an author it cannot parse that way, so the check runs before anything is annotated or
//! published rather than when Artifact Hub rejects the package.

/// One author: `Display Name <local@domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, Artifact Hub's maintainer `name`.
    pub name: String,
    /// The addr-spec inside the angle brackets, Artifact Hub's maintainer `email`.
    pub address: String,
}

/// RFC 5322 `atext`: what may appear unquoted in a display name word or a dot-atom.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Splits on the commas that separate mailboxes, not those inside quotes or angle brackets.
fn split_mailboxes(list: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut angle, mut escaped) = (0, false, false, false);
    for (i, c) in list.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("a quoted display name is not closed".into());
    }
    parts.push(&list[start..]);
    Ok(parts)
}

/// A display name: words that are atoms (`atext`, with the obsolete-but-common `.`) or quoted
/// strings.
fn parse_display_name(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("a display name is required before <address>".into());
    }
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("display name {raw:?} is not a closed quoted string"))?;
        let mut name = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.push(chars.next().ok_or("dangling escape in display name")?),
                '"' => return Err(format!("display name {raw:?} has an unescaped quote")),
                _ => name.push(c),
            }
        }
        return Ok(name);
    }
    for word in raw.split_whitespace() {
        if let Some(bad) = word.chars().find(|&c| !(is_atext(c) || c == '.')) {
            return Err(format!(
                "display name {raw:?} contains {bad:?}: quote it (\"...\") or remove it"
            ));
        }
    }
    Ok(raw.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// `local-part@domain`, both dot-atoms, the domain with at least two labels of letters, digits
/// and hyphens (an address Artifact Hub can show and mail).
fn parse_addr_spec(raw: &str) -> Result<String, String> {
    let (local, domain) = raw
        .rsplit_once('@')
        .ok_or_else(|| format!("address <{raw}> has no @"))?;
    if !is_dot_atom(local) {
        return Err(format!(
            "address <{raw}> has an invalid local part {local:?}"
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!("address <{raw}> has an invalid domain {domain:?}"));
    }
    Ok(raw.to_owned())
}

fn parse_mailbox(raw: &str) -> Result<Mailbox, String> {
    let raw = raw.trim();
    let open = raw
        .rfind('<')
        .ok_or_else(|| format!("{raw:?} is not a name-addr: expected `Name <user@example.org>`"))?;
    let rest = &raw[open + 1..];
    let close = rest
        .find('>')
        .ok_or_else(|| format!("{raw:?} has no closing '>'"))?;
    if !rest[close + 1..].trim().is_empty() {
        return Err(format!("{raw:?} has text after the closing '>'"));
    }
    Ok(Mailbox {
        name: parse_display_name(&raw[..open])?,
        address: parse_addr_spec(&rest[..close])?,
    })
}

/// Parses a comma-separated list of `Name <address>` mailboxes (at least one).
pub fn parse_name_addr_list(list: &str) -> Result<Vec<Mailbox>, String> {
    if list.trim().is_empty() {
        return Err("is empty: expected `Name <user@example.org>`".into());
    }
    split_mailboxes(list)?
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(parse_mailbox)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: &str, address: &str) -> Mailbox {
        Mailbox {
            name: name.into(),
            address: address.into(),
        }
    }

    #[test]
    fn accepts_the_project_author_and_lists() {
        assert_eq!(
            parse_name_addr_list(
                "prepuller-serviceaccount-policy developers <maintainers@prepuller-policy.dev>"
            )
            .unwrap(),
            vec![mb(
                "prepuller-serviceaccount-policy developers",
                "maintainers@prepuller-policy.dev"
            )]
        );
        assert_eq!(
            parse_name_addr_list("Tux Tuxedo <tux@example.com>, \"Doe, Jane\" <jane@example.com>")
                .unwrap(),
            vec![
                mb("Tux Tuxedo", "tux@example.com"),
                mb("Doe, Jane", "jane@example.com")
            ]
        );
    }

    #[test]
    fn rejects_what_is_not_a_name_addr() {
        let cases = [
            ("", "is empty"),
            ("maintainers@example.org", "is not a name-addr"),
            ("<maintainers@example.org>", "a display name is required"),
            ("Name <maintainers>", "has no @"),
            ("Name <a@localhost>", "invalid domain"),
            ("Name <a b@example.org>", "invalid local part"),
            ("Name <a@example.org", "no closing '>'"),
            (
                "Name <a@example.org> trailing",
                "text after the closing '>'",
            ),
            ("Na(me) <a@example.org>", "contains '('"),
            ("\"Open <a@example.org>", "not closed"),
        ];
        for (input, fragment) in cases {
            let err = parse_name_addr_list(input).unwrap_err();
            assert!(
                err.contains(fragment),
                "{input:?}: {err:?} lacks {fragment:?}"
            );
        }
    }
}

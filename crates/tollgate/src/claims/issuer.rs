//! How two issuers compare: the one place that knows what makes two issuer strings "nearly"
//! the same (whitespace, a trailing slash, the scheme, letter case, Azure's `{tenantid}`
//! template, another host). Issuers are always compared exactly when validating; this is
//! for explaining a mismatch (discovery, the doctor).

/// An `scheme://host/path` URL in its three parts (the path keeps its leading `/`).
pub(crate) struct UrlParts<'s> {
    pub(crate) scheme: &'s str,
    pub(crate) host: &'s str,
    pub(crate) path: &'s str,
}

/// Splits `s` at `://` and the first `/` after it; `None` without a scheme.
pub(crate) fn url_parts(s: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = s.split_once("://")?;
    let (host, path) = split_host(rest);
    Some(UrlParts { scheme, host, path })
}

/// Compares a configured issuer with the one a discovery document (or a token) names.
/// `None` when they are equal exactly; otherwise the difference in words, naming the usual
/// causes: whitespace, a trailing slash, the scheme, letter case, Azure's `{tenantid}`
/// template, the host, the path.
///
/// ```
/// use tollgate::keys::compare_issuers;
/// assert_eq!(compare_issuers("https://idp.example.com", "https://idp.example.com"), None);
/// let diff = compare_issuers("https://idp.example.com", "https://idp.example.com/").unwrap();
/// assert!(diff.contains("trailing slash"));
/// ```
pub fn compare_issuers(configured: &str, found: &str) -> Option<String> {
    if configured == found {
        return None;
    }
    if configured.trim() != configured || found.trim() != found {
        let which = if configured.trim() != configured {
            "the configured issuer"
        } else {
            "the issuer found"
        };
        let rest = compare_issuers(configured.trim(), found.trim())
            .map(|d| format!("; also {d}"))
            .unwrap_or_default();
        return Some(format!(
            "whitespace: {which} has leading or trailing whitespace{rest}"
        ));
    }
    if found.to_ascii_lowercase().contains("{tenantid}") {
        return Some(format!(
            "Azure template: {found:?} contains the literal placeholder {{tenantid}}, which the \
             multi-tenant \"common\"/\"organizations\" endpoints publish; configure your tenant's \
             own issuer (https://login.microsoftonline.com/<tenant-id>/v2.0) or its discovery URL"
        ));
    }
    if configured.trim_end_matches('/') == found.trim_end_matches('/') {
        return Some(if configured.ends_with('/') {
            "trailing slash: the configured issuer ends with \"/\", the issuer found does not"
                .to_string()
        } else {
            "trailing slash: the issuer found ends with \"/\", the configured issuer does not"
                .to_string()
        });
    }
    let (cs, crest) = split_scheme(configured);
    let (fs, frest) = split_scheme(found);
    if !cs.eq_ignore_ascii_case(fs) && crest == frest {
        return Some(format!(
            "scheme: configured {cs:?}, found {fs:?}; the rest is equal"
        ));
    }
    if configured.eq_ignore_ascii_case(found) {
        return Some(
            "letter case: the two differ only in upper/lower case, and issuers are compared exactly"
                .to_string(),
        );
    }
    if configured
        .trim_end_matches('/')
        .eq_ignore_ascii_case(found.trim_end_matches('/'))
    {
        return Some("letter case and trailing slash differ".to_string());
    }
    let (ch, cpath) = split_host(crest);
    let (fh, fpath) = split_host(frest);
    if !ch.eq_ignore_ascii_case(fh) {
        return Some(format!("host: configured {ch:?}, found {fh:?}"));
    }
    if !cs.eq_ignore_ascii_case(fs) {
        return Some(format!(
            "scheme: configured {cs:?}, found {fs:?}; the paths also differ ({cpath:?} vs {fpath:?})"
        ));
    }
    Some(format!("path: configured {cpath:?}, found {fpath:?}"))
}

fn split_scheme(s: &str) -> (&str, &str) {
    match s.find("://") {
        Some(i) => (&s[..i], &s[i + 3..]),
        None => ("", s),
    }
}

fn split_host(rest: &str) -> (&str, &str) {
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// When `expected` and `found` differ but are the same issuer to a careless eye (equal
/// once trimmed, lower-cased, without scheme and trailing `/`): how they differ
/// (`whitespace`, `a trailing '/'`, `the scheme`, `letter case`; empty when none of those
/// names it). `None` when they are not a near miss.
pub(crate) fn near_miss(expected: &str, found: &str) -> Option<Vec<&'static str>> {
    if normalize(expected) != normalize(found) {
        return None;
    }
    let mut how = Vec::new();
    if expected.trim() != expected || found.trim() != found {
        how.push("whitespace");
    }
    let (a, b) = (expected.trim(), found.trim());
    if a.ends_with('/') != b.ends_with('/') {
        how.push("a trailing '/'");
    }
    let scheme = |s: &str| s.split_once("://").map(|(x, _)| x.to_ascii_lowercase());
    if scheme(a) != scheme(b) {
        how.push("the scheme");
    }
    if a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
        && a.trim_end_matches('/') != b.trim_end_matches('/')
    {
        how.push("letter case");
    }
    Some(how)
}

fn normalize(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(&s);
    s.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses() {
        assert_eq!(normalize(" HTTPS://A.example.com/ "), "a.example.com");
        assert_eq!(
            near_miss("https://a.example/", "https://a.example"),
            Some(vec!["a trailing '/'"])
        );
        assert_eq!(near_miss("https://a.example", "https://b.example"), None);
    }

    #[test]
    fn differences_are_named() {
        let d = |a, b| compare_issuers(a, b).unwrap();
        assert!(d("https://a.example/", "https://a.example").contains("trailing slash"));
        assert!(d("http://a.example", "https://a.example").starts_with("scheme"));
        assert!(d("https://A.example/T", "https://a.example/t").starts_with("letter case"));
        assert!(d(" https://a.example", "https://a.example").starts_with("whitespace"));
        assert!(d(
            "https://login.microsoftonline.com/0000/v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        )
        .starts_with("Azure"));
        assert!(d("https://a.example", "https://b.example").starts_with("host"));
        assert!(d("https://a.example/x", "https://a.example/y").starts_with("path"));
        assert_eq!(compare_issuers("x", "x"), None);
    }
}

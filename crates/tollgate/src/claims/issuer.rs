//! How two issuers compare: the one place that knows what makes two issuer strings "nearly"
//! the same (whitespace, a trailing slash, the scheme, letter case, Azure's `{tenantid}`
//! template, another host). Issuers are always compared exactly when validating; this is
//! for explaining a mismatch (discovery, the doctor).
//!
//! It also owns issuer *templates*: an issuer spelt with the placeholder `{tenantid}`
//! (Entra ID's `https://login.microsoftonline.com/{tenantid}/v2.0`, the v1
//! `https://sts.windows.net/{tenantid}/`) stands for one issuer per tenant. A token matches
//! a template when its `iss` is the template with a *tenant id* in place of the placeholder,
//! exactly; a tenant id is a GUID in its canonical lower-case form (8-4-4-4-12 digits
//! `0-9a-f`, see [`is_tenant_id`]), so no `/`, `?`, `#`, `%`, `.`, whitespace or upper-case
//! letter can make another issuer string match.

/// The placeholder of an issuer template, as Entra ID publishes it.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// True when `issuer` is a template: it contains [`TENANT_PLACEHOLDER`].
pub fn is_template(issuer: &str) -> bool {
    issuer.contains(TENANT_PLACEHOLDER)
}

/// True when `s` is a tenant id as Entra ID writes it: a GUID in canonical lower case,
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with `x` in `0-9a-f`. Nothing else is ever put in
/// place of `{tenantid}`: not an upper-case spelling, not a domain name, not `common`.
///
/// ```
/// use tollgate::claims::is_tenant_id;
/// assert!(is_tenant_id("9188040d-6c67-4c5b-b112-36a304b66dad"));
/// assert!(!is_tenant_id("9188040D-6C67-4C5B-B112-36A304B66DAD"));
/// assert!(!is_tenant_id("x/../evil"));
/// assert!(!is_tenant_id("common"));
/// ```
pub fn is_tenant_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// The template with `tenant` in place of the placeholder.
pub fn substitute_tenant(template: &str, tenant: &str) -> String {
    template.replacen(TENANT_PLACEHOLDER, tenant, 1)
}

/// True when a token whose `iss` is `iss` is accepted by the configured issuer `accepted`:
/// equal to it exactly (a template is never matched by its own spelling), or a tenant of
/// it (see [`template_tenant`]; the token's `tid` must then still name the same tenant).
///
/// ```
/// use tollgate::claims::issuer_accepts;
/// let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
/// assert!(issuer_accepts(t, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"));
/// assert!(!issuer_accepts(t, t));
/// assert!(issuer_accepts("https://idp.example", "https://idp.example"));
/// ```
pub fn issuer_accepts(accepted: &str, iss: &str) -> bool {
    if is_template(accepted) {
        template_tenant(accepted, iss).is_some()
    } else {
        accepted == iss
    }
}

/// The tenant id `iss` names when it is `template` with a tenant id (see [`is_tenant_id`])
/// in place of the placeholder, exactly; `None` otherwise (and for a template with more or
/// less than one placeholder).
///
/// ```
/// use tollgate::claims::template_tenant;
/// let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
/// let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// assert_eq!(template_tenant(t, &format!("https://login.microsoftonline.com/{tid}/v2.0")), Some(tid));
/// assert_eq!(template_tenant(t, "https://login.microsoftonline.com/common/v2.0"), None);
/// assert_eq!(template_tenant(t, t), None);
/// ```
pub fn template_tenant<'i>(template: &str, iss: &'i str) -> Option<&'i str> {
    let (prefix, suffix) = template.split_once(TENANT_PLACEHOLDER)?;
    if suffix.contains(TENANT_PLACEHOLDER) {
        return None;
    }
    let middle = iss.strip_prefix(prefix)?.strip_suffix(suffix)?;
    is_tenant_id(middle).then_some(middle)
}

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

    /// Every spelling that could make a different issuer string match a template is refused.
    #[test]
    fn templates_take_only_canonical_tenant_ids() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let iss = substitute_tenant(t, tid);
        assert_eq!(iss, format!("https://login.microsoftonline.com/{tid}/v2.0"));
        assert_eq!(template_tenant(t, &iss), Some(tid));
        for bad in [
            "x/../evil",
            "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db477",
            "72f988bf-86f1-41af-91ab-2d7cd011db4?",
            "72f988bf-86f1-41af-91ab-2d7cd011db4#",
            "72f988bf-86f1-41af-91ab-2d7cd011db4%",
            "72f988bf-86f1-41af-91ab-2d7cd011db4/",
            "72f988bf-86f1-41af-91ab-2d7cd011db4 ",
            " 72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf_86f1_41af_91ab_2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db\u{0}",
            "common",
            "organizations",
            "{tenantid}",
            "",
        ] {
            assert!(!is_tenant_id(bad), "{bad:?}");
            assert_eq!(
                template_tenant(t, &substitute_tenant(t, bad)),
                None,
                "{bad:?}"
            );
        }
        // A template with two placeholders never matches.
        assert_eq!(
            template_tenant(
                "https://a/{tenantid}/{tenantid}",
                &format!("https://a/{tid}/{tid}")
            ),
            None
        );
        // The host and the version are part of the match.
        assert_eq!(
            template_tenant(t, &format!("https://login.microsoftonline.us/{tid}/v2.0")),
            None
        );
        assert_eq!(
            template_tenant(t, &format!("https://login.microsoftonline.com/{tid}/v2.0/")),
            None
        );
        assert!(is_template(t) && !is_template(&iss));
    }
}

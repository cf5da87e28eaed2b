//! Which rule applies to a request: the path is normalized once, then the first
//! `[[route]]` whose prefix and methods match wins; no match is denied.
//!
//! Normalization refuses what two servers could read differently (`..`/`.` segments,
//! percent-encoded `/`, `\` or `.`, a raw `\`), so a request cannot look public to the
//! gateway and private to the upstream.

use http::Method;
use serde_json::Value;
use tollgate::Claims;

use crate::config::{Access, Requirements, RouteSettings};

/// Why a request path was refused before any rule was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError(pub String);

/// Normalizes a request target (`/a/b?q`, or an absolute `http://host/a/b`) to the decoded
/// path the rules are matched against: query and fragment dropped, `%XX` decoded, repeated
/// `/` merged.
///
/// ```
/// use tollgate_gateway::routes::normalize_path;
/// assert_eq!(normalize_path("/orders//42?x=1").unwrap(), "/orders/42");
/// assert_eq!(normalize_path("/%6Frders/").unwrap(), "/orders/");
/// assert!(normalize_path("/public/../orders/1").is_err());
/// assert!(normalize_path("/public%2F..%2Forders").is_err());
/// ```
pub fn normalize_path(target: &str) -> Result<String, PathError> {
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    }
    if let Some(i) = path.find(['?', '#']) {
        path = &path[..i];
    }
    if path.is_empty() {
        return Ok("/".into());
    }
    if !path.starts_with('/') {
        return Err(PathError(format!(
            "the request path must start with '/', found {:?}",
            preview(path)
        )));
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            });
            let Some(c) = hex else {
                return Err(PathError(
                    "the request path has a '%' not followed by two hex digits".into(),
                ));
            };
            if matches!(c, b'/' | b'\\' | b'.') {
                return Err(PathError(format!(
                    "the request path has an encoded {:?} (%{:02X}), which servers read differently",
                    c as char, c
                )));
            }
            decoded.push(c);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Err(PathError(
            "the request path is not UTF-8 once decoded".into(),
        ));
    };
    if decoded.contains('\\') || decoded.chars().any(char::is_control) {
        return Err(PathError(
            "the request path holds a '\\' or a control character".into(),
        ));
    }
    let mut out = String::with_capacity(decoded.len());
    for segment in decoded.split('/').skip(1) {
        if segment == "." || segment == ".." {
            return Err(PathError(format!(
                "the request path has a {segment:?} segment; send the resolved path"
            )));
        }
        if segment.is_empty() {
            continue;
        }
        out.push('/');
        out.push_str(segment);
    }
    if decoded.ends_with('/') || out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn preview(s: &str) -> String {
    s.chars().take(60).collect()
}

/// True when route prefix `prefix` covers normalized path `path`, segment-wise.
///
/// ```
/// use tollgate_gateway::routes::prefix_matches;
/// assert!(prefix_matches("/orders/", "/orders"));
/// assert!(prefix_matches("/orders/", "/orders/42"));
/// assert!(prefix_matches("/orders", "/orders/42"));
/// assert!(!prefix_matches("/orders", "/orders-old"));
/// assert!(prefix_matches("/", "/anything"));
/// ```
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let bare = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(bare) {
        Some("") => true,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

/// The route rules, in order.
#[derive(Clone, Debug)]
pub struct RouteTable {
    routes: Vec<RouteSettings>,
}

impl RouteTable {
    /// The table for these rules.
    pub fn new(routes: Vec<RouteSettings>) -> RouteTable {
        RouteTable { routes }
    }

    /// The rules.
    pub fn routes(&self) -> &[RouteSettings] {
        &self.routes
    }

    /// The first rule matching `method` and the normalized `path`, with its index.
    pub fn find(&self, method: &Method, path: &str) -> Option<(usize, &RouteSettings)> {
        self.routes.iter().enumerate().find(|(_, r)| {
            (r.methods.is_empty() || r.methods.contains(method)) && prefix_matches(&r.path, path)
        })
    }
}

/// Why a valid token is not allowed on a route (answered with 403).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forbidden {
    /// A stable code: `insufficient_scope`, `insufficient_role`, `claim_mismatch` or
    /// `issuer_not_allowed`.
    pub code: &'static str,
    /// One sentence: what was required and what the token has.
    pub description: String,
    /// The scopes the route requires (for `WWW-Authenticate: ... scope="..."`).
    pub required_scopes: Vec<String>,
}

/// Checks a route's requirements against a verified token's claims.
pub fn check_access(access: &Access, claims: &Claims) -> Result<(), Forbidden> {
    match access {
        Access::Anonymous => Ok(()),
        Access::Token(req) => check_requirements(req, claims),
    }
}

fn check_requirements(req: &Requirements, claims: &Claims) -> Result<(), Forbidden> {
    let forbid = |code, description: String| Forbidden {
        code,
        description,
        required_scopes: req.scopes.clone(),
    };
    if !req.issuers.is_empty() {
        let iss = claims.issuer().unwrap_or("");
        if !req.issuers.iter().any(|i| i == iss) {
            return Err(forbid(
                "issuer_not_allowed",
                format!(
                    "this route accepts tokens from {} only; the token's issuer is {iss:?}",
                    req.issuers.join(", ")
                ),
            ));
        }
    }
    // The sentences are the library's, so the tower layer refuses with the same words.
    if let Some(description) = tollgate::challenge::missing_scopes(&req.scopes, &claims.scopes()) {
        return Err(forbid("insufficient_scope", description));
    }
    if let Some(description) = tollgate::challenge::missing_roles(&req.roles, &claims.roles()) {
        return Err(forbid("insufficient_role", description));
    }
    for (name, want) in &req.claims_equal {
        let found = claim(claims, name);
        if found != Some(want) {
            return Err(forbid(
                "claim_mismatch",
                format!(
                    "this route requires claim {name} = {want}; the token has {}",
                    found.map_or("none".to_string(), |v| tollgate::json::preview(v, 60))
                ),
            ));
        }
    }
    for (name, want) in &req.claims_contain {
        let found = claim(claims, name);
        let ok = match (found, want) {
            (Some(Value::Array(items)), want) => items.contains(want),
            (Some(Value::String(s)), Value::String(w)) => s.split_whitespace().any(|x| x == w),
            _ => false,
        };
        if !ok {
            return Err(forbid(
                "claim_mismatch",
                format!(
                    "this route requires claim {name} to contain {want}; the token has {}",
                    found.map_or("none".to_string(), |v| tollgate::json::preview(v, 60))
                ),
            ));
        }
    }
    Ok(())
}

/// A claim by name, or by dotted path (`realm_access.roles`) when no claim has the name.
pub fn claim<'c>(claims: &'c Claims, name: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        Claims::from(v.as_object().unwrap().clone())
    }

    #[test]
    fn normalization_refuses_ambiguous_paths() {
        for bad in [
            "/a/../b",
            "/a/./b",
            "/..",
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/%2e%2e/x",
            "/a\\b",
            "/a%zz",
            "/a%0a",
            "relative",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_path("").unwrap(), "/");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("//a///b/").unwrap(), "/a/b/");
        assert_eq!(normalize_path("http://h:1/x?y").unwrap(), "/x");
        assert_eq!(normalize_path("/a%20b").unwrap(), "/a b");
        assert_eq!(normalize_path("/a..b/c.d").unwrap(), "/a..b/c.d");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(prefix_matches("/public/", "/public/"));
        assert!(prefix_matches("/public/", "/public"));
        assert!(!prefix_matches("/public/", "/publicity"));
        assert!(!prefix_matches("/public", "/publicity"));
        assert!(prefix_matches("/a/b", "/a/b/c"));
    }

    #[test]
    fn requirements_are_all_of() {
        let req = Requirements {
            scopes: vec!["a".into(), "b".into()],
            roles: vec!["admin".into()],
            claims_equal: vec![("tid".into(), json!("t1"))],
            claims_contain: vec![("realm_access.groups".into(), json!("g"))],
            ..Default::default()
        };
        let ok = claims(json!({"scp": ["a", "b"], "roles": ["admin"], "tid": "t1",
            "realm_access": {"groups": ["g", "h"]}}));
        assert_eq!(check_access(&Access::Token(req.clone()), &ok), Ok(()));
        let e = check_access(
            &Access::Token(req.clone()),
            &claims(json!({"scope": "a", "roles": ["admin"]})),
        )
        .unwrap_err();
        assert_eq!(e.code, "insufficient_scope");
        assert!(
            e.description.contains("requires scope b"),
            "{}",
            e.description
        );
        let e = check_access(
            &Access::Token(req.clone()),
            &claims(json!({"scope": "a b", "tid": "t1"})),
        )
        .unwrap_err();
        assert_eq!(e.code, "insufficient_role");
        let e = check_access(
            &Access::Token(req),
            &claims(json!({"scope": "a b", "roles": "admin", "tid": "t2"})),
        )
        .unwrap_err();
        assert_eq!(e.code, "claim_mismatch");
    }
}

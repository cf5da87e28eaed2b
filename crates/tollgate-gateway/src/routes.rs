//! Which rule applies to a request: the path, normalized by the
//! [`request_policy`](crate::request_policy), is matched against each `[[route]]` in order;
//! the first whose prefix and methods match wins; no match is denied.
//!
//! Prefixes are compared with letter case unless the upstream is declared case-insensitive
//! (`case_insensitive_paths = true`). A path that matches a route only when case is
//! ignored (`/ADMIN/x` against `/admin/`) is refused: a case-insensitive upstream would run
//! that route's handlers without that route's rule.

use http::Method;
use serde_json::Value;
use tollgate::Claims;

use crate::codes::GatewayCode;
use crate::config::{Access, Requirements, RouteSettings};
use crate::request_policy::{fold_case, Refused, Violation};

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
    /// Each route's prefix with its case folded.
    folded: Vec<String>,
    /// The upstream routes ignoring case: match folded prefixes against the folded path.
    case_insensitive: bool,
    /// Some prefix changes when folded, so even a lower-case path needs the folded reading.
    prefixes_fold: bool,
}

impl RouteTable {
    /// The table for these rules; `case_insensitive` when the upstream routes ignoring case.
    pub fn new(routes: Vec<RouteSettings>, case_insensitive: bool) -> RouteTable {
        let folded: Vec<String> = routes.iter().map(|r| fold_case(&r.path)).collect();
        let prefixes_fold = routes.iter().zip(&folded).any(|(r, f)| &r.path != f);
        RouteTable {
            routes,
            folded,
            case_insensitive,
            prefixes_fold,
        }
    }

    /// The rules.
    pub fn routes(&self) -> &[RouteSettings] {
        &self.routes
    }

    /// True when some rule applies to some methods only (forward-auth then needs the
    /// original method).
    pub fn depends_on_method(&self) -> bool {
        self.routes.iter().any(|r| !r.methods.is_empty())
    }

    fn first(&self, method: &Method, path: &str, folded: bool) -> Option<usize> {
        self.routes.iter().enumerate().position(|(i, r)| {
            let prefix = if folded { &self.folded[i] } else { &r.path };
            (r.methods.is_empty() || r.methods.contains(method)) && prefix_matches(prefix, path)
        })
    }

    /// The first rule matching `method` and the normalized `path`, with its index; refused
    /// when the path matches an earlier rule only if letter case is ignored.
    pub fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<Option<(usize, &RouteSettings)>, Refused> {
        let at = |i: Option<usize>| i.map(|i| (i, &self.routes[i]));
        let needs_fold = self.prefixes_fold
            || path
                .bytes()
                .any(|b| b.is_ascii_uppercase() || !b.is_ascii());
        if !needs_fold {
            return Ok(at(self.first(method, path, false)));
        }
        let folded_path = fold_case(path);
        let loose = self.first(method, &folded_path, true);
        if self.case_insensitive {
            return Ok(at(loose));
        }
        let strict = self.first(method, path, false);
        if loose != strict {
            if let Some(i) = loose {
                let route = &self.routes[i];
                return Err(Refused::new(
                    Violation::CaseVariant,
                    format!(
                        "the path {:?} matches route {:?} only when letter case is ignored; send the path as the route spells it, or set case_insensitive_paths = true if the upstream routes ignoring case",
                        tollgate::text::cut(path),
                        route.path
                    ),
                ));
            }
        }
        Ok(at(strict))
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
        if !req
            .issuers
            .iter()
            .any(|i| tollgate::claims::issuer_accepts(i, iss))
        {
            return Err(forbid(
                GatewayCode::IssuerNotAllowed.as_str(),
                format!(
                    "this route accepts tokens from {} only; the token's issuer is {iss:?}",
                    req.issuers.join(", ")
                ),
            ));
        }
    }
    // The sentences are the library's, so the tower layer refuses with the same words. A
    // route without scopes or roles does not read them (reading builds the claims map).
    if !req.scopes.is_empty() {
        if let Some(description) =
            tollgate::challenge::missing_scopes(&req.scopes, &claims.scopes())
        {
            return Err(forbid(GatewayCode::InsufficientScope.as_str(), description));
        }
    }
    if !req.roles.is_empty() {
        if let Some(description) = tollgate::challenge::missing_roles(&req.roles, &claims.roles()) {
            return Err(forbid(GatewayCode::InsufficientRole.as_str(), description));
        }
    }
    for (name, want) in &req.claims_equal {
        let found = claim(claims, name);
        if found != Some(want) {
            return Err(forbid(
                GatewayCode::ClaimMismatch.as_str(),
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
                GatewayCode::ClaimMismatch.as_str(),
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
    claim_by(|n| claims.get(n), name)
}

/// [`claim`] over any lookup of top-level claims (the map, or members read from the
/// payload JSON).
pub fn claim_by<'c>(get: impl Fn(&str) -> Option<&'c Value>, name: &str) -> Option<&'c Value> {
    if let Some(v) = get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut cur = get(parts.next()?)?;
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
    fn prefixes_match_whole_segments() {
        assert!(prefix_matches("/public/", "/public/"));
        assert!(prefix_matches("/public/", "/public"));
        assert!(!prefix_matches("/public/", "/publicity"));
        assert!(!prefix_matches("/public", "/publicity"));
        assert!(prefix_matches("/a/b", "/a/b/c"));
    }

    fn route(path: &str, methods: &[Method]) -> RouteSettings {
        RouteSettings {
            name: path.into(),
            path: path.into(),
            methods: methods.to_vec(),
            access: Access::Anonymous,
            line: 1,
        }
    }

    #[test]
    fn case_variants_of_a_route_are_refused() {
        let table = RouteTable::new(
            vec![
                route("/public/", &[]),
                route("/admin/", &[]),
                route("/orders/", &[Method::POST, Method::PATCH]),
                route("/", &[]),
            ],
            false,
        );
        let find = |m: &Method, p: &str| table.find(m, p).map(|r| r.map(|(i, _)| i));
        assert_eq!(find(&Method::GET, "/admin/x"), Ok(Some(1)));
        assert_eq!(find(&Method::GET, "/other/x"), Ok(Some(3)));
        assert_eq!(find(&Method::GET, "/Other/X"), Ok(Some(3)));
        for p in ["/ADMIN/x", "/Admin/x", "/aDmIn", "/PUBLIC/x"] {
            let e = find(&Method::GET, p).unwrap_err();
            assert_eq!(e.violation, Violation::CaseVariant, "{p}");
        }
        assert_eq!(
            find(&Method::POST, "/Orders/1").unwrap_err().violation,
            Violation::CaseVariant
        );
        // GET /Orders/1 matches no method-scoped rule either way.
        assert_eq!(find(&Method::GET, "/Orders/1"), Ok(Some(3)));

        let insensitive = RouteTable::new(table.routes().to_vec(), true);
        assert_eq!(
            insensitive
                .find(&Method::GET, "/ADMIN/x")
                .unwrap()
                .unwrap()
                .0,
            1
        );
        assert_eq!(
            insensitive
                .find(&Method::POST, "/ORDERS/1")
                .unwrap()
                .unwrap()
                .0,
            2
        );
    }

    #[test]
    fn upper_case_prefixes_are_folded_too() {
        let table = RouteTable::new(vec![route("/API/", &[]), route("/", &[])], false);
        assert_eq!(table.find(&Method::GET, "/API/x").unwrap().unwrap().0, 0);
        assert_eq!(
            table.find(&Method::GET, "/api/x").unwrap_err().violation,
            Violation::CaseVariant
        );
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

//! The human summary of a configuration (startup logs, `--check-config`).

use http::Method;

use super::{Access, Config, KeySource};

impl Config {
    /// A short human summary: mode, listeners, issuers and routes (for startup logs and
    /// `--check-config`).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        match &self.upstream {
            Some(u) => out.push_str(&format!("mode: reverse proxy on {} -> {u}\n", self.listen)),
            None => out.push_str(&format!(
                "mode: forward-auth on {} at {}\n",
                self.listen, self.verify_path
            )),
        }
        match self.admin_listen {
            Some(a) => out.push_str(&format!("admin: {a} (/healthz /readyz /metrics /keys)\n")),
            None => out.push_str("admin: off\n"),
        }
        for i in &self.issuers {
            let source = match &i.source {
                KeySource::Discovery => "discovery".to_string(),
                KeySource::DiscoveryUrl(u) => format!("discovery at {u}"),
                KeySource::JwksUri(u) => format!("JWKS at {u}"),
                KeySource::Static(set) => format!("{} static key(s)", set.len()),
            };
            out.push_str(&format!(
                "issuer: {} ({source}); audiences: {}\n",
                i.issuer,
                if i.policy.audiences.is_empty() {
                    "any".to_string()
                } else {
                    i.policy.audiences.join(", ")
                }
            ));
            if let Some(o) = &i.introspection {
                out.push_str(&format!(
                    "  introspection: {} as client {} ({}){}{}; answers kept {} s\n",
                    o.endpoint.as_deref().unwrap_or("endpoint from discovery"),
                    o.client_id,
                    o.auth.as_str(),
                    o.token_prefix
                        .as_deref()
                        .map(|p| format!(", tokens starting {p:?}"))
                        .unwrap_or_default(),
                    if o.introspect_jwts { ", JWTs too" } else { "" },
                    o.max_ttl.as_secs()
                ));
            }
            if !i.aliases.is_empty() {
                out.push_str(&format!("  also accepted as: {}\n", i.aliases.join(", ")));
            }
            if i.names().any(|n| tollgate::claims::is_template(n)) {
                if i.policy.tenants.is_empty() {
                    out.push_str(
                        "  tenants: every tenant (authorize by tid in the API, or set tenants)\n",
                    );
                } else {
                    out.push_str(&format!("  tenants: {}\n", i.policy.tenants.join(", ")));
                }
            }
        }
        for r in &self.routes {
            let methods = if r.methods.is_empty() {
                "any method".to_string()
            } else {
                r.methods
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let access = match &r.access {
                Access::Anonymous => "anonymous".to_string(),
                Access::Token(req) => {
                    let mut parts = vec!["valid token".to_string()];
                    if !req.scopes.is_empty() {
                        parts.push(format!("scopes {}", req.scopes.join(" ")));
                    }
                    if !req.roles.is_empty() {
                        parts.push(format!("roles {}", req.roles.join(" ")));
                    }
                    if !req.issuers.is_empty() {
                        parts.push(format!("issuers {}", req.issuers.join(" ")));
                    }
                    if !req.claims_equal.is_empty() || !req.claims_contain.is_empty() {
                        parts.push("claim rules".into());
                    }
                    parts.join(", ")
                }
            };
            out.push_str(&format!("route: {} ({methods}): {access}\n", r.path));
        }
        out.push_str("route: anything else: denied\n");
        out
    }
}

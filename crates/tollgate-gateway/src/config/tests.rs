//! The configuration's own tests: the minimal file of issue 6, the README reference, error
//! lines and messages.

use http::Method;
use serde_json::Value;
use tollgate::{Algorithm, TypPolicy};

use super::*;

/// The minimal configuration of issue 6, exactly as written there.
pub(crate) const MINIMAL: &str = r#"
listen = "127.0.0.1:8080"          # the gateway
admin_listen = "127.0.0.1:9090"    # /healthz, /readyz, /metrics, key cache view
upstream = "http://127.0.0.1:3000" # omit it: forward-auth only, at POST/GET /verify

[[issuer]]
issuer = "https://login.example.com/tenant/v2.0"  # discovery at {issuer}/.well-known/...
audiences = ["api://orders"]

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/orders/"
methods = ["POST", "PUT", "DELETE"]
scopes = ["orders.write"]

[[route]]
path = "/"            # any valid token

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
"#;

#[test]
fn minimal_configuration_parses_as_written() {
    let c = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin_listen.unwrap().to_string(), "127.0.0.1:9090");
    assert_eq!(
        c.upstream.as_ref().unwrap().to_string(),
        "http://127.0.0.1:3000/"
    );
    assert_eq!(c.issuers.len(), 1);
    assert!(matches!(c.issuers[0].source, KeySource::Discovery));
    assert_eq!(c.issuers[0].policy.audiences, vec!["api://orders"]);
    assert_eq!(
        c.issuers[0].policy.issuers,
        vec!["https://login.example.com/tenant/v2.0"]
    );
    assert_eq!(c.routes.len(), 3);
    assert_eq!(c.routes[0].access, Access::Anonymous);
    assert_eq!(
        c.routes[1].methods,
        vec![Method::POST, Method::PUT, Method::DELETE]
    );
    match &c.routes[1].access {
        Access::Token(r) => assert_eq!(r.scopes, vec!["orders.write"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.routes[2].access, Access::Token(Requirements::default()));
    assert_eq!(c.routes[1].line, 14);
    let names: Vec<&str> = c.headers.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(names, vec!["x-auth-scope", "x-auth-subject"]);
    assert_eq!(c.token_cache_entries, 10_000);
    assert_eq!(c.unavailable_status, 503);
    assert!(c.summary().contains("reverse proxy"));
}

fn err(src: &str) -> ConfigError {
    Config::from_toml_str(src).unwrap_err()
}

const ISSUER: &str = "[[issuer]]\nissuer = \"https://idp.example.com/\"\naudiences = [\"api\"]\n";

#[test]
fn syntax_errors_name_the_line() {
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/\"\nmethods = [\"GET\"\n"
    ));
    assert_eq!(e.line, Some(6), "{e}");
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/\"\nscope = [\"a\"]\n"
    ));
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("unknown field `scope`"), "{e}");
    assert!(e.message.ends_with("did you mean `scopes`?"), "{e}");
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/\"\nmethod = [\"GET\"]\n"
    ));
    assert!(e.message.ends_with("did you mean `methods`?"), "{e}");
    let e = err(&format!("{ISSUER}[[route]]\npath = \"/\"\nzzzzzz = 1\n"));
    assert!(!e.message.contains("did you mean"), "{e}");
}

#[test]
fn semantic_errors_name_the_line_and_fix() {
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/p/\"\nanonymous = true\nscopes = [\"x\"]\n"
    ));
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("anonymous"), "{e}");
    let e = err("[[issuer]]\nissuer = \"https://idp/\"\n[[route]]\npath = \"/\"\n");
    assert!(e.message.contains("audiences"), "{e}");
    assert_eq!(e.line, Some(1));
    let e = err("[[issuer]]\nissuer = \"http://idp.example.com/\"\naudiences=[\"a\"]\n[[route]]\npath = \"/\"\n");
    assert!(e.message.contains("https"), "{e}");
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/\"\nissuers = [\"https://other/\"]\n"
    ));
    assert!(e.message.contains("not configured"), "{e}");
    let e = err(&format!("{ISSUER}[[route]]\npath = \"orders\"\n"));
    assert!(e.message.contains("start with '/'"), "{e}");
    let e = err(&format!(
        "{ISSUER}[[route]]\npath = \"/\"\n[headers]\nAuthorization = \"sub\"\n"
    ));
    assert!(e.message.contains("cannot be an identity header"), "{e}");
    assert_eq!(e.line, Some(7));
    let e = err(&format!(
        "listen = \"8080\"\n{ISSUER}[[route]]\npath = \"/\"\n"
    ));
    assert_eq!(e.line, Some(1));
    let e = err(&format!(
        "upstream = \"https://x\"\n{ISSUER}[[route]]\npath = \"/\"\n"
    ));
    assert!(e.message.contains("http://"), "{e}");
    let e = err(ISSUER);
    assert!(e.message.contains("no [[route]]"), "{e}");
    let e = err(&format!(
        "[unavailable]\nstatus = 302\n{ISSUER}[[route]]\npath = \"/\"\n"
    ));
    assert_eq!(e.line, Some(2));
}

/// The reference file in the crate's README: every option, with its default.
#[test]
fn the_readme_reference_parses_with_the_defaults_it_states() {
    let readme = include_str!("../../README.md");
    let start = readme.find("<!-- reference -->\n```toml\n").unwrap();
    let block = &readme[start..];
    let block = &block[block.find("listen").unwrap()..];
    let block = &block[..block.find("```").unwrap()];
    let c = Config::from_toml_str(block).unwrap();
    let defaults = Config::from_toml_str(
        "[[issuer]]\nissuer = \"https://i.example\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n",
    )
    .unwrap();
    assert_eq!(c.listen, defaults.listen);
    assert_eq!(c.admin_listen, defaults.admin_listen);
    assert_eq!(c.verify_path, defaults.verify_path);
    assert_eq!(c.upstream_timeout, defaults.upstream_timeout);
    assert_eq!(c.shutdown_grace, defaults.shutdown_grace);
    assert_eq!(c.header_read_timeout, defaults.header_read_timeout);
    assert_eq!(c.realm, defaults.realm);
    assert_eq!(c.expose_details, defaults.expose_details);
    assert_eq!(c.recent_refusals, defaults.recent_refusals);
    assert_eq!(c.recent_refusals, crate::config::DEFAULT_RECENT_REFUSALS);
    assert_eq!(c.token_cache_entries, defaults.token_cache_entries);
    assert_eq!(c.unavailable_status, defaults.unavailable_status);
    assert_eq!(c.retry_after, defaults.retry_after);
    assert_eq!(c.log, defaults.log);
    assert_eq!(c.replay, defaults.replay);
    assert_eq!(c.replay, crate::config::ReplaySettings::default());
    let (i, d) = (&c.issuers[0], &defaults.issuers[0]);
    assert_eq!(i.policy.leeway, d.policy.leeway);
    assert_eq!(i.policy.max_token_size, d.policy.max_token_size);
    // Every key-cache option is in the reference, with the library's default.
    assert_eq!(i.cache, tollgate::CacheOptions::default());
    assert_eq!(c.routes.len(), 4);
    assert_eq!(c.routes[1].name, "orders-write");
    assert_eq!(c.headers.len(), 3);
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "listen = 3\n").unwrap();
    let e = Config::from_file(&path).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1: ", path.display())),
        "{e}"
    );
}

#[test]
fn issuer_options_reach_the_policy() {
    let c = Config::from_toml_str(
        r#"
admin_listen = ""
[[issuer]]
issuer = "https://idp.example.com/"
jwks_uri = "http://127.0.0.1:9999/jwks"
audiences = ["a", "b"]
algorithms = ["ES256"]
leeway = 5
max_age = 600
required_claims = ["sub"]
typ = ["at+jwt"]
[issuer.cache]
max_stale = 3600
retry_min = 7
[[route]]
path = "/"
claims = { tid = "t1", level = 3 }
claims_contain = { groups = "admins" }
"#,
    )
    .unwrap();
    assert!(c.admin_listen.is_none());
    let i = &c.issuers[0];
    assert!(matches!(&i.source, KeySource::JwksUri(u) if u == "http://127.0.0.1:9999/jwks"));
    assert_eq!(i.policy.algorithms, vec![Algorithm::ES256]);
    assert_eq!(i.policy.leeway, 5);
    assert_eq!(i.policy.max_age, Some(600));
    assert_eq!(i.policy.typ, TypPolicy::OneOf(vec!["at+jwt".into()]));
    assert_eq!(i.cache.max_stale, std::time::Duration::from_secs(3600));
    assert_eq!(i.cache.retry_min, std::time::Duration::from_secs(7));
    assert_eq!(
        i.cache.retry_max,
        tollgate::CacheOptions::default().retry_max
    );
    match &c.routes[0].access {
        Access::Token(r) => {
            assert_eq!(r.claims_equal.len(), 2);
            assert_eq!(
                r.claims_contain[0],
                ("groups".into(), Value::from("admins"))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn log_format_is_text_or_json() {
    let c = Config::from_toml_str(&format!(
        "[log]\nformat = \"json\"\n{ISSUER}[[route]]\npath = \"/\"\n"
    ))
    .unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    let e = err(&format!(
        "[log]\nformat = \"xml\"\n{ISSUER}[[route]]\npath = \"/\"\n"
    ));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.message
            .contains("[log] format must be \"text\" or \"json\", found \"xml\""),
        "{e}"
    );
    assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
}

#[test]
fn trusted_proxies_are_ranges_or_addresses() {
    let c = Config::from_toml_str(&format!("{ISSUER}[[route]]\npath = \"/\"\n")).unwrap();
    let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["127.0.0.0/8", "::1/128"]);
    let c = Config::from_toml_str(&format!(
        "trusted_proxies = [\"10.1.2.3\", \"10.0.0.9/8\", \"fd00::/8\"]\n{ISSUER}[[route]]\npath = \"/\"\n"
    ))
    .unwrap();
    let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["10.1.2.3/32", "10.0.0.0/8", "fd00::/8"]);
    for bad in ["\"10.0.0.0/33\"", "\"proxy.local\"", "\"\""] {
        let e = err(&format!(
            "trusted_proxies = [{bad}]\n{ISSUER}[[route]]\npath = \"/\"\n"
        ));
        assert_eq!(e.line, Some(1), "{e}");
        assert!(e.message.contains("not an IP address or CIDR range"), "{e}");
    }
    // Empty: forward-auth would answer no one.
    let e = err(&format!(
        "trusted_proxies = []\n{ISSUER}[[route]]\npath = \"/\"\n"
    ));
    assert!(e.message.contains("refuse every request"), "{e}");
    // A reverse proxy may trust no one: every client's forwarding headers are replaced.
    assert!(Config::from_toml_str(&format!(
        "upstream = \"http://127.0.0.1:3000\"\ntrusted_proxies = []\n{ISSUER}[[route]]\npath = \"/\"\n"
    ))
    .unwrap()
    .trusted_proxies
    .is_empty());
}

/// Every configuration of the README's "Provider shapes" section parses and builds a
/// validator, as written (nothing is fetched).
#[test]
fn the_readme_provider_shapes_work_as_written() {
    let readme = include_str!("../../README.md");
    let blocks: Vec<&str> = readme
        .split("<!-- provider -->\n```toml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert_eq!(blocks.len(), 6);
    let mut templates = 0;
    for block in blocks {
        let c = Config::from_toml_str(&format!("{block}\n[[route]]\npath = \"/\"\n"))
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
        crate::validator_for(&c).unwrap_or_else(|e| panic!("{e}\n{block}"));
        for i in &c.issuers {
            if tollgate::claims::is_template(&i.issuer) {
                templates += 1;
                assert!(matches!(i.source, KeySource::DiscoveryUrl(_)), "{block}");
            }
        }
    }
    assert_eq!(templates, 4);
}

#[test]
fn templates_tenants_and_aliases() {
    let t = "[[issuer]]\nissuer = \"https://login.microsoftonline.com/{tenantid}/v2.0\"\naudiences = [\"api\"]\n[[route]]\npath = \"/\"\n";
    // A template has no discovery document of its own.
    let e = err(t);
    assert!(e.to_string().contains("discovery_url"), "{e}");
    let with_url = t.replace(
        "audiences",
        "discovery_url = \"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration\"\naudiences",
    );
    // Tenants must be tenant ids; upper case is accepted and stored in lower case.
    let e = err(&with_url.replace(
        "audiences",
        "tenants = [\"contoso.onmicrosoft.com\"]\naudiences",
    ));
    assert!(e.to_string().contains("not a tenant id"), "{e}");
    let c = Config::from_toml_str(&with_url.replace(
        "audiences",
        "tenants = [\"72F988BF-86F1-41AF-91AB-2D7CD011DB47\"]\naliases = [\"https://sts.windows.net/{tenantid}/\"]\naudiences",
    ))
    .unwrap();
    assert_eq!(
        c.issuers[0].policy.tenants,
        ["72f988bf-86f1-41af-91ab-2d7cd011db47"]
    );
    assert_eq!(
        c.issuers[0].aliases,
        ["https://sts.windows.net/{tenantid}/"]
    );
    assert!(
        c.summary()
            .contains("tenants: 72f988bf-86f1-41af-91ab-2d7cd011db47"),
        "{}",
        c.summary()
    );
    // Tenants on a literal issuer, and an alias repeated, are refused when the validator is built.
    let literal = "[[issuer]]\nissuer = \"https://idp.example.com/\"\ntenants = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\"]\naudiences = [\"api\"]\n[[route]]\npath = \"/\"\n";
    let c = Config::from_toml_str(literal).unwrap();
    assert!(crate::validator_for(&c)
        .unwrap_err()
        .to_string()
        .contains("template"));
}

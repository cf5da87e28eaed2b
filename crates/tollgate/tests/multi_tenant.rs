//! Multi-tenant issuers: Entra ID's `{tenantid}` templates (v1 and v2), the `tenants`
//! allow-list, `tid`, key-issuer binding, aliases (Google's two spellings), and the real
//! Entra `common` / `organizations` documents (fixtures/providers, from panva/wellknown).
#![cfg(feature = "remote")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::TestIdp;
use tollgate::keys::Discovery;
use tollgate::validate::select_key;
use tollgate::{
    jws, Algorithm, FixedClock, IssuerConfig, JwkSet, LocalValidator, Policy, SigningKey, Validator,
};

const LIMIT: Duration = Duration::from_secs(30);
const NOW: i64 = 1_700_000_000;
const V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const V1: &str = "https://sts.windows.net/{tenantid}/";
/// Entra's tenant of personal Microsoft accounts.
const PERSONAL: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const FABRIKAM: &str = "0b5a1f7e-3c4d-4e8f-9a0b-1c2d3e4f5a6b";
const OTHER: &str = "11111111-2222-4333-8444-555555555555";
const CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/providers/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn v2(tid: &str) -> String {
    V2.replace("{tenantid}", tid)
}

/// A look-alike of Entra's `common` key set: an organisation key (the `{tenantid}` template
/// as its `issuer`) and a personal-account key (the personal tenant's issuer).
struct Entra {
    org: SigningKey,
    personal: SigningKey,
    keys: JwkSet,
}

impl Entra {
    fn new() -> Entra {
        let org = SigningKey::generate(Algorithm::RS256, "org-key").unwrap();
        let personal = SigningKey::generate(Algorithm::RS256, "msa-key").unwrap();
        let mut a = org.public_jwk();
        a["issuer"] = json!(V2);
        let mut b = personal.public_jwk();
        b["issuer"] = json!(v2(PERSONAL));
        let keys = JwkSet::from_value(&json!({"keys": [a, b]})).unwrap();
        Entra {
            org,
            personal,
            keys,
        }
    }

    fn token(&self, key: &SigningKey, claims: Value) -> String {
        let mut c = json!({"aud": format!("api://{CLIENT}"), "exp": NOW + 600, "sub": "s"});
        for (k, v) in claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        jws::sign(&json!({}), &c, key).unwrap()
    }

    /// v2 template, v1 alias, both audience spellings, tenants Contoso and Fabrikam (or all).
    fn validator(&self, tenants: &[&str]) -> Validator {
        Validator::new(vec![IssuerConfig::static_keys(V2, self.keys.clone())
            .alias(V1)
            .policy(
                Policy::new()
                    .audience(format!("api://{CLIENT}"))
                    .audience(CLIENT)
                    .tenants(tenants.iter().copied()),
            )])
        .unwrap()
        .with_clock(Arc::new(FixedClock::new(NOW)))
    }
}

async fn code(v: &Validator, token: &str) -> &'static str {
    match v.validate(token).await {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn tenants_of_a_template() {
    let e = Entra::new();
    let v = e.validator(&[CONTOSO, FABRIKAM]);
    let org = |tid: &str, iss: &str| e.token(&e.org, json!({"iss": iss, "tid": tid}));
    // The right tenant, and another allowed tenant.
    assert_eq!(code(&v, &org(CONTOSO, &v2(CONTOSO))).await, "ok");
    assert_eq!(code(&v, &org(FABRIKAM, &v2(FABRIKAM))).await, "ok");
    // Another tenant, not allowed.
    assert_eq!(
        code(&v, &org(OTHER, &v2(OTHER))).await,
        "tenant_not_allowed"
    );
    // The same tenant accepted when every tenant is.
    let all = e.validator(&[]);
    assert_eq!(code(&all, &org(OTHER, &v2(OTHER))).await, "ok");
    // No tid.
    let no_tid = e.token(&e.org, json!({"iss": v2(CONTOSO)}));
    let err = v.validate(&no_tid).await.unwrap_err();
    assert_eq!(err.code(), "tenant_missing");
    assert!(err.to_string().contains("no tid claim"), "{err}");
    // iss names another tenant than tid.
    let err = v.validate(&org(CONTOSO, &v2(FABRIKAM))).await.unwrap_err();
    assert_eq!(err.code(), "issuer_mismatch");
    assert_eq!(err.details()["expected"][0], v2(CONTOSO));
    // The v1 spelling of an allowed tenant, with the bare client id as audience.
    let v1 = e.token(
        &e.org,
        json!({"iss": format!("https://sts.windows.net/{CONTOSO}/"), "tid": CONTOSO, "aud": CLIENT, "ver": "1.0"}),
    );
    assert_eq!(code(&v, &v1).await, "ok");
    let v1_other = e.token(
        &e.org,
        json!({"iss": format!("https://sts.windows.net/{OTHER}/"), "tid": OTHER}),
    );
    assert_eq!(code(&v, &v1_other).await, "tenant_not_allowed");
    // The claims carry tid for the API's own authorization.
    let ok = v.validate(&org(CONTOSO, &v2(CONTOSO))).await.unwrap();
    assert_eq!(ok.claims.get_str("tid"), Some(CONTOSO));
}

#[tokio::test]
async fn key_issuer_binding() {
    let e = Entra::new();
    let v = e.validator(&[]);
    // A personal-account key signing a token that claims an organisation's iss.
    let forged = e.token(&e.personal, json!({"iss": v2(CONTOSO), "tid": CONTOSO}));
    let err = v.validate(&forged).await.unwrap_err();
    assert_eq!(err.code(), "key_issuer_mismatch");
    assert_eq!(err.details()["key_issuer"], v2(PERSONAL));
    assert_eq!(err.details()["kid"], "msa-key");
    // ... also in the v1 spelling.
    let forged_v1 = e.token(
        &e.personal,
        json!({"iss": format!("https://sts.windows.net/{CONTOSO}/"), "tid": CONTOSO}),
    );
    assert_eq!(code(&v, &forged_v1).await, "key_issuer_mismatch");
    // A personal-account token with the personal key passes when every tenant is accepted...
    let msa = e.token(&e.personal, json!({"iss": v2(PERSONAL), "tid": PERSONAL}));
    assert_eq!(code(&v, &msa).await, "ok");
    // ... and is refused by an API for organisations only.
    let orgs_only = e.validator(&[CONTOSO]);
    assert_eq!(code(&orgs_only, &msa).await, "tenant_not_allowed");
    // The same binding holds for a fixed key set without the remote validator.
    let local = LocalValidator::new(
        e.keys.clone(),
        Policy::new().issuer(V2).audience(format!("api://{CLIENT}")),
    )
    .with_clock(FixedClock::new(NOW));
    assert_eq!(
        local.validate(&forged).unwrap_err().code(),
        "key_issuer_mismatch"
    );
    let good = e.token(&e.org, json!({"iss": v2(CONTOSO), "tid": CONTOSO}));
    assert!(local.validate(&good).is_ok());
}

/// Spellings that could make another issuer string match the template are refused, and an
/// unconfigured `iss` fetches nothing.
#[tokio::test]
async fn hostile_tenant_ids() {
    let e = Entra::new();
    let v = e.validator(&[]);
    let upper = CONTOSO.to_ascii_uppercase();
    for (tid, iss) in [
        (upper.clone(), v2(&upper)),
        (CONTOSO.to_string(), v2(&upper)),
        ("x/../evil".to_string(), v2("x/../evil")),
        (format!("{CONTOSO}?"), v2(&format!("{CONTOSO}?"))),
        (format!("{CONTOSO}#"), v2(&format!("{CONTOSO}#"))),
        (format!("{CONTOSO}%2F"), v2(&format!("{CONTOSO}%2F"))),
        (format!(" {CONTOSO}"), v2(&format!(" {CONTOSO}"))),
        ("common".to_string(), v2("common")),
        ("{tenantid}".to_string(), V2.to_string()),
        (CONTOSO.to_string(), format!("{}/", v2(CONTOSO))),
        (
            CONTOSO.to_string(),
            format!("https://login.microsoftonline.us/{CONTOSO}/v2.0"),
        ),
    ] {
        let t = e.token(&e.org, json!({"iss": iss, "tid": tid}));
        assert_eq!(code(&v, &t).await, "issuer_mismatch", "{tid:?} {iss:?}");
    }
    // A right iss with a tid that is not a tenant id.
    let t = e.token(&e.org, json!({"iss": v2(CONTOSO), "tid": 7}));
    assert_eq!(code(&v, &t).await, "invalid_claim");
    let t = e.token(&e.org, json!({"iss": v2(CONTOSO), "tid": upper}));
    assert_eq!(code(&v, &t).await, "invalid_claim");

    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        idp.set_discovery_issuer(V2);
        let remote = Validator::new(vec![IssuerConfig::discovery_url(V2, idp.discovery_url())
            .policy(Policy::new().tenant(CONTOSO))])
        .unwrap();
        for iss in ["https://evil.example/", &v2("common"), V2] {
            let t = idp.token_with(
                &json!({}),
                &json!({"iss": iss, "tid": CONTOSO, "exp": 4_102_444_800u64}),
            );
            assert_eq!(
                remote.validate(&t).await.unwrap_err().code(),
                "issuer_mismatch"
            );
        }
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (0, 0));
        // A configured tenant: the template's discovery document is fetched and accepted.
        let t = idp.token_with(
            &json!({}),
            &json!({"iss": v2(CONTOSO), "tid": CONTOSO, "exp": 4_102_444_800u64}),
        );
        remote.validate(&t).await.unwrap();
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
    })
    .await
    .unwrap();
}

#[test]
fn templates_are_configured_with_care() {
    let bad = |c: IssuerConfig| Validator::new(vec![c]).unwrap_err().to_string();
    // Discovery derived from a template would fetch a URL holding the placeholder.
    assert!(bad(IssuerConfig::discovery(V2)).contains("discovery URL explicitly"));
    assert!(bad(IssuerConfig::discovery_url(
        V2,
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
    )
    .policy(Policy::new().tenant("contoso.onmicrosoft.com")))
    .contains("not a tenant id"));
    assert!(bad(
        IssuerConfig::discovery("https://idp.example").policy(Policy::new().tenant(CONTOSO))
    )
    .contains("not one"));
    assert!(
        bad(IssuerConfig::discovery("https://idp.example").alias("https://idp.example"))
            .contains("twice")
    );
    assert!(bad(IssuerConfig::static_keys(
        "https://a/{tenantid}/{tenantid}",
        JwkSet::new()
    ))
    .contains("more than once"));
    // Policy::tenant stores the canonical lower case.
    assert_eq!(
        Policy::new().tenant(CONTOSO.to_ascii_uppercase()).tenants,
        [CONTOSO]
    );
}

/// Google issues ID tokens with either spelling of its issuer: one configuration, an alias.
#[tokio::test]
async fn google_aliases() {
    let key = SigningKey::generate(Algorithm::RS256, "g").unwrap();
    let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
    let v = Validator::new(vec![IssuerConfig::static_keys(
        "https://accounts.google.com",
        keys,
    )
    .alias("accounts.google.com")
    .policy(Policy::new().audience("client.apps.googleusercontent.com"))])
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(NOW)));
    for iss in [
        "https://accounts.google.com",
        "accounts.google.com",
        "http://accounts.google.com",
    ] {
        let t = jws::sign(
            &json!({}),
            &json!({"iss": iss, "aud": "client.apps.googleusercontent.com", "exp": NOW + 60}),
            &key,
        )
        .unwrap();
        let want = if iss.starts_with("http:") {
            "issuer_mismatch"
        } else {
            "ok"
        };
        assert_eq!(code(&v, &t).await, want, "{iss}");
    }
}

/// The real Entra documents: the issuer is the template, every key carries its issuer, and
/// keys are chosen by kid (so a personal-account kid yields the personal-tenant key).
#[tokio::test]
async fn real_entra_documents() {
    for (dir, endpoint) in [
        ("entra-common", "common"),
        ("entra-organizations", "organizations"),
    ] {
        let doc = Discovery::from_json(
            "openid-configuration.json",
            &fixture(&format!("{dir}/openid-configuration.json")),
        )
        .unwrap();
        assert_eq!(doc.issuer, V2);
        assert_eq!(
            doc.jwks_uri,
            format!("https://login.microsoftonline.com/{endpoint}/discovery/v2.0/keys")
        );
        let keys = JwkSet::from_json(&fixture(&format!("{dir}/jwks.json"))).unwrap();
        assert!(keys.skipped().is_empty(), "{:?}", keys.skipped());
        assert!(keys.len() >= 6);
        for key in keys.keys() {
            let issuer = key.issuer().unwrap();
            assert!(issuer == V2 || issuer == v2(PERSONAL), "{issuer}");
        }
        let personal = keys
            .keys()
            .iter()
            .filter(|k| k.issuer() == Some(v2(PERSONAL).as_str()))
            .count();
        assert_eq!(personal > 0, endpoint == "common", "{dir}");
        // Key selection by kid over the real set, then the binding (the signature cannot be
        // made: no private key exists, so a token with that kid fails at the signature).
        for key in keys.keys() {
            let kid = key.kid().unwrap();
            let header = jws::Header::new("RS256", Some(kid.to_string()), None, Default::default());
            let chosen = select_key(&keys, Algorithm::RS256, &header).unwrap();
            assert_eq!(chosen.issuer(), key.issuer());
        }
        let v = Validator::new(vec![IssuerConfig::static_keys(&doc.issuer, keys.clone())
            .policy(Policy::new().tenant(CONTOSO))])
        .unwrap();
        let kid = keys.keys()[0].kid().unwrap();
        let stranger = SigningKey::generate(Algorithm::RS256, kid).unwrap();
        let t = jws::sign(
            &json!({}),
            &json!({"iss": v2(CONTOSO), "tid": CONTOSO, "exp": 4_102_444_800u64}),
            &stranger,
        )
        .unwrap();
        assert_eq!(code(&v, &t).await, "signature_invalid");
        let t = jws::sign(
            &json!({}),
            &json!({"iss": v2(OTHER), "tid": OTHER, "exp": 4_102_444_800u64}),
            &stranger,
        )
        .unwrap();
        // The tenant is checked after the signature: a forged token learns nothing more.
        assert_eq!(code(&v, &t).await, "signature_invalid");
    }
}

//! Every cause the doctor knows, each from a realistic token and settings, must come out as
//! the top cause. Offline: keys, discovery results and fetch failures are given directly.

use serde_json::{json, Value};
use tollgate::doctor::{
    self,
    causes::{CauseId, CAUSES},
    Context, DiscoveryInfo, Fetched, KeySource, Report, Settings, Status, Verdict,
};
use tollgate::{b64, jws, Algorithm, JwkSet, Policy, SigningKey};

const NOW: i64 = 1_763_900_000;
const TID: &str = "4a8f6c1e-93b2-4d7a-b0e5-2c61f9d8a3b7";
const OTHER_TID: &str = "c0ffee00-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const API_CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const SPA_CLIENT: &str = "0a6f2d7e-5b1c-4c3d-9e8f-7a6b5c4d3e2f";

fn key(alg: Algorithm, kid: &str) -> SigningKey {
    SigningKey::generate(alg, kid).unwrap()
}

fn set(keys: &[&SigningKey]) -> JwkSet {
    JwkSet::from_value(&json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}))
        .unwrap()
}

fn src(origin: &str, keys: &[&SigningKey]) -> KeySource {
    KeySource::new(origin, set(keys))
}

fn sign(header: Value, claims: Value, key: &SigningKey) -> String {
    jws::sign(&header, &claims, key).unwrap()
}

fn ctx(token: &str, policy: Policy) -> Context {
    Context::new(token, Settings::new(policy, NOW))
}

fn live(ctx: &mut Context, issuer: &str, keys: KeySource) {
    ctx.discovery = Fetched::Ok(DiscoveryInfo {
        url: format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
        issuer: Some(issuer.to_string()),
        jwks_uri: Some(keys.origin.clone()),
    });
    ctx.live_keys = Fetched::Ok(keys);
}

fn entra_v2(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

fn entra_v1(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

fn lifetime() -> Value {
    json!({"iat": NOW - 600, "nbf": NOW - 600, "exp": NOW + 3000})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const PERSONAL_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A look-alike of Entra's common key set: each key with its `issuer` member.
fn entra_keys(keys: &[(&SigningKey, &str)]) -> KeySource {
    let jwks: Vec<Value> = keys
        .iter()
        .map(|(k, issuer)| with(k.public_jwk(), json!({"issuer": issuer})))
        .collect();
    KeySource::new(
        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        JwkSet::from_value(&json!({"keys": jwks})).unwrap(),
    )
}

/// A multi-tenant API (the v2 template, tenant TID) and a token signed by `signer` with
/// these claims; the keys are the organisation key and the personal-account key.
fn multi_tenant(claims: Value, personal_signer: bool, tenants: &[&str]) -> Context {
    let org = key(Algorithm::RS256, "org-kid");
    let msa = key(Algorithm::RS256, "msa-kid");
    let signer = if personal_signer { &msa } else { &org };
    let t = sign(
        json!({"typ": "JWT"}),
        with(
            lifetime(),
            with(
                json!({"aud": API_CLIENT, "ver": "2.0", "scp": "access_as_user"}),
                claims,
            ),
        ),
        signer,
    );
    let mut c = ctx(
        &t,
        Policy::new()
            .issuer(TEMPLATE)
            .audience(API_CLIENT)
            .tenants(tenants.iter().copied()),
    );
    c.api_keys = Some(entra_keys(&[
        (&org, TEMPLATE),
        (&msa, &entra_v2(PERSONAL_TID)),
    ]));
    c
}

/// An Entra ID v2.0 access token of tenant `tid` for the API, and the key that signed it.
fn entra_v2_token(tid: &str) -> (SigningKey, String) {
    let k = key(Algorithm::RS256, "nOo3ZDrODXEK1jKWhXslHR_KXEg");
    let t = sign(
        json!({"typ": "JWT"}),
        with(
            lifetime(),
            json!({"iss": entra_v2(tid), "aud": API_CLIENT, "tid": tid, "ver": "2.0", "scp": "access_as_user"}),
        ),
        &k,
    );
    (k, t)
}

/// Builds the context for one cause id.
fn case(id: &str) -> Context {
    match id {
        "entra_common_issuer" => {
            let (k, t) = entra_v2_token(TID);
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://login.microsoftonline.com/organizations/v2.0")
                    .audience(API_CLIENT),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "key_issuer_mismatch" => multi_tenant(json!({"iss": entra_v2(TID), "tid": TID}), true, &[]),
        "personal_account_to_organizations_api" => multi_tenant(
            json!({"iss": entra_v2(PERSONAL_TID), "tid": PERSONAL_TID}),
            true,
            &[TID],
        ),
        "tenant_not_allowed" => multi_tenant(
            json!({"iss": entra_v2(OTHER_TID), "tid": OTHER_TID}),
            false,
            &[TID],
        ),
        "tenant_missing" => multi_tenant(json!({"iss": entra_v2(TID)}), false, &[]),
        "token_from_other_issuer" => {
            // Entra: all tenants share keys, only the issuer differs.
            let (k, t) = entra_v2_token(OTHER_TID);
            let mut c = ctx(&t, Policy::new().issuer(entra_v2(TID)).audience(API_CLIENT));
            live(
                &mut c,
                &entra_v2(TID),
                src(
                    "https://login.microsoftonline.com/common/discovery/v2.0/keys",
                    &[&k],
                ),
            );
            c
        }
        "issuer_near_miss" => {
            let k = key(Algorithm::RS256, "MjA5QzkzMkRFNjQ2");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://acme.auth0.com/", "aud": "https://api.acme.com", "sub": "auth0|64f1", "azp": "Xy1", "scope": "read:orders"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://acme.auth0.com")
                    .audience("https://api.acme.com"),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "azure_v1_v2_mismatch" => {
            let k = key(Algorithm::RS256, "nOo3ZDrODXEK1jKWhXslHR_KXEg");
            let t = sign(
                json!({"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}),
                with(
                    lifetime(),
                    json!({"iss": entra_v1(TID), "aud": format!("api://{API_CLIENT}"), "ver": "1.0", "appid": SPA_CLIENT, "tid": TID, "scp": "access_as_user", "unique_name": "alice@contoso.com"}),
                ),
                &k,
            );
            let mut c = ctx(&t, Policy::new().issuer(entra_v2(TID)).audience(API_CLIENT));
            live(
                &mut c,
                &entra_v2(TID),
                src(
                    "https://login.microsoftonline.com/x/discovery/v2.0/keys",
                    &[&k],
                ),
            );
            c
        }
        "azure_graph_token" => {
            let published = key(Algorithm::RS256, "graph-kid");
            // Graph signs over a transformed nonce: with the published key the signature fails.
            let graph = key(Algorithm::RS256, "graph-kid");
            let t = sign(
                json!({"typ": "JWT", "nonce": "hGq3b1Nz0aYp9Kx2L_vU7wQe4Rt8sDc6fGh1jKl5mN0"}),
                with(
                    lifetime(),
                    json!({"iss": entra_v1(TID), "aud": "00000003-0000-0000-c000-000000000000", "ver": "1.0", "tid": TID, "scp": "User.Read openid profile", "app_displayname": "My SPA"}),
                ),
                &graph,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer(entra_v1(TID))
                    .audience(format!("api://{API_CLIENT}")),
            );
            live(
                &mut c,
                &entra_v1(TID),
                src(
                    "https://login.microsoftonline.com/x/discovery/keys",
                    &[&published],
                ),
            );
            c
        }
        "okta_org_authorization_server" => {
            let default_server = key(Algorithm::RS256, "default-2024");
            let org = key(Algorithm::RS256, "org-kid-1");
            let t = sign(
                json!({"typ": "application/okta-internal-at+jwt"}),
                with(
                    lifetime(),
                    json!({"ver": 1, "jti": "AT.x9ak2", "iss": "https://dev-4815162.okta.com", "aud": "https://dev-4815162.okta.com", "cid": "0oa1b2c3", "uid": "00u1", "scp": ["openid", "profile"], "sub": "alice@example.com"}),
                ),
                &org,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://dev-4815162.okta.com/oauth2/default")
                    .audience("api://default"),
            );
            live(
                &mut c,
                "https://dev-4815162.okta.com/oauth2/default",
                src(
                    "https://dev-4815162.okta.com/oauth2/default/v1/keys",
                    &[&default_server],
                ),
            );
            c
        }
        "symmetric_token" => {
            let rs = key(Algorithm::RS256, "MjA5QzkzMkRFNjQ2");
            let hs = SigningKey::hmac(
                Algorithm::HS256,
                b"client-secret-of-the-spa-app-0123456789",
                "",
            )
            .unwrap();
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://acme.auth0.com/", "aud": "https://api.acme.com", "sub": "auth0|64f1"}),
                ),
                &hs,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://acme.auth0.com/")
                    .audience("https://api.acme.com"),
            );
            live(
                &mut c,
                "https://acme.auth0.com/",
                src("https://acme.auth0.com/.well-known/jwks.json", &[&rs]),
            );
            c
        }
        "keys_rotated" => {
            let old = key(Algorithm::ES256, "2024-01");
            let new = key(Algorithm::ES256, "2024-07");
            let t = sign(
                json!({"typ": "at+jwt"}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders"}),
                ),
                &new,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.api_keys = Some(src("/etc/orders/jwks.json", &[&old]));
            live(
                &mut c,
                "https://idp.example.com",
                src("https://idp.example.com/jwks", &[&old, &new]),
            );
            c
        }
        "kid_unknown_to_issuer" => {
            let k1 = key(Algorithm::ES256, "prod-1");
            let stray = key(Algorithm::ES256, "laptop-dev");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders"}),
                ),
                &stray,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            live(
                &mut c,
                "https://idp.example.com",
                src("https://idp.example.com/jwks", &[&k1]),
            );
            c
        }
        "signature_mismatch" => {
            let published = key(Algorithm::ES256, "k1");
            let other = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders"}),
                ),
                &other,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.api_keys = Some(src("jwks.json", &[&published]));
            c
        }
        "clock_skew" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                json!({"iss": "https://idp.example.com", "aud": "orders", "iat": NOW + 450, "nbf": NOW + 450, "exp": NOW + 4050}),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "token_expired" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                json!({"iss": "https://idp.example.com", "aud": "orders", "iat": NOW - 6240, "exp": NOW - 2640}),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "audience_near_miss" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "https://api.example.com/orders/"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("https://api.example.com/orders"),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "audience_other_api" => {
            let k = key(Algorithm::RS256, "MjA5QzkzMkRFNjQ2");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://acme.auth0.com/", "aud": "https://acme.auth0.com/api/v2/", "sub": "Xy1@clients", "gty": "client-credentials", "azp": "Xy1", "scope": "read:users"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://acme.auth0.com/")
                    .audience("https://api.acme.com"),
            );
            live(
                &mut c,
                "https://acme.auth0.com/",
                src("https://acme.auth0.com/.well-known/jwks.json", &[&k]),
            );
            c
        }
        "id_token_as_access_token" => {
            let k = key(Algorithm::RS256, "nOo3ZDrODXEK1jKWhXslHR_KXEg");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": entra_v2(TID), "aud": SPA_CLIENT, "tid": TID, "ver": "2.0", "nonce": "0d5a0c4e-1", "oid": "8f1", "preferred_username": "alice@contoso.com", "name": "Alice"}),
                ),
                &k,
            );
            let mut c = ctx(&t, Policy::new().issuer(entra_v2(TID)).audience(API_CLIENT));
            live(
                &mut c,
                &entra_v2(TID),
                src(
                    "https://login.microsoftonline.com/x/discovery/v2.0/keys",
                    &[&k],
                ),
            );
            c
        }
        "cognito_access_token_no_aud" => {
            let iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E";
            let k = key(Algorithm::RS256, "abcdEFGH1234=");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": iss, "sub": "a1b2", "token_use": "access", "client_id": "5r4nd0mcl13nt1d", "scope": "orders/read", "username": "alice", "auth_time": NOW - 600}),
                ),
                &k,
            );
            let mut c = ctx(&t, Policy::new().issuer(iss).audience("5r4nd0mcl13nt1d"));
            live(
                &mut c,
                iss,
                src(&format!("{iss}/.well-known/jwks.json"), &[&k]),
            );
            c
        }
        "keycloak_missing_audience" => {
            let iss = "https://sso.example.com/realms/shop";
            let k = key(Algorithm::RS256, "kc-rs256");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": iss, "aud": "account", "typ": "Bearer", "azp": "web-app", "realm_access": {"roles": ["user"]}, "preferred_username": "alice"}),
                ),
                &k,
            );
            let mut c = ctx(&t, Policy::new().issuer(iss).audience("orders-api"));
            live(
                &mut c,
                iss,
                src(&format!("{iss}/protocol/openid-connect/certs"), &[&k]),
            );
            c
        }
        "encrypted_token" => {
            let h =
                b64::encode(br#"{"alg":"dir","enc":"A256GCM","iss":"https://acme.auth0.com/"}"#);
            let t = format!(
                "{h}..{}.{}.{}",
                b64::encode([7u8; 12]),
                b64::encode([9u8; 48]),
                b64::encode([1u8; 16])
            );
            ctx(
                &t,
                Policy::new()
                    .issuer("https://acme.auth0.com/")
                    .audience("https://api.acme.com"),
            )
        }
        "opaque_token" => ctx(
            "Wq1sJ3Ok9vE2k8tT5mYcXf0ZbNhP4rLd",
            Policy::new()
                .issuer("https://acme.auth0.com/")
                .audience("https://api.acme.com"),
        ),
        "unsigned_token" => {
            let t = format!("{}.{}.", b64::encode(br#"{"alg":"none","typ":"JWT"}"#), b64::encode(json!({"iss": "https://idp.example.com", "aud": "orders", "exp": NOW + 600, "sub": "admin"}).to_string()));
            ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            )
        }
        "algorithm_not_allowed" => {
            let k = key(Algorithm::ES256, "ec-1");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://logto.example.com/oidc", "aud": "https://api.example.com"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://logto.example.com/oidc")
                    .audience("https://api.example.com")
                    .algorithms([Algorithm::RS256]),
            );
            live(
                &mut c,
                "https://logto.example.com/oidc",
                src("https://logto.example.com/oidc/jwks", &[&k]),
            );
            c
        }
        "discovery_unreachable" => {
            let k = key(Algorithm::RS256, "kc-rs256");
            let iss = "https://sso.example.com/auth/realms/shop";
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": iss, "aud": "orders-api", "typ": "Bearer"}),
                ),
                &k,
            );
            let mut c = ctx(&t, Policy::new().issuer(iss).audience("orders-api"));
            c.discovery = Fetched::Failed {
                url: format!("{iss}/.well-known/openid-configuration"),
                error: "HTTP 404 Not Found (RESTEASY003210: Could not find resource)".into(),
            };
            c.live_keys = Fetched::NotTried("no jwks_uri without a discovery document".into());
            c
        }
        "jwks_unreachable" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.discovery = Fetched::Ok(DiscoveryInfo {
                url: "https://idp.example.com/.well-known/openid-configuration".into(),
                issuer: Some("https://idp.example.com".into()),
                jwks_uri: Some("https://keys.internal.example.com/jwks".into()),
            });
            c.live_keys = Fetched::Failed {
                url: "https://keys.internal.example.com/jwks".into(),
                error: "dns error: failed to lookup address".into(),
            };
            c
        }
        "discovery_issuer_mismatch" => {
            let (k, t) = entra_v2_token(TID);
            let common = "https://login.microsoftonline.com/common/v2.0";
            let mut c = ctx(&t, Policy::new().issuer(common).audience(API_CLIENT));
            live(
                &mut c,
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                src(
                    "https://login.microsoftonline.com/common/discovery/v2.0/keys",
                    &[&k],
                ),
            );
            if let Fetched::Ok(d) = &mut c.discovery {
                d.url = format!("{common}/.well-known/openid-configuration");
            }
            c
        }
        "issuer_host_mismatch" => {
            let k = key(Algorithm::RS256, "kc-rs256");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "http://localhost:8080/realms/shop", "aud": "orders-api", "typ": "Bearer", "azp": "web-app"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("http://keycloak:8080/realms/shop")
                    .audience("orders-api"),
            );
            live(
                &mut c,
                "http://keycloak:8080/realms/shop",
                src(
                    "http://keycloak:8080/realms/shop/protocol/openid-connect/certs",
                    &[&k],
                ),
            );
            c
        }
        "refresh_token_as_access_token" => {
            let iss = "https://sso.example.com/realms/shop";
            let rs = key(Algorithm::RS256, "kc-rs256");
            let realm_hmac = SigningKey::hmac(
                Algorithm::HS512,
                &[42u8; 64],
                "5c0b4b1e-7a1d-4a4f-9d5e-1f2a3b4c5d6e",
            )
            .unwrap();
            let t = sign(
                json!({"typ": "JWT"}),
                json!({"iss": iss, "aud": iss, "typ": "Refresh", "azp": "web-app", "exp": NOW + 1200, "iat": NOW - 60, "sid": "s1", "scope": "openid profile"}),
                &realm_hmac,
            );
            let mut c = ctx(&t, Policy::new().issuer(iss).audience("orders-api"));
            live(
                &mut c,
                iss,
                src(&format!("{iss}/protocol/openid-connect/certs"), &[&rs]),
            );
            c
        }
        "firebase_wrong_token" => {
            let sa = key(Algorithm::RS256, "unused");
            let mut sa_nokid = SigningKey::generate(Algorithm::RS256, "x").unwrap();
            sa_nokid.set_kid(None);
            let _ = sa;
            let email = "firebase-adminsdk-x1y2z@shop-prod.iam.gserviceaccount.com";
            let t = sign(
                json!({"typ": "JWT"}),
                json!({"iss": email, "sub": email, "aud": "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit", "uid": "alice", "iat": NOW - 60, "exp": NOW + 3540}),
                &sa_nokid,
            );
            let g = key(Algorithm::RS256, "a1b2c3");
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://securetoken.google.com/shop-prod")
                    .audience("shop-prod"),
            );
            live(&mut c, "https://securetoken.google.com/shop-prod", src("https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com", &[&g]));
            c
        }
        "entra_app_specific_keys" => {
            let tenant_key = key(Algorithm::RS256, "tenant-key-1");
            let app_key = key(Algorithm::RS256, "app-cert-2025");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": entra_v2(TID), "aud": API_CLIENT, "azp": SPA_CLIENT, "tid": TID, "ver": "2.0", "scp": "access_as_user"}),
                ),
                &app_key,
            );
            let mut c = ctx(&t, Policy::new().issuer(entra_v2(TID)).audience(API_CLIENT));
            let jwks = format!("https://login.microsoftonline.com/{TID}/discovery/v2.0/keys");
            live(&mut c, &entra_v2(TID), src(&jwks, &[&tenant_key]));
            c.app_keys = Some((
                API_CLIENT.to_string(),
                src(
                    &format!("{jwks}?appid={API_CLIENT}"),
                    &[&tenant_key, &app_key],
                ),
            ));
            c
        }
        "b2c_policy_mismatch" => {
            let iss = format!("https://contoso.b2clogin.com/{TID}/v2.0/");
            let signup = key(
                Algorithm::RS256,
                "X5eXk4xyojNFum1kl2Ytv8dlNP4-c57dO6QGTVBwaNk",
            );
            let signin = key(
                Algorithm::RS256,
                "gLv3jCwoHcTkcrm5Z4YLhc3mWLLhz3QNQnDPTC0RX0o",
            );
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": iss, "aud": API_CLIENT, "tfp": "B2C_1_signin", "ver": "1.0", "sub": "u1", "scp": "orders.read"}),
                ),
                &signin,
            );
            let mut c = ctx(&t, Policy::new().issuer(iss.clone()).audience(API_CLIENT));
            let base = "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signup";
            c.discovery = Fetched::Ok(DiscoveryInfo {
                url: format!("{base}/v2.0/.well-known/openid-configuration"),
                issuer: Some(iss.clone()),
                jwks_uri: Some(format!("{base}/discovery/v2.0/keys")),
            });
            c.live_keys = Fetched::Ok(src(&format!("{base}/discovery/v2.0/keys"), &[&signup]));
            c
        }
        "hmac_secret_mismatch" => {
            let secret = b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
            let issuer_key = SigningKey::hmac(Algorithm::HS256, secret, "").unwrap();
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://auth.internal", "aud": "orders", "sub": "svc-billing"}),
                ),
                &issuer_key,
            );
            let mut file = secret.to_vec();
            file.push(b'\n');
            let policy = Policy::new()
                .issuer("https://auth.internal")
                .audience("orders")
                .algorithms([Algorithm::HS256]);
            Context::new(&t, Settings::new(policy, NOW).secret(file))
        }
        "jwks_no_usable_keys" => {
            let k = key(Algorithm::RS256, "sig-1");
            let mut enc = k.public_jwk();
            enc["use"] = json!("enc");
            enc["kid"] = json!("enc-1");
            let t = sign(
                json!({}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            let jwks = json!({"keys": [enc, {"kty": "EC", "kid": "k256", "crv": "secp256k1", "x": "AA", "y": "AA"}]});
            c.api_keys = Some(KeySource::new(
                "jwks.json",
                JwkSet::from_value(&jwks).unwrap(),
            ));
            c
        }
        "time_claims_in_milliseconds" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({}),
                json!({"iss": "https://idp.example.com", "aud": "orders", "iat": (NOW - 60) * 1000, "exp": (NOW + 3540) * 1000}),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders"),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        "typ_not_accepted" => {
            let k = key(Algorithm::ES256, "k1");
            let t = sign(
                json!({"typ": "JWT"}),
                with(
                    lifetime(),
                    json!({"iss": "https://idp.example.com", "aud": "orders", "client_id": "c1", "scope": "orders.read"}),
                ),
                &k,
            );
            let mut c = ctx(
                &t,
                Policy::new()
                    .issuer("https://idp.example.com")
                    .audience("orders")
                    .typ(tollgate::TypPolicy::OneOf(vec!["at+jwt".into()])),
            );
            c.api_keys = Some(src("jwks.json", &[&k]));
            c
        }
        other => panic!("no case for cause {other}"),
    }
}

fn show(r: &Report) -> String {
    doctor::render(r, false)
}

#[test]
fn every_cause_is_the_top_cause_of_its_case() {
    let mut failures = Vec::new();
    for spec in CAUSES {
        if spec.id == CauseId::MalformedToken {
            continue; // covered below with a truncated copy
        }
        let c = case(spec.id.as_str());
        let r = doctor::diagnose(&c);
        let top = r.causes.first().map(|c| c.id).unwrap_or("(none)");
        if top != spec.id.as_str() {
            failures.push(format!("{}: top cause {top}\n{}", spec.id, show(&r)));
            continue;
        }
        assert!(!r.valid, "{}", spec.id);
        let cause = &r.causes[0];
        assert!(
            !cause.summary.is_empty() && !cause.evidence.is_empty() && !cause.fix.is_empty(),
            "{}: {cause:?}",
            spec.id
        );
        // The report never carries the signature.
        let json = serde_json::to_string(&r).unwrap();
        if let Some(sig) = c.token.rsplit('.').next().filter(|s| s.len() > 16) {
            assert!(
                !json.contains(sig) && !show(&r).contains(sig),
                "{}: signature leaked",
                spec.id
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn all_required_causes_are_in_the_table() {
    let required = [
        "token_from_other_issuer",
        "issuer_near_miss",
        "azure_v1_v2_mismatch",
        "azure_graph_token",
        "okta_org_authorization_server",
        "symmetric_token",
        "keys_rotated",
        "kid_unknown_to_issuer",
        "signature_mismatch",
        "clock_skew",
        "token_expired",
        "audience_near_miss",
        "audience_other_api",
        "id_token_as_access_token",
        "cognito_access_token_no_aud",
        "keycloak_missing_audience",
        "encrypted_token",
        "opaque_token",
        "unsigned_token",
        "algorithm_not_allowed",
        "discovery_unreachable",
        "jwks_unreachable",
        "discovery_issuer_mismatch",
        "issuer_host_mismatch",
        "refresh_token_as_access_token",
        "firebase_wrong_token",
        "entra_app_specific_keys",
        "b2c_policy_mismatch",
        "hmac_secret_mismatch",
        "jwks_no_usable_keys",
        "time_claims_in_milliseconds",
        "typ_not_accepted",
        "entra_common_issuer",
        "key_issuer_mismatch",
        "personal_account_to_organizations_api",
        "tenant_not_allowed",
        "tenant_missing",
    ];
    assert_eq!(required.len(), 37);
    for id in required {
        assert!(CauseId::parse(id).is_some(), "{id} missing");
    }
}

#[test]
fn fixes_are_phrased_in_the_providers_terms() {
    let fix = |id: &str| doctor::diagnose(&case(id)).causes[0].fix.clone();
    assert!(fix("symmetric_token").contains("Auth0 dashboard"));
    assert!(fix("issuer_near_miss").contains("\"https://acme.auth0.com/\""));
    assert!(fix("azure_v1_v2_mismatch").contains("accessTokenAcceptedVersion"));
    assert!(fix("token_from_other_issuer").contains(TID));
    assert!(fix("keycloak_missing_audience")
        .contains("Clients > web-app > Client scopes > web-app-dedicated"));
    assert!(fix("keycloak_missing_audience").contains("\"orders-api\""));
    assert!(fix("issuer_host_mismatch").contains("KC_HOSTNAME=localhost:8080"));
    assert!(fix("cognito_access_token_no_aud").contains("client_id = \"5r4nd0mcl13nt1d\""));
    assert!(fix("b2c_policy_mismatch").contains("B2C_1_signin"));
    assert!(fix("entra_app_specific_keys").contains(&format!("?appid={API_CLIENT}")));
    assert!(fix("discovery_issuer_mismatch")
        .contains(&format!("https://login.microsoftonline.com/{TID}/v2.0")));
    assert!(fix("okta_org_authorization_server")
        .contains("https://dev-4815162.okta.com/oauth2/default"));
    assert!(fix("hmac_secret_mismatch").contains("trailing newline"));
    assert!(fix("entra_common_issuer").contains(TEMPLATE));
    assert!(fix("entra_common_issuer").contains("organizations/v2.0/.well-known"));
    assert!(fix("personal_account_to_organizations_api").contains("AzureADMultipleOrgs"));
    assert!(fix("tenant_not_allowed").contains(OTHER_TID));
    assert!(fix("key_issuer_mismatch").contains("/consumers"));
    assert!(fix("tenant_missing").contains("tid"));
    assert!(fix("audience_other_api").contains("audience=<your API identifier>"));
    assert!(fix("discovery_unreachable").contains("/realms/shop"));
    assert!(fix("id_token_as_access_token").contains("api://<api-client-id>"));
}

#[test]
fn evidence_carries_the_numbers() {
    let ev = |id: &str| doctor::diagnose(&case(id)).causes[0].evidence.clone();
    assert!(
        ev("clock_skew").contains("7 min 30 s"),
        "{}",
        ev("clock_skew")
    );
    assert!(
        ev("token_expired").contains("44 min ago"),
        "{}",
        ev("token_expired")
    );
    assert!(
        ev("keys_rotated").contains("\"2024-07\"") && ev("keys_rotated").contains("\"2024-01\"")
    );
    assert!(
        ev("kid_unknown_to_issuer").contains("\"laptop-dev\"")
            && ev("kid_unknown_to_issuer").contains("\"prod-1\"")
    );
    assert!(
        ev("jwks_no_usable_keys").contains("secp256k1")
            && ev("jwks_no_usable_keys").contains("enc-1")
    );
    assert!(ev("time_claims_in_milliseconds").contains("as milliseconds"));
    assert!(ev("azure_graph_token").contains("nonce"));
    assert!(ev("hmac_secret_mismatch").contains("trailing newline"));
}

#[test]
fn verdicts_and_codes() {
    let r = doctor::diagnose(&case("discovery_unreachable"));
    assert_eq!(r.verdict, Verdict::CannotCheck);
    assert_eq!(r.code, Some("keys_unavailable"));
    let r = doctor::diagnose(&case("token_expired"));
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.code, Some("expired"));
    let lifetime = r.checks.iter().find(|c| c.id == "lifetime").unwrap();
    assert_eq!(lifetime.status, Status::Fail);
    assert_eq!(
        r.checks
            .iter()
            .find(|c| c.id == "signature")
            .unwrap()
            .status,
        Status::Pass
    );
    let ids: Vec<_> = r.checks.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "format",
            "header",
            "issuer",
            "discovery",
            "keys",
            "signature",
            "lifetime",
            "audience",
            "type"
        ]
    );
    assert_eq!(
        doctor::diagnose(&case("keys_rotated")).code,
        Some("kid_not_found")
    );
    assert_eq!(
        doctor::diagnose(&case("azure_graph_token")).code,
        Some("signature_invalid")
    );
    assert_eq!(
        doctor::diagnose(&case("time_claims_in_milliseconds")).code,
        Some("invalid_claim")
    );
}

#[test]
fn a_valid_token_has_no_causes() {
    let k = key(Algorithm::ES256, "k1");
    let t = sign(
        json!({"typ": "at+jwt"}),
        with(
            lifetime(),
            json!({"iss": "https://idp.example.com", "aud": "orders"}),
        ),
        &k,
    );
    let mut c = ctx(
        &t,
        Policy::new()
            .issuer("https://idp.example.com")
            .audience("orders"),
    );
    c.api_keys = Some(src("jwks.json", &[&k]));
    let r = doctor::diagnose(&c);
    assert!(r.valid, "{}", show(&r));
    assert_eq!(r.code, None);
    assert!(r.causes.is_empty());
    assert!(r.checks.iter().all(|c| c.status != Status::Fail));
}

#[test]
fn damaged_copies_are_malformed_not_opaque() {
    let k = key(Algorithm::ES256, "k1");
    let t = sign(
        json!({}),
        with(lifetime(), json!({"iss": "https://idp.example.com"})),
        &k,
    );
    let cut = &t[..t.rfind('.').unwrap()];
    let r = doctor::diagnose(&ctx(cut, Policy::new()));
    assert_eq!(r.causes[0].id, "malformed_token");
    assert_eq!(r.code, Some("malformed_token"));
    let r = doctor::diagnose(&ctx("ya29.a0AfB_byC1x2y3z4", Policy::new()));
    assert_eq!(r.causes[0].id, "opaque_token");
    assert!(r.causes[0].evidence.contains("Google"), "{:?}", r.causes[0]);
}

#[test]
fn firebase_variants() {
    let g = key(Algorithm::RS256, "a1b2c3");
    for (iss, aud, needle) in [
        (
            "https://session.firebase.google.com/shop-prod",
            "shop-prod",
            "verifySessionCookie",
        ),
        (
            "https://accounts.google.com",
            "1234-abc.apps.googleusercontent.com",
            "getIdToken",
        ),
    ] {
        let t = sign(
            json!({}),
            with(lifetime(), json!({"iss": iss, "aud": aud})),
            &g,
        );
        let mut c = ctx(
            &t,
            Policy::new()
                .issuer("https://securetoken.google.com/shop-prod")
                .audience("shop-prod"),
        );
        c.api_keys = Some(src("keys.json", &[&g]));
        let r = doctor::diagnose(&c);
        assert_eq!(r.causes[0].id, "firebase_wrong_token", "{}", show(&r));
        assert!(r.causes[0].fix.contains(needle));
    }
}

#[test]
fn providers_are_reported() {
    let r = doctor::diagnose(&case("cognito_access_token_no_aud"));
    assert_eq!(r.provider.id, "cognito");
    assert_eq!(r.provider.captures["pool"], "eu-west-1_Ab12Cd34E");
    assert_eq!(
        r.provider.jwks_url.as_deref(),
        Some(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E/.well-known/jwks.json"
        )
    );
    let r = doctor::diagnose(&case("encrypted_token"));
    assert_eq!(r.provider.id, "auth0");
}

/// One token and policy, with the API holding the token's key.
fn simple(header: Value, claims: Value, policy: Policy) -> Context {
    let k = key(Algorithm::ES256, "k1");
    let t = sign(header, with(lifetime(), claims), &k);
    let mut c = ctx(&t, policy);
    c.api_keys = Some(src("jwks.json", &[&k]));
    c
}

#[test]
fn variants_of_the_same_causes() {
    let kc = "https://sso.example.com/realms/shop";
    let cognito = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Zy98Xw76V";
    let cases: Vec<(Context, &str, &str)> = vec![
        // Issuer near misses: scheme, case, whitespace in the configuration, Google's two forms.
        (
            simple(
                json!({}),
                json!({"iss": "http://idp.example.com"}),
                Policy::new().issuer("https://idp.example.com"),
            ),
            "issuer_near_miss",
            "the scheme",
        ),
        (
            simple(
                json!({}),
                json!({"iss": "https://IDP.example.com"}),
                Policy::new().issuer("https://idp.example.com"),
            ),
            "issuer_near_miss",
            "letter case",
        ),
        (
            simple(
                json!({}),
                json!({"iss": "https://idp.example.com"}),
                Policy::new().issuer("https://idp.example.com\n"),
            ),
            "issuer_near_miss",
            "whitespace",
        ),
        (
            simple(
                json!({}),
                json!({"iss": "accounts.google.com", "aud": "1-x.apps.googleusercontent.com"}),
                Policy::new().issuer("https://accounts.google.com"),
            ),
            "issuer_near_miss",
            "accept both",
        ),
        // Audience near misses.
        (
            simple(
                json!({}),
                json!({"iss": entra_v2(TID), "aud": format!("api://{API_CLIENT}")}),
                Policy::new().issuer(entra_v2(TID)).audience(API_CLIENT),
            ),
            "audience_near_miss",
            "accessTokenAcceptedVersion",
        ),
        (
            simple(
                json!({}),
                json!({"aud": "Orders"}),
                Policy::new().audience("orders"),
            ),
            "audience_near_miss",
            "letter case",
        ),
        // ID tokens from several providers.
        (
            simple(
                json!({}),
                json!({"iss": cognito, "aud": "5r4nd0m", "token_use": "id", "cognito:username": "alice"}),
                Policy::new().issuer(cognito).audience("orders"),
            ),
            "id_token_as_access_token",
            "session.tokens.accessToken",
        ),
        (
            simple(
                json!({}),
                json!({"iss": kc, "aud": "web-app", "typ": "ID", "azp": "web-app"}),
                Policy::new().issuer(kc).audience("orders-api"),
            ),
            "id_token_as_access_token",
            "access_token",
        ),
        (
            simple(
                json!({}),
                json!({"iss": "https://dev-1.okta.com/oauth2/default", "aud": "0oa1", "jti": "ID.abc", "amr": ["pwd"]}),
                Policy::new()
                    .issuer("https://dev-1.okta.com/oauth2/default")
                    .audience("api://default"),
            ),
            "id_token_as_access_token",
            "access_token",
        ),
        // Keycloak with no aud at all.
        (
            simple(
                json!({}),
                json!({"iss": kc, "typ": "Bearer", "azp": "web-app"}),
                Policy::new().issuer(kc).audience("orders-api"),
            ),
            "keycloak_missing_audience",
            "Audience mapper",
        ),
        // Another realm, another Cognito pool.
        (
            simple(
                json!({}),
                json!({"iss": "https://sso.example.com/realms/staging"}),
                Policy::new().issuer(kc),
            ),
            "token_from_other_issuer",
            "realm staging",
        ),
        (
            simple(
                json!({}),
                json!({"iss": cognito}),
                Policy::new()
                    .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Prod00001"),
            ),
            "token_from_other_issuer",
            "user pool us-east-1_Zy98Xw76V",
        ),
        // Unknown algorithm name.
        (
            simple(json!({"alg": "RS257"}), json!({}), Policy::new()),
            "algorithm_not_allowed",
            "standard algorithm",
        ),
        // Required typ missing entirely.
        (
            simple(
                json!({}),
                json!({}),
                Policy::new().typ(tollgate::TypPolicy::OneOf(vec!["at+jwt".into()])),
            ),
            "typ_not_accepted",
            "at+jwt",
        ),
    ];
    for (i, (c, id, needle)) in cases.into_iter().enumerate() {
        let r = doctor::diagnose(&c);
        assert_eq!(
            r.causes.first().map(|c| c.id),
            Some(id),
            "case {i}\n{}",
            show(&r)
        );
        let top = &r.causes[0];
        let all = format!("{} {} {}", top.summary, top.evidence, top.fix);
        assert!(all.contains(needle), "case {i}: {needle:?} not in {all}");
    }
}

#[test]
fn just_expired_also_suspects_the_clocks() {
    let k = key(Algorithm::ES256, "k1");
    let t = sign(
        json!({}),
        json!({"iss": "https://idp.example.com", "iat": NOW - 3720, "exp": NOW - 120}),
        &k,
    );
    let mut c = ctx(&t, Policy::new().issuer("https://idp.example.com"));
    c.api_keys = Some(src("jwks.json", &[&k]));
    let r = doctor::diagnose(&c);
    let ids: Vec<_> = r.causes.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["token_expired", "clock_skew"]);
    assert!(
        r.causes[1].summary.contains("2 min fast"),
        "{}",
        r.causes[1].summary
    );
}

#[test]
fn colour_only_when_asked() {
    let r = doctor::diagnose(&case("token_expired"));
    assert!(doctor::render(&r, true).contains("\x1b[1;31mFAILED"));
    assert!(!doctor::render(&r, false).contains('\x1b'));
}

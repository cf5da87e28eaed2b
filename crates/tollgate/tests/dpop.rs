//! DPoP (RFC 9449) and certificate-bound tokens (RFC 8705) through the library's one path,
//! `TokenValidator::validate_request`: one test per check, valid and each way of failing,
//! and the hostile inputs (two headers, private keys in `jwk`, `alg: none`/HS256, huge
//! proofs, `htu` spellings, `iat` far away, replays).

use std::sync::Arc;

use serde_json::{json, Value};
use tollgate::binding::{
    cert_thumbprint, read_client_cert, AuthScheme, CertFormat, ClientCert, RequestContext,
};
use tollgate::dpop::{
    access_token_hash, make_proof, DpopMode, DpopOptions, MemoryReplayCache, ProofId, ReplayCache,
    ReplayFuture, ReplayRefusal,
};
use tollgate::jwk::thumbprint_of;
use tollgate::validator::TokenValidator;
use tollgate::{
    b64, jws, Algorithm, FixedClock, IssuerConfig, JwkSet, Policy, SigningKey, ValidationError,
    Validator,
};

const ISS: &str = "https://idp.example";
const NOW: i64 = 1_700_000_000;
const URL: &str = "https://api.example/orders/42";

struct Setup {
    issuer_key: SigningKey,
    client_key: SigningKey,
    validator: Validator,
}

fn setup_with(mode: DpopMode, replay: Arc<dyn ReplayCache>) -> Setup {
    let issuer_key = SigningKey::generate(Algorithm::ES256, "issuer").unwrap();
    let client_key = SigningKey::generate(Algorithm::ES256, "client").unwrap();
    let keys = JwkSet::from_value(&json!({"keys": [issuer_key.public_jwk()]})).unwrap();
    let validator = Validator::new(vec![IssuerConfig::static_keys(ISS, keys)
        .policy(Policy::new().audience("api"))
        .dpop(DpopOptions::default().mode(mode))])
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(NOW)))
    .with_replay_cache(replay);
    Setup {
        issuer_key,
        client_key,
        validator,
    }
}

fn setup(mode: DpopMode) -> Setup {
    setup_with(mode, Arc::new(MemoryReplayCache::default()))
}

impl Setup {
    fn token(&self, cnf: Option<Value>) -> String {
        let mut claims = json!({"iss": ISS, "aud": "api", "sub": "alice", "exp": NOW + 600});
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
        jws::sign(&json!({"typ": "at+jwt"}), &claims, &self.issuer_key).unwrap()
    }
    fn jkt(&self) -> String {
        thumbprint_of(&self.client_key.public_jwk()).unwrap()
    }
    fn bound_token(&self) -> String {
        self.token(Some(json!({"jkt": self.jkt()})))
    }
    fn proof(&self, method: &str, url: &str, token: &str) -> String {
        make_proof(&self.client_key, method, url, Some(token), NOW).unwrap()
    }
    /// A proof with exactly these header members and claims, signed with `key`.
    fn custom_proof(&self, header: Value, claims: Value, key: &SigningKey) -> String {
        jws::sign_raw(&header, claims.to_string().as_bytes(), key).unwrap()
    }
    fn default_header(&self) -> Value {
        let mut jwk = self.client_key.public_jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
    }
    fn default_claims(&self, token: &str) -> Value {
        json!({"jti": "j-1", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(token)})
    }
    async fn send(
        &self,
        scheme: AuthScheme,
        token: &str,
        method: &str,
        url: &str,
        proofs: Vec<&str>,
    ) -> Result<(), ValidationError> {
        let request =
            RequestContext::new(scheme, token, method, Some(url.to_string())).dpop_proofs(proofs);
        self.validator.validate_request(&request).await.map(|_| ())
    }
    async fn dpop(&self, token: &str, proof: &str) -> Result<(), ValidationError> {
        self.send(AuthScheme::Dpop, token, "GET", URL, vec![proof])
            .await
    }
}

fn code(r: Result<(), ValidationError>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn a_valid_proof_with_its_bound_token_passes() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let proof = s.proof("GET", URL, &token);
    assert_eq!(code(s.dpop(&token, &proof).await), "ok");
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let proof = s.proof("GET", URL, &token);
    assert_eq!(code(s.dpop(&token, &proof).await), "ok");
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_replayed");
    // A new proof (new jti) passes.
    let again = s.proof("GET", URL, &token);
    assert_eq!(code(s.dpop(&token, &again).await), "ok");
}

/// One client sending fresh proofs faster than its key's quota is refused with its own
/// code (429, `Retry-After` until its soonest proof expires), never as "cannot verify now";
/// a client with another key is still served, and a replay is still a replay.
#[tokio::test]
async fn a_key_over_its_quota_is_refused_while_other_keys_pass() {
    let s = setup_with(
        DpopMode::Allowed,
        Arc::new(MemoryReplayCache::new(100).max_per_key(2)),
    );
    let token = s.bound_token();
    let first = s.proof("GET", URL, &token);
    assert_eq!(code(s.dpop(&token, &first).await), "ok");
    assert_eq!(
        code(s.dpop(&token, &s.proof("GET", URL, &token)).await),
        "ok"
    );
    let flood = s.proof("GET", URL, &token);
    let e = s.dpop(&token, &flood).await.unwrap_err();
    assert_eq!(e.code(), "dpop_key_over_quota");
    assert!(e.is_rate_limited() && !e.is_unavailable() && !e.is_dpop_error());
    let kept = DpopOptions::default().replay_until(NOW) - NOW;
    assert_eq!(e.retry_after(), Some(u64::try_from(kept).unwrap()));
    assert_eq!(e.details()["limit"], 2);
    assert_eq!(e.details()["jkt"], s.jkt());
    // Neither the proof nor its jti is in the refusal.
    let said = format!("{e} {}", e.details());
    assert!(!said.contains(&flood) && !said.contains(flood.split('.').nth(1).unwrap()));
    for scheme in [AuthScheme::Dpop, AuthScheme::Bearer] {
        let c = tollgate::challenge::ChallengeOptions::new().error_for(&e, scheme);
        assert_eq!(
            (c.status, c.retry_after, c.www_authenticate.as_deref()),
            (429, Some(u64::try_from(kept).unwrap()), None)
        );
        assert_eq!(c.body["error"], "too_many_requests");
        assert!(c.headers().contains(&("retry-after", kept.to_string())));
    }
    // A proof already accepted is a replay, whatever the quota.
    assert_eq!(code(s.dpop(&token, &first).await), "dpop_replayed");
    // Another client (another key, its own token) is served.
    let other = SigningKey::generate(Algorithm::ES256, "other").unwrap();
    let other_token = s.token(Some(
        json!({"jkt": thumbprint_of(&other.public_jwk()).unwrap()}),
    ));
    let proof = make_proof(&other, "GET", URL, Some(&other_token), NOW).unwrap();
    assert_eq!(code(s.dpop(&other_token, &proof).await), "ok");
}

#[test]
fn a_huge_thumbprint_is_cut_in_the_sentence() {
    let e = ValidationError::DpopKeyOverQuota {
        jkt: "k".repeat(100_000),
        limit: 1000,
        retry_after: 3,
    };
    assert!(e.to_string().len() < 400, "{e}");
    assert!(e.to_string().ends_with("retry after 3 s"));
}

#[tokio::test]
async fn a_missing_proof_is_refused() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let r = s.send(AuthScheme::Dpop, &token, "GET", URL, vec![]).await;
    assert_eq!(code(r), "dpop_proof_missing");
}

#[tokio::test]
async fn two_dpop_headers_are_refused() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let (a, b) = (s.proof("GET", URL, &token), s.proof("GET", URL, &token));
    let e = s
        .send(AuthScheme::Dpop, &token, "GET", URL, vec![&a, &b])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "dpop_proof_invalid");
    assert!(e.to_string().contains("2 DPoP headers"), "{e}");
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_is_refused_in_every_mode() {
    for mode in [DpopMode::Off, DpopMode::Allowed, DpopMode::Required] {
        let s = setup(mode);
        let token = s.bound_token();
        let proof = s.proof("GET", URL, &token);
        let r = s
            .send(AuthScheme::Bearer, &token, "GET", URL, vec![&proof])
            .await;
        assert_eq!(code(r), "dpop_bound_token_as_bearer", "{mode:?}");
    }
}

#[tokio::test]
async fn modes_decide_bearer_and_dpop() {
    let s = setup(DpopMode::Required);
    let plain = s.token(None);
    let r = s.send(AuthScheme::Bearer, &plain, "GET", URL, vec![]).await;
    assert_eq!(code(r), "dpop_required");
    let s = setup(DpopMode::Allowed);
    let plain = s.token(None);
    assert_eq!(
        code(s.send(AuthScheme::Bearer, &plain, "GET", URL, vec![]).await),
        "ok"
    );
    // The DPoP scheme with an unbound token: the proof key binds nothing.
    let proof = s.proof("GET", URL, &plain);
    let e = s.dpop(&plain, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_key_mismatch");
    assert!(e.to_string().contains("not DPoP-bound"), "{e}");
    let s = setup(DpopMode::Off);
    let token = s.bound_token();
    let proof = s.proof("GET", URL, &token);
    assert_eq!(code(s.dpop(&token, &proof).await), "dpop_not_accepted");
}

#[tokio::test]
async fn a_proof_signed_by_another_key_is_refused() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let other = SigningKey::generate(Algorithm::ES256, "x").unwrap();
    let proof = make_proof(&other, "GET", URL, Some(&token), NOW).unwrap();
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_key_mismatch");
    assert!(e.to_string().contains(&s.jkt()), "{e}");
}

#[tokio::test]
async fn htm_must_be_the_method() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    for (proof_method, request) in [("POST", "GET"), ("get", "GET")] {
        let proof = s.proof(proof_method, URL, &token);
        let r = s
            .send(AuthScheme::Dpop, &token, request, URL, vec![&proof])
            .await;
        assert_eq!(code(r), "dpop_htm_mismatch", "{proof_method}");
    }
}

#[tokio::test]
async fn htu_is_compared_after_normalisation() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    for same in [
        "HTTPS://API.EXAMPLE/orders/42",
        "https://api.example:443/orders/42",
        "https://api.example/orders/42?page=2",
        "https://api.example/%6Frders/42",
    ] {
        let proof = s.custom_proof(
            s.default_header(),
            json!({"jti": format!("j-{same}"), "htm": "GET", "htu": same, "iat": NOW, "ath": access_token_hash(&token)}),
            &s.client_key,
        );
        assert_eq!(code(s.dpop(&token, &proof).await), "ok", "{same}");
    }
    for other in [
        "http://api.example/orders/42",
        "https://api.example./orders/42",
        "https://api.example:8443/orders/42",
        "https://api.example/orders/42/",
        "https://api.example/orders%2F42",
        "https://evil.example/orders/42",
        "/orders/42",
        "",
    ] {
        let proof = s.custom_proof(
            s.default_header(),
            json!({"jti": format!("j-{other}"), "htm": "GET", "htu": other, "iat": NOW, "ath": access_token_hash(&token)}),
            &s.client_key,
        );
        let e = s.dpop(&token, &proof).await.unwrap_err();
        assert_eq!(e.code(), "dpop_htu_mismatch", "{other}");
    }
    // The request's own query is ignored too.
    let proof = s.proof("GET", URL, &token);
    let r = s
        .send(
            AuthScheme::Dpop,
            &token,
            "GET",
            &format!("{URL}?a=1"),
            vec![&proof],
        )
        .await;
    assert_eq!(code(r), "ok");
    // A front end that cannot tell its public URL refuses rather than guesses.
    let proof = s.proof("GET", URL, &token);
    let request =
        RequestContext::new(AuthScheme::Dpop, &token, "GET", None).dpop_proofs(vec![&proof]);
    let e = s.validator.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "dpop_htu_mismatch");
}

#[tokio::test]
async fn iat_must_be_within_the_window() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    for (iat, expected) in [
        (NOW - 60, "ok"),
        (NOW + 5, "ok"),
        (NOW - 66, "dpop_iat_outside_window"),
        (NOW + 6, "dpop_iat_outside_window"),
        (NOW - 10 * 365 * 86_400, "dpop_iat_outside_window"),
        (NOW + 10 * 365 * 86_400, "dpop_iat_outside_window"),
    ] {
        let mut claims = s.default_claims(&token);
        claims["iat"] = json!(iat);
        claims["jti"] = json!(format!("j{iat}"));
        let proof = s.custom_proof(s.default_header(), claims, &s.client_key);
        assert_eq!(code(s.dpop(&token, &proof).await), expected, "iat {iat}");
    }
    let mut claims = s.default_claims(&token);
    claims["iat"] = json!("now");
    let proof = s.custom_proof(s.default_header(), claims, &s.client_key);
    assert_eq!(code(s.dpop(&token, &proof).await), "dpop_proof_invalid");
}

#[tokio::test]
async fn ath_must_hash_the_token() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let other_token = s.token(Some(json!({"jkt": s.jkt(), "jti": "another"})));
    let proof = s.proof("GET", URL, &other_token);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_ath_mismatch");
    let mut claims = s.default_claims(&token);
    claims.as_object_mut().unwrap().remove("ath");
    let proof = s.custom_proof(s.default_header(), claims, &s.client_key);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_ath_mismatch");
    assert!(e.to_string().contains("no ath"), "{e}");
}

#[tokio::test]
async fn typ_must_be_dpop_jwt() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    for typ in [json!("JWT"), json!("at+jwt"), Value::Null] {
        let mut header = s.default_header();
        if typ.is_null() {
            header.as_object_mut().unwrap().remove("typ");
        } else {
            header["typ"] = typ.clone();
        }
        let proof = s.custom_proof(header, s.default_claims(&token), &s.client_key);
        let e = s.dpop(&token, &proof).await.unwrap_err();
        assert_eq!(e.code(), "dpop_proof_invalid", "{typ}");
        assert!(e.to_string().contains("typ"), "{e}");
    }
}

#[tokio::test]
async fn unsigned_symmetric_and_unlisted_algorithms_are_refused() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let claims = s.default_claims(&token).to_string();
    // alg none, any spelling.
    for alg in ["none", "NONE", "None"] {
        let mut header = s.default_header();
        header["alg"] = json!(alg);
        let unsigned = format!(
            "{}.{}.",
            b64::encode(header.to_string()),
            b64::encode(&claims)
        );
        let e = s.dpop(&token, &unsigned).await.unwrap_err();
        assert_eq!(e.code(), "dpop_proof_invalid", "{alg}");
        assert!(e.to_string().contains("unsigned"), "{e}");
    }
    // HS256 with the public key's bytes as the secret (algorithm confusion).
    let secret =
        SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef", "").unwrap();
    let mut header = s.default_header();
    header["alg"] = json!("HS256");
    let proof = s.custom_proof(header, s.default_claims(&token), &secret);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_proof_invalid");
    assert!(e.to_string().contains("HS256"), "{e}");
    // An asymmetric algorithm left out of the allow-list.
    let keys = JwkSet::from_value(&json!({"keys": [s.issuer_key.public_jwk()]})).unwrap();
    let validator = Validator::new(vec![IssuerConfig::static_keys(ISS, keys)
        .policy(Policy::new().audience("api"))
        .dpop(DpopOptions::default().algorithms([Algorithm::EdDSA]))])
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(NOW)));
    let proof = s.proof("GET", URL, &token);
    let request = RequestContext::new(AuthScheme::Dpop, &token, "GET", Some(URL.into()))
        .dpop_proofs(vec![&proof]);
    let e = validator.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "dpop_proof_invalid");
    assert!(e.to_string().contains("EdDSA"), "{e}");
}

#[tokio::test]
async fn the_jwk_must_be_a_public_key_that_verifies() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    // A private key in jwk: every private member is refused.
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut header = s.default_header();
        header["jwk"][member] = json!("AAAA");
        let proof = s.custom_proof(header, s.default_claims(&token), &s.client_key);
        let e = s.dpop(&token, &proof).await.unwrap_err();
        assert_eq!(e.code(), "dpop_proof_invalid", "{member}");
        assert!(e.to_string().contains("private member"), "{e}");
    }
    // No jwk, a jwk that is not an object, a jwk of another key.
    let mut header = s.default_header();
    header.as_object_mut().unwrap().remove("jwk");
    let proof = s.custom_proof(header, s.default_claims(&token), &s.client_key);
    assert_eq!(code(s.dpop(&token, &proof).await), "dpop_proof_invalid");
    let mut header = s.default_header();
    header["jwk"] = json!("key");
    let proof = s.custom_proof(header, s.default_claims(&token), &s.client_key);
    assert_eq!(code(s.dpop(&token, &proof).await), "dpop_proof_invalid");
    let other = SigningKey::generate(Algorithm::ES256, "o").unwrap();
    let proof = s.custom_proof(s.default_header(), s.default_claims(&token), &other);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "dpop_proof_invalid");
    assert!(e.to_string().contains("does not verify"), "{e}");
    // An Ed25519 jwk with alg ES256.
    let ed = SigningKey::generate(Algorithm::EdDSA, "e").unwrap();
    let mut header = s.default_header();
    header["jwk"] = ed.public_jwk();
    let proof = s.custom_proof(header, s.default_claims(&token), &s.client_key);
    assert_eq!(code(s.dpop(&token, &proof).await), "dpop_proof_invalid");
}

#[tokio::test]
async fn claims_must_be_present_and_typed() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    for (name, value) in [
        ("jti", Value::Null),
        ("jti", json!(7)),
        ("jti", json!("")),
        ("jti", json!("x".repeat(257))),
        ("htm", Value::Null),
        ("htu", json!(["https://api.example/orders/42"])),
        ("iat", Value::Null),
    ] {
        let mut claims = s.default_claims(&token);
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
        let proof = s.custom_proof(s.default_header(), claims, &s.client_key);
        assert_eq!(
            code(s.dpop(&token, &proof).await),
            "dpop_proof_invalid",
            "{name} {value}"
        );
    }
}

#[tokio::test]
async fn huge_and_malformed_proofs_are_refused_without_panic() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let mut claims = s.default_claims(&token);
    claims["pad"] = json!("x".repeat(20_000));
    let huge = s.custom_proof(s.default_header(), claims, &s.client_key);
    let e = s.dpop(&token, &huge).await.unwrap_err();
    assert_eq!(e.code(), "dpop_proof_invalid");
    assert!(e.to_string().contains("over the limit"), "{e}");
    let e = s.dpop(&token, &"a".repeat(1_000_000)).await.unwrap_err();
    assert!(e.to_string().len() < 2_000, "the message is bounded");
    for junk in ["", ".", "..", "a.b.c", "eyJ.eyJ.", "\u{e9}\u{e9}.x.y"] {
        assert_eq!(
            code(s.dpop(&token, junk).await),
            "dpop_proof_invalid",
            "{junk:?}"
        );
    }
}

/// A replay cache that cannot answer (a Redis outage).
struct Down;
impl ReplayCache for Down {
    fn insert_new<'a>(&'a self, _: ProofId<'a>, _: i64, _: i64) -> ReplayFuture<'a> {
        Box::pin(std::future::ready(Err(ReplayRefusal::Unavailable(
            "connection refused".to_string(),
        ))))
    }
}

#[tokio::test]
async fn a_replay_cache_that_cannot_answer_fails_closed() {
    let s = setup_with(DpopMode::Allowed, Arc::new(Down));
    let token = s.bound_token();
    let proof = s.proof("GET", URL, &token);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    assert_eq!(e.code(), "replay_cache_unavailable");
    assert!(e.is_unavailable());
    let c = tollgate::challenge::ChallengeOptions::new().error(&e);
    assert_eq!(c.status, 503);
    assert!(c.body["error_description"]
        .as_str()
        .unwrap()
        .contains("cannot verify now"));
}

#[tokio::test]
async fn refusals_answer_with_a_dpop_challenge() {
    let s = setup(DpopMode::Allowed);
    let token = s.bound_token();
    let proof = s.proof("POST", URL, &token);
    let e = s.dpop(&token, &proof).await.unwrap_err();
    let c = tollgate::challenge::ChallengeOptions::new().error_for(&e, AuthScheme::Dpop);
    let w = c.www_authenticate.unwrap();
    assert!(
        w.starts_with("DPoP realm=\"tollgate\", algs=\"RS256 "),
        "{w}"
    );
    assert!(w.contains("error=\"invalid_dpop_proof\""), "{w}");
    let e = s
        .send(AuthScheme::Bearer, &token, "GET", URL, vec![])
        .await
        .unwrap_err();
    let c = tollgate::challenge::ChallengeOptions::new().error_for(&e, AuthScheme::Bearer);
    assert!(c
        .www_authenticate
        .unwrap()
        .contains("DPoP realm=\"tollgate\", algs="));
}

// Certificate-bound tokens (RFC 8705).

/// Two client certificates as nginx's `$ssl_client_escaped_cert` writes them (URL-encoded
/// PEM; `client.pem` and `other.pem` beside them).
const CLIENT_ESCAPED: &str = include_str!("fixtures/mtls/client.escaped");
const OTHER_ESCAPED: &str = include_str!("fixtures/mtls/other.escaped");

fn der(escaped: &str) -> Vec<u8> {
    read_client_cert(escaped, CertFormat::EscapedPem).unwrap()
}

#[test]
fn client_certificates_are_read_in_each_proxy_format() {
    let der = der(CLIENT_ESCAPED);
    assert_eq!(der[0], 0x30);
    // The fixture's thumbprint, computed by openssl.
    assert_eq!(
        cert_thumbprint(&der),
        "Xb67WRTEESxzqzm2tA8ap1q2vwfagIerNDK48_Uzajs"
    );
    let xfcc = format!(
        "Hash=abc;Cert=\"{}\";Subject=\"CN=tollgate test client\";URI=",
        CLIENT_ESCAPED
    );
    assert_eq!(read_client_cert(&xfcc, CertFormat::Xfcc).unwrap(), der);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    assert_eq!(read_client_cert(&b64, CertFormat::DerBase64).unwrap(), der);
    // Two XFCC elements (a client's own plus the proxy's), no Cert, two Certs, junk.
    let two = format!("{xfcc},{xfcc}");
    assert!(read_client_cert(&two, CertFormat::Xfcc)
        .unwrap_err()
        .contains("2 elements"));
    assert!(read_client_cert("Hash=abc", CertFormat::Xfcc)
        .unwrap_err()
        .contains("no Cert"));
    let twice = format!("Cert=\"{0}\";Cert=\"{0}\"", CLIENT_ESCAPED);
    assert!(read_client_cert(&twice, CertFormat::Xfcc).is_err());
    for junk in ["", "%", "%ZZ", "-----BEGIN CERTIFICATE-----", "AAAA"] {
        for format in [
            CertFormat::EscapedPem,
            CertFormat::Xfcc,
            CertFormat::DerBase64,
        ] {
            assert!(read_client_cert(junk, format).is_err(), "{junk} {format:?}");
        }
    }
    assert!(
        read_client_cert(&"A".repeat(100_000), CertFormat::DerBase64)
            .unwrap_err()
            .contains("over the limit")
    );
}

#[tokio::test]
async fn certificate_bound_tokens_need_their_certificate() {
    let s = setup(DpopMode::Allowed);
    let bound = s.token(Some(
        json!({"x5t#S256": cert_thumbprint(&der(CLIENT_ESCAPED))}),
    ));
    for (cert, expected) in [
        (ClientCert::Der(der(CLIENT_ESCAPED)), "ok"),
        (ClientCert::Der(der(OTHER_ESCAPED)), "client_cert_mismatch"),
        (ClientCert::default(), "client_cert_missing"),
    ] {
        let request = RequestContext::new(AuthScheme::Bearer, &bound, "GET", Some(URL.into()))
            .client_cert(cert);
        let r = s.validator.validate_request(&request).await.map(|_| ());
        assert_eq!(code(r), expected);
    }
    // A cnf of the wrong type is an invalid claim, not an allow.
    let odd = s.token(Some(json!({"x5t#S256": 7})));
    let request = RequestContext::new(AuthScheme::Bearer, &odd, "GET", Some(URL.into()))
        .client_cert(ClientCert::Der(der(CLIENT_ESCAPED)));
    let e = s.validator.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "invalid_claim");
    let odd = s.token(Some(json!("jkt")));
    let request = RequestContext::new(AuthScheme::Bearer, &odd, "GET", Some(URL.into()));
    let e = s.validator.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "invalid_claim");
}

/// A token bound to something this server cannot check (RFC 7800 `cnf.jwk`, `cnf.kid`, a
/// misspelled member, nothing) is refused in both schemes and by a validator without DPoP
/// state, never taken as a plain bearer token.
#[tokio::test]
async fn a_binding_that_cannot_be_checked_is_refused() {
    let s = setup(DpopMode::Allowed);
    let keys = JwkSet::from_value(&json!({"keys": [s.issuer_key.public_jwk()]})).unwrap();
    let local = tollgate::LocalValidator::new(keys, Policy::new().audience("api"))
        .with_clock(FixedClock::new(NOW));
    for cnf in [
        json!({"jwk": s.client_key.public_jwk()}),
        json!({"kid": "k1"}),
        json!({"X5T#S256": cert_thumbprint(&der(CLIENT_ESCAPED))}),
        json!({"JKT": s.jkt()}),
        json!({}),
    ] {
        let token = s.token(Some(cnf.clone()));
        let bearer = RequestContext::new(AuthScheme::Bearer, &token, "GET", Some(URL.into()))
            .client_cert(ClientCert::Der(der(CLIENT_ESCAPED)));
        let e = s.validator.validate_request(&bearer).await.unwrap_err();
        assert_eq!(e.code(), "invalid_claim", "{cnf}");
        assert!(e.to_string().contains("x5t#S256"), "{e}");
        let e = local.validate_request(&bearer).await.unwrap_err();
        assert_eq!(e.code(), "invalid_claim", "{cnf}");
        let proof = s.proof("GET", URL, &token);
        assert_eq!(code(s.dpop(&token, &proof).await), "invalid_claim", "{cnf}");
    }
    // A checked member beside another still works.
    let token = s.token(Some(json!({"jkt": s.jkt(), "kid": "k1"})));
    assert_eq!(
        code(s.dpop(&token, &s.proof("GET", URL, &token)).await),
        "ok"
    );
}

#[tokio::test]
async fn a_validator_without_dpop_state_fails_closed() {
    let s = setup(DpopMode::Allowed);
    let keys = JwkSet::from_value(&json!({"keys": [s.issuer_key.public_jwk()]})).unwrap();
    let local = tollgate::LocalValidator::new(keys, Policy::new().audience("api"))
        .with_clock(FixedClock::new(NOW));
    let token = s.bound_token();
    let proof = s.proof("GET", URL, &token);
    let request = RequestContext::new(AuthScheme::Dpop, &token, "GET", Some(URL.into()))
        .dpop_proofs(vec![&proof]);
    let e = local.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "dpop_not_accepted");
    let request = RequestContext::bearer(&token);
    let e = local.validate_request(&request).await.unwrap_err();
    assert_eq!(e.code(), "dpop_bound_token_as_bearer");
}

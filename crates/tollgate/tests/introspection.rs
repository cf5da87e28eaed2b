//! Opaque tokens through token introspection (RFC 7662) against the dev issuer's real
//! `/introspect` and `/revoke`: the same policy as a JWT, a cache that never widens access
//! (revocation felt within `max_ttl`, tokens differing by a letter never share an entry),
//! one call per token in flight, fail-closed answers to down, slow and hostile endpoints,
//! and a secret that is never printed.
//!
//! Cache time runs on an injected `FixedClock` set to the real time (the dev issuer judges
//! `exp` on the real clock) and moved by hand; only real waits (HTTP timeouts) use real
//! time, kept short.
#![cfg(feature = "remote")]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tollgate::introspection::{ClientAuth, ClientSecret, IntrospectionOptions};
use tollgate::keys::FetchOptions;
use tollgate::{FixedClock, IssuerConfig, Policy, Validator};
use tollgate_issuer::{DevIssuer, Fault, IssuerOptions, RawAnswer, OPAQUE_TOKEN_PREFIX};

const LIMIT: Duration = Duration::from_secs(60);

async fn issuer() -> DevIssuer {
    DevIssuer::start(IssuerOptions::default()).await.unwrap()
}

fn options(idp: &DevIssuer) -> IntrospectionOptions {
    IntrospectionOptions::new("dev", ClientSecret::new("dev-secret"))
        .endpoint(idp.introspection_endpoint())
}

fn config(idp: &DevIssuer, introspection: IntrospectionOptions) -> IssuerConfig {
    IssuerConfig::jwks_uri(idp.url(), idp.jwks_url())
        .policy(Policy::new().audience("api://default"))
        .introspection(introspection)
}

fn validator(configs: Vec<IssuerConfig>) -> (Validator, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(tollgate::clock::unix_now()));
    let v = Validator::new(configs).unwrap().with_clock(clock.clone());
    (v, clock)
}

async fn code(v: &Validator, token: &str) -> String {
    match v.validate(token).await {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

#[tokio::test]
async fn an_active_opaque_token_is_accepted_with_its_claims() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp))]);
        let token = idp.opaque_token(json!({"scope": "read write"}));
        assert!(token.starts_with(OPAQUE_TOKEN_PREFIX));
        let ok = v.validate(&format!("Bearer {token}")).await.unwrap();
        assert_eq!(ok.alg, None);
        assert_eq!(ok.claims.issuer(), Some(idp.url().as_str()));
        assert!(ok.claims.has_scope("write"));
        let info = ok.introspection.unwrap();
        assert_eq!(info.issuer, idp.url());
        assert_eq!(
            info.valid_until,
            info.checked_at + 60,
            "max_ttl 60 s by default"
        );
        // client_secret_post works as well as the default HTTP Basic.
        let (post, _) = validator(vec![config(
            &idp,
            options(&idp).auth(ClientAuth::ClientSecretPost),
        )]);
        assert_eq!(code(&post, &token).await, "ok");
        assert_eq!(idp.introspection_requests(), 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_endpoint_is_found_by_discovery_when_not_configured() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let o = IntrospectionOptions::new("dev", ClientSecret::new("dev-secret"));
        let (v, _) = validator(vec![IssuerConfig::discovery(idp.url())
            .policy(Policy::new().audience("api://default"))
            .introspection(o)]);
        assert_eq!(code(&v, &idp.opaque_token(json!({}))).await, "ok");
        let status = v.status()[0].introspection.clone().unwrap();
        assert_eq!(status.endpoint, Some(idp.introspection_endpoint()));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_failed_discovery_of_the_endpoint_is_not_repeated_for_every_token() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let o = IntrospectionOptions::new("dev", ClientSecret::new("dev-secret"));
        let (v, clock) = validator(vec![IssuerConfig::discovery(idp.url())
            .policy(Policy::new().audience("api://default"))
            .introspection(o)]);
        idp.set_fault(Fault::Status500);
        // A flood of distinct tokens while discovery fails: one fetch, every token refused.
        for i in 0..5 {
            let e = v.validate(&format!("garbage-{i}")).await.unwrap_err();
            assert_eq!(e.code(), "introspection_unavailable", "{e}");
            assert!(e.to_string().contains("discovery failed"), "{e}");
        }
        assert_eq!(idp.discovery_requests(), 1);
        // Asked again once the retry time has passed.
        idp.set_fault(Fault::None);
        clock.advance(10);
        assert_eq!(code(&v, &idp.opaque_token(json!({}))).await, "ok");
        assert_eq!(idp.discovery_requests(), 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn inactive_expired_and_wrong_audience_tokens_are_refused_by_the_same_policy() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp))]);
        let unknown = format!("{OPAQUE_TOKEN_PREFIX}nobody-issued-this");
        assert_eq!(code(&v, &unknown).await, "token_inactive");
        // Expired at the server: inactive.
        let expired = idp.opaque_token(json!({"exp": tollgate::clock::unix_now() - 10}));
        assert_eq!(code(&v, &expired).await, "token_inactive");
        // Active at the server but for another API: the issuer's policy refuses it.
        let other = idp.opaque_token(json!({"aud": "api://other"}));
        let e = v.validate(&other).await.unwrap_err();
        assert_eq!(e.code(), "audience_mismatch", "{e}");
        // A server that says active for a token whose exp has passed (beyond the leeway):
        // expired, like a JWT.
        let now = tollgate::clock::unix_now();
        idp.set_introspection_answer(Some(RawAnswer::json(
            json!({"active": true, "aud": "api://default", "exp": now - 3600}).to_string(),
        )));
        assert_eq!(code(&v, "stale-answer").await, "expired");
        // Another issuer named in the answer: issuer_mismatch.
        idp.set_introspection_answer(Some(RawAnswer::json(
            json!({"active": true, "iss": "https://evil.example", "aud": "api://default", "exp": now + 60}).to_string(),
        )));
        assert_eq!(code(&v, "evil-answer").await, "issuer_mismatch");
        // No exp at all: required, as for a JWT.
        idp.set_introspection_answer(Some(RawAnswer::json(
            json!({"active": true, "aud": "api://default"}).to_string(),
        )));
        assert_eq!(code(&v, "no-exp-answer").await, "missing_claim");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_its_answer_ages_out() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, clock) = validator(vec![config(
            &idp,
            options(&idp).max_ttl(Duration::from_secs(30)),
        )]);
        let token = idp.opaque_token(json!({}));
        assert_eq!(code(&v, &token).await, "ok");
        idp.revoke(&token);
        // Within max_ttl the answer is reused: one call so far.
        clock.advance(29);
        assert_eq!(code(&v, &token).await, "ok");
        assert_eq!(idp.introspection_requests(), 1);
        // Past it, the server is asked again and says inactive; that answer is kept briefly.
        clock.advance(2);
        assert_eq!(code(&v, &token).await, "token_inactive");
        assert_eq!(code(&v, &token).await, "token_inactive");
        assert_eq!(idp.introspection_requests(), 2);
        let s = v.status()[0].introspection.clone().unwrap();
        assert_eq!((s.calls_active, s.calls_inactive, s.cache_hits), (1, 1, 2));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn concurrent_requests_for_one_token_cause_one_call() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp))]);
        let token = idp.opaque_token(json!({}));
        // The answer is held back until every request waits on it.
        idp.set_fault(Fault::Hang);
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (v, token) = (v.clone(), token.clone());
                tokio::spawn(async move { v.validate(&token).await.map(|_| ()) })
            })
            .collect();
        tollgate_wait(|| idp.introspection_requests() == 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        idp.set_fault(Fault::None);
        for c in calls {
            c.await.unwrap().unwrap();
        }
        assert_eq!(idp.introspection_requests(), 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_caller_dropped_mid_flight_leaves_no_stale_flight() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let quick = FetchOptions::default()
            .timeout(Duration::from_millis(300))
            .connect_timeout(Duration::from_millis(300));
        let (v, _) = validator(vec![config(&idp, options(&idp).fetch(quick))]);
        let token = idp.opaque_token(json!({}));
        // The only caller gives up (a client disconnecting, a request timeout) while the
        // call hangs.
        idp.set_fault(Fault::Hang);
        let caller = {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { v.validate(&token).await.map(|_| ()) })
        };
        tollgate_wait(|| idp.introspection_requests() == 1).await;
        caller.abort();
        let _ = caller.await;
        // The abandoned call ends on its own (its timeout); the next request for the
        // token asks again, and is not handed the abandoned call's stale result.
        tokio::time::sleep(Duration::from_millis(600)).await;
        idp.set_fault(Fault::None);
        assert_eq!(code(&v, &token).await, "ok");
        assert_eq!(idp.introspection_requests(), 2);
    })
    .await
    .unwrap();
}

async fn tollgate_wait(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition never came true");
}

#[tokio::test]
async fn down_slow_and_refusing_endpoints_are_unavailable_never_allowed() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let quick = FetchOptions::default()
            .timeout(Duration::from_millis(500))
            .connect_timeout(Duration::from_millis(500));
        let (v, _) = validator(vec![config(&idp, options(&idp).fetch(quick.clone()))]);
        let token = idp.opaque_token(json!({}));
        // Slow: the wait is bounded by the timeout.
        idp.set_fault(Fault::Hang);
        let e = v.validate(&token).await.unwrap_err();
        assert_eq!(e.code(), "introspection_unavailable");
        assert!(e.is_unavailable());
        assert!(e.to_string().contains("500 ms"), "{e}");
        // 500: unavailable, and nothing is cached.
        idp.set_fault(Fault::Status500);
        assert_eq!(code(&v, &token).await, "introspection_unavailable");
        // Garbage with a JSON content type: malformed, also "cannot verify now".
        idp.set_fault(Fault::Garbage);
        let e = v.validate(&token).await.unwrap_err();
        assert_eq!(e.code(), "introspection_malformed");
        assert!(e.is_unavailable());
        idp.set_fault(Fault::None);
        assert_eq!(code(&v, &token).await, "ok");
        // A wrong secret: the endpoint refuses the client; the secret is never shown.
        let (wrong, _) = validator(vec![config(
            &idp,
            IntrospectionOptions::new("dev", ClientSecret::new("not-the-secret-42"))
                .endpoint(idp.introspection_endpoint()),
        )]);
        let e = wrong.validate(&token).await.unwrap_err();
        assert_eq!(e.code(), "introspection_unavailable");
        assert!(e.to_string().contains("refused the client"), "{e}");
        let shown = format!(
            "{e} {e:?} {:?} {:?}",
            wrong,
            serde_json::to_string(&wrong.status()).unwrap()
        );
        assert!(!shown.contains("not-the-secret-42"), "{shown}");
        assert!(!shown.contains(&token), "the token is never shown: {shown}");
        // Down: the issuer is gone (connection refused).
        let endpoint = idp.introspection_endpoint();
        idp.shutdown().await;
        let (gone, _) = validator(vec![IssuerConfig::jwks_uri(
            "https://idp.example",
            "https://idp.example/jwks",
        )
        .introspection(
            IntrospectionOptions::new("dev", ClientSecret::new("x"))
                .endpoint(endpoint)
                .fetch(quick),
        )]);
        let e = gone.validate(&token).await.unwrap_err();
        assert_eq!(e.code(), "introspection_unavailable", "{e}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_answer_for_a_refresh_token_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp).max_ttl(Duration::ZERO))]);
        let exp = tollgate::clock::unix_now() + 600;
        let answer = |member: &str, value: &str| {
            RawAnswer::json(format!(
                r#"{{"active": true, "aud": "api://default", "exp": {exp}, "{member}": "{value}"}}"#
            ))
        };
        // Servers answer active for a refresh token whatever the hint; each spelling.
        for (i, (member, value)) in [
            ("token_type", "refresh_token"),
            ("token_use", "refresh_token"),
            ("typ", "Refresh"),
        ]
        .into_iter()
        .enumerate()
        {
            idp.set_introspection_answer(Some(answer(member, value)));
            let e = v.validate(&format!("refresh-{i}")).await.unwrap_err();
            assert_eq!(e.code(), "type_mismatch", "{member}: {e}");
            assert!(e.to_string().contains("refresh token"), "{e}");
        }
        // An access token's spellings pass.
        for (i, (member, value)) in [
            ("token_type", "Bearer"),
            ("token_type", "access_token"),
            ("token_use", "access_token"),
        ]
        .into_iter()
        .enumerate()
        {
            idp.set_introspection_answer(Some(answer(member, value)));
            assert_eq!(code(&v, &format!("access-{i}")).await, "ok", "{member}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn hostile_answers_are_malformed() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(
            &idp,
            options(&idp).inactive_ttl(Duration::ZERO),
        )]);
        let exp = tollgate::clock::unix_now() + 600;
        let cases: Vec<(&str, RawAnswer)> = vec![
            (
                "string true",
                RawAnswer::json(r#"{"active": "true", "aud": "api://default"}"#),
            ),
            ("number", RawAnswer::json(r#"{"active": 1}"#)),
            (
                "missing active",
                RawAnswer::json(r#"{"aud": "api://default"}"#),
            ),
            (
                "duplicate active",
                RawAnswer::json(format!(
                    r#"{{"active": false, "active": true, "aud": "api://default", "exp": {exp}}}"#
                )),
            ),
            (
                "duplicate aud",
                RawAnswer::json(format!(
                    r#"{{"active": true, "aud": "api://default", "aud": "x", "exp": {exp}}}"#
                )),
            ),
            ("array", RawAnswer::json(r#"[{"active": true}]"#)),
            ("null", RawAnswer::json("null")),
            ("empty", RawAnswer::json("")),
            (
                "wrong content type",
                RawAnswer {
                    status: 200,
                    content_type: "text/html".into(),
                    body: format!(r#"{{"active": true, "aud": "api://default", "exp": {exp}}}"#)
                        .into(),
                },
            ),
            (
                "RFC 9701 JWT answer",
                RawAnswer {
                    status: 200,
                    content_type: "application/token-introspection+jwt".into(),
                    body: b"eyJhbGciOiJub25lIn0.e30.".to_vec(),
                },
            ),
        ];
        for (i, (name, answer)) in cases.into_iter().enumerate() {
            idp.set_introspection_answer(Some(answer));
            let e = v.validate(&format!("hostile-{i}")).await.unwrap_err();
            assert_eq!(e.code(), "introspection_malformed", "{name}: {e}");
        }
        // A huge answer (over the 64 KiB limit) is cut off, never buffered whole.
        let huge = format!(r#"{{"active": true, "pad": "{}"}}"#, "a".repeat(200_000));
        idp.set_introspection_answer(Some(RawAnswer::json(huge)));
        let e = v.validate("huge-answer").await.unwrap_err();
        assert_eq!(e.code(), "introspection_unavailable", "{e}");
        assert!(e.to_string().contains("limit"), "{e}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn hostile_tokens_never_share_an_entry_and_odd_ones_are_never_sent() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp))]);
        let token = idp.opaque_token(json!({}));
        assert_eq!(code(&v, &token).await, "ok");
        // Another case: another token (inactive), not the cached answer.
        let upper = token.to_ascii_uppercase();
        assert_eq!(code(&v, &upper).await, "token_inactive");
        let lower = token.to_ascii_lowercase();
        assert_eq!(code(&v, &lower).await, "token_inactive");
        assert_eq!(idp.introspection_requests(), 3);
        // Characters a bearer token never holds: refused without a call.
        for odd in [
            format!("{token} x"),
            format!("x{token}\u{0}"),
            format!("{token}é"),
            format!("a{token}"),
        ] {
            let c = code(&v, &odd).await;
            assert!(
                c == "malformed_token" || c == "token_inactive",
                "{odd:?}: {c}"
            );
        }
        assert_eq!(code(&v, &format!("{token}\u{0}x")).await, "malformed_token");
        assert_eq!(
            idp.introspection_requests(),
            4,
            "only \"a{{token}}\" was sent"
        );
        // The diagnostic answer (doctor) sends nothing `validate` would not: not the odd
        // token, not a JWT to an issuer without introspect_jwts.
        assert!(v
            .introspection_answer(&format!("{token} x"))
            .await
            .is_none());
        assert!(v.introspection_answer(&idp.token()).await.is_none());
        assert_eq!(idp.introspection_requests(), 4);
        // 1 MB: too large, never sent.
        let big = "a".repeat(1 << 20);
        assert_eq!(code(&v, &big).await, "token_too_large");
        assert_eq!(idp.introspection_requests(), 4);
        // Surrounding whitespace is not part of the token (RFC 6750 reading).
        assert_eq!(code(&v, &format!("  {token}  ")).await, "ok");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn introspect_jwts_refuses_a_revoked_jwt() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(&idp, options(&idp).introspect_jwts(true))]);
        let jwt = idp.token();
        let ok = v.validate(&jwt).await.unwrap();
        assert!(ok.alg.is_some());
        assert!(ok.introspection.is_some());
        idp.revoke(&jwt);
        // The answer is cached for max_ttl: a fresh validator sees the revocation.
        let (fresh, _) = validator(vec![config(&idp, options(&idp).introspect_jwts(true))]);
        assert_eq!(code(&fresh, &jwt).await, "token_inactive");
        // A JWT whose key is not published (an Okta org-server token): judged by the
        // answer alone, by the answer's claims.
        let unknown_kid = idp.mint(json!({"kid": "org-server-key"}), json!({"sub": "forged"}));
        assert_eq!(code(&fresh, &unknown_kid).await, "token_inactive");
        let exp = tollgate::clock::unix_now() + 300;
        idp.set_introspection_answer(Some(RawAnswer::json(
            json!({"active": true, "sub": "okta-user", "aud": "api://default", "exp": exp})
                .to_string(),
        )));
        let other_kid = idp.mint(json!({"kid": "org-server-key-2"}), json!({"sub": "forged"}));
        let ok = fresh.validate(&other_kid).await.unwrap();
        assert_eq!((ok.alg, ok.claims.subject()), (None, Some("okta-user")));
        idp.set_introspection_answer(None);
        // Without introspect_jwts, JWTs are never sent.
        let before = idp.introspection_requests();
        let (plain, _) = validator(vec![config(&idp, options(&idp))]);
        assert_eq!(code(&plain, &jwt).await, "ok");
        assert_eq!(idp.introspection_requests(), before);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn token_prefixes_choose_the_issuer() {
    tokio::time::timeout(LIMIT, async {
        let a = issuer().await;
        let b = DevIssuer::start(IssuerOptions {
            issuer: Some("http://127.0.0.1/second".into()),
            ..IssuerOptions::default()
        })
        .await
        .unwrap();
        let (v, _) = validator(vec![
            config(&a, options(&a).token_prefix("zzz_")),
            IssuerConfig::jwks_uri(b.url(), b.jwks_url())
                .policy(Policy::new().audience("api://default"))
                .introspection(options(&b).token_prefix(OPAQUE_TOKEN_PREFIX)),
        ]);
        let token = b.opaque_token(json!({}));
        let ok = v.validate(&token).await.unwrap();
        assert_eq!(ok.claims.issuer(), Some(b.url().as_str()));
        assert_eq!(
            a.introspection_requests(),
            0,
            "the token never went to the other issuer"
        );
        // A token no prefix takes: not sent anywhere, it is not a JWT.
        assert_eq!(code(&v, "plain-token").await, "malformed_token");
        assert_eq!(a.introspection_requests() + b.introspection_requests(), 1);
        // An answer naming the other configured issuer is still judged by the answering
        // issuer's policy: refused, never routed to the issuer it names.
        let exp = tollgate::clock::unix_now() + 600;
        b.set_introspection_answer(Some(RawAnswer::json(
            json!({"active": true, "iss": a.url(), "aud": "api://default", "exp": exp}).to_string(),
        )));
        let named = format!("{OPAQUE_TOKEN_PREFIX}names-the-other-issuer");
        assert_eq!(code(&v, &named).await, "issuer_mismatch");
        assert_eq!(a.introspection_requests(), 0);
        // Without introspection at all, an opaque token is malformed_token, as before.
        let (none, _) = validator(vec![IssuerConfig::jwks_uri(a.url(), a.jwks_url())]);
        assert_eq!(code(&none, &token).await, "malformed_token");
    })
    .await
    .unwrap();
}

#[test]
fn an_empty_token_prefix_is_refused_at_configuration() {
    let config = |prefix: &str| {
        IssuerConfig::jwks_uri("https://idp.example", "https://idp.example/jwks").introspection(
            IntrospectionOptions::new("api", ClientSecret::new("s"))
                .endpoint("https://idp.example/introspect")
                .token_prefix(prefix),
        )
    };
    // It would be the longest matching prefix of every token, so the issuers without a
    // prefix would never be asked.
    let e = Validator::new(vec![config("")]).unwrap_err();
    assert!(e.to_string().contains("token_prefix is empty"), "{e}");
    assert!(Validator::new(vec![config("ory_at_")]).is_ok());
}

#[test]
fn secrets_come_from_files_and_the_environment_and_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file-secret\n").unwrap();
    let s = ClientSecret::from_file(&file).unwrap();
    assert_eq!(format!("{s} {s:?}"), "*** ClientSecret(***)");
    std::fs::write(&file, "\n").unwrap();
    let e = ClientSecret::from_file(&file).unwrap_err();
    assert!(e.contains("empty") && !e.contains("from-file"), "{e}");
    assert!(ClientSecret::from_env("TOLLGATE_TEST_SURELY_UNSET_VARIABLE").is_err());
    let config = IssuerConfig::discovery("https://idp.example")
        .introspection(IntrospectionOptions::new("api", s));
    assert!(!format!("{config:?}").contains("from-file-secret"));
    // http introspection endpoints are refused off loopback.
    let bad = IssuerConfig::discovery("https://idp.example").introspection(
        IntrospectionOptions::new("api", ClientSecret::new("x"))
            .endpoint("http://idp.example/introspect"),
    );
    let e = Validator::new(vec![bad]).unwrap_err().to_string();
    assert!(e.contains("https"), "{e}");
}

/// Signed answers (RFC 9701), with `jwt_answers`: accepted when signed by the issuer's
/// keys with typ `token-introspection+jwt`, `iss` the issuer and `aud` the client; a key the
/// issuer does not publish, another `aud` or `typ`, or `jwt_answers` off: malformed.
#[tokio::test]
async fn signed_answers_are_checked_with_the_issuers_keys() {
    tokio::time::timeout(LIMIT, async {
        let idp = issuer().await;
        let (v, _) = validator(vec![config(
            &idp,
            options(&idp).jwt_answers(true).inactive_ttl(Duration::ZERO),
        )]);
        let exp = tollgate::clock::unix_now() + 300;
        let answer =
            json!({"active": true, "sub": "signed-user", "aud": "api://default", "exp": exp});
        let signed = |header: serde_json::Value, claims: serde_json::Value| RawAnswer {
            status: 200,
            content_type: "application/token-introspection+jwt".into(),
            body: idp.mint(header, claims).into_bytes(),
        };
        let good = json!({"iss": idp.url(), "aud": "dev", "token_introspection": answer});
        idp.set_introspection_answer(Some(signed(
            json!({"typ": "token-introspection+jwt"}),
            good.clone(),
        )));
        let ok = v.validate("opaque-1").await.unwrap();
        assert_eq!(ok.claims.subject(), Some("signed-user"));
        let mut other_aud = good.clone();
        other_aud["aud"] = json!("someone-else");
        for (i, (header, claims)) in [
            (
                json!({"typ": "token-introspection+jwt", "kid": "not-published"}),
                good.clone(),
            ),
            (json!({"typ": "at+jwt"}), good.clone()),
            (json!({"typ": "token-introspection+jwt"}), other_aud),
            (
                json!({"typ": "token-introspection+jwt", "alg": "none"}),
                good.clone(),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            idp.set_introspection_answer(Some(signed(header, claims)));
            let e = v.validate(&format!("opaque-bad-{i}")).await.unwrap_err();
            assert!(
                ["introspection_malformed", "kid_not_found"].contains(&e.code())
                    || e.is_unavailable(),
                "{i}: {e}"
            );
            assert!(
                e.is_unavailable(),
                "{i}: never an allow, never a judgement: {e}"
            );
        }
        // Off: a signed answer is not read.
        let (plain, _) = validator(vec![config(&idp, options(&idp))]);
        idp.set_introspection_answer(Some(signed(
            json!({"typ": "token-introspection+jwt"}),
            good,
        )));
        assert_eq!(code(&plain, "opaque-2").await, "introspection_malformed");
    })
    .await
    .unwrap();
}

//! The key cache's promises, each with its numbers: rotation costs no failed request and one
//! fetch; a kid flood costs one fetch per cooldown; outages are ridden out up to max_stale;
//! nobody waits past max_wait; bad responses never replace good keys; Cache-Control is
//! honoured and clamped; discovery must name the configured issuer.
//!
//! Cache time runs on an injected `FixedClock` (moved by hand: hours pass in a line);
//! only real waits (max_wait, HTTP) use real time, kept short.
#![cfg(feature = "remote")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{junk_token, until, Mode, TestIdp};
use tollgate::keys::{FetchError, FetchOptions, Fetcher};
use tollgate::{CacheOptions, FixedClock, IssuerConfig, Validator};

const LIMIT: Duration = Duration::from_secs(60);
const T0: i64 = 1_700_000_000;

fn validator(idp: &TestIdp, cache: CacheOptions) -> (Validator, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(T0));
    let v = Validator::new(vec![IssuerConfig::discovery(idp.issuer()).cache(cache)])
        .unwrap()
        .with_clock(clock.clone());
    (v, clock)
}

#[tokio::test]
async fn rotation_validates_on_first_sight_with_one_fetch() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let (v, clock) = validator(&idp, CacheOptions::default());
        v.refresh_all().await;
        assert_eq!(idp.jwks_hits(), 1);
        v.validate(&idp.token()).await.unwrap();
        // Rotate one second after the start-up fetch: the start-up fetch does not count
        // against the cooldown, so the first token with the new kid triggers a fetch.
        clock.advance(1);
        idp.rotate("k2");
        let tokens: Vec<String> = (0..50).map(|_| idp.token()).collect();
        let results = futures::future::join_all(tokens.iter().map(|t| v.validate(t))).await;
        for r in &results {
            assert!(r.is_ok(), "{:?}", r.as_ref().err());
        }
        assert_eq!(
            idp.jwks_hits(),
            2,
            "one fetch for 50 concurrent tokens with the new kid"
        );
        assert_eq!(idp.discovery_hits(), 1, "discovery is not repeated");
        let s = &v.status()[0];
        assert_eq!(s.kids, vec!["k2".to_string()]);
        assert_eq!(s.unknown_kid_fetches, 1);
        assert_eq!(s.fetches_ok, 2);
        // A second rotation within the cooldown waits for the cooldown...
        clock.advance(10);
        idp.rotate("k3");
        let err = v.validate(&idp.token()).await.unwrap_err();
        assert_eq!(err.code(), "kid_not_found");
        assert_eq!(idp.jwks_hits(), 2);
        // ...and is picked up by the first token after it.
        clock.advance(20);
        v.validate(&idp.token()).await.unwrap();
        assert_eq!(idp.jwks_hits(), 3);
        assert_eq!(v.status()[0].unknown_kid_fetches, 2);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kid_flood_costs_one_fetch_per_cooldown() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let (v, clock) = validator(&idp, CacheOptions::default());
        v.refresh_all().await;
        assert_eq!(idp.jwks_hits(), 1);
        let iss = idp.issuer();
        let valid = Arc::new(idp.token());
        for round in 1..=2u64 {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for i in 0..10_000u64 {
                let vb = v.clone();
                let bad = junk_token(&format!("random-{round}-{i}-{}", rand_id(i)), &iss);
                tasks.push(tokio::spawn(async move {
                    vb.validate(&bad).await.map(|_| ()).map_err(|e| e.code())
                }));
                if i % 10 == 0 {
                    let v = v.clone();
                    let good = valid.clone();
                    tasks.push(tokio::spawn(async move {
                        v.validate(&good).await.map(|_| ()).map_err(|e| e.code())
                    }));
                }
            }
            let mut ok = 0;
            let mut kid_not_found = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => ok += 1,
                    Err("kid_not_found") => kid_not_found += 1,
                    Err(other) => panic!("unexpected {other}"),
                }
            }
            println!(
                "round {round}: 11,000 validations in {:?}, IdP JWKS requests so far {}",
                started.elapsed(),
                idp.jwks_hits()
            );
            assert_eq!(ok, 1_000, "every valid token validated during the flood");
            assert_eq!(kid_not_found, 10_000);
            assert_eq!(
                idp.jwks_hits(),
                1 + round as usize,
                "one fetch per cooldown"
            );
            let s = &v.status()[0];
            assert_eq!(s.unknown_kid_fetches, round);
            assert!(s.unknown_kids_remembered > 0);
            // Still within the cooldown: no fetch at all.
            clock.advance(29);
            assert_eq!(
                v.validate(&junk_token("one-more", &iss))
                    .await
                    .unwrap_err()
                    .code(),
                "kid_not_found"
            );
            assert_eq!(idp.jwks_hits(), 1 + round as usize);
            clock.advance(1);
        }
    })
    .await
    .unwrap();
}

fn rand_id(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
}

#[tokio::test]
async fn outage_after_good_load_rides_until_max_stale() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let (v, clock) = validator(&idp, CacheOptions::default());
        v.refresh_all().await;
        let token = idp.token();
        idp.set_mode(Mode::Status(503));
        // Past expiry (1 h): the request is answered with the keys held, the refresh runs
        // in the background and fails.
        clock.set(T0 + 3_600 + 1);
        v.validate(&token).await.unwrap();
        until("the background refresh to fail", || {
            v.status()[0].fetches_failed == 1
        })
        .await;
        assert_eq!(idp.jwks_hits(), 2);
        let s = v.status()[0].clone();
        assert!(
            s.last_error.as_deref().unwrap().contains("503"),
            "{:?}",
            s.last_error
        );
        assert_eq!(s.stale_since, Some(T0 + 3_600));
        assert_eq!(s.usable_until, Some(T0 + 3_600 + 86_400));
        let retry_at = s.next_refresh.unwrap();
        assert!(
            (T0 + 3_600 + 2..=T0 + 3_600 + 3).contains(&retry_at),
            "first retry after 1-2 s, got +{}",
            retry_at - T0 - 3_601
        );
        // Within the backoff: no new request to the IdP.
        for _ in 0..100 {
            v.validate(&token).await.unwrap();
        }
        assert_eq!(idp.jwks_hits(), 2);
        // Retries back off exponentially with jitter, capped at retry_max (5 min): each
        // retry is due between half and all of 2 s, 4 s, 8 s, ... 300 s after the failure.
        let mut now = T0 + 3_601;
        let mut delays = Vec::new();
        for failures in 2..=12u32 {
            let due = v.status()[0].next_refresh.unwrap();
            now = due;
            clock.set(now);
            v.validate(&token).await.unwrap();
            until("the retry to fail", || {
                v.status()[0].fetches_failed == failures as u64
            })
            .await;
            let delay = v.status()[0].next_refresh.unwrap() - now;
            let cap = (2i64 << (failures - 1)).min(300);
            assert!(
                delay >= cap / 2 && delay <= cap,
                "failure {failures}: retry after {delay} s, expected {}..={cap}",
                cap / 2
            );
            delays.push(delay);
        }
        println!("retry delays after failures 2..12 (s): {delays:?}");
        assert_eq!(idp.jwks_hits(), 13);
        // Still within max_stale, keys held are used: one request every 10 min until then.
        while now < T0 + 3_600 + 86_400 - 600 {
            now += 600;
            clock.set(now);
            let failed = v.status()[0].fetches_failed;
            v.validate(&token).await.unwrap();
            until("the retry to fail", || {
                v.status()[0].fetches_failed == failed + 1
            })
            .await;
        }
        let hits_in_a_day = idp.jwks_hits();
        println!("IdP requests during a 24 h outage (one API request per 10 min): {hits_in_a_day}");
        // One retry per API request once the backoff is capped (142 requests). On a loaded
        // machine the count seen here can be off by one or two (a connection-level retry by
        // the HTTP client, or a request still in flight when the counter is read), so allow
        // that, but never a retry storm and never a silent stop of the retries.
        assert!(
            (13 + 140..=13 + 142 + 3).contains(&hits_in_a_day),
            "one retry per API request once the backoff is capped: {hits_in_a_day} requests"
        );
        assert!(v.is_ready());
        // Past max_stale: keys_unavailable, never kid_not_found or a silent pass.
        clock.set(T0 + 3_600 + 86_400 + 1);
        let err = v.validate(&token).await.unwrap_err();
        assert_eq!(err.code(), "keys_unavailable");
        assert!(err.to_string().contains("max_stale"), "{err}");
        assert!(!v.is_ready());
        // The IdP comes back: the next request after the retry time loads fresh keys.
        idp.set_mode(Mode::Normal);
        clock.advance(301);
        v.validate(&token).await.unwrap();
        assert!(v.is_ready());
        assert_eq!(v.status()[0].last_error, None);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn cold_outage_is_keys_unavailable() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        idp.set_mode(Mode::Status(500));
        let (v, clock) = validator(&idp, CacheOptions::default());
        let err = v.validate(&idp.token()).await.unwrap_err();
        assert_eq!(err.code(), "keys_unavailable");
        assert!(err.is_unavailable());
        assert!(err.to_string().contains("HTTP status 500"), "{err}");
        assert_eq!(idp.jwks_hits(), 1);
        // Within the backoff, answered at once from the recorded failure: no fetch.
        let err = v
            .validate(&junk_token("other", &idp.issuer()))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "keys_unavailable",
            "never kid_not_found without keys"
        );
        assert!(err.to_string().contains("next attempt"), "{err}");
        assert_eq!(idp.jwks_hits(), 1);
        assert!(!v.is_ready());
        let s = &v.status()[0];
        assert_eq!((s.fetches_failed, s.fetches_ok), (1, 0));
        assert!(s.kids.is_empty());
        // The IdP is down hard (connection refused): still keys_unavailable, saying so.
        let token = idp.token();
        drop(idp);
        tokio::time::sleep(Duration::from_millis(50)).await; // let the aborted server close
        clock.advance(10); // past the retry time (1-2 s)
        let err = v.validate(&token).await.unwrap_err();
        assert_eq!(err.code(), "keys_unavailable");
        assert!(err.to_string().contains("connection refused"), "{err}");
        assert_eq!(v.status()[0].fetches_failed, 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn slow_idp_never_holds_a_caller_past_max_wait() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let max_wait = Duration::from_millis(300);
        let fetch = FetchOptions::default().timeout(Duration::from_millis(800));
        let options = CacheOptions::default().max_wait(max_wait).fetch(fetch);
        let (v, clock) = validator(&idp, options);
        idp.set_mode(Mode::Hang);
        // Cold start against a hanging IdP: 20 concurrent callers, each released at max_wait.
        let token = idp.token();
        let started = Instant::now();
        let calls = (0..20).map(|_| {
            let v = v.clone();
            let token = token.clone();
            async move {
                let t = Instant::now();
                let r = v.validate(&token).await;
                (t.elapsed(), r)
            }
        });
        let results = futures::future::join_all(calls).await;
        let slowest = results.iter().map(|(d, _)| *d).max().unwrap();
        println!(
            "cold start, hanging IdP: slowest caller waited {slowest:?} (max_wait {max_wait:?})"
        );
        for (_, r) in &results {
            let err = r.as_ref().unwrap_err();
            assert_eq!(err.code(), "keys_unavailable");
            assert!(err.to_string().contains("max_wait"), "{err}");
        }
        assert!(slowest >= max_wait - Duration::from_millis(5));
        assert!(
            slowest < max_wait + Duration::from_millis(700),
            "{slowest:?}"
        );
        assert!(started.elapsed() < max_wait + Duration::from_millis(700));
        assert_eq!(idp.jwks_hits(), 1, "the 20 callers shared one fetch");

        // With good keys held, an unknown kid during a hang waits at most max_wait, and
        // known kids are not slowed at all.
        until("the hanging fetch to time out", || {
            v.status()[0].fetches_failed == 1
        })
        .await;
        assert!(v.status()[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("within 800 ms"));
        idp.set_mode(Mode::Normal);
        clock.advance(3_600); // past the failed fetch's retry time
        v.refresh_all().await;
        assert!(v.is_ready());
        idp.set_mode(Mode::Hang);
        clock.advance(60);
        let unknown = junk_token("new-kid", &idp.issuer());
        let t = Instant::now();
        let slow = v.validate(&unknown);
        let fast = async {
            let t = Instant::now();
            v.validate(&token).await.unwrap();
            t.elapsed()
        };
        let (slow, fast) = tokio::join!(slow, fast);
        let waited = t.elapsed();
        println!(
            "unknown kid during a hang waited {waited:?}; a known kid meanwhile took {fast:?}"
        );
        assert_eq!(slow.unwrap_err().code(), "keys_unavailable");
        assert!(waited < max_wait + Duration::from_millis(700), "{waited:?}");
        assert!(fast < Duration::from_millis(250), "{fast:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_responses_are_refused_and_good_keys_kept() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let opts = CacheOptions::default();
        let (v, clock) = validator(&idp, opts);
        v.refresh_all().await;
        let old = idp.token();
        let cases: Vec<(Mode, &str)> = vec![
            (Mode::Garbage, "not valid JSON"),
            (
                Mode::Huge(600 * 1024),
                "larger than the limit of 524288 bytes",
            ),
            (
                Mode::Redirect("http://localhost:1/jwks".into()),
                "redirected to another origin (http://localhost:1/jwks)",
            ),
            (Mode::Empty, "holds no usable key"),
            (Mode::Status(404), "HTTP status 404"),
        ];
        let mut hits = idp.jwks_hits();
        for (mode, expected) in cases {
            idp.set_mode(mode.clone());
            // Past the cooldown and any backoff, so the unknown kid may fetch.
            clock.advance(600);
            let err = v
                .validate(&junk_token(&format!("new-{expected}"), &idp.issuer()))
                .await
                .unwrap_err();
            assert_eq!(err.code(), "keys_unavailable", "{mode:?}");
            assert!(err.to_string().contains(expected), "{mode:?}: {err}");
            hits += 1;
            // Discovery again after a JWKS failure is allowed; count JWKS requests only.
            assert_eq!(idp.jwks_hits(), hits, "{mode:?}");
            let s = v.status()[0].clone();
            assert!(s.last_error.as_deref().unwrap().contains(expected));
            assert_eq!(
                s.kids,
                vec!["k1".to_string()],
                "{mode:?} did not replace the keys"
            );
            // The good keys still validate (fresh enough: max_stale is 24 h).
            idp.set_mode(Mode::Normal);
            v.validate(&old).await.unwrap();
            idp.set_mode(mode);
        }
        // A same-origin redirect is followed.
        idp.set_mode(Mode::Redirect(format!("{}/moved-jwks", idp.issuer())));
        clock.advance(600);
        idp.add_key("k-new");
        v.validate(&idp.token()).await.unwrap();
        assert_eq!(v.status()[0].last_error, None);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn fetcher_errors_are_typed() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let f = Fetcher::new(FetchOptions::default().max_body(1_000));
        let url = idp.jwks_url();
        idp.set_mode(Mode::Garbage);
        assert!(matches!(
            f.jwks(&url, None).await,
            Err(FetchError::Json { .. })
        ));
        idp.set_mode(Mode::Huge(2_000));
        let e = f.jwks(&url, None).await.unwrap_err();
        assert!(
            matches!(e, FetchError::TooLarge { limit: 1_000, .. }),
            "{e:?}"
        );
        idp.set_mode(Mode::Redirect("https://elsewhere.example/jwks".into()));
        let e = f.jwks(&url, None).await.unwrap_err();
        match &e {
            FetchError::Redirect { location, .. } => {
                assert_eq!(location, "https://elsewhere.example/jwks")
            }
            other => panic!("{other:?}"),
        }
        idp.set_mode(Mode::Empty);
        assert!(matches!(
            f.jwks(&url, None).await,
            Err(FetchError::EmptyKeySet { .. })
        ));
        idp.set_mode(Mode::Status(503));
        match f.jwks(&url, None).await.unwrap_err() {
            FetchError::Status {
                status,
                body_preview,
                ..
            } => {
                assert_eq!(status, 503);
                assert!(body_preview.contains("Service Unavailable"));
            }
            other => panic!("{other:?}"),
        }
        idp.set_mode(Mode::Slow(Duration::from_secs(3)));
        let quick = Fetcher::new(FetchOptions::default().timeout(Duration::from_millis(200)));
        let e = quick.jwks(&url, None).await.unwrap_err();
        assert!(matches!(e, FetchError::Timeout { .. }), "{e:?}");
        assert!(e.to_string().contains("within 200 ms"), "{e}");
        // https to a plain-http server: the TLS handshake fails.
        let tls_url = url.replace("http://", "https://");
        let e = f.jwks(&tls_url, None).await.unwrap_err();
        assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
        assert!(e.to_string().contains("TLS handshake failed"), "{e}");
        let e = f
            .jwks("http://idp.example.com/jwks", None)
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::InsecureUrl { .. }));
        idp.set_mode(Mode::Normal);
        let ok = f.jwks(&url, None).await.unwrap();
        assert_eq!(ok.set.kids(), vec!["k1".to_string()]);
        assert_eq!(ok.status, 200);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn cache_control_is_honoured_and_clamped() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        for (header, ttl) in [
            (None, 3_600),
            (Some("public, max-age=600"), 600),
            (Some("max-age=60"), 300),
            (Some("no-cache"), 300),
            (Some("max-age=604800"), 86_400),
        ] {
            idp.set_cache_control(header);
            let (v, _) = validator(&idp, CacheOptions::default());
            v.refresh_all().await;
            let s = &v.status()[0];
            assert_eq!(s.ttl_secs, Some(ttl), "{header:?}");
            assert_eq!(s.expires_at, Some(T0 + ttl as i64));
            assert_eq!(s.cache_control.as_deref(), header);
            let next = s.next_refresh.unwrap() - T0;
            let ttl = ttl as i64;
            assert!(
                next >= ttl * 8 / 10 && next <= ttl * 9 / 10 + 1,
                "{header:?}: refresh at +{next} of {ttl}"
            );
        }
        // Refresh ahead: nothing before 80 % of the TTL, a background fetch after 90 %.
        idp.set_cache_control(Some("max-age=600"));
        idp.set_etag(Some("\"v1\""));
        let (v, clock) = validator(&idp, CacheOptions::default());
        v.refresh_all().await;
        let hits = idp.jwks_hits();
        let token = idp.token();
        clock.set(T0 + 479);
        v.validate(&token).await.unwrap();
        assert_eq!(idp.jwks_hits(), hits);
        clock.set(T0 + 541);
        v.validate(&token).await.unwrap();
        until("the refresh-ahead fetch", || {
            v.status()[0].fetches_not_modified == 1
        })
        .await;
        assert_eq!(idp.jwks_hits(), hits + 1);
        let s = &v.status()[0];
        assert_eq!(s.fetched_at, Some(T0 + 541), "a 304 renews the keys held");
        assert_eq!(s.kids, vec!["k1".to_string()]);
        assert_eq!(s.etag.as_deref(), Some("\"v1\""));
        assert_eq!(
            idp.state
                .not_modified
                .load(std::sync::atomic::Ordering::SeqCst),
            1
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn discovery_issuer_mismatch_names_both_and_the_difference() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let f = Fetcher::default();
        for (found, difference) in [
            (format!("{}/", idp.issuer()), "trailing slash"),
            (idp.issuer().replace("http://", "https://"), "scheme"),
            (idp.issuer().to_uppercase(), "letter case"),
            (
                "https://login.microsoftonline.com/{tenantid}/v2.0".to_string(),
                "{tenantid}",
            ),
            ("https://other.example".to_string(), "host"),
        ] {
            idp.set_discovery_issuer(&found);
            let e = f
                .discovery_for(&idp.issuer(), &idp.discovery_url())
                .await
                .unwrap_err();
            match &e {
                FetchError::IssuerMismatch {
                    configured,
                    found: f2,
                    difference: d,
                    ..
                } => {
                    assert_eq!(configured, &idp.issuer());
                    assert_eq!(f2, &found);
                    assert!(d.contains(difference), "{d}");
                }
                other => panic!("{other:?}"),
            }
            let text = e.to_string();
            assert!(
                text.contains(&format!("{:?}", idp.issuer()))
                    && text.contains(&format!("{found:?}")),
                "{text}"
            );
        }
        // Through the validator: keys_unavailable naming both, and no JWKS fetched from a
        // document that names another issuer.
        idp.set_discovery_issuer(&format!("{}/", idp.issuer()));
        let (v, _) = validator(&idp, CacheOptions::default());
        let err = v.validate(&idp.token()).await.unwrap_err();
        assert_eq!(err.code(), "keys_unavailable");
        let text = err.to_string();
        assert!(
            text.contains("trailing slash") && text.contains(&format!("{}/", idp.issuer())),
            "{text}"
        );
        assert_eq!(idp.jwks_hits(), 0);
        assert!(v.status()[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("trailing slash"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn discovery_url_and_jwks_uri_sources() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let clock = Arc::new(FixedClock::new(T0));
        let v = Validator::new(vec![IssuerConfig::discovery_url(
            idp.issuer(),
            idp.discovery_url(),
        )])
        .unwrap()
        .with_clock(clock);
        v.validate(&idp.token()).await.unwrap();
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
        let v = Validator::new(vec![IssuerConfig::jwks_uri(idp.issuer(), idp.jwks_url())]).unwrap();
        v.validate(&idp.token()).await.unwrap();
        assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 2));
        assert_eq!(v.status()[0].source, "jwks_uri");
        let _ = json!(null);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn background_refresher_keeps_idle_keys_warm() {
    tokio::time::timeout(LIMIT, async {
        let idp = TestIdp::start().await;
        let (v, clock) = validator(&idp, CacheOptions::default());
        let task = v.spawn_refresher(Duration::from_millis(5));
        // Loads at once, without any request.
        until("the first load", || v.is_ready()).await;
        assert_eq!(idp.jwks_hits(), 1);
        // Idle for a day and a half: still ready, refreshed by the task alone.
        for hour in 1..=36 {
            clock.set(T0 + hour * 3_600);
            until("the hourly refresh", || {
                v.status()[0].fetched_at == Some(T0 + hour * 3_600)
            })
            .await;
        }
        assert!(v.is_ready());
        assert_eq!(
            idp.jwks_hits(),
            37,
            "one fetch per hour (default TTL), nothing more"
        );
        // The task stops with the last clone of the validator.
        drop(v);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    })
    .await
    .unwrap();
}
